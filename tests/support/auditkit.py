"""Gates as the officer's tests drive them: enrolled with the service, deciding with the real gate
code (scanner.gate), journalling, sealing and signing with the real journal (scanner.journal), and
uploading through the service's own `services.ingest.upload_journal`: what the audit pages read.

`AuditGate` (with `add_gate`, `issue_guest`) also makes the faulty uploads that raise alerts: a gap
(rows skipped) and a fork (another history under the same device key). `Venue` and `RealGate` hold
the deployment's keys and bundle for the service's event, so gates decide on real codes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.config import Config
from checkin.core import seal
from checkin.core.chain import JournalRow
from checkin.core.credential import Credential, sign
from checkin.core.errors import Verdict
from checkin.core.trust import Direction, GatePolicy, TrustBundle
from checkin.keystore import KeyStore
from checkin.services import ingest
from checkin.services.ingest import upload_journal
from checkin.store import Store, guests
from checkin.store import devices as stored_devices
from checkin.store.guests import GuestRow
from checkin.store.journal import JournalRefused
from scanner import gate, journal, screening
from scanner import gate as gate_logic
from scanner.gate import GateState
from scanner.journal import Journal
from tests.support import world
from tests.support.apikit import Clock, bundle_for
from tests.support.gatekit import World, keystore_sign
from tests.support.world import EVENT_ID, credential


@dataclass
class AuditGate:
    """An enrolled gate of the test event, its journal file and the bundle it decides with."""

    store: Store
    device_id: str
    zone: str
    direction: Direction
    journal: journal.Journal
    bundle: TrustBundle
    state: gate.GateState
    seal_seed: bytes = b""  # the verification key the gate showed at enrolment (journal verify)

    def scan(
        self, text: str, at: datetime, operator: str = "Trần Văn Bảo", entry: screening.Entry | None = None
    ) -> JournalRow:
        """Show a code to the gate at `at`: decide as the gate does, journal the decision; with the
        operator's screening `entry`, an admission is screened as the bundle's policy says."""
        decision = gate.decide(text, self.bundle, self.state, at)
        if entry is not None:
            decision = gate.screen(decision, self.bundle, self.state, at, entry)
        row = self.journal.record(
            decision, wall_ms=gate.to_ms(at), mono_ms=gate.to_ms(at) % 10**9, direction=self.direction,
            zone=self.zone, operator=operator,
        )  # fmt: skip
        self.state = self.state.after(decision, row.wall_ms)
        return row

    def upload(self, now: datetime, *, skip: int = 0) -> ingest.Ingested | JournalRefused:
        """Sync: sign a checkpoint and upload the rows the server has not acknowledged (`skip` leaves
        out the first ones: a gap)."""
        rows = self.journal.rows(after=self.journal.acked_seq)[skip:]
        stored = self.journal.checkpoint(gate.to_ms(now))
        assert stored is not None and rows
        device = stored_devices.device(self.store, self.device_id)
        try:
            done = ingest.upload_journal(self.store, device, rows, stored.signed, now)
        except JournalRefused as refused:
            return refused
        self.journal.acknowledge(done.acked_seq, done.head_hash)
        return done


def add_gate(
    store: Store,
    config: Config,
    folder: Path,
    now: datetime,
    name: str,
    zone: str = "hall",
    direction: str = "in",
    *,
    key: Ed25519PrivateKey | None = None,
    device_id: str | None = None,
    policy: GatePolicy | None = None,
) -> AuditGate:
    """Create and enrol a gate (or, with `device_id` and `key`, a second journal of an enrolled one:
    another history under the same device key, a fork); `policy` is the bundle's gate policy."""
    key = key or Ed25519PrivateKey.generate()
    path = folder / f"gate-{len(list(folder.glob('*.journal')))}.journal"
    seed = journal.begin(path)
    if device_id is None:
        _made, code = stored_devices.create_device(store, EVENT_ID, name, zone, direction, now)
        public = key.public_key().public_bytes_raw().hex()
        device_id = stored_devices.enrol_device(store, code, public, now, seal_seed=seed)[0].id
    way = Direction(direction)
    bundle = bundle_for(config, now - timedelta(hours=1))
    if policy is not None:
        bundle = replace(bundle, policy=policy)
    state = gate.GateState(zone, way)
    return AuditGate(store, device_id, zone, way, journal.Journal(path, key), bundle, state, seal_seed=seed)


def issue_guest(
    store: Store, config: Config, name: str, now: datetime, organisation: str = "Sở TT&TT"
) -> tuple[int, str]:
    """Add a guest and sign their code with the deployment's issuing key: (guest id, CK1 text)."""
    row = GuestRow(0, name, organisation, "delegate", ("hall", "vip"), "")
    cred = credential(now, name=name, organisation=organisation)
    keys = KeyStore(config.keys_dir)
    text = keystore_sign(keys, cred)
    guests.record_issued(store, [(row, cred, keys.active_issuing().kid, text)], now)
    guest_id = guests.credential(store, cred.id_hex).guest_id
    assert guest_id is not None
    return guest_id, text


__all__ = ["RealGate", "Venue", "ms"]


def ms(moment: datetime) -> int:
    """A moment as the journal's wall time (UTC milliseconds)."""
    return int(moment.timestamp() * 1000)


class Venue:
    """The deployment's keys and the bundle of the service's event, and the guests' codes."""

    def __init__(self, event_id: str, now: datetime, zones: tuple[str, ...] = ("hall", "vip", "press")) -> None:
        self.world = World(now=now)
        self.now = now
        base = self.world.bundle()
        self.bundle = replace(base, event=replace(base.event, id=event_id, zones=zones))
        self.event_id = event_id

    def code(self, name: str, zones: tuple[str, ...] = ("hall", "vip")) -> tuple[str, Credential]:
        """A guest's signed code (CK1 text) and its credential."""
        cred = world.credential(self.now, name=name, zones=zones, event_id=self.event_id)
        return sign(cred, self.world.issuing), cred


class RealGate:
    """A gate enrolled with the service, deciding with scanner.gate and journalling with scanner.journal."""

    def __init__(self, store: Store, clock: Clock, folder: Path, venue: Venue, name: str, zone: str, way: str) -> None:
        made, code = stored_devices.create_device(store, venue.event_id, name, zone, Direction(way), clock())
        key, seed = Ed25519PrivateKey.generate(), seal.new_seed()
        self.device, _ = stored_devices.enrol_device(
            store, code, key.public_key().public_bytes_raw().hex(), clock(), seal_seed=seed
        )
        self.journal = Journal(folder / f"{made.id}.db", key)
        self.journal.start_sealing(seed)
        self.bundle, self.zone, self.way = venue.bundle, zone, Direction(way)
        self.state = GateState(zone=zone, direction=self.way)
        self.store, self.clock = store, clock
        self.skew_ms = 0  # how far the gate's clock is from the service's

    def scan(self, text: str, at: datetime, screened: screening.Result | None = None) -> JournalRow:
        """Decide on a scanned code at `at` and journal the decision, as the gate's loop does; an
        admission goes through `screened` (what the operator's screening found) when given."""
        decision = gate_logic.decide(text, self.bundle, self.state, at)
        if screened is not None and decision.verdict is Verdict.ADMIT:
            decision = gate_logic.screened(decision, screened)
        row = self.journal.record(decision, wall_ms=ms(at), mono_ms=ms(at) % 10**9, direction=self.way, zone=self.zone)
        self.state = self.state.after(decision, ms(at))
        return row

    def pending(self) -> list[JournalRow]:
        """The rows the service has not acknowledged."""
        return self.journal.rows(after=self.journal.acked_seq)

    def upload(self, rows: list[JournalRow] | None = None) -> int:
        """Sign a checkpoint over `rows` (default: all pending) and upload them; how many were new."""
        rows = self.pending() if rows is None else rows
        stored = self.journal.checkpoint(self.clock.ms + self.skew_ms, upto=rows[-1])
        assert stored is not None
        result = upload_journal(self.store, self.device, rows, stored.signed, self.clock())
        self.journal.acknowledge(result.acked_seq, result.head_hash)
        return result.stored
