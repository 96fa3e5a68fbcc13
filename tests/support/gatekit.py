"""Test helpers for the gate: a deployment (root and issuing keys, a bundle), codes, a data folder,
and a small real HTTP service that speaks the gate API contract with checkin.core.chain.

Imported by the gate's tests in tests/scanner and tests/e2e as `tests.support.gatekit`.
Everything is real: keys, signatures, files, SQLite, HTTP over loopback.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from checkin.core import chain, cose, enrolment, trust
from checkin.core.credential import Credential, sign
from checkin.core.errors import InputError
from checkin.core.trust import BundleKey, EventInfo, GatePolicy, KeyStatus, TrustBundle
from scanner import journal
from scanner.datadir import Device, GateData
from tests.support import world
from tests.support.world import ISSUER, NOW

GATE = str(Path(sys.executable).with_name("checkin-gate"))
EVENT_ID = "cds-hd-2022"  # the gate kit's own event (its bundles are made here, not by the service)


@dataclass
class World:
    """A deployment: root key, issuing key, the event, and the bundle the gates get."""

    now: datetime = NOW
    root: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    issuing: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    policy: GatePolicy = field(default_factory=GatePolicy)
    revoked: frozenset[bytes] = frozenset()
    version: int = 1

    def bundle(self, **changes: Any) -> TrustBundle:
        """The event's bundle (fields can be overridden)."""
        public = self.issuing.public_key()
        base = TrustBundle(
            version=self.version,
            issued_at=self.now - timedelta(hours=3),
            expires_at=self.now + timedelta(days=2),
            issuer=ISSUER,
            event=EventInfo(
                id=EVENT_ID,
                name="Ngày Chuyển đổi số tỉnh Hải Dương 2022",
                timezone="Asia/Ho_Chi_Minh",
                start=self.now - timedelta(hours=2),
                end=self.now + timedelta(hours=10),
                zones=("hall", "vip", "press"),
            ),
            keys=(
                BundleKey(
                    kid=cose.kid_of(public),
                    public_key=public.public_bytes_raw(),
                    not_before=self.now - timedelta(days=30),
                    not_after=None,
                    status=KeyStatus.ACTIVE,
                ),
            ),
            revoked=self.revoked,
            policy=self.policy,
        )
        return replace(base, **changes)

    def signed_bundle(self, **changes: Any) -> bytes:
        """The bundle signed by the root key: a .ckb file's bytes."""
        return trust.sign_bundle(self.bundle(**changes), self.root)

    def root_pem(self) -> bytes:
        """The root public key as gates pin it."""
        return self.root.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def credential(self, name: str = "Nguyễn Văn An", **changes: Any) -> Credential:
        """A credential valid now for the hall and vip zones."""
        return guest(name, self.now, **changes)

    def issue(self, name: str = "Nguyễn Văn An", key: Ed25519PrivateKey | None = None, **changes: Any) -> str:
        """CK1 text of a fresh credential."""
        return sign(self.credential(name, **changes), key or self.issuing)

    def write_usb(self, folder: Path, **changes: Any) -> tuple[Path, Path]:
        """Write FILE.ckb and root.pub as a USB stick would carry them."""
        folder.mkdir(parents=True, exist_ok=True)
        ckb, pub = folder / "event.ckb", folder / "root.pub"
        ckb.write_bytes(self.signed_bundle(**changes))
        pub.write_bytes(self.root_pem())
        return ckb, pub


def guest(name: str, now: datetime, **changes: Any) -> Credential:
    """A credential of the event valid around `now` (hall and vip unless `zones` says otherwise)."""
    defaults: dict[str, Any] = {"event_id": EVENT_ID, "name": name, "not_before": now - timedelta(hours=2)}
    return world.credential(now, **{**defaults, **changes})


def keystore_sign(keys: Any, cred: Credential) -> str:
    """CK1 text signed by the active issuing key of a checkin.keystore.KeyStore (unencrypted keys)."""
    info = keys.active_issuing()
    return sign(cred, keys.load_private(info, None), info.kid_bytes)


def forged(text: str) -> str:
    """The same code with one signature byte changed: what a forger who edits a code produces."""
    from checkin.core import base45

    raw = bytearray(base45.decode(text[4:]))
    raw[-1] ^= 0x01
    return "CK1:" + base45.encode(bytes(raw))


def enrol_usb(
    root: Path, world: World, *, zone: str = "hall", direction: str = "in", server: str = "", token: str = ""
) -> GateData:
    """A data folder set up as enrolment leaves it (without going through the CLI)."""
    data = GateData(root)
    data.create()
    data.save_root(world.root_pem())
    data.install_bundle(world.signed_bundle(), held_version=0)
    key = data.new_device_key()
    data.save_device(
        Device(
            device_id="dev-" + cose.kid_of(key.public_key()).hex()[:8],
            event_id=EVENT_ID,
            name="Cổng A",
            zone=zone,
            direction=direction,
            server=server,
        )
    )
    if token:
        data.save_token(token)
    journal.begin(data.journal_path)
    return data


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# ---- a small service that speaks the gate API --------------------------------------------------------------


@dataclass
class DeviceRecord:
    """What the service knows of one gate."""

    device_id: str
    public_key: Ed25519PublicKey | None
    zone: str = "hall"
    direction: str = "in"
    revoked: bool = False
    seal_seed: str = ""
    rows: list[chain.JournalRow] = field(default_factory=list)
    checkpoints: list[chain.Checkpoint] = field(default_factory=list)
    posts: int = 0


class ContractService:
    """The gate API contract over real HTTP (http.server in a thread), journal checks by checkin.core.chain."""

    def __init__(self, world: World, *, clock: Clock, max_batch: int = 5000) -> None:
        self.world = world
        self.clock = clock
        self.max_batch = max_batch
        self.bundle_bytes = world.signed_bundle()
        self.bundle_version = world.version
        self.devices: dict[str, DeviceRecord] = {}  # by token
        self.codes: dict[str, tuple[str, str, str]] = {}  # enrolment code -> (device id, zone, direction)
        self.lock = threading.Lock()
        self.fail_next: list[int] = []  # HTTP statuses to answer with before serving normally
        self.hold: threading.Event | None = None  # when set up, journal uploads wait for it (10 s at most)
        self.holding = threading.Event()  # set while an upload waits on `hold`
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_code(self, device_id: str, zone: str = "hall", direction: str = "in") -> str:
        """A one-time code bound to the world's root key, as `checkin gate add` prints it."""
        code = enrolment.bound_code(enrolment.new_secret(), self.world.root.public_key().public_bytes_raw())
        self.codes[hashlib.sha256(enrolment.normalise_code(code).encode()).hexdigest()] = (device_id, zone, direction)
        return code

    def add_device(self, token: str, device_id: str, public_key: Ed25519PublicKey) -> DeviceRecord:
        record = DeviceRecord(device_id, public_key)
        self.devices[token] = record
        return record

    def publish(self, bundle_bytes: bytes, version: int) -> None:
        self.bundle_bytes, self.bundle_version = bundle_bytes, version

    def rows_of(self, device_id: str) -> list[chain.JournalRow]:
        return next(d.rows for d in self.devices.values() if d.device_id == device_id)

    # ---- the HTTP side ---------------------------------------------------------------------------------

    def start(self) -> ContractService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _answer(
                self, status: int, body: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None
            ) -> None:
                payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if raw is None and body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _device(self) -> DeviceRecord | None:
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ").strip()
                device = service.devices.get(token) if auth.startswith("Bearer ") else None
                if device is None:
                    self._answer(401, {"reason": "unauthorized"})
                    return None
                if device.revoked:
                    self._answer(401, {"reason": "device_revoked"})
                    return None
                return device

            def _injected(self) -> bool:
                if service.fail_next:
                    self._answer(service.fail_next.pop(0), {"reason": "injected"})
                    return True
                return False

            def do_GET(self) -> None:
                if self.path != "/api/v1/bundle":
                    self._answer(404, {"reason": "not_found"})
                    return
                with service.lock:
                    if self._injected() or self._device() is None:
                        return
                    etag = f'"v{service.bundle_version}"'
                    if self.headers.get("If-None-Match") == etag:
                        self._answer(304, headers={"ETag": etag})
                        return
                    self._answer(
                        200, raw=service.bundle_bytes, headers={"ETag": etag, "Content-Type": "application/cose"}
                    )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                if service.hold is not None and self.path == "/api/v1/journal":
                    service.holding.set()
                    service.hold.wait(10)
                    service.holding.clear()
                with service.lock:
                    if self._injected():
                        return
                    if self.path == "/api/v1/devices/enroll":
                        self._enroll(body)
                    elif self.path == "/api/v1/journal":
                        device = self._device()
                        if device is not None:
                            self._journal(device, body)
                    else:
                        self._answer(404, {"reason": "not_found"})

            def _enroll(self, body: dict[str, Any]) -> None:
                digest = hashlib.sha256(str(body.get("code", "")).encode()).hexdigest()
                if digest not in service.codes:
                    self._answer(403, {"reason": "enrolment_invalid"})
                    return
                device_id, zone, direction = service.codes.pop(digest)
                public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(body["public_key"]))
                token = secrets.token_urlsafe(24)
                record = service.add_device(token, device_id, public)
                record.zone, record.direction = zone, direction
                record.seal_seed = str(body.get("seal_seed", ""))
                now = service.clock()
                self._answer(
                    200,
                    {
                        "device_id": device_id,
                        "token": token,
                        "event_id": EVENT_ID,
                        "name": f"Gate {device_id}",
                        "zone": zone,
                        "direction": direction,
                        "root_public_key": service.world.root_pem().decode(),
                        "bundle": base64.b64encode(service.bundle_bytes).decode(),
                        "bundle_version": service.bundle_version,
                        "server_time": now.isoformat(),
                        "server_time_ms": int(now.timestamp() * 1000),
                    },
                )

            def _journal(self, device: DeviceRecord, body: dict[str, Any]) -> None:
                device.posts += 1
                try:
                    rows = [chain.row_from_json(r, f"rows[{i}]") for i, r in enumerate(body["rows"])]
                except (InputError, KeyError, TypeError) as exc:
                    self._answer(400, {"reason": "invalid_input", "detail": str(exc)})
                    return
                if len(rows) > service.max_batch:
                    self._answer(413, {"reason": "too_large"})
                    return
                held = device.rows
                acked = len(held)
                if rows and rows[0].seq > acked + 1:
                    self._answer(409, {"reason": "gap", "acked_seq": acked})
                    return
                new = []
                for row in rows:
                    if row.seq <= acked:
                        if held[row.seq - 1].hash != row.hash:
                            self._answer(422, {"reason": "fork", "seq": row.seq})
                            return
                    else:
                        new.append(row)
                prev = held[-1] if held else None
                if chain.check(new, prev):
                    self._answer(422, {"reason": "broken_chain"})
                    return
                try:
                    assert device.public_key is not None
                    checkpoint = chain.verify_checkpoint(base64.b64decode(body["checkpoint"]), device.public_key)
                except (InputError, KeyError, ValueError):
                    self._answer(422, {"reason": "bad_checkpoint"})
                    return
                all_rows = held + new
                if not rows or checkpoint.seq != rows[-1].seq or all_rows[checkpoint.seq - 1].hash != checkpoint.head:
                    self._answer(422, {"reason": "bad_checkpoint"})
                    return
                held.extend(new)
                device.checkpoints.append(checkpoint)
                now = service.clock()
                self._answer(
                    200,
                    {
                        "acked_seq": len(held),
                        "head_hash": held[-1].hash if held else "",
                        "stored": len(new),
                        "server_time": now.isoformat(),
                        "server_time_ms": int(now.timestamp() * 1000),
                        "alerts": [],
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


@contextmanager
def running(service: ContractService) -> Iterator[ContractService]:
    service.start()
    try:
        yield service
    finally:
        service.stop()


# ---- the real service and the real gate command -------------------------------------------------------

FIXED = datetime(2022, 3, 26, 1, 30, tzinfo=UTC)  # 08:30 in Hanoi, the morning of the event
GATE_NOW = "2022-03-26T08:30"  # the gate's clock, in the event's zone: the same moment


@dataclass
class LiveService:
    """The checkin service (create_app over config, keys and SQLite) under waitress on 127.0.0.1.

    `stop` and `start` again keep the port, as a service that went away and came back.
    """

    root: Path
    clock: Clock = field(default_factory=lambda: Clock(FIXED))
    port: int = 0
    extra_config: str = ""  # more TOML sections for config.toml ([screening], ...)
    _server: Any = None
    _thread: threading.Thread | None = None
    _stopping: bool = False

    def __post_init__(self) -> None:
        from checkin.config import load
        from checkin.keystore import KeyStore
        from checkin.store import Store
        from checkin.store import events as stored_events
        from checkin.store.events import NewEvent
        from checkin.web import create_app

        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "config.toml"
        path.write_text(
            f'[deployment]\nid = "{ISSUER}"\n\n[paths]\ndatabase = "checkin.db"\n{self.extra_config}', encoding="utf-8"
        )
        self.config = load(str(path))
        self.keys = KeyStore(self.config.keys_dir)
        self.keys.init(None, FIXED - timedelta(days=30))
        self.store = Store(self.config.database_url)
        self.store.migrate()
        start = datetime(2022, 3, 26, 0, 30, tzinfo=UTC)
        stored_events.create_event(
            self.store,
            NewEvent(
                EVENT_ID,
                "Ngày Chuyển đổi số 2022",
                start,
                start + timedelta(hours=10),
                "Asia/Ho_Chi_Minh",
                ("hall", "vip", "press"),
            ),
            FIXED - timedelta(days=20),
        )
        self.app = create_app(self.config, {"CLOCK": self.clock})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveService:
        import waitress  # type: ignore[import-untyped]

        self._stopping = False
        self._server = waitress.create_server(self.app, host="127.0.0.1", port=self.port, threads=4)
        self.port = int(self._server.effective_port)
        server = self._server

        def run() -> None:
            try:
                server.run()
            except OSError:
                if not self._stopping:  # closing the socket under the loop is how it stops
                    raise

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        self._server.task_dispatcher.shutdown()
        if self._thread is not None:
            self._thread.join(10)
        self._server = None

    def close(self) -> None:
        """Stop serving and let go of the database."""
        self.stop()
        self.app.extensions["checkin.store"].dispose()
        self.store.dispose()

    def add_gate(self, name: str, zone: str = "hall", direction: str = "in") -> tuple[str, str]:
        """Register a gate as `checkin gate add` does; (device id, one-time enrolment code naming the root key)."""
        from checkin.services import gates
        from checkin.store import events as stored_events

        event = stored_events.event(self.store, EVENT_ID)
        made = gates.add_gate(
            self.store, event, name, zone, direction, self.clock(), actor="test", root_pem=self.keys.root_public_pem()
        )
        return made.device.id, made.code

    def issue(self, name: str, **changes: Any) -> str:
        """Sign a ticket with the active issuing key and record it, as `checkin issue` does."""
        cred = guest(name, self.clock(), **{"zones": ("hall",), **changes})
        text = keystore_sign(self.keys, cred)
        from checkin.store import guests as stored_guests

        stored_guests.record_issued(self.store, [(None, cred, self.keys.active_issuing().kid, text)], cred.issued_at)
        return text


def run_gate(data: Path, *args: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `checkin-gate --data DATA ARGS...` as a real process."""
    return subprocess.run(
        [GATE, "--data", str(data), *args], input=stdin, capture_output=True, text=True, timeout=timeout
    )


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


# ---- what a thief holding the laptop does to its journal -------------------------------------------------


def rechain(db: sqlite3.Connection, start: int, change: dict[str, str]) -> None:
    """Rewrite row `start` and re-chain every later row, re-sealing with the key the thief holds."""
    columns = [f for f in chain.JournalRow.__dataclass_fields__]
    rows = [chain.JournalRow(*r) for r in db.execute(f"SELECT {', '.join(columns)} FROM rows ORDER BY seq")]
    prev = rows[start - 2] if start > 1 else None
    for row in rows[start - 1 :]:
        content = {k: v for k, v in row.content().items() if k != "seq"}
        if row.seq == start:
            content.update(change)
        new = chain.append(prev, **content)
        new = replace(new, seal=row.seal)  # the old seals: the thief cannot make new ones
        db.execute("UPDATE rows SET hash = ?, prev_hash = ?, verdict = ?, reason = ? WHERE seq = ?",
                   (new.hash, new.prev_hash, new.verdict, new.reason, new.seq))
        prev = new
    db.execute("DELETE FROM checkpoints")
