"""A gate laptop's install: `pip install '.[gate]'` into a fresh venv gives a working `checkin-gate`
and nothing of the service.

The deployment (keys, bundle, tickets, a video of arrivals, the service) is made here with the dev
install; only the gate's commands run in the gate's venv: `verify` of a ticket (text and PNG), a USB
enrolment and `run --video ... --headless` end to end; a network enrolment, `sync` and `status`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checkin import qr
from checkin.core.credential import sign
from checkin.store import journal
from scanner.scenes import Presentation, render_video
from tests.support.gatekit import GATE_NOW, World, forged

ROOT = Path(__file__).resolve().parents[2]
SERVICE_LIBRARIES = ("flask", "sqlalchemy", "psycopg", "gunicorn", "alembic", "argon2", "waitress", "fpdf")
GATE_LIBRARIES = ("cv2", "zxingcpp", "pyzbar", "numpy", "PIL", "requests", "nacl", "cbor2", "click")
# What pip prints when it cannot reach the package index (as opposed to a broken install).
OFFLINE = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|Network is unreachable|ConnectTimeout"
    r"|No matching distribution found|Could not find a version that satisfies"
)

FIND = "import importlib.util as u, json, sys; print(json.dumps({n: bool(u.find_spec(n)) for n in sys.argv[1:]}))"

pytestmark = pytest.mark.slow


def run(
    *args: str | Path, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command with the environment of a plain shell (no PYTHONPATH into the checkout) and `env`."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | (env or {})
    return subprocess.run(
        [str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env, cwd="/"
    )


def build_venv(home: Path, extra: str) -> Path:
    """A fresh venv with `pip install '<copy of the checkout>[extra]'` (not editable)."""
    source = home / "src"
    if not source.exists():
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        for package in ("checkin", "scanner"):
            shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = home / extra
    made = run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    pip = (venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    installed = run(*pip, f"{source}[{extra}]")
    if installed.returncode != 0:
        offline = OFFLINE.search(installed.stdout + installed.stderr)
        if offline:
            pytest.skip(f"no network to the package index ({offline.group(0)}): cannot build a venv")
        pytest.fail(f"pip install '.[{extra}]' failed:\n{installed.stdout}\n{installed.stderr}")
    return venv


@pytest.fixture(scope="module")
def installs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("installs")


@pytest.fixture(scope="module")
def gate_venv(installs: Path) -> Path:
    return build_venv(installs, "gate")


def test_the_gate_install_holds_nothing_of_the_service(gate_venv: Path) -> None:
    found = run(gate_venv / "bin" / "python", "-c", FIND, *SERVICE_LIBRARIES, *GATE_LIBRARIES)
    assert found.returncode == 0, found.stderr
    present = json.loads(found.stdout)
    assert [name for name in SERVICE_LIBRARIES if present[name]] == []
    assert [name for name in GATE_LIBRARIES if not present[name]] == []
    # the checkout is not what runs: the venv's own copy is
    where = run(gate_venv / "bin" / "python", "-c", "import scanner; print(scanner.__file__)")
    assert where.stdout.startswith(str(gate_venv)), where.stdout + where.stderr


def test_verify_enrol_and_run_a_video_with_the_gate_install(gate_venv: Path, tmp_path: Path) -> None:
    gate = gate_venv / "bin" / "checkin-gate"
    world = World()
    revoked_cred = world.credential("Cao Thị Thảo")
    world.revoked = frozenset({revoked_cred.credential_id})
    ckb, pub = world.write_usb(tmp_path / "usb")
    an, binh, cuong, dung = (
        world.issue(name) for name in ("Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Cường", "Phạm Thu Dung")
    )
    revoked = sign(revoked_cred, world.issuing)
    fake = forged(world.issue("Đinh Văn Khoa"))

    # verify: a text on stdin and a ticket's PNG (decoded with OpenCV and zxing-cpp in the gate's venv)
    ticket = tmp_path / "ticket.png"
    ticket.write_bytes(qr.png(binh))
    verified = run(
        gate,
        "verify",
        "--bundle",
        ckb,
        "--root-key",
        pub,
        "--at",
        GATE_NOW,
        "--zone",
        "hall",
        "-",
        ticket,
        stdin=f"{an}\n{fake}\n",
    )
    assert verified.returncode == 0, verified.stderr
    lines = [json.loads(line) for line in verified.stdout.splitlines()]
    assert [(r["verdict"], r["reason"]) for r in lines] == [
        ("admit", "admitted"),
        ("deny", "bad_signature"),
        ("admit", "admitted"),
    ]
    assert lines[2]["text"] == binh and lines[2]["credential"]["name"] == "Trần Thị Bích"

    # a gate data folder enrolled from the USB stick, then the scan loop on a video of arrivals
    shows = [
        Presentation((an,), angle=8),
        Presentation((binh, cuong), angle=-10, tilt=0.04),  # two badges in one frame
        Presentation((fake,)),
        Presentation((revoked,), angle=-12),
        Presentation((dung,), angle=20, noise=8),  # a dim corner
        Presentation((an,), angle=-18, blur=0.7),  # back without an exit, past the 3 s repeat window
    ]
    video = tmp_path / "arrivals.avi"
    render_video(video, shows)
    data = tmp_path / "gate-data"
    enrolled = run(gate, "--data", data, "enroll", "--bundle", ckb, "--root-key", pub, "--zone", "hall")
    assert enrolled.returncode == 0, enrolled.stderr
    ran = run(gate, "--data", data, "run", "--video", video, "--headless", "--now", GATE_NOW)
    assert ran.returncode == 0, ran.stderr
    out = [json.loads(line) for line in ran.stdout.splitlines()]
    seen = [(r["input"], r["verdict"], r["reason"]) for r in out]
    assert sorted(seen) == sorted(
        [
            (an, "admit", "admitted"),
            (binh, "admit", "admitted"),
            (cuong, "admit", "admitted"),
            (dung, "admit", "admitted"),
            (fake, "deny", "bad_signature"),
            (revoked, "deny", "revoked"),
            (an, "deny", "already_inside"),
        ]
    )
    assert seen[-1] == (an, "deny", "already_inside")
    assert [r["seq"] for r in out] == list(range(1, 8))
    checked = run(gate, "--data", data, "journal", "verify")
    assert checked.returncode == 0 and json.loads(checked.stdout.splitlines()[0])["ok"] is True, checked.stderr


def test_network_enrolment_sync_and_status_with_the_gate_install(gate_venv: Path, service: Any, tmp_path: Path) -> None:
    """The other half of a gate's day, against the real service (run from the dev install)."""
    gate = gate_venv / "bin" / "checkin-gate"
    data = tmp_path / "gate-data"
    device_id, code = service.add_gate("Cổng B")
    enrolled = run(gate, "--data", data, "enroll", "--server", service.url, "--code", code)
    assert enrolled.returncode == 0, enrolled.stderr
    assert json.loads(enrolled.stdout.splitlines()[0])["enrolled"] == device_id
    texts = [service.issue(name) for name in ("Vũ Thị Én", "Hoàng Minh Đức")]
    ran = run(gate, "--data", data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, stdin="\n".join(texts))
    assert ran.returncode == 0, ran.stderr
    assert [json.loads(line)["reason"] for line in ran.stdout.splitlines()] == ["admitted", "admitted"]
    synced = run(gate, "--data", data, "sync", "--now", GATE_NOW)
    assert synced.returncode == 0, synced.stderr
    pushed = json.loads(synced.stdout)  # the run may have pushed some already: it syncs while online
    assert (pushed["acked_seq"], pushed["pending"]) == (2, 0)
    status = run(gate, "--data", data, "status", "--now", GATE_NOW)
    assert status.returncode == 0, status.stderr
    assert (json.loads(status.stdout)["acked_seq"], json.loads(status.stdout)["pending"]) == (2, 0)
    assert [r.seq for r in journal.journal_rows(service.store, device_id)] == [1, 2]


def test_service_and_gate_installed_apart(gate_venv: Path, installs: Path, tmp_path: Path) -> None:
    """`.[service]` has no OpenCV or pyzbar and issues a ticket and a bundle that `.[gate]` verifies."""
    service_venv = build_venv(installs, "service")
    found = json.loads(run(service_venv / "bin" / "python", "-c", FIND, "cv2", "pyzbar", "flask", "zxingcpp").stdout)
    assert found == {"cv2": False, "pyzbar": False, "flask": True, "zxingcpp": True}

    checkin = service_venv / "bin" / "checkin"
    config = tmp_path / "D" / "config.toml"
    keys = {"CHECKIN_KEY_PASSPHRASE": "correct horse battery staple"}

    def service(*args: str | Path, now: str = "2022-03-20T09:00") -> str:
        done = run(checkin, "--config", config, "--now", now, *args, env=keys)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run(checkin, "init", "--dir", tmp_path / "D").returncode == 0
    service("keys", "init")
    event = ("--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30", "--zones", "hall,vip")
    service("event", "create", "--id", "cds2022", "--name", "Ngày Chuyển đổi số", *event)
    ticket = tmp_path / "ticket.png"
    text = service("issue", "--event", "cds2022", "--name", "Nguyễn Văn An", "--zones", "hall", "--png", ticket)
    bundle = tmp_path / "usb" / "cds2022.ckb"
    bundle.parent.mkdir()
    service("bundle", "export", "--event", "cds2022", "--out", bundle, now="2022-03-26T06:00")

    gate = gate_venv / "bin" / "checkin-gate"
    at = ("--at", "2022-03-26T08:30", "--zone", "hall")
    verified = run(gate, "verify", "--bundle", bundle, "--root-key", bundle.with_name("root.pub"), *at, ticket)
    assert verified.returncode == 0, verified.stderr
    record = json.loads(verified.stdout)
    assert (record["verdict"], record["text"]) == ("admit", text.splitlines()[-1])
    assert record["credential"]["name"] == "Nguyễn Văn An"
