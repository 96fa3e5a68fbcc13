"""What the web tests share besides fixtures: the fixed moment, the event, the app's clock, the CLI
runner and an enrolled gate that keeps its own journal. Imported as `tests.support.apikit`.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from waitress.server import create_server
from waitress.wasyncore import close_all
from werkzeug.test import TestResponse

from checkin.cli import main
from checkin.config import Config, load
from checkin.core import chain, seal
from checkin.core.trust import EventInfo, TrustBundle
from checkin.keystore import KeyStore
from tests.support.scratch import TEST_DATABASE_ENV
from tests.support.server import free_port, wait_for_line
from tests.support.world import EVENT_ID, ISSUER, ZONES

FIXED = datetime(2022, 3, 26, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi, the morning of the event
PG_SKIP = (
    f"PostgreSQL runs need {TEST_DATABASE_ENV} (.ci/run sets it to postgresql+psycopg://postgres@127.0.0.1:5432/test)"
)


class Clock:
    """The app's clock: a fixed moment that tests move forward."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    @property
    def ms(self) -> int:
        return int(self.now.timestamp() * 1000)


def amended(config: Config, toml: str) -> Config:
    """The deployment with `toml` (whole sections) added to its config.toml, read again as the
    service reads it."""
    path = config.root / "config.toml"
    path.write_text(path.read_text(encoding="utf-8") + toml, encoding="utf-8")
    return load(str(path))


@dataclass
class Runner:
    """`checkin --config <the test's config> ...`, in process."""

    config_path: Path

    def __call__(self, *args: str, now: datetime | None = None) -> Result:
        head = ["--config", str(self.config_path)]
        if now is not None:
            head += ["--now", now.isoformat()]
        return CliRunner().invoke(main, [*head, *args])


@dataclass
class Gate:
    """An enrolled gate as the tests drive it: its key, token and the journal it keeps."""

    client: FlaskClient
    clock: Clock
    device_id: str
    token: str
    key: Ed25519PrivateKey
    enrolment: dict[str, Any]
    journal: list[chain.JournalRow] = field(default_factory=list)
    sealer: seal.SealKey | None = None  # the gate's forward-secure key, from the seed it sent at enrolment

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def scan(self, count: int, **content: Any) -> list[chain.JournalRow]:
        """Record `count` more scans in the gate's journal (an hour ago and after); return them."""
        rows = []
        for _ in range(count):
            prev = self.journal[-1] if self.journal else None
            seq = 1 if prev is None else prev.seq + 1
            fields: dict[str, Any] = {
                "wall_ms": self.clock.ms - 3_600_000 + seq * 100,
                "mono_ms": 5_000 + seq * 100,
                "cti": f"{self.device_id[:16]:0>16}{seq:016x}",  # one guest per row, each gate its own guests
                "kid": "1a2b3c4d5e6f7081",
                "verdict": "admit",
                "reason": "admitted",
                "direction": "in",
                "zone": "hall",
                "operator": "Nguyễn Văn Bảo",
            }
            fields.update(content)
            row = chain.append(prev, **fields)
            if self.sealer is not None:
                tag, self.sealer = self.sealer.seal(row.hash)
                row = replace(row, seal=tag)
            self.journal.append(row)
            rows.append(row)
        return rows

    def body(
        self, rows: list[chain.JournalRow], *, key: Ed25519PrivateKey | None = None, wall_ms: int | None = None
    ) -> dict[str, Any]:
        """An upload body: the rows and a checkpoint over the last one, signed by `key` (the gate's)."""
        last = rows[-1]
        checkpoint = chain.Checkpoint(last.seq, last.hash, self.clock.ms if wall_ms is None else wall_ms)
        signed = chain.sign_checkpoint(checkpoint, key or self.key)
        return {"rows": [row.to_json() for row in rows], "checkpoint": base64.b64encode(signed).decode()}

    def upload(self, rows: list[chain.JournalRow], **kw: Any) -> TestResponse:
        return self.client.post("/api/v1/journal", json=self.body(rows, **kw), headers=self.auth)


@contextmanager
def waitress_thread(app: Flask, threads: int) -> Iterator[int]:
    """The app under waitress (a real WSGI server) on a free port of 127.0.0.1, in a thread."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        # closed from the loop's own thread, so its select never meets a closed socket (EBADF);
        # now and then waitress has closed its trigger already, and then it is closed from here
        def close_everything() -> None:  # the listening socket, the trigger and open keep-alive channels
            close_all(server._map, ignore_all=True)

        try:
            server.trigger.pull_trigger(close_everything)
        except OSError:
            close_everything()
        thread.join(10)
        server.task_dispatcher.shutdown()
        assert not thread.is_alive(), "waitress did not stop"


@contextmanager
def served(config: Config, server: str, *options: str) -> Iterator[tuple[subprocess.Popen[bytes], int, bytes]]:
    """`checkin serve` in a process of its own on a free port: the process, the port and its log so far."""
    port = free_port()
    cli = str(Path(sys.executable).with_name("checkin"))
    env = {k: v for k, v in os.environ.items() if k != "CHECKIN_KEY_PASSPHRASE"}
    args = [cli, "--config", str(config.root / "config.toml"), "serve", "--port", str(port), "--server", server]
    proc = subprocess.Popen([*args, *options], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        yield proc, port, wait_for_line(proc, b"listening on", 60)
    finally:
        proc.terminate()
        proc.wait(30)


def bundle_for(config: Config, at: datetime) -> TrustBundle:
    """A bundle of the test event with the deployment's keys, signed at `at`, to verify codes with."""
    return TrustBundle(
        1,
        at,
        at + timedelta(days=1),
        ISSUER,
        EventInfo(EVENT_ID, "x", "Asia/Ho_Chi_Minh", at, at + timedelta(hours=8), zones=ZONES),
        KeyStore(config.keys_dir).bundle_keys(),
    )


def event_form(**overrides: str) -> dict[str, str]:
    """The new-event form of a second event, as a registrar fills it in."""
    form = {
        "id": "hoi-thao-2",
        "name": "Hội thảo An toàn thông tin",
        "venue": "Khách sạn Nam Cường",
        "timezone": "Asia/Ho_Chi_Minh",
        "start": "2022-04-02T08:00",
        "end": "2022-04-02T11:30",
        "zones": "hall, press",
    }
    form.update(overrides)
    return form
