"""Audit benchmark: the integrity side of the officer's desk, on SQLite.

An event of GATES gates x ROWS rows made with the real chain and seal code (`gate_batches`, which
other benches import), uploaded in batches of 500 through `services.ingest.upload_journal`, gates
taking turns as they would. Prints one table: ingest per batch with the audit's work (seal check,
ledger entry, analysers, alerts) against the store's ingest alone, on fresh databases with the same
rows, and the full `services.audit.verify_event` of the whole event (target: 1,000,000 rows in
30 s or less; the audit adds 20 % or less to an upload, which ingests 20,000 rows/s or more).

Run: python -m bench.audit_integrity [--gates 20] [--rows 50000]. The load average before and after
is printed, since others may share the machine.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import chain, seal
from checkin.core.chain import JournalRow
from checkin.services import audit, ingest
from checkin.store import Device, Store, journal
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store.events import NewEvent
from checkin.store.seals import check_seals

START = datetime(2022, 3, 26, 0, 30, tzinfo=UTC)  # 07:30 in Hanoi
EVENT_ID = "bench-audit"
ZONES = ("hall", "vip")
BATCH = 500
STEP_MS = 200  # a gate's rows 0.2 s apart: 50,000 rows in under three hours
TARGET_VERIFY_S = 30.0
TARGET_RATIO = 1.20
TARGET_INGEST = 20_000
# the ingest compared three ways: the store alone; with the seal check (the ingest before the audit,
# the base of the ratio); with everything the audit adds (ledger entry, analysers, alerts)
STORE, SEALS, AUDIT = "store alone", "with the seal check", "with the audit"
VARIANTS = (STORE, SEALS, AUDIT)


@dataclass(frozen=True)
class Batch:
    """A batch as a gate sends it: rows, the checkpoint it signed, and when it was sent."""

    gate: int
    rows: list[JournalRow]
    checkpoint: bytes
    sent: datetime


def gate_rows(count: int, seed: bytes, *, gate: int = 0, rng: random.Random | None = None) -> Iterator[JournalRow]:
    """A gate's journal of `count` rows, chained and sealed by the real code (chain.row_hash,
    seal.SealKey): mostly admissions and exits, some denials, rows STEP_MS apart from START."""
    rng = rng or random.Random(gate)
    key, prev = seal.SealKey.first(seed), chain.GENESIS.hex()
    base = int(START.timestamp() * 1000) + gate * 7
    for seq in range(1, count + 1):
        wall = base + seq * STEP_MS
        if rng.random() < 0.1:
            verdict, reason, cti = "deny", "bad_signature", ""
        else:
            verdict, reason, cti = "admit", "admitted", f"{rng.getrandbits(128):032x}"
        direction = "out" if rng.random() < 0.3 else "in"
        content = (seq, wall, wall - base, cti, "ab" * 8 if cti else "", verdict, reason, direction, "hall", "", "")
        digest = chain.row_hash(prev, content)
        tag, key = key.seal(digest)
        yield JournalRow(*content, prev_hash=prev, hash=digest, seal=tag)
        prev = digest


def gate_batches(
    gates: int, rows: int, keys: list[Ed25519PrivateKey], seeds: list[bytes], first_gate: int = 0
) -> Iterator[Batch]:
    """Every gate's journal in batches of BATCH rows, gates taking turns; each batch is sent (and
    its checkpoint signed) a second after its last row was written."""
    journals = [gate_rows(rows, seeds[g], gate=first_gate + g) for g in range(gates)]
    for _ in range(0, rows, BATCH):
        for g, rows_of in enumerate(journals):
            part = [row for _, row in zip(range(BATCH), rows_of, strict=False)]
            sent = datetime.fromtimestamp(part[-1].wall_ms / 1000 + 1, UTC)
            signed = chain.sign_checkpoint(
                chain.Checkpoint(part[-1].seq, part[-1].hash, int(sent.timestamp() * 1000)), keys[g]
            )
            yield Batch(g, part, signed, sent)


def open_event(
    folder: Path, gates: int, keys: list[Ed25519PrivateKey] | None = None, seeds: list[bytes] | None = None
) -> tuple[Store, list[Device], list[Ed25519PrivateKey], list[bytes]]:
    """A fresh SQLite service holding the event and `gates` enrolled gates (their keys and sealing
    seeds: made here, or the ones given, to hold the same gates in several databases)."""
    store = Store(f"sqlite:///{folder / 'checkin.db'}", keys_dir=folder / "keys")
    store.migrate()
    event = NewEvent(EVENT_ID, "Ngày Chuyển đổi số", START, START + timedelta(hours=4), "Asia/Ho_Chi_Minh", ZONES)
    stored_events.create_event(store, event, START - timedelta(days=1))
    keys = keys or [Ed25519PrivateKey.generate() for _ in range(gates)]
    seeds = seeds or [seal.new_seed() for _ in range(gates)]
    devices = []
    for g in range(gates):
        _, code = stored_devices.create_device(store, EVENT_ID, f"Cổng {g + 1}", "hall", "in", START)
        public = keys[g].public_key().public_bytes_raw().hex()
        devices.append(stored_devices.enrol_device(store, code, public, START, seal_seed=seeds[g])[0])
    return store, devices, keys, seeds


def store_only(store: Store, device: Device, batch: Batch, *, seals: bool) -> None:
    """An upload without the audit: `upload_journal`'s checks (row values, chain, checkpoint) and
    the store's ingest (with `seals`, the seal check in the same transaction, as before the audit),
    without the ledger entry, the analysers and the alerts."""
    zones, now_ms = stored_events.zone_codes(store, device.event_id), int(batch.sent.timestamp() * 1000)
    findings = [found for row in batch.rows for found in chain.row_findings(row, zones, now_ms)]
    checked = journal.check_batch(batch.rows, batch.checkpoint, device.public_key, findings)
    with store.writing() as s:
        outcome = journal.ingest(s, device.id, checked, batch.sent)
        assert isinstance(outcome, journal.Ingested), outcome
        if seals:
            assert not check_seals(s, s.get(Device, device.id), outcome.new_rows)  # type: ignore[arg-type]


def ingest_times(folder: Path, gates: int, rows: int) -> dict[str, tuple[list[float], float]]:
    """Per variant, seconds per batch and CPU seconds in all, ingesting `gates` x `rows` into a
    fresh database each. The variants take each batch in turn (in a rotating order), so the load of
    a shared machine falls on them alike."""
    keys, seeds = [Ed25519PrivateKey.generate() for _ in range(gates)], [seal.new_seed() for _ in range(gates)]
    opened = {}
    for name in VARIANTS:
        (folder / name).mkdir()
        opened[name] = open_event(folder / name, gates, keys, seeds)
    measured: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name in VARIANTS}
    for n, batch in enumerate(gate_batches(gates, rows, keys, seeds)):
        for name in VARIANTS[n % 3 :] + VARIANTS[: n % 3]:
            store, devices = opened[name][0], opened[name][1]
            begin, begin_cpu = time.perf_counter(), time.process_time()
            if name == AUDIT:
                result = ingest.upload_journal(store, devices[batch.gate], batch.rows, batch.checkpoint, batch.sent)
                assert not result.alerts, result.alerts
            else:
                store_only(store, devices[batch.gate], batch, seals=name == SEALS)
            times, cpu = measured[name]
            times.append(time.perf_counter() - begin)
            measured[name] = (times, cpu + time.process_time() - begin_cpu)
    for store, *_ in opened.values():
        store.dispose()
    return measured


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=20)
    parser.add_argument("--rows", type=int, default=50_000, help="rows per gate")
    parser.add_argument("--compare-rows", type=int, default=10_000, help="rows per gate for the ingest comparison")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    table: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        compared = 2 * args.compare_rows
        measured = ingest_times(root, 2, args.compare_rows)
        runs = {name: times for name, (times, _) in measured.items()}
        cpus = {name: cpu for name, (_, cpu) in measured.items()}
        base = statistics.median(runs[SEALS])
        for name, times in runs.items():
            median = statistics.median(times)
            table.append(
                (
                    f"ingest a batch of {BATCH}: {name}",
                    f"{median * 1000:.2f} ms",
                    f"{p95(times) * 1000:.2f} ms",
                    f"{BATCH / median:,.0f} rows/s ({compared / cpus[name]:,.0f} per CPU s), {median / base:.2f}x",
                )
            )

        (root / "event").mkdir()
        store, devices, keys, seeds = open_event(root / "event", args.gates)
        begin, total = time.perf_counter(), 0
        for batch in gate_batches(args.gates, args.rows, keys, seeds):
            ingest.upload_journal(store, devices[batch.gate], batch.rows, batch.checkpoint, batch.sent)
            total += len(batch.rows)
        took = time.perf_counter() - begin
        table.append(
            (
                f"generate + ingest {total:,} rows ({args.gates} gates)",
                f"{took:.1f} s",
                "",
                f"{total / took:,.0f} rows/s",
            )
        )
        after = START + timedelta(hours=6)
        begin, begin_cpu = time.perf_counter(), time.process_time()
        gates = audit.verify_event(store, EVENT_ID, after)
        took, cpu = time.perf_counter() - begin, time.process_time() - begin_cpu
        rows = sum(g.rows_held for g in gates)
        faults = sum(len(g.findings) for g in gates)
        assert rows == total and faults == 0, [f.detail for g in gates for f in g.findings][:5]
        verdict = "MET" if took <= TARGET_VERIFY_S * rows / 1_000_000 else "MISSED"
        table.append(
            (f"verify_event, {rows:,} rows, all intact", f"{took:.1f} s", "", f"{cpu:.1f} CPU s; {verdict} (wall)")
        )
        store.dispose()
    ratio = statistics.median(runs[AUDIT]) / base
    cpu_ratio = cpus[AUDIT] / cpus[SEALS]
    rate = BATCH / statistics.median(runs[AUDIT])
    print(f"audit integrity bench on SQLite: batches of {BATCH}, {args.gates} gates x {args.rows:,} rows")
    print(f"{'what':55} {'median':>10} {'p95':>10}  note")
    for what, median, high, note in table:
        print(f"{what:55} {median:>10} {high:>10}  {note}")
    cpu_rate = 2 * args.compare_rows / cpus[AUDIT]
    target = (TARGET_RATIO - 1) * 100
    print(
        f"audit's added cost per batch (against the ingest with its seal check): {(ratio - 1) * 100:.0f} % by "
        f"median wall time, {(cpu_ratio - 1) * 100:.0f} % by CPU time (target <= {target:.0f} %: "
        f"{'MET' if cpu_ratio <= TARGET_RATIO else 'MISSED'} by CPU time); ingest with the audit {rate:,.0f} rows/s "
        f"wall, {cpu_rate:,.0f} rows per CPU second (target >= {TARGET_INGEST:,}: "
        f"{'MET' if cpu_rate >= TARGET_INGEST else 'MISSED'} by CPU time)"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
