"""The one generated event of the audit benchmark: 20 gates, journals made by the real gate code.

Each row is chained by `chain.row_hash` and sealed by `seal.SealKey` as a gate does it; each batch of
500 rows carries a checkpoint the gate's key signed, and is stored by the real
`services.ingest.upload_journal` (rows, checkpoint, seal check, the ledger entry, the dashboard's
counters and, unless told otherwise, the analysers), so everything the officer's pages read is
what a live event would hold. Guests pass as a crowd does: an entrance admits someone outside the
zone (now and then denies someone already inside, or a forged code), an exit lets someone inside
out; rows follow one another every STEP_MS across the event, the gates taking turns.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from sqlalchemy import insert

from checkin.config import Config, load
from checkin.core import chain, seal
from checkin.core.chain import JournalRow
from checkin.core.trust import Direction
from checkin.keystore import KeyStore
from checkin.services import ingest
from checkin.store import Device, Guest, IssuedCredential, Store, sessions, users
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store.events import NewEvent
from checkin.store.guests import search_text
from checkin.store.models import User

EVENT = "cds-hd-2022"
ZONES = ("hall", "vip")
START = datetime(2022, 3, 26, 0, 30, tzinfo=UTC)  # 07:30 in Hanoi
BATCH = 500
STEP_MS = 36  # one row every 36 ms across the 20 gates: 1,000,000 rows in 10 hours, a batch per gate each 6 min
GUESTS = 50_000
KID = "1a2b3c4d5e6f7081"
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
MIDDLE = ["Thị", "Văn", "Hữu", "Minh", "Ngọc"]
GIVEN = ["Ánh", "An", "Bảo", "Cường", "Dũng", "Hà", "Hương", "Long", "Mai", "Tuấn", "Yến"]


def gate_plan(index: int) -> tuple[str, str]:
    """(zone, direction) of gate `index` of 20: 8 hall entrances, 2 VIP ones, their 10 exits."""
    zone = "vip" if index % 10 >= 8 else "hall"
    return zone, "in" if index < 10 else "out"


def guest_name(n: int) -> str:
    return f"{SURNAMES[n % 8]} {MIDDLE[n // 8 % 5]} {GIVEN[n // 40 % 11]}"


@dataclass(frozen=True)
class Batch:
    """A batch as a gate sends it: rows, the checkpoint it signed, and when it was sent."""

    gate: int
    rows: list[JournalRow]
    checkpoint: bytes
    sent: datetime


@dataclass
class GateJournal:
    """A gate's journal head: its seq, hash, sealing key and the rows not yet sent."""

    zone: str
    direction: str
    sealer: seal.SealKey
    key: Ed25519PrivateKey
    seq: int = 0
    prev: str = chain.GENESIS.hex()
    pending: list[JournalRow] = field(default_factory=list)

    def record(self, wall_ms: int, cti: str, kid: str, verdict: str, reason: str) -> None:
        """Chain and seal a row after the head, as the gate's journal does."""
        self.seq += 1
        content = (self.seq, wall_ms, wall_ms - START_MS, cti, kid, verdict, reason, self.direction, self.zone, "", "")
        digest = chain.row_hash(self.prev, content)
        tag, self.sealer = self.sealer.seal(digest)
        self.pending.append(JournalRow(*content, prev_hash=self.prev, hash=digest, seal=tag))
        self.prev = digest

    def send(self, gate: int) -> Batch:
        """The pending rows with a checkpoint signed a second after the last was written."""
        rows, self.pending = self.pending, []
        sent = datetime.fromtimestamp(rows[-1].wall_ms / 1000 + 1, UTC)
        checkpoint = chain.Checkpoint(rows[-1].seq, rows[-1].hash, int(sent.timestamp() * 1000))
        return Batch(gate, rows, chain.sign_checkpoint(checkpoint, self.key), sent)


START_MS = int(START.timestamp() * 1000)


class Crowd:
    """Guests passing the gates in time order, each zone keeping who is inside."""

    def __init__(self, ctis: Sequence[str], rng: random.Random) -> None:
        self.ctis, self.rng = ctis, rng
        self.inside: dict[str, list[str]] = {zone: [] for zone in ZONES}
        self.where: dict[str, dict[str, int]] = {zone: {} for zone in ZONES}  # cti -> its index in inside

    def _enter(self, zone: str, cti: str) -> None:
        self.where[zone][cti] = len(self.inside[zone])
        self.inside[zone].append(cti)

    def _leave(self, zone: str) -> str:
        inside, where = self.inside[zone], self.where[zone]
        at = self.rng.randrange(len(inside))
        cti, inside[at] = inside[at], inside[-1]
        where[inside[at]] = at
        inside.pop()
        del where[cti]
        return cti

    def passage(self, gate: GateJournal, wall_ms: int) -> None:
        """One guest at `gate`: its row recorded."""
        zone, roll = gate.zone, self.rng.random()
        if gate.direction == "out":
            if self.inside[zone]:
                gate.record(wall_ms, self._leave(zone), KID, "admit", "admitted")
            else:  # nobody inside: a forged code tried at the exit
                gate.record(wall_ms, "", secrets.token_hex(8), "deny", "bad_signature")
        elif roll < 0.02:
            gate.record(wall_ms, "", secrets.token_hex(8), "deny", "bad_signature")
        elif roll < 0.08 and self.inside[zone]:
            cti = self.inside[zone][self.rng.randrange(len(self.inside[zone]))]
            gate.record(wall_ms, cti, KID, "deny", "already_inside")
        else:
            cti = self.rng.choice(self.ctis)
            while cti in self.where[zone]:
                cti = self.rng.choice(self.ctis)
            self._enter(zone, cti)
            gate.record(wall_ms, cti, KID, "admit", "admitted")


class Deployment:
    """A config folder with keys, the event, 20 enrolled gates, an officer and GUESTS guests holding
    codes, over one database (`database`: a file name in `home` or a URL)."""

    def __init__(self, home: Path, database: str, gates: int = 20) -> None:
        path = home / "config.toml"
        path.write_text(f'[deployment]\nid = "bench"\n\n[paths]\ndatabase = "{database}"\n', encoding="utf-8")
        self.config: Config = load(str(path))
        KeyStore(self.config.keys_dir).init(None, START - timedelta(days=30))
        self.store = Store(self.config.database_url, keys_dir=self.config.keys_dir)
        self.store.migrate()
        event = NewEvent(
            EVENT, "Ngày Chuyển đổi số 2022", START, START + timedelta(hours=12), "Asia/Ho_Chi_Minh", ZONES
        )
        stored_events.create_event(self.store, event, START - timedelta(days=1))
        self.devices: list[Device] = []
        self.journals: list[GateJournal] = []
        for g in range(gates):
            zone, direction = gate_plan(g)
            _, code = stored_devices.create_device(
                self.store, EVENT, f"Cổng {g + 1:02d}", zone, Direction(direction), START
            )
            key, seed = Ed25519PrivateKey.generate(), seal.new_seed()
            public = key.public_key().public_bytes_raw().hex()
            self.devices.append(stored_devices.enrol_device(self.store, code, public, START, seal_seed=seed)[0])
            self.journals.append(GateJournal(zone, direction, seal.SealKey.first(seed), key))
        self.ctis = [f"{(n * 2654435761) % 2**128:032x}" for n in range(1, GUESTS + 1)]
        self._add_guests()
        with self.store.writing() as s:
            officer = User(
                username="officer",
                password_hash=users.hash_password("bench officer 2022"),
                role="officer",
                created=START,
            )
            s.add(officer)
            s.flush()
            self.officer = officer.id
        self.crowd = Crowd(self.ctis, random.Random(2022))
        self.wall_ms = START_MS
        self.last_sent = START

    def _add_guests(self) -> None:
        """The guests and their codes, in bulk (guests are not what is measured; the scans are)."""
        names = [guest_name(n) for n in range(GUESTS)]
        with self.store.writing() as s:
            ids = list(s.scalars(insert(Guest).returning(Guest.id, sort_by_parameter_order=True), [
                {"event_id": EVENT, "name": name, "organisation": "Sở", "category": "delegate", "zones": "hall",
                 "email": "", "search_text": search_text(name, "Sở", "delegate", ""), "created": START}
                for name in names
            ]))  # fmt: skip
            s.execute(insert(IssuedCredential), [
                {"cti": cti, "event_id": EVENT, "guest_id": gid, "kid": KID, "name": name, "issued_at": START,
                 "not_before": START, "expires_at": START + timedelta(days=1), "status": "active", "text": "CK1:bench"}
                for cti, gid, name in zip(self.ctis, ids, names, strict=True)
            ])  # fmt: skip

    def rounds(self) -> Iterator[list[Batch]]:
        """Round after round, every gate's next batch of BATCH rows (the crowd walks on without end); the
        exits' batches first, so a guest's exit is stored before a later entry is analysed (else a
        re-entry would read as a double entry until the exit arrives)."""
        while True:
            for _ in range(BATCH):
                for journal in self.journals:
                    self.wall_ms += STEP_MS
                    self.crowd.passage(journal, self.wall_ms)
            sent = [journal.send(g) for g, journal in enumerate(self.journals)]
            yield sorted(sent, key=lambda batch: self.journals[batch.gate].direction != "out")

    def upload(self, batch: Batch, analysers: Sequence[ingest.BatchAnalyser] | None = None) -> int:
        """The batch stored by `upload_journal`; the alerts it raised."""
        self.last_sent = max(self.last_sent, batch.sent)
        result = ingest.upload_journal(
            self.store, self.devices[batch.gate], batch.rows, batch.checkpoint, batch.sent, analysers=analysers
        )
        return len(result.alerts)

    def officer_client(self) -> FlaskClient:
        """The real app's test client, an officer logged in, its clock at `now` (call after the uploads)."""
        from checkin.web import create_app

        at = self.now
        app = create_app(self.config, {"CLOCK": lambda: at, "TESTING": True})
        client = app.test_client()
        with client.session_transaction() as session:
            session["sid"] = sessions.start(self.store, self.officer, at)
        return client

    @property
    def now(self) -> datetime:
        """A moment just after the last upload: the officer looks while the event runs."""
        return self.last_sent + timedelta(seconds=5)
