"""Cross-gate audit benchmark: what `analyse_batch` adds to the upload of a batch of 500 rows.

An event already holds PRELOAD scans from GATES gates (real chained, sealed rows made with
checkin.core.chain and checkin.core.seal; half the gates let guests in, half let them out, so each
guest has a timeline of about PRELOAD / GUESTS rows). Then one gate uploads MEASURED batches of 500
more rows of the same guests: each batch is stored as `services.ingest.upload_journal` stores it
(rows screened, chain and checkpoint checked, rows inserted, seals checked), then analysed as it
analyses it (`crossgate_analysis.analyse_upload`: the timelines of the batch's credentials, their
revocations and the gates' bundle pulls read back, analysed, findings recorded). Prints one table;
target: the analysis adds at most 20 % to the time of ingesting the batch.

Run: `python -m bench.audit_crossgate` (SQLite in a temporary folder; `--database URL` for another,
`--postgres` for a throw-away schema of $CHECKIN_TEST_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from checkin.core import chain, seal
from checkin.core.chain import JournalRow
from checkin.core.trust import Direction
from checkin.services.crossgate import AuditPolicy, BundleHistory, ScanRow, analyse
from checkin.services.crossgate_analysis import _record, analyse_upload  # _record: the preload's alerts
from checkin.store import Device, Store, timelines
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store import journal as stored_journal
from checkin.store.events import NewEvent
from checkin.store.seals import check_seals
from tests.support import world

EVENT = world.EVENT_ID
GATES = 20
PRELOAD = int(os.environ.get("BENCH_PRELOAD", "200000"))
GUESTS = 20_000
REVOKED = 200
BATCH = 500
LOAD_BATCH = 5_000  # chain.MAX_BATCH
MEASURED = 12
FORGED_SHARE = 0.01
REVOKED_SHARE = 0.005
NOW = datetime(2022, 3, 26, 5, 0, tzinfo=UTC)
START = NOW - timedelta(hours=4)
START_MS = int(START.timestamp() * 1000)
OPERATOR = "Nguyễn Văn Bảo"
TARGET_RATIO = 0.20
ROWS: list[tuple[str, ...]] = []


def row(*cells: str) -> None:
    ROWS.append(cells)


@dataclass
class Gate:
    """A gate of the bench: its key, sealing key and journal head."""

    device_id: str
    direction: Direction
    key: Ed25519PrivateKey
    sealer: seal.SealKey
    head: JournalRow | None = None
    pending: list[JournalRow] = field(default_factory=list)

    def record(self, wall_ms: int, cti: str, verdict: str, reason: str, *, sealed: bool = True) -> None:
        """Chain a row after the head (chain.JournalRow.compute_hash, as chain.append does, without its
        deep copy), sealed as the gate seals it unless `sealed` is False (the preload: its seals are
        never checked, the measured batches' are)."""
        seq = 1 if self.head is None else self.head.seq + 1
        prev = chain.GENESIS.hex() if self.head is None else self.head.hash
        kid = "1a2b3c4d5e6f7081" if cti else secrets.token_hex(8)
        fields = (seq, wall_ms, wall_ms - START_MS, cti, kid, verdict, reason, self.direction.value, "hall")
        digest = JournalRow(*fields, OPERATOR, "", prev).compute_hash()
        tag = ""
        if sealed:
            tag, self.sealer = self.sealer.seal(digest)
        self.head = JournalRow(*fields, OPERATOR, "", prev, digest, tag)
        self.pending.append(self.head)

    def take(self, wall_ms: int) -> tuple[list[JournalRow], bytes]:
        rows, self.pending = self.pending, []
        signed = chain.sign_checkpoint(chain.Checkpoint(rows[-1].seq, rows[-1].hash, wall_ms), self.key)
        return rows, signed


class Crowd:
    """Guests passing the gates in time order: outside ones enter at an in-gate, inside ones leave by
    an out-gate; now and then a forged code is tried at an in-gate."""

    def __init__(self, gates: list[Gate], ctis: list[str], rng: random.Random) -> None:
        self.ins = [g for g in gates if g.direction is Direction.IN]
        self.outs = [g for g in gates if g.direction is Direction.OUT]
        self.revoked, self.valid = ctis[:REVOKED], ctis[REVOKED:]
        self.inside: set[str] = set()
        self.rng = rng
        self.turn = 0

    def step(self, wall_ms: int, gate: Gate | None = None) -> None:
        """One passage; `gate` given: a measured batch's row at that gate, else a preload row."""
        self.turn += 1
        sealed = gate is not None
        if self.rng.random() < FORGED_SHARE:
            (gate or self.ins[self.turn % len(self.ins)]).record(wall_ms, "", "deny", "bad_signature", sealed=sealed)
            return
        if self.rng.random() < REVOKED_SHARE:  # a revoked code shown again; the gate knows it is revoked
            cti = self.rng.choice(self.revoked)
            (gate or self.ins[self.turn % len(self.ins)]).record(wall_ms, cti, "deny", "revoked", sealed=sealed)
            return
        cti = self.rng.choice(self.valid)
        if gate is not None and gate.direction is Direction.IN:
            while cti in self.inside:
                cti = self.rng.choice(self.valid)
        if cti in self.inside and gate is None:
            self.outs[self.turn % len(self.outs)].record(wall_ms, cti, "admit", "admitted", sealed=sealed)
            self.inside.discard(cti)
        else:
            (gate or self.ins[self.turn % len(self.ins)]).record(wall_ms, cti, "admit", "admitted", sealed=sealed)
            self.inside.add(cti)


def setup(url: str) -> tuple[Store, list[Gate], list[str]]:
    store = Store(url)
    store.migrate()
    stored_events.create_event(
        store,
        NewEvent(EVENT, world.EVENT_NAME, START, NOW + timedelta(hours=8), "Asia/Ho_Chi_Minh", world.ZONES),
        START - timedelta(days=1),
    )
    gates = []
    for i in range(GATES):
        direction = Direction.IN if i < GATES // 2 else Direction.OUT
        device, code = stored_devices.create_device(store, EVENT, f"Cổng {i + 1}", "hall", direction, START)
        key = Ed25519PrivateKey.generate()
        seed = seal.new_seed()
        stored_devices.enrol_device(store, code, key.public_key().public_bytes_raw().hex(), START, seal_seed=seed)
        gates.append(Gate(device.id, direction, key, seal.SealKey.first(seed)))
    ctis = [secrets.token_hex(16) for _ in range(GUESTS)]
    issued = []
    for cti in ctis[:REVOKED]:  # some guests' codes are known (and revoked later), as issued codes are
        cred = world.credential(NOW, credential_id=bytes.fromhex(cti))
        issued.append((None, cred, "1a2b3c4d5e6f7081", "CK1:bench"))
    stored_guests.record_issued(store, issued, START)
    for cti in ctis[:REVOKED]:
        stored_guests.revoke(store, cti, "bench", NOW - timedelta(hours=1))
    return store, gates, ctis


def upload_stored(store: Store, gate: Gate, rows: list[JournalRow], signed: bytes, now: datetime) -> None:
    """What `services.ingest.upload_journal` does before its analysis (the same three steps)."""
    device = stored_devices.device(store, gate.device_id)
    zones = frozenset(world.ZONES)
    now_ms = int(now.timestamp() * 1000)
    findings = [found for r in rows for found in chain.row_findings(r, zones, now_ms)]
    stored_journal.ingest_journal(store, device, rows, signed, now, findings)
    check_seals(store, device.id, now)


def preload(store: Store, gates: list[Gate], crowd: Crowd) -> float:
    """The event's first PRELOAD rows, stored as an upload stores them, without re-checking chains and
    seals the bench made itself (that check is what the measured batches time)."""
    began = time.perf_counter()
    step_ms = (int(NOW.timestamp() * 1000) - START_MS - 600_000) // PRELOAD
    wall = START_MS
    for i in range(PRELOAD):
        wall += step_ms
        crowd.step(wall)
        if (i + 1) % (LOAD_BATCH * GATES // 2) == 0 or i + 1 == PRELOAD:
            for gate in gates:
                if gate.pending:
                    rows, signed = gate.take(wall)
                    checkpoint = chain.Checkpoint(rows[-1].seq, rows[-1].hash, wall)
                    public = gate.key.public_key().public_bytes_raw().hex()
                    batch = stored_journal.CheckedBatch(rows, signed, public, checkpoint, "", ())
                    with store.writing() as s:
                        outcome = stored_journal.ingest(s, gate.device_id, batch, NOW)
                    assert not isinstance(outcome, stored_journal.JournalRefused), outcome.detail
    with store.writing() as s:  # the service's seal check starts after the preload, where the gate's key stands
        for gate in gates:
            assert gate.head is not None
            gate.sealer = gate.sealer.advance_to(gate.head.seq + 1)
            s.execute(
                update(Device)
                .where(Device.id == gate.device_id)
                .values(seal_seq=gate.sealer.seq, seal_key=gate.sealer.key.hex())
            )
    if store.engine.dialect.name == "postgresql":
        # a live database's autovacuum has visited a table that grew by 200,000 rows (statistics, and
        # the visibility map that lets the audit's look-ups read the index alone); a bulk load has not yet
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) scans")
    return time.perf_counter() - began


def settle(store: Store, revoked: list[str]) -> int:
    """Keep the alerts the preload's rows give (the revoked codes tried again and again), as the
    analysis of their uploads would have: the measured batches then find them kept, as a live event
    would, rather than open them all."""
    with store.writing() as s:
        rows = [ScanRow._make(values) for values in timelines.timelines(s, EVENT, revoked)]
        found = analyse(EVENT, rows, {}, BundleHistory())
        return sum(_record(s, finding, NOW) for finding in found)


def measured(store: Store, gate: Gate, crowd: Crowd) -> Iterator[tuple[float, float, int]]:
    wall = int(NOW.timestamp() * 1000) - 590_000
    policy = AuditPolicy()
    for _ in range(MEASURED):
        for _ in range(BATCH):
            wall += 200
            crowd.step(wall, gate)
        rows, signed = gate.take(wall)
        moment = NOW + timedelta(milliseconds=wall - int(NOW.timestamp() * 1000) + 600_000)
        began = time.perf_counter()
        upload_stored(store, gate, rows, signed, moment)
        ingest_s = time.perf_counter() - began
        began = time.perf_counter()
        found = analyse_upload(store, EVENT, gate.device_id, rows, moment, policy)
        yield ingest_s, time.perf_counter() - began, len(found)


def run(url: str) -> None:
    """Preload, settle, measure on one database; the rows of the table."""
    store, gates, ctis = setup(url)
    crowd = Crowd(gates, ctis, random.Random(2022))
    load_s = preload(store, gates, crowd)
    name = url.split(":", maxsplit=1)[0]
    row(f"preload ({name})", f"{PRELOAD:,} rows, {GATES} gates, {GUESTS:,} guests", f"{load_s:.1f} s", "no analysis")
    row("alerts the preload gives", str(settle(store, crowd.revoked)), "", "kept before the measured batches")
    results = list(measured(store, gates[0], crowd))
    store.dispose()
    steady = results[1:]  # the first batch warms the caches
    ingest_ms = [r[0] * 1000 for r in steady]
    analysis_ms = [r[1] * 1000 for r in steady]
    ratio = statistics.median([a / i for i, a in zip(ingest_ms, analysis_ms, strict=True)])
    row("ingest of a 500-row batch", f"{statistics.median(ingest_ms):.1f} ms", f"max {max(ingest_ms):.1f} ms", "median")
    row("analyse_batch of it", f"{statistics.median(analysis_ms):.1f} ms", f"max {max(analysis_ms):.1f} ms", "median")
    row(
        "analysis / ingest",
        f"{ratio:.0%}",
        f"target <= {TARGET_RATIO:.0%}: {'MET' if ratio <= TARGET_RATIO else 'MISSED'}",
        f"median of {len(steady)} batches after 1 warm-up; findings recorded: {sum(r[2] for r in results)}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--database", help="a database URL (default: SQLite in a temporary folder)")
    where.add_argument(
        "--postgres", action="store_true", help="a throw-away schema of $CHECKIN_TEST_DATABASE_URL (PostgreSQL)"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    if args.postgres:
        from tests.support.scratch import TEST_DATABASE_ENV, scratch_schema  # the test suite's throw-away schemas

        with scratch_schema(os.environ[TEST_DATABASE_ENV], "bench_crossgate") as url:
            run(url)
    elif args.database:
        run(args.database)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{Path(folder) / 'checkin.db'}")
    load_after = os.getloadavg()
    row("machine", f"{os.cpu_count()} cpus", f"load avg {load_before[0]:.2f} -> {load_after[0]:.2f}", "")
    header = ("measured", "value", "alternative / limit (same run)", "note")
    widths = [max(len(h), *(len(r[i]) for r in ROWS)) for i, h in enumerate(header)]
    for line in (header, tuple("-" * w for w in widths), *ROWS):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
