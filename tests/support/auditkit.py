"""A gate as the officer's tests drive it: enrolled with the service (create_device, enrol_device, a
sealing seed), deciding with the real gate code (scanner.gate), journalling, sealing and signing with
the real journal (scanner.journal), uploading through the service's ingest (services.ingest). And the
deployment's keys and bundle for the service's event, so the gate decides on real codes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import seal
from checkin.core.chain import JournalRow
from checkin.core.credential import Credential, sign
from checkin.core.trust import Direction
from checkin.services.ingest import upload_journal
from checkin.store import Store
from checkin.store import devices as stored_devices
from scanner import gate as gate_logic
from scanner.gate import GateState
from scanner.journal import Journal
from tests.support import world
from tests.support.apikit import Clock
from tests.support.gatekit import World

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

    def scan(self, text: str, at: datetime) -> JournalRow:
        """Decide on a scanned code at `at` and journal the decision, as the gate's loop does."""
        decision = gate_logic.decide(text, self.bundle, self.state, at)
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
