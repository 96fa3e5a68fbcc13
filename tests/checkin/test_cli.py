"""The `checkin` command, driven as a user drives it: real console scripts in subprocesses.

One deployment is set up once per module (init, keys, event, tickets, guest list, bundles, a
revocation, a rotation, a key revocation) and every test reads what those steps left behind.
Time is given with --now / --at, never read from the clock.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import math
import os
import re
import secrets
import stat
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization

from checkin.core import credential, trust
from tests.support.cli import clean_env, run_cli
from tests.support.dockit import png_codes

BIN = Path(sys.executable).parent
CHECKIN = str(BIN / "checkin")
GATE = str(BIN / "checkin-gate")
PASSPHRASE = "correct horse battery staple"
EVENT_NAME = "Ngày Chuyển đổi số tỉnh Hải Dương 2022"
EVENT_DAY = "2022-03-26T09:00"
EXPORT_AT = "2022-03-26T06:00"  # bundles are fresh on the event day
B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

GOOD_NAMES = [
    "Nguyễn Thị Ánh",
    "Trần Văn Bình",
    "Lê Thị Cẩm Tú",
    "Phạm Đức Dũng",
    "Hoàng Thu Hà",
    "Vũ Minh Khoa",
    "Đặng Quốc Hưng",
    "Bùi Thị Lan",
    "Đỗ Hải Yến",
    "Hồ Văn Nam",
    "Ngô Bảo Ngọc",
    "Dương Văn Phúc",
    "Lý Thị Quỳnh",
    "Mai Xuân Sơn",
    "Trịnh Công Tâm",
    "Đinh Thị Uyên",
    "Phan Văn Vĩnh",
    "Lưu Thị Xuân",
    "Tạ Quang Ý",
    "Chu Văn Ấn",
]
BAD_LINES = {5: "unknown zone", 13: "empty name", 22: "bad e-mail"}


def base_env() -> dict[str, str]:
    return clean_env(CHECKIN_KEY_PASSPHRASE=PASSPHRASE)


def run(
    program: str, *args: str | Path, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return run_cli(program, *args, cwd=cwd, env=base_env() if env is None else env, stdin=stdin)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def clean_failure(
    result: subprocess.CompletedProcess[str], code: str | None, exit_code: int = 1, also: tuple[str, ...] = ()
) -> str:
    """Assert one `error [code]: ...` line (and its Vietnamese twin), no traceback; return the line.

    Lines starting with one of `also` (row reports, say) may come before it.
    """
    assert result.returncode == exit_code, f"{result.args}\nexit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    english = [line for line in lines if line.startswith("error [")]
    assert len(english) == 1, result.stderr
    assert all(line.startswith(("error [", "lỗi [", *also)) for line in lines), result.stderr
    if code is not None:
        assert english[0].startswith(f"error [{code}]: "), english[0]
    return english[0]


def b45decode(text: str) -> bytes:
    out = bytearray()
    for i in range(0, len(text), 3):
        digits = [B45.index(c) for c in text[i : i + 3]]
        value = sum(d * 45**k for k, d in enumerate(digits))
        out += value.to_bytes(2 if len(digits) == 3 else 1, "big")
    return bytes(out)


def ck1_parts(text: str) -> tuple[str, dict]:
    """(kid hex, claims) of a CK1 text, read without the project's decoder."""
    assert text.startswith("CK1:")
    sign1 = cbor2.loads(b45decode(text[4:]))
    assert sign1.tag == 18
    protected, _unprotected, payload, _signature = sign1.value
    return cbor2.loads(protected)[4].hex(), cbor2.loads(payload)


def cti(text: str) -> str:
    return ck1_parts(text)[1][7].hex()


def guest_csv() -> str:
    """23 rows: 20 good ones and bad ones on lines 5, 13 and 22 (the header is line 1)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "organisation", "category", "zones", "email"])
    good = iter(GOOD_NAMES)
    zones = ["hall", "hall;vip", "hall,press", ""]
    for line in range(2, 25):
        if line == 5:
            writer.writerow(["Nguyễn Văn Sai", "Sở TT&TT", "delegate", "hall;backstage", ""])
        elif line == 13:
            writer.writerow(["", "Báo Hải Dương", "press", "press", ""])
        elif line == 22:
            writer.writerow(["Trần Văn Thư", "UBND", "citizen", "hall", "thu-at-example.vn"])
        else:
            name = next(good)
            org = "Sở Thông tin và Truyền thông, tỉnh Hải Dương" if line % 2 else "UBND tỉnh Hải Dương"
            writer.writerow([name, org, "delegate", zones[line % 4], f"guest{line}@example.vn"])
    return out.getvalue()


@dataclass
class Deployment:
    """One deployment in a temporary folder, and the result of every setup step."""

    home: Path
    config: Path
    steps: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def checkin(self, *args: str | Path, now: str | None = None, **kw) -> subprocess.CompletedProcess[str]:
        head: list[str | Path] = ["--config", self.config]
        if now:
            head += ["--now", now]
        return run(CHECKIN, *head, *args, cwd=self.home, **kw)

    def step(self, name: str, *args: str | Path, now: str | None = None) -> subprocess.CompletedProcess[str]:
        self.steps[name] = result = self.checkin(*args, now=now)
        return result

    def bundle(self, name: str) -> Path:
        return self.home / "bundles" / f"{name}.ckb"

    @property
    def root_pub(self) -> Path:
        return self.home / "bundles" / "root.pub"

    def verify(self, bundle: str, *texts: str, images: tuple[Path, ...] = (), zone: str | None = None) -> list[dict]:
        """Run the gate on image files, then on texts given one a line on stdin.

        Texts go through stdin rather than as arguments: the gate treats an argument as a file
        name first, which fails on some texts (see tests/scanner/test_verify_cli.py).
        """
        extra = ["--zone", zone] if zone else []
        args = ["verify", "--bundle", self.bundle(bundle), "--root-key", self.root_pub, "--at", EVENT_DAY, *extra]
        result = ok(run(GATE, *args, *images, "-", cwd=self.home, stdin="".join(f"{t}\n" for t in texts)))
        return [json.loads(line) for line in result.stdout.splitlines()]

    def keys_json(self) -> list[dict]:
        return json.loads((self.home / "D" / "keys" / "keys.json").read_text(encoding="utf-8"))["keys"]


def export(d: Deployment, name: str, now: str = EXPORT_AT) -> None:
    d.step(f"export_{name}", "bundle", "export", "--event", "cds2022", "--out", d.bundle(name), now=now)


def issue_one(d: Deployment, label: str, name: str, zones: str, now: str, *extra: str) -> None:
    result = ok(
        d.step(f"issue_{label}", "issue", "--event", "cds2022", "--name", name, "--zones", zones, *extra, now=now)
    )
    d.texts[label] = result.stdout.splitlines()[-1]


def parallel(*jobs: Callable[[], object]) -> None:
    """Run independent steps at the same time: each CLI call spends most of its time starting up."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    home = tmp_path_factory.mktemp("deployment")
    d = Deployment(home=home, config=home / "D" / "config.toml")
    d.steps["init"] = ok(run(CHECKIN, "init", "--dir", "D", cwd=home))
    ok(d.step("keys_init", "keys", "init", now="2022-03-20T09:00"))
    create_event = (
        *("event", "create", "--id", "cds2022", "--name", EVENT_NAME),
        *("--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30", "--zones", "hall,vip,press"),
    )
    parallel(
        lambda: d.step("keys_list", "keys", "list"), lambda: d.step("event", *create_event, now="2022-03-20T09:00")
    )
    ok(d.steps["event"])
    (home / "guests.csv").write_text(guest_csv(), encoding="utf-8")
    parallel(
        lambda: issue_one(
            d, "A", "Nguyễn Văn An", "hall,vip", "2022-03-20T09:30",
            *("--org", "Sở Thông tin và Truyền thông", "--category", "delegate"),
            *("--png", home / "A.png", "--svg", home / "A.svg"),
        ),
        lambda: issue_one(d, "B", "Trần Thị Bình", "hall", "2022-03-20T09:30"),
        lambda: issue_one(d, "C", "Lê Văn Cường", "hall,vip", "2022-03-20T09:30"),
        lambda: d.step(
            "csv", "issue", "--event", "cds2022", "--csv", home / "guests.csv", "--out", home / "OUT",
            now="2022-03-20T10:00",
        ),
    )  # fmt: skip
    export(d, "b1")
    # b2: one credential revoked, the issuing key rotated, a ticket signed by the new key
    d.step("revoke", "revoke", cti(d.texts["C"])[:12], "--reason", "lost badge", now="2022-03-21T09:00")
    d.step("rotate", "keys", "rotate", now="2022-03-22T09:00")
    issue_one(d, "D", "Phạm Minh Đức", "hall,vip", "2022-03-22T09:30")
    export(d, "b2")
    export(d, "b2_again", now="2022-03-26T06:30")  # nothing changed but the time
    # b3: the first issuing key revoked
    first_issuing = next(k["kid"] for k in d.keys_json() if k["role"] == "issuing")
    d.step("revoke_old_key", "keys", "revoke", first_issuing, now="2022-03-23T09:00")
    export(d, "b3")
    return d


def version_of(result: subprocess.CompletedProcess[str]) -> int:
    match = re.search(r"\bbundle v(\d+)\b", result.stdout)
    assert match, result.stdout
    return int(match.group(1))


def read_bundle(d: Deployment, name: str) -> trust.TrustBundle:
    root = trust.root_key_from_pem((d.home / "D" / "keys" / "root.pub").read_bytes())
    return trust.verify_bundle(d.bundle(name).read_bytes(), root)


# ---- init and keys ------------------------------------------------------------------------------


def test_init_writes_config_keys_folder_and_database(deployment: Deployment) -> None:
    folder = deployment.home / "D"
    assert deployment.config.is_file()
    assert (folder / "checkin.db").is_file()
    assert stat.S_IMODE((folder / "keys").stat().st_mode) == 0o700
    assert "config.toml" in deployment.steps["init"].stdout


def test_keys_init_writes_encrypted_keys_and_root_pub(deployment: Deployment) -> None:
    keys = deployment.home / "D" / "keys"
    private = sorted(p.name for p in keys.glob("*.key"))
    assert len(private) >= 2 and "root.key" in private
    for name in private:
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
        assert (keys / name).read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    out = deployment.steps["keys_init"].stdout
    assert re.search(r"^root\s+[0-9a-f]{16}\s", out, re.M)
    assert re.search(r"^issuing\s+[0-9a-f]{16}\s", out, re.M)
    assert "root.pub" in out


def test_keys_list_shows_kid_role_created_status_fingerprint(deployment: Deployment) -> None:
    lines = deployment.steps["keys_list"].stdout.splitlines()
    assert lines[0].split() == ["kid", "role", "created", "status", "fingerprint"]
    assert len(lines) == 3
    public = serialization.load_pem_public_key((deployment.home / "D" / "keys" / "root.pub").read_bytes())
    digest = hashlib.sha256(public.public_bytes_raw()).hexdigest()
    root_row = next(line.split() for line in lines[1:] if " root " in f" {line} ")
    assert root_row[0] == digest[:16]  # kid: first 8 bytes of SHA-256 of the raw key
    assert root_row[1:4] == ["root", "2022-03-20T02:00:00+00:00", "active"]
    assert root_row[4].replace(":", "") == digest[: len(root_row[4].replace(":", ""))]
    issuing_row = next(line.split() for line in lines[1:] if " issuing " in f" {line} ")
    assert issuing_row[1:4] == ["issuing", "2022-03-20T02:00:00+00:00", "active"]
    assert re.fullmatch(r"[0-9a-f]{16}", issuing_row[0])
    assert re.fullmatch(r"[0-9a-f]{4}(:[0-9a-f]{4})+", issuing_row[4])


# ---- events and tickets -------------------------------------------------------------------------


def test_event_create_echoes_the_event(deployment: Deployment) -> None:
    out = deployment.steps["event"].stdout
    assert "cds2022" in out
    assert EVENT_NAME in out
    assert "hall, vip, press" in out


def test_issue_prints_the_ck1_text_last_and_writes_png_and_svg(deployment: Deployment) -> None:
    text = deployment.texts["A"]
    assert text.startswith("CK1:")
    assert all(c in B45 for c in text[4:])
    assert png_codes((deployment.home / "A.png").read_bytes()) == [text]
    root = ET.parse(deployment.home / "A.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None
    kid, claims = ck1_parts(text)
    assert claims[1] == "hd-stttt" and claims[3] == "cds2022"
    guest = claims[-70000]
    assert guest[1] == "Nguyễn Văn An" and guest[4] == ["hall", "vip"]
    assert kid == next(k["kid"] for k in deployment.keys_json() if k["role"] == "issuing")
    assert cti(text) in deployment.steps["issue_A"].stderr


def test_csv_issue_reports_bad_lines_and_writes_the_rest(deployment: Deployment) -> None:
    result = ok(deployment.steps["csv"])
    named = sorted(int(n) for n in re.findall(r"\bline (\d+)\b", result.stderr))
    assert named == sorted(BAD_LINES)
    out = deployment.home / "OUT"
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 20
    pdf = (out / "badges.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf)) == math.ceil(20 / 8)
    with (out / "index.csv").open(encoding="utf-8-sig", newline="") as handle:
        index = list(csv.DictReader(handle))
    assert len(index) == 20
    assert [row["name"] for row in index] == GOOD_NAMES
    assert all(unicodedata.is_normalized("NFC", row["name"]) for row in index)
    assert not {int(row["line"]) for row in index} & set(BAD_LINES)
    for row in index:
        assert png_codes((out / row["png"]).read_bytes()) == [row["code"]]
        assert cti(row["code"]) == row["credential_id"]
        assert row["short_code"] == credential.short_code(bytes.fromhex(row["credential_id"]))
    assert {p.name for p in pngs} == {row["png"] for row in index}
    comma_org = next(row for row in index if row["name"] == GOOD_NAMES[1])
    assert comma_org["organisation"] == "Sở Thông tin và Truyền thông, tỉnh Hải Dương"


def test_csv_tickets_verify_at_the_gate(deployment: Deployment) -> None:
    with (deployment.home / "OUT" / "index.csv").open(encoding="utf-8-sig", newline="") as handle:
        codes = [row["code"] for row in csv.DictReader(handle)]
    records = deployment.verify("b1", *codes)
    assert [r["reason"] for r in records] == ["admitted"] * 20
    assert [r["credential"]["name"] for r in records] == GOOD_NAMES


# ---- bundles, revocation, rotation ----------------------------------------------------------------


def test_bundle_versions_grow_only_on_change(deployment: Deployment) -> None:
    versions = {name: version_of(ok(deployment.steps[f"export_{name}"])) for name in ("b1", "b2", "b2_again", "b3")}
    assert versions == {"b1": 1, "b2": 2, "b2_again": 2, "b3": 3}
    for name, version in versions.items():
        assert read_bundle(deployment, name).version == version
    assert read_bundle(deployment, "b2_again").issued_at > read_bundle(deployment, "b2").issued_at


def test_bundle_export_leaves_root_pub_for_the_gate(deployment: Deployment) -> None:
    assert deployment.root_pub.read_bytes() == (deployment.home / "D" / "keys" / "root.pub").read_bytes()


def test_verify_prints_one_json_object_per_input(deployment: Deployment) -> None:
    texts = deployment.texts
    records = deployment.verify(
        "b1", texts["A"], texts["B"], texts["C"], images=(deployment.home / "A.png",), zone="vip"
    )
    assert [(r["verdict"], r["reason"]) for r in records] == [
        ("admit", "admitted"),
        ("admit", "admitted"),
        ("deny", "zone_not_allowed"),
        ("admit", "admitted"),
    ]
    for record in records:
        assert {"verdict", "reason", "message", "credential"} <= set(record)
        assert record["message"]
    assert records[0]["credential"]["name"] == "Nguyễn Văn An"
    assert records[1]["credential"]["id"] == records[0]["credential"]["id"]
    assert records[2]["credential"]["name"] == "Trần Thị Bình"


def test_revoked_ticket_is_refused_from_the_next_bundle(deployment: Deployment) -> None:
    assert cti(deployment.texts["C"]) in ok(deployment.steps["revoke"]).stdout
    assert [r["reason"] for r in deployment.verify("b1", deployment.texts["C"])] == ["admitted"]
    records = deployment.verify("b2", deployment.texts["A"], deployment.texts["C"], zone="hall")
    assert [r["reason"] for r in records] == ["admitted", "revoked"]
    assert records[1]["verdict"] == "deny"
    assert records[1]["credential"]["name"] == "Lê Văn Cường"
    assert read_bundle(deployment, "b2").revoked == {bytes.fromhex(cti(deployment.texts["C"]))}


def test_rotation_new_key_signs_and_old_tickets_still_verify(deployment: Deployment) -> None:
    ok(deployment.steps["rotate"])
    old_kid, new_kid = ck1_parts(deployment.texts["A"])[0], ck1_parts(deployment.texts["D"])[0]
    assert old_kid != new_kid
    assert new_kid in deployment.steps["rotate"].stdout
    statuses = {k.kid.hex(): k.status for k in read_bundle(deployment, "b2").keys}
    assert statuses == {old_kid: trust.KeyStatus.RETIRED, new_kid: trust.KeyStatus.ACTIVE}
    records = deployment.verify("b2", deployment.texts["A"], deployment.texts["D"], deployment.texts["B"])
    assert [r["reason"] for r in records] == ["admitted", "admitted", "admitted"]
    assert records[1]["credential"]["name"] == "Phạm Minh Đức"


def test_revoked_key_fails_its_tickets(deployment: Deployment) -> None:
    old_kid = ck1_parts(deployment.texts["A"])[0]
    assert old_kid in ok(deployment.steps["revoke_old_key"]).stdout
    records = deployment.verify("b3", deployment.texts["A"], deployment.texts["D"], deployment.texts["B"])
    assert [r["reason"] for r in records] == ["key_revoked", "admitted", "key_revoked"]
    assert all(r["verdict"] == "deny" for r in records if r["reason"] == "key_revoked")


# ---- errors -------------------------------------------------------------------------------------

# id: (arguments after --config, --now, the reason code, a word the message must name)
ERRORS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "unknown-event": (("issue", "--event", "nope", "--name", "An"), "2022-03-20T09:30", "not_found", "nope"),
    "bad-now": (("issue", "--event", "cds2022", "--name", "An"), "2022-13-45T25:00", "invalid_input", "--now"),
    "bad-start": (
        ("event", "create", "--id", "e2", "--name", "E", "--start", "tomorrow 9am", "--end", "2022-03-27T10:00"),
        "2022-03-20T09:00",
        "invalid_input",
        "--start",
    ),
    "bad-valid-until": (
        ("issue", "--event", "cds2022", "--name", "An", "--valid-until", "26/03/2022"),
        "2022-03-20T09:30",
        "invalid_input",
        "--valid-until",
    ),
    "end-before-start": (
        ("event", "create", "--id", "e3", "--name", "E", "--start", "2022-03-27T10:00", "--end", "2022-03-27T09:00"),
        "2022-03-20T09:00",
        "invalid_input",
        "end",
    ),
    "duplicate-event": (
        (
            "event",
            "create",
            "--id",
            "cds2022",
            "--name",
            "E",
            "--start",
            "2022-03-27T08:00",
            "--end",
            "2022-03-27T09:00",
        ),
        "2022-03-20T09:00",
        "already_exists",
        "cds2022",
    ),
    "unknown-zone": (
        ("issue", "--event", "cds2022", "--name", "An", "--zones", "backstage"),
        "2022-03-20T09:30",
        "invalid_input",
        "backstage",
    ),
    "expired-before-issue": (("issue", "--event", "cds2022", "--name", "An"), "2022-04-01T09:00", "invalid_input", ""),
    "unknown-credential": (("revoke", "ffffffffffff"), "2022-03-21T09:00", "not_found", "ffffffffffff"),
    # a failed look-up says where the ids and short codes are
    "unknown-short-code": (("revoke", "7K3M-Q9XD"), "2022-03-21T09:00", "not_found", "checkin credential list"),
    "not-a-code": (("revoke", "zz"), "2022-03-21T09:00", "invalid_input", "short code"),
    # a guest who holds a code (same name and organisation, folded) is not given a second one unasked
    "second-code": (
        ("issue", "--event", "cds2022", "--name", "NGUYEN VAN AN", "--org", "So Thong tin va Truyen thong"),
        "2022-03-20T09:30",
        "invalid_input",
        "--reissue",
    ),
    "unknown-kid": (("keys", "revoke", "ffffffff"), "2022-03-21T09:00", "not_found", "ffffffff"),
    "keys-init-again": (("keys", "init"), "2022-03-25T09:00", "key_exists", ""),
}


@pytest.fixture(scope="module")
def failures(
    deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every failing command, run side by side once: none of them changes the deployment."""
    d = deployment
    home = d.home
    empty = tmp_path_factory.mktemp("empty")
    (home / "undecodable.csv").write_bytes(b"name,zones\nAn,hall\nJ\x81\x8d\x90,hall\n")  # in no code page
    (home / "bad.csv").write_text("name,zones\n,hall\nAn,backstage\n", encoding="utf-8")
    (home / "a-file").write_text("not a folder", encoding="utf-8")
    no_passphrase = {k: v for k, v in base_env().items() if k != "CHECKIN_KEY_PASSPHRASE"}
    wrong_passphrase = {**base_env(), "CHECKIN_KEY_PASSPHRASE": "not the right passphrase"}
    jobs: dict[str, Callable[[], subprocess.CompletedProcess[str]]] = {
        name: (lambda args=args, now=now: d.checkin(*args, now=now)) for name, (args, now, _c, _n) in ERRORS.items()
    }
    jobs |= {
        "init-again": lambda: run(CHECKIN, "init", "--dir", "D", cwd=home),
        "missing-config": lambda: run(CHECKIN, "--config", "D/nope.toml", "keys", "list", cwd=home),
        "no-config-here": lambda: run(CHECKIN, "event", "list", cwd=empty),
        "config-from-env": lambda: run(
            CHECKIN, "event", "list", cwd=empty, env={**base_env(), "CHECKIN_CONFIG": str(d.config)}
        ),
        "wrong-passphrase": lambda: run(
            CHECKIN, "--config", d.config, "--now", "2022-03-20T09:30",
            "issue", "--event", "cds2022", "--name", "An", cwd=home, env=wrong_passphrase,
        ),
        "no-passphrase": lambda: run(
            CHECKIN, "--config", d.config, "--now", EXPORT_AT,
            "bundle", "export", "--event", "cds2022", "--out", home / "never.ckb", cwd=home, env=no_passphrase,
        ),
        "csv-undecodable": lambda: d.checkin(
            "issue", "--event", "cds2022", "--csv", home / "undecodable.csv", "--out", home / "L",
            now="2022-03-20T10:00",
        ),
        "usage-missing-file": lambda: d.checkin("issue", "--event", "cds2022", "--csv", home / "no-such.csv"),
        "gate-usage-missing-file": lambda: run(GATE, "decode", home / "no-such.png", cwd=home),
        "csv-all-bad": lambda: d.checkin(
            "issue", "--event", "cds2022", "--csv", home / "bad.csv", "--out", home / "X", now="2022-03-20T10:00"
        ),
        "png-unwritable": lambda: d.checkin(
            "issue", "--event", "cds2022", "--name", "Vũ Văn Ảnh", "--png", home / "no-such-folder" / "x.png",
            now="2022-03-20T09:30",
        ),
        "bundle-unwritable": lambda: d.checkin(
            "bundle", "export", "--event", "cds2022", "--out", home / "a-file" / "B.ckb", now=EXPORT_AT
        ),
    }  # fmt: skip
    keys_before = {p.name: p.read_bytes() for p in (home / "D" / "keys").iterdir()}
    config_before = d.config.read_bytes()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        results = {name: future.result() for name, future in futures.items()}
    assert {p.name: p.read_bytes() for p in (home / "D" / "keys").iterdir()} == keys_before
    assert d.config.read_bytes() == config_before
    return results


@pytest.fixture(scope="module")
def compromise(deployment: Deployment, failures: dict) -> Deployment:
    """Last of all (after the failing commands, which need a signing key): revoke the active key, as after
    a compromise, and rotate to a new one."""
    d = deployment
    active = [k["kid"] for k in d.keys_json() if k["role"] == "issuing" and k["status"] == "active"]
    d.step("revoke_active_key", "keys", "revoke", active[-1] if active else "none", now="2022-03-24T09:00")
    d.step("rotate_after_revoke", "keys", "rotate", now="2022-03-24T09:05")
    d.step("keys_list_final", "keys", "list")
    return d


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_are_one_clear_line(failures: dict[str, subprocess.CompletedProcess[str]], name: str) -> None:
    _args, _now, code, named = ERRORS[name]
    line = clean_failure(failures[name], code)
    assert named in line


def test_init_twice_is_refused(failures: dict[str, subprocess.CompletedProcess[str]]) -> None:
    clean_failure(failures["init-again"], "already_exists")


def test_missing_config_file(failures: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert "nope.toml" in clean_failure(failures["missing-config"], "config_invalid")


def test_no_config_in_the_working_folder(failures: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert "config.toml" in clean_failure(failures["no-config-here"], "config_invalid")


def test_config_from_the_environment(failures: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = ok(failures["config-from-env"])
    assert "cds2022" in result.stdout
    assert EVENT_NAME in result.stdout


def test_wrong_passphrase(failures: dict[str, subprocess.CompletedProcess[str]]) -> None:
    clean_failure(failures["wrong-passphrase"], "wrong_passphrase")
    assert "CK1:" not in failures["wrong-passphrase"].stdout


def test_no_passphrase_and_no_terminal(
    deployment: Deployment, failures: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    assert "CHECKIN_KEY_PASSPHRASE" in clean_failure(failures["no-passphrase"], "wrong_passphrase")
    assert not (deployment.home / "never.ckb").exists()


def test_csv_in_no_known_encoding(
    deployment: Deployment, failures: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    assert "line 3" in clean_failure(failures["csv-undecodable"], "invalid_input")
    assert not (deployment.home / "L").exists()


@pytest.mark.parametrize(
    ("name", "command"), [("usage-missing-file", "checkin issue"), ("gate-usage-missing-file", "checkin-gate decode")]
)
def test_a_usage_error_is_one_line_naming_the_help(
    failures: dict[str, subprocess.CompletedProcess[str]], name: str, command: str
) -> None:
    line = clean_failure(failures[name], "usage", exit_code=2)
    assert "no-such." in line and f"{command} --help" in line


def test_csv_with_only_bad_rows(deployment: Deployment, failures: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = failures["csv-all-bad"]
    clean_failure(result, "invalid_input", also=(str(deployment.home / "bad.csv"),))
    assert re.search(r"\bline 2\b", result.stderr)
    assert re.search(r"\bline 3\b", result.stderr)


def test_unwritable_png_path_is_a_clean_error(failures: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert "no-such-folder" in clean_failure(failures["png-unwritable"], None)


def test_unwritable_bundle_path_is_a_clean_error(failures: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert "a-file" in clean_failure(failures["bundle-unwritable"], None)


# ---- after a compromise (runs last: it changes the keys) ------------------------------------------


def test_keys_list_after_rotation_and_revocation(compromise: Deployment) -> None:
    rows = [line.split() for line in compromise.steps["keys_list_final"].stdout.splitlines()[1:]]
    issuing = [(r[0], r[3]) for r in rows if r[1] == "issuing"]
    old_kid, new_kid = ck1_parts(compromise.texts["A"])[0], ck1_parts(compromise.texts["D"])[0]
    assert issuing[:2] == [(old_kid, "revoked"), (new_kid, "revoked")]
    assert [r[3] for r in rows if r[1] == "root"] == ["active"]


def test_rotate_works_after_the_active_key_was_revoked(compromise: Deployment) -> None:
    """After a compromise the active key is revoked; `keys rotate` must then make a new one."""
    ok(compromise.steps["revoke_active_key"])
    ok(compromise.steps["rotate_after_revoke"])
    rows = [line.split() for line in compromise.steps["keys_list_final"].stdout.splitlines()[1:]]
    assert [r[3] for r in rows if r[1] == "issuing"] == ["revoked", "revoked", "active"]


# ---- the schema is an explicit step: `checkin db upgrade` ---------------------------------------

TEST_DATABASE_ENV = "CHECKIN_TEST_DATABASE_URL"

# Every command that reads or writes the database, with arguments that would otherwise get past
# option parsing; on a database without the current schema each must say what to run.
DATABASE_COMMANDS: dict[str, tuple[str, ...]] = {
    "event create": (
        "event", "create", "--id", "cds2022", "--name", "N", "--start", EVENT_DAY, "--end", "2022-03-26T17:00"
    ),
    "event list": ("event", "list"),
    "issue": ("issue", "--event", "cds2022", "--name", "Nguyễn Văn An"),
    "revoke": ("revoke", "0123abcd"),
    "bundle export": ("bundle", "export", "--event", "cds2022", "--out", "b.ckb"),
    "gate add": ("gate", "add", "--event", "cds2022", "--name", "A"),
    "gate list": ("gate", "list"),
    "gate revoke": ("gate", "revoke", "g1"),
    "user add": ("user", "add", "alice", "--role", "admin", "--generate"),
    "user list": ("user", "list"),
    "token add": ("token", "add", "crm", "--event", "cds2022"),
    "token scope": ("token", "scope", "crm", "--event", "cds2022"),
    "token list": ("token", "list"),
    "token revoke": ("token", "revoke", "crm"),
}  # fmt: skip


def fresh_deployment(home: Path, database: str) -> Path:
    """A deployment folder (config and keys) whose config names `database`, which has no schema yet."""
    ok(run(CHECKIN, "init", "--dir", "D", cwd=home))
    config = home / "D" / "config.toml"
    text = config.read_text(encoding="utf-8")
    assert 'database = "checkin.db"' in text
    config.write_text(text.replace('database = "checkin.db"', f'database = "{database}"', 1), encoding="utf-8")
    ok(run(CHECKIN, "--config", config, "--now", "2022-03-20T09:00", "keys", "init", cwd=home))
    return config


def assert_upgrade_is_the_way(home: Path, config: Path) -> None:
    """Every database command names `checkin db upgrade`; after it, the commands work."""
    at = ("--config", config, "--now", "2022-03-20T09:00")
    names = list(DATABASE_COMMANDS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        refused = list(pool.map(lambda n: run(CHECKIN, *at, *DATABASE_COMMANDS[n], cwd=home), names))
    upgrade_line = f"run: checkin --config {config} db upgrade"
    for name, result in zip(names, refused, strict=True):
        line = clean_failure(result, "schema_outdated")
        assert line.endswith(upgrade_line), f"{name}: {line}"
        assert result.stdout == "", name
    current = run(CHECKIN, *at, "db", "current", cwd=home)
    assert current.returncode == 1
    assert "no schema" in current.stdout and current.stdout.rstrip().endswith(upgrade_line), current.stdout
    upgraded = ok(run(CHECKIN, *at, "db", "upgrade", cwd=home))
    assert "(current)" in upgraded.stdout
    assert ok(run(CHECKIN, *at, "db", "current", cwd=home)).stdout == upgraded.stdout
    assert ok(run(CHECKIN, *at, "db", "upgrade", cwd=home)).stdout == upgraded.stdout  # again: nothing to do
    ok(run(CHECKIN, *at, *DATABASE_COMMANDS["event create"], cwd=home))
    assert ok(run(CHECKIN, *at, "event", "list", cwd=home)).stdout.startswith("cds2022 ")
    text = ok(run(CHECKIN, *at, *DATABASE_COMMANDS["issue"], cwd=home)).stdout.splitlines()[-1]
    assert text.startswith("CK1:")


def test_a_fresh_sqlite_file_needs_db_upgrade_first(tmp_path: Path) -> None:
    config = fresh_deployment(tmp_path, "fresh.db")
    assert_upgrade_is_the_way(tmp_path, config)


@pytest.fixture
def fresh_postgres() -> Iterator[tuple[str, str]]:
    """(URL of a new, empty PostgreSQL database, URL of one that does not exist); the new one is dropped after."""
    url = os.environ.get(TEST_DATABASE_ENV)
    if not url:
        pytest.skip(f"PostgreSQL runs need {TEST_DATABASE_ENV}, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(url)
    name = f"checkin_fresh_{secrets.token_hex(6)}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            admin.set(database=name).render_as_string(hide_password=False),
            admin.set(database=f"{name}_missing").render_as_string(hide_password=False),
        )
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_fresh_postgresql_database_needs_db_upgrade_first(tmp_path: Path, fresh_postgres: tuple[str, str]) -> None:
    fresh, _missing = fresh_postgres
    config = fresh_deployment(tmp_path, fresh)
    assert_upgrade_is_the_way(tmp_path, config)


def test_a_postgresql_database_that_does_not_exist_is_one_line(tmp_path: Path, fresh_postgres: tuple[str, str]) -> None:
    _fresh, missing = fresh_postgres
    config = fresh_deployment(tmp_path, missing)
    for args in (("event", "list"), ("db", "upgrade")):
        line = clean_failure(run(CHECKIN, "--config", config, *args, cwd=tmp_path), "service_unavailable")
        assert "cannot open the database" in line and missing.rsplit("/", 1)[1] in line, line


# ---- the package: no import cycle, nothing heavy for --help -------------------------------------

CLI_PACKAGE = Path(__file__).resolve().parents[2] / "checkin" / "cli"


def cli_modules() -> list[str]:
    return sorted(f"checkin.cli.{p.stem}" for p in CLI_PACKAGE.glob("*.py") if p.stem != "__init__")


def imported_cli_modules(module: str) -> set[str]:
    """The checkin.cli modules `module` imports anywhere in its text (module level or inside a function)."""
    path = CLI_PACKAGE / f"{module.rsplit('.', 1)[1]}.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("checkin.cli"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if node.module == "checkin.cli")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("checkin.cli"))
    return found


def test_cli_group_modules_never_import_the_root_group_and_form_no_cycle() -> None:
    graph = {m: imported_cli_modules(m) for m in cli_modules()}
    assert len(graph) >= 9, graph
    for module, imports in graph.items():
        assert "checkin.cli" not in imports, f"{module} imports the root group"
    state: dict[str, str] = {}

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert state.get(module) != "open", f"import cycle: {' -> '.join((*path, module))}"
        if state.get(module) == "done":
            return
        state[module] = "open"
        for target in graph.get(module, ()):
            visit(target, (*path, module))
        state[module] = "done"

    for module in graph:
        visit(module, ())


@pytest.mark.parametrize("module", cli_modules())
def test_each_cli_module_imports_alone(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, env=base_env(), check=False
    )
    assert result.returncode == 0, result.stderr


def modules_loaded_by(*argv: str) -> set[str]:
    """Every module a console script imports (python -X importtime), run as a person runs it."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=base_env(), check=False
    )
    assert result.returncode == 0, result.stderr
    lines = [line.split("|")[-1] for line in result.stderr.splitlines() if line.startswith("import time:")]
    return {line.strip() for line in lines[1:]}  # the first line is the header


def test_checkin_help_imports_no_flask_sqlalchemy_or_alembic() -> None:
    loaded = modules_loaded_by(CHECKIN, "--help")
    assert "checkin.cli.users" in loaded  # the groups are there, so the listing is complete
    heavy = {m for m in loaded if m.split(".")[0] in {"flask", "sqlalchemy", "alembic", "argon2", "numpy", "fpdf"}}
    assert heavy == set(), sorted(heavy)[:10]


def test_user_add_help_lists_the_roles() -> None:
    shown = ok(run(CHECKIN, "user", "add", "--help", cwd=Path.cwd())).stdout
    assert "[admin|registrar|officer]" in shown
    refused = run(CHECKIN, "user", "add", "bob", "--role", "root", cwd=Path.cwd())
    assert refused.returncode == 2 and "'root' is not one of 'admin', 'registrar', 'officer'" in refused.stderr


def test_checkin_gate_help_loads_only_click_and_the_error_codes() -> None:
    loaded = modules_loaded_by(GATE, "--help")
    assert "scanner.cli" in loaded
    ours = {m for m in loaded if m.split(".")[0] in {"checkin", "scanner"}}
    shell = {"checkin.clikit", "checkin.i18n"}  # i18n loads babel only when something is translated
    core = {"checkin.core", "checkin.core.errors", "checkin.core.clock"}
    assert ours == {"checkin", *core, *shell, "scanner", "scanner.cli"}
    heavy = {m.split(".")[0] for m in loaded} & {
        "cv2",
        "numpy",
        "zxingcpp",
        "cryptography",
        "nacl",
        "cbor2",
        "requests",
    }
    assert heavy == set()


def test_checkin_gate_help_names_the_data_folder_defaults() -> None:
    """The help text spells them out (importing scanner.datadir would load the cryptography)."""
    from scanner import datadir

    shown = " ".join(ok(run(GATE, "--help", cwd=Path.cwd())).stdout.split())
    assert f"(else ${datadir.DATA_ENV}, else ./{datadir.DEFAULT_DIR})" in shown.replace("- ", "-")


# ---- finding a guest's code from the command line ------------------------------------------------


def test_guest_list_show_and_credential_list_give_ids_and_short_codes(deployment: Deployment) -> None:
    d = deployment
    a_id = cti(d.texts["A"])
    a_short = credential.short_code(bytes.fromhex(a_id))
    listed = ok(d.checkin("guest", "list", "--event", "cds2022", "--search", "nguyen van an")).stdout.splitlines()
    assert "Nguyễn Văn An" in listed[0] and a_short in listed[0]  # the whole name first
    guest_id = listed[0].split()[0]
    shown = ok(d.checkin("guest", "show", guest_id)).stdout
    assert f"code {a_short}  id {a_id}  active" in shown
    codes = ok(d.checkin("credential", "list", "--event", "cds2022", "--status", "revoked")).stdout
    assert cti(d.texts["C"]) in codes and a_id not in codes
    by_code = ok(d.checkin("guest", "list", "--event", "cds2022", "--search", a_short.lower())).stdout.splitlines()
    assert by_code[0].split()[0] == guest_id


def test_revoke_by_short_code_and_a_second_code_only_when_asked(deployment: Deployment) -> None:
    d = deployment
    issue_one(d, "E", "Võ Thị Én", "hall", "2022-03-21T09:30", "--org", "Bộ Y tế")
    first = cti(d.texts["E"])
    typed = credential.short_code(bytes.fromhex(first)).replace("-", "").lower()
    ok(d.checkin("revoke", typed, "--reason", "lost", now="2022-03-21T09:40"))
    assert f"{first}  revoked" in ok(d.checkin("credential", "list", "--event", "cds2022")).stdout
    # revoked: a new code is issued without a word; then a third needs --reissue or --again
    issue_one(d, "E2", "Võ Thị Én", "hall", "2022-03-21T09:45", "--org", "Bộ Y tế")
    refused = d.checkin(
        "issue", "--event", "cds2022", "--name", "Võ Thị Én", "--org", "Bộ Y tế", now="2022-03-21T09:50"
    )
    assert "--reissue" in clean_failure(refused, "invalid_input")
    issue_one(d, "E3", "Võ Thị Én", "hall", "2022-03-21T09:55", "--org", "Bộ Y tế", "--reissue")
    states = ok(d.checkin("credential", "list", "--event", "cds2022")).stdout
    assert f"{cti(d.texts['E2'])}  revoked" in states and f"{cti(d.texts['E3'])}  active" in states
    issue_one(d, "E4", "Võ Thị Én", "hall", "2022-03-21T10:00", "--org", "Bộ Y tế", "--again")
    states = ok(d.checkin("credential", "list", "--event", "cds2022")).stdout
    assert f"{cti(d.texts['E3'])}  active" in states and f"{cti(d.texts['E4'])}  active" in states


def test_a_guest_list_shows_progress_on_a_terminal_and_not_in_a_pipe(deployment: Deployment) -> None:
    import pty

    d = deployment
    (d.home / "few.csv").write_text("name,zones\nĐinh Văn Tới,hall\nMai Thị Lụa,vip\nHà Văn Bảy,hall\n", "utf-8")
    issue = ["issue", "--event", "cds2022", "--csv", d.home / "few.csv"]
    args = ["--config", d.config, "--now", "2022-03-21T10:00", *issue]
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [CHECKIN, *map(str, args), "--out", str(d.home / "FEW-TTY")], cwd=d.home, env=base_env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower,
    ) as proc:  # fmt: skip
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the command ended
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(60) == 0, seen
    os.close(leader)
    assert b"drawing badges" in seen and b"3/3" in seen
    piped = ok(d.checkin(*issue, "--out", d.home / "FEW-PIPE", now="2022-03-21T10:00"))
    assert "drawing" not in piped.stderr and "\x1b[" not in piped.stderr
