"""Talk to the service: enrol, pull the trust bundle when newer, push the journal, pull the other
gates' passages; in the background.

The scan loop never waits on the network: a `Syncer` thread does all of it with its own journal
connection and publishes a `SyncStatus` the loop reads under a lock. Upload is at-least-once in
seq order with a signed checkpoint per batch; the server answers with the highest contiguous seq
it holds, which is all the gate records (rows are never deleted). Failures back off
exponentially with jitter.

While online, gates share who is inside: after each push the gate pulls the admitted entries and
exits the other gates of its event uploaded since its last pull, and keeps them in its journal file
beside the chain (they are not its scans); the scan loop reads them before each decision, so a code
admitted at gate A is `already_inside` at gate B one round later. A short round (push, then pull
passages) runs every `presence_interval_seconds` and at once after an admission; the full round
(the bundle too) every `sync_interval_seconds`. Offline, each gate decides alone.

API (service, /api/v1): POST devices/enroll, GET bundle (If-None-Match "v<version>"),
POST journal {rows, checkpoint} -> {acked_seq, head_hash, server_time_ms, alerts}, or 409 gap,
422 fork / broken_chain / bad_checkpoint, 413 batch too large, 401 device revoked;
GET presence?after=N -> {passages, next, more} (404 from a service before it: not asked again).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import enrolment, seal, trust
from checkin.core.chain import MAX_TEXT, JournalRow
from checkin.core.errors import CheckinError, InputError, Reason, TrustError, Verdict
from checkin.core.trust import TrustBundle
from scanner.datadir import Device, GateData
from scanner.gate import Decision, to_ms
from scanner.journal import Journal, JournalError, Peer
from scanner.settings import Settings

MAX_BATCH = 500
MAX_PEER_PAGES = 40  # presence pages per round (5000 scans each): a round also has to push
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 300.0
CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 20.0

Clock = Callable[[], datetime]


class Committed(Protocol):
    """A committed row as the scan loop tells of it (`runner.Recorded`): its decision is what matters here."""

    @property
    def decision(self) -> Decision: ...


class SyncError(CheckinError):
    """The service could not be reached or refused a request; `status` is the HTTP status (0: none)."""

    default_reason = Reason.INVALID_INPUT

    def __init__(self, detail: str, reason: Reason | None = None, *, status: int = 0, body: Any = None) -> None:
        super().__init__(detail, reason)
        self.status = status
        self.body = body if isinstance(body, dict) else {}

    @property
    def server_reason(self) -> str:
        """The `reason` word the server gave, if any."""
        return str(self.body.get("reason", ""))


def check_transport(server: str, *, insecure_http: bool = False) -> None:
    """Refuse a service address the gate must not talk to: plain http only to this machine, unless told."""
    parts = urlsplit(server)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme != "http" or not parts.hostname:
        raise InputError(f"{server!r} is not an https:// address of the service", Reason.INSECURE_TRANSPORT)
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        loopback = False
    if not (loopback or insecure_http):
        raise InputError(
            f"{server} is plain http to another machine: anyone on the way could read the token and the "
            "journal; use https://, or --insecure-http on a network you trust",
            Reason.INSECURE_TRANSPORT,
        )


class Client:
    """The service's gate API over HTTP (https, or http to this machine unless `insecure_http`)."""

    def __init__(
        self,
        server: str,
        token: str = "",
        *,
        session: requests.Session | None = None,
        insecure_http: bool = False,
        ca_file: Path | None = None,
    ) -> None:
        check_transport(server, insecure_http=insecure_http)
        self.server = server.rstrip("/")
        self.token = token
        self.http = session or requests.Session()
        # a private CA: this file, not the system's list, vouches for the service (given per request:
        # requests lets $REQUESTS_CA_BUNDLE override a session's own setting)
        self.verify: str | bool = str(ca_file) if ca_file is not None else True

    def _url(self, path: str) -> str:
        return f"{self.server}/api/v1/{path}"

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.http.request(
                method, self._url(path), timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), verify=self.verify, **kwargs
            )
        except requests.RequestException as exc:
            raise SyncError(f"{self.server} cannot be reached ({type(exc).__name__})") from None

    @staticmethod
    def _fail(response: requests.Response, what: str) -> SyncError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        reason = body.get("reason", "") if isinstance(body, dict) else ""
        detail = f"{what}: HTTP {response.status_code}" + (f" ({reason})" if reason else "")
        # the server's own reason word (device_revoked, unauthorized...) is what the operator reads
        known: Reason | None = None
        if isinstance(reason, str) and reason in Reason._value2member_map_:
            known = Reason(reason)
        elif response.status_code >= 500:
            known = Reason.SERVICE_UNAVAILABLE
        return SyncError(detail, known, status=response.status_code, body=body)

    def enroll(self, code: str, public_key_hex: str, seal_seed: bytes) -> dict[str, Any]:
        """Exchange a one-time enrolment code, the device's public key and its sealing seed for a token and a bundle."""
        body = {"code": code, "public_key": public_key_hex, "seal_seed": seal_seed.hex()}
        response = self._send("POST", "devices/enroll", json=body)
        if response.status_code != 200:
            raise self._fail(response, "enrolment refused")
        return _json_object(response)

    def bundle(self, held_version: int) -> bytes | None:
        """The current bundle's bytes, or None when the server has nothing newer than `held_version`."""
        headers = self._headers({"If-None-Match": f'"v{held_version}"'} if held_version else None)
        response = self._send("GET", "bundle", headers=headers)
        if response.status_code == 304:
            return None
        if response.status_code != 200:
            raise self._fail(response, "bundle refused")
        return response.content

    def presence(self, after: int) -> dict[str, Any]:
        """The other gates' admitted entries and exits after the cursor `after`."""
        response = self._send("GET", "presence", params={"after": str(after)}, headers=self._headers())
        if response.status_code != 200:
            raise self._fail(response, "presence refused")
        return _json_object(response)

    def push(self, rows: list[JournalRow], checkpoint: bytes) -> dict[str, Any]:
        """Upload a batch of rows with a signed checkpoint of its last row."""
        body = {"rows": [r.to_json() for r in rows], "checkpoint": base64.b64encode(checkpoint).decode("ascii")}
        response = self._send("POST", "journal", json=body, headers=self._headers())
        if response.status_code != 200:
            raise self._fail(response, "journal upload refused")
        return _json_object(response)


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SyncError("the server's answer is not a JSON object", status=response.status_code)
    return body


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if type(value) is not int:
        raise SyncError(f"the server's answer has no whole number {name!r}")
    return value


_MAX_INT64 = 2**63 - 1
_HEX = re.compile(r"(?:[0-9a-f]{2}){1,32}")


def read_presence(body: dict[str, Any], own_device: str) -> tuple[list[Peer], int, bool]:
    """The passages of a presence answer a gate can count, the cursor to ask with next, and whether
    more are waiting. A passage that is not well formed, or claims to be this gate's, is left out."""
    items = body.get("passages")
    if not isinstance(items, list):
        raise SyncError("the server's answer has no list 'passages'")
    cursor = _int(body, "next")
    if not 0 <= cursor <= _MAX_INT64:
        raise SyncError("the server's cursor is out of range")
    peers = [peer for item in items if (peer := _peer(item, own_device)) is not None]
    return peers, cursor, body.get("more") is True


def _peer(item: Any, own_device: str) -> Peer | None:
    if not isinstance(item, dict):
        return None
    scan_id, gate_id, cti = item.get("id"), item.get("gate"), item.get("cti")
    way, wall_ms, zone = item.get("direction"), item.get("wall_ms"), item.get("zone")
    if (
        type(scan_id) is not int
        or type(wall_ms) is not int
        or not (0 < scan_id <= _MAX_INT64 and 0 <= wall_ms <= _MAX_INT64)
    ):
        return None
    if not isinstance(gate_id, str) or not 0 < len(gate_id) <= MAX_TEXT or gate_id == own_device:
        return None
    if not isinstance(cti, str) or not _HEX.fullmatch(cti) or way not in ("in", "out"):
        return None
    if not isinstance(zone, str) or len(zone) > MAX_TEXT:
        return None
    return Peer(scan_id, gate_id, cti, str(way), wall_ms, zone)


# ---- enrolment ------------------------------------------------------------------------------------


def enroll_network(
    data: GateData,
    server: str,
    code: str,
    *,
    root_fingerprint: str | None = None,
    insecure_http: bool = False,
    ca_file: Path | None = None,
    session: requests.Session | None = None,
) -> Device:
    """Enrol over the network: a new device key and sealing seed, the code exchanged, everything stored in `data`.

    The root key of the answer must be the one the code binds (or `root_fingerprint` names): it is
    checked before anything is written, so a man in the middle's root is never pinned.
    """
    if data.enrolled():
        raise CheckinError(f"{data.root} already holds an enrolled gate; use another --data folder", Reason.KEY_EXISTS)
    expected = None if root_fingerprint is None else enrolment.parse_fingerprint(root_fingerprint)
    if enrolment.split_code(code)[1] is None and expected is None:
        raise InputError(
            "this code does not name the service's root key (it has no last three groups): give the whole code "
            "from `checkin gate add`, or --root-fingerprint FP as `checkin keys list` shows the root key"
        )
    key = Ed25519PrivateKey.generate()
    seed = seal.new_seed()
    client = Client(server, session=session, insecure_http=insecure_http, ca_file=ca_file)
    answer = client.enroll(enrolment.normalise_code(code), key.public_key().public_bytes_raw().hex(), seed)
    try:
        root_pem = str(answer["root_public_key"]).encode()
        bundle_bytes = base64.b64decode(str(answer["bundle"]), validate=True)
        device = Device(
            device_id=str(answer["device_id"]),
            event_id=str(answer["event_id"]),
            name=str(answer["name"]),
            zone=str(answer["zone"]),
            direction=str(answer["direction"]),
            server=server.rstrip("/"),
            enrolled_at=str(answer.get("server_time", "")),
            insecure_http=insecure_http,
        )
        token = str(answer["token"])
        server_ms = answer.get("server_time_ms")
    except (KeyError, ValueError) as exc:
        raise SyncError(f"the enrolment answer is incomplete ({exc})") from None
    root = trust.root_key_from_pem(root_pem).public_bytes_raw()
    pinned = enrolment.fingerprint(root)
    if (expected is not None and pinned != expected) or (
        enrolment.split_code(code)[1] is not None and not enrolment.binds(code, root)
    ):
        raise TrustError(
            f"the answer from {server} carries root key {pinned}, not the one this gate was told to expect: "
            "someone between the gate and the service, or a wrong address or code. Nothing was stored; "
            f"the code is spent: revoke gate {device.device_id!r} on the service and ask for a new code",
            Reason.ROOT_MISMATCH,
        )
    bundle = trust.verify_bundle(bundle_bytes, trust.root_key_from_pem(root_pem))
    if bundle.event.id != device.event_id:
        raise TrustError(
            f"the bundle is for event {bundle.event.id!r}, the gate for {device.event_id!r}", Reason.WRONG_EVENT
        )
    data.create()
    data.save_root(root_pem)
    data.install_bundle(bundle_bytes, held_version=0, event_id=device.event_id)
    data.save_device_key(key)
    data.save_token(token)
    if ca_file is not None:
        data.save_ca(ca_file.read_bytes())
    data.save_device(device)
    with Journal(data.journal_path) as journal:
        journal.start_sealing(seed)  # the service holds the same seed: it checks every row's seal
        if type(server_ms) is int:
            journal.note_server_time(server_ms)
    return device


# ---- status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncStatus:
    """What the screen shows about the network side. Times are UTC ms (0: never)."""

    enabled: bool = False
    online: bool = False
    last_attempt_ms: int = 0
    last_success_ms: int = 0
    last_error: str = ""
    acked_seq: int = 0
    bundle_version: int = 0
    bundle_issued_ms: int = 0
    device_revoked: bool = False
    alerts: tuple[str, ...] = ()
    presence_ms: int = 0  # the last pull of the other gates' passages

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view for `checkin-gate status`."""
        return {
            "enabled": self.enabled,
            "online": self.online,
            "last_attempt_ms": self.last_attempt_ms,
            "last_success_ms": self.last_success_ms,
            "last_error": self.last_error,
            "acked_seq": self.acked_seq,
            "bundle_version": self.bundle_version,
            "bundle_issued_ms": self.bundle_issued_ms,
            "device_revoked": self.device_revoked,
            "alerts": list(self.alerts),
            "presence_ms": self.presence_ms,
        }


class StatusBoard:
    """A SyncStatus shared between the sync thread (writes) and the scan loop (reads)."""

    def __init__(self, status: SyncStatus) -> None:
        self._lock = threading.Lock()
        self._status = status

    def get(self) -> SyncStatus:
        """The current status."""
        with self._lock:
            return self._status

    def update(self, **changes: Any) -> SyncStatus:
        """Change some fields at once."""
        with self._lock:
            self._status = replace(self._status, **changes)
            return self._status


@dataclass(frozen=True)
class SyncResult:
    """What one sync round did."""

    bundle: TrustBundle | None  # a newer bundle installed, or None
    pushed: int
    acked_seq: int
    peers: int = 0  # other gates' passages new to this gate


def backoff_seconds(failures: int, rng: random.Random, *, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d] where d = base * 2^(failures-1), capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, base * 2 ** max(0, failures - 1))
    return rng.uniform(ceiling / 2, ceiling)


class Syncer:
    """Pulls bundles, pushes the journal and pulls the other gates' passages, once (`sync_once`,
    `exchange`) or in a background thread (`start`)."""

    def __init__(
        self,
        data: GateData,
        *,
        clock: Clock,
        settings: Settings | None = None,
        on_bundle: Callable[[TrustBundle], None] | None = None,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.data = data
        self.clock = clock
        self.settings = settings or data.settings()
        self.on_bundle = on_bundle
        self.device = data.device()
        self.client: Client | None = None
        self.refusal = ""  # why a gate with a server may not talk to it (plain http enrolled before the rule)
        if self.device.server:
            try:
                self.client = Client(
                    self.device.server,
                    data.token(),
                    session=session,
                    insecure_http=self.device.insecure_http,
                    ca_file=data.ca_file(),
                )
            except InputError as error:  # the scan loop still runs; the screen says why nothing syncs
                self.refusal = error.text()
        self.device_key = data.device_key()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        held = data.bundle()
        self.bundle_version = held.version
        self.board = StatusBoard(
            SyncStatus(
                enabled=self.client is not None,
                last_error=self.refusal,
                bundle_version=held.version,
                bundle_issued_ms=to_ms(held.issued_at),
            )
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.presence = True  # False once the service said it has no presence endpoint (an older one)

    # ---- one round ----------------------------------------------------------------------------

    def sync_once(self, journal: Journal) -> SyncResult:
        """Pull a newer bundle, push every unacknowledged row, then pull the other gates' passages;
        raise SyncError on failure."""
        return self._round(journal, bundle=True)

    def exchange(self, journal: Journal) -> SyncResult:
        """The short round: push every unacknowledged row, then pull the other gates' passages."""
        return self._round(journal, bundle=False)

    def _round(self, journal: Journal, *, bundle: bool) -> SyncResult:
        if self.refusal:
            raise SyncError(self.refusal, Reason.INSECURE_TRANSPORT)
        if self.client is None:
            raise SyncError("this gate was enrolled from a USB bundle: no server to sync with", Reason.NOT_FOUND)
        now_ms = to_ms(self.clock())
        self.board.update(last_attempt_ms=now_ms)
        pulled: CheckinError | None = None
        installed = None
        try:
            try:
                installed = self._pull() if bundle else None
            except (SyncError, TrustError) as error:
                pulled = error  # the journal still goes up: a bad bundle must not stop the upload
            pushed = self._push(journal)
            peers = self._pull_peers(journal)
        except SyncError as error:
            self.board.update(
                online=error.status != 0,
                last_error=error.text(),
                device_revoked=error.server_reason == "device_revoked",
            )
            raise
        except (TrustError, JournalError) as error:
            self.board.update(online=True, last_error=error.text())
            raise
        if pulled is not None:  # the rows are up; the bundle's refusal is still the round's news
            self.board.update(online=True, last_error=pulled.text(), acked_seq=journal.acked_seq)
            raise pulled
        self.board.update(online=True, last_success_ms=now_ms, last_error="", acked_seq=journal.acked_seq)
        return SyncResult(installed, pushed, journal.acked_seq, peers)

    def _pull(self) -> TrustBundle | None:
        assert self.client is not None
        data = self.client.bundle(self.bundle_version)
        if data is None:
            return None
        bundle = self.data.install_bundle(data, held_version=self.bundle_version, event_id=self.device.event_id)
        if bundle.version == self.bundle_version:
            return None
        self.bundle_version = bundle.version
        self.board.update(bundle_version=bundle.version, bundle_issued_ms=to_ms(bundle.issued_at))
        if self.on_bundle is not None:
            self.on_bundle(bundle)
        return bundle

    def _push(self, journal: Journal) -> int:
        assert self.client is not None
        batch = max(1, min(self.settings.batch_size, MAX_BATCH))
        pushed = 0
        gaps = 0
        while True:
            rows = journal.rows(after=journal.acked_seq, limit=batch)
            if not rows:
                return pushed
            stored = journal.checkpoint(to_ms(self.clock()), upto=rows[-1])
            assert stored is not None
            try:
                answer = self.client.push(rows, stored.signed)
            except SyncError as error:
                if error.status == 409 and type(error.body.get("acked_seq")) is int and gaps < 3:
                    gaps += 1  # the server holds less than we thought: resend from what it holds
                    journal.acknowledge(int(error.body["acked_seq"]), "")
                    continue
                if error.status == 413 and batch > 1:
                    batch //= 2
                    continue
                if error.status == 422:
                    self.board.update(alerts=(*self.board.get().alerts, error.server_reason or "rejected"))
                raise
            acked = _int(answer, "acked_seq")
            journal.acknowledge(acked, str(answer.get("head_hash", "")))
            server_ms = answer.get("server_time_ms")
            if type(server_ms) is int:
                journal.note_server_time(server_ms)
            alerts = answer.get("alerts")
            if isinstance(alerts, list) and alerts:
                self.board.update(alerts=tuple(json.dumps(a, ensure_ascii=False) for a in alerts[-5:]))
            pushed += len(rows)
            if acked < rows[-1].seq:
                raise SyncError(f"the server acknowledged {acked} of the rows up to {rows[-1].seq}")

    def _pull_peers(self, journal: Journal) -> int:
        """Pull the passages the other gates uploaded since the last pull; how many were new here."""
        assert self.client is not None
        if not self.presence:
            return 0
        new = 0
        for _page in range(MAX_PEER_PAGES):
            try:
                answer = self.client.presence(journal.peer_cursor)
            except SyncError as error:
                if error.status == 404:  # a service from before presence: the gate decides alone
                    self.presence = False
                    return new
                raise
            peers, cursor, more = read_presence(answer, self.device.device_id)
            if peers or cursor != journal.peer_cursor:
                new += journal.take_peers(peers, cursor)
            if not more:
                break
        self.board.update(presence_ms=to_ms(self.clock()))
        return new

    # ---- background ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run rounds in a daemon thread: a short one every presence interval and when poked, a full one
        every sync interval, and after a failure none before its backoff is over."""
        if self.client is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="checkin-sync", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Ask for a round now (after an admission, say); a backoff after a failure still runs out."""
        self._wake.set()

    def on_commit(self, record: Committed) -> None:
        """A gate committed a row (`runner.Gate.on_commit`): after an admission, entry or exit, start a
        round at once, so the other gates learn of it within one of their short rounds."""
        if record.decision.verdict is Verdict.ADMIT:
            self.poke()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread, waiting at most `timeout` seconds for a round in flight."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        journal = Journal(
            self.data.journal_path,
            self.device_key,
            checkpoint_rows=self.settings.checkpoint_rows,
            checkpoint_ms=int(self.settings.checkpoint_minutes * 60_000),
        )
        full_due = 0.0  # time.monotonic() of the next full round
        try:
            while not self._stop.is_set():
                try:
                    if time.monotonic() >= full_due:
                        self.sync_once(journal)
                        full_due = time.monotonic() + self.settings.sync_interval_seconds
                    else:
                        self.exchange(journal)
                    self.failures = 0
                    self._sleep(self.settings.presence_interval_seconds, wakeable=True)
                except (CheckinError, OSError):
                    self.failures += 1
                    self._sleep(backoff_seconds(self.failures, self.rng), wakeable=False)
        finally:
            journal.close()

    def _sleep(self, seconds: float, *, wakeable: bool) -> None:
        """Wait `seconds`, or less when `wakeable` and poked; `stop` always ends the wait."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self._wake.wait(left) and wakeable:
                break
            self._wake.clear()  # poked during a backoff: the rows go up when it is over
        self._wake.clear()
