"""Flaws 8 and 9 of the security review, through the real `checkin serve`: the key passphrase is in no
process's /proc/<pid>/environ (the gunicorn master and its forked workers, or waitress), whether it
came from the environment or a file, and the service still opened its keys with it; the database
the running service writes, WAL included, is the owner's alone.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.cli import CHECKIN, clean_env, ok, run_cli
from tests.support.server import free_port, wait_for_line

PASSPHRASE = "a passphrase no process may show 7Q"
WORKERS = 2


@dataclass(frozen=True)
class Deployment:
    home: Path
    config: Path
    passphrase_file: Path


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A deployment with encrypted keys and one event running now (the service reads the real clock)."""
    home = tmp_path_factory.mktemp("serve")
    secret = home / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    secret.chmod(0o600)
    config = home / "D" / "config.toml"
    ok(run_cli(CHECKIN, "init", "--dir", "D", cwd=home))
    ok(run_cli(CHECKIN, "--config", config, "--passphrase-file", secret, "keys", "init", cwd=home))
    start, end = time.strftime("%Y-%m-%dT00:00", time.gmtime()), time.strftime("%Y-%m-%dT23:59", time.gmtime())
    ok(
        run_cli(
            CHECKIN, "--config", config, "event", "create", "--id", "ev", "--name", "Sự kiện",
            "--start", start, "--end", end, "--zones", "hall", cwd=home,
        )
    )  # fmt: skip
    return Deployment(home, config, secret)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for_children(pid: int, count: int, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while len(found := children(pid)) < count:
        assert time.monotonic() < deadline, f"{pid} has {found} children, not {count}"
        time.sleep(0.05)  # polling the process table: gunicorn says nothing when its workers are up
    return found


@pytest.fixture
def serving(deployment: Deployment, request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    server, source = request.param
    env = clean_env()
    if source == "environment":
        env["CHECKIN_KEY_PASSPHRASE"] = PASSPHRASE
    else:
        env["CHECKIN_KEY_PASSPHRASE_FILE"] = str(deployment.passphrase_file)
    port = free_port()
    args = [CHECKIN, "--config", str(deployment.config), "serve", "--port", str(port), "--server", server]
    args += ["--workers", str(WORKERS)] if server == "gunicorn" else []
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, umask=0o022)
    try:
        log = wait_for_line(proc, b"listening on", 60)
        assert b"Traceback" not in log and b"without the root key" not in log, log
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(30)


def enrol_and_fetch_bundle(deployment: Deployment, port: int) -> None:
    """A gate enrols and gets a bundle: only a service that opened the root key can sign one."""
    added = ok(run_cli(CHECKIN, "--config", deployment.config, "gate", "add", "--event", "ev", "--name", "A",
                       cwd=deployment.home))  # fmt: skip
    code = added.stdout.splitlines()[-1]
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/api/v1/devices/enroll", body=json.dumps({"code": code, "public_key": key}),
                     headers={"Content-Type": "application/json"})  # fmt: skip
        answer = conn.getresponse()
        body = json.loads(answer.read())
        assert answer.status == 200, body
        conn.request("GET", "/api/v1/bundle", headers={"Authorization": f"Bearer {body['token']}"})
        response = conn.getresponse()
        assert response.status == 200 and response.read()
    finally:
        conn.close()


SERVED = [("gunicorn", "environment"), ("gunicorn", "file"), ("waitress", "environment")]


@pytest.mark.parametrize("serving", SERVED, indirect=True, ids=["-".join(s) for s in SERVED])
def test_no_process_of_the_service_holds_the_passphrase(
    deployment: Deployment, serving: tuple[subprocess.Popen[bytes], int]
) -> None:
    proc, port = serving
    workers = wait_for_children(proc.pid, WORKERS, 30) if "gunicorn" in str(proc.args) else []
    enrol_and_fetch_bundle(deployment, port)
    processes = [proc.pid, *workers]
    for pid in processes:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        names = {entry.split(b"=", 1)[0] for entry in environ.split(b"\0") if entry}
        assert b"PATH" in names, pid  # the block was read: the checks below are real
        assert b"CHECKIN_KEY_PASSPHRASE" not in names, pid
        assert PASSPHRASE.encode() not in environ, pid
        assert PASSPHRASE.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes(), pid
    # flaw 8: what the running service writes is the owner's alone
    db = deployment.config.parent / "checkin.db"
    written = [db, *db.parent.glob("checkin.db-*"), db.with_name("checkin.db.writer-lock")]
    assert any(p.name.endswith("-wal") for p in written)
    assert {p.name: f"{p.stat().st_mode & 0o777:o}" for p in written if p.exists()} == {
        p.name: "600" for p in written if p.exists()
    }
