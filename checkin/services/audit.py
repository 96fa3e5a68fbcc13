"""The audit of what the service holds, per gate, end to end (`checkin audit verify`).

For each gate: every held row's hash chain (checkin.core.chain) and forward-secure seal
(checkin.core.seal) from seq 1, every stored checkpoint (signed by the gate's device key, covering
a held row with that hash), the service's own ledger (store.ledger: every row exactly as stored,
every batch's entry keyed and chained), rows missing below acked_seq, forks, a cut tail, a clock
running backwards or far from the server's at upload, late uploads and a silent gate. Rows are
read in seq order in chunks, as plain tuples: a million rows is one pass of hashing.
"""

from __future__ import annotations

import hmac
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from checkin.core import chain, seal
from checkin.core.errors import CheckinError, Reason
from checkin.services.findings import SEVERITY_ORDER, Finding, RowRef, Severity
from checkin.store import Device, Store, alerts, journal, ledger
from checkin.store.models import CheckpointRecord, DeviceStatus, Event, Scan

_CHUNK = 20_000
_NAMED = 100  # rows a finding names at most (the detail says how many in all)
_SHOWN = 5  # seqs spelt out in a finding's detail
_COLUMNS = (Scan.id, *journal.ROW_COLUMNS, Scan.event_id, Scan.received_at)


@dataclass(frozen=True)
class AuditPolicy:
    """How far times may stray before the audit says so."""

    clock_tolerance: timedelta = timedelta(minutes=5)  # backwards between rows; ahead of the server
    late_after: timedelta = timedelta(minutes=30)  # from a row's writing to its upload
    silent_after: timedelta = timedelta(minutes=10)  # an active gate not heard from, while the event runs


# The faults of the records themselves (`checkin audit verify` exits 1 on any); the other kinds
# are about the gates' clocks and network, worth a look but not a broken record.
INTEGRITY = frozenset(
    {
        Reason.ROW_CHANGED,
        Reason.ROW_MISSING,
        Reason.ROW_ADDED,
        Reason.JOURNAL_TRUNCATED,
        Reason.JOURNAL_FORK,
        Reason.BAD_CHECKPOINT,
        Reason.CHECKPOINT_MISSING,
        Reason.LEDGER_BROKEN,
        Reason.BAD_SEAL,
        Reason.MISSING_SEAL,
    }
)
# How urgent each kind is, what an upload raises included: records that cannot be trusted are critical.
SEVERITY = {
    **dict.fromkeys(INTEGRITY, Severity.CRITICAL),
    Reason.MISSING_SEAL: Severity.HIGH,
    Reason.BROKEN_CHAIN: Severity.CRITICAL,  # an upload refused: the gate's own journal does not hold
    Reason.JOURNAL_GAP: Severity.MEDIUM,  # refused: the gate resends from where the service stands
    Reason.ROW_INVALID: Severity.HIGH,
    Reason.SEALS_UNCHECKED: Severity.MEDIUM,
    Reason.CLOCK_SKEW: Severity.MEDIUM,
    Reason.TIME_BACKWARDS: Severity.MEDIUM,
    Reason.TIME_OUT_OF_RANGE: Severity.MEDIUM,
    Reason.GATE_SILENT: Severity.MEDIUM,
    Reason.LATE_UPLOAD: Severity.LOW,
    Reason.UNKNOWN_REASON: Severity.LOW,
}
_CHAIN = frozenset({Reason.ROW_CHANGED, Reason.ROW_MISSING, Reason.ROW_ADDED, Reason.JOURNAL_TRUNCATED})
_CHAIN |= {Reason.JOURNAL_FORK}
_SEALS = frozenset({Reason.BAD_SEAL, Reason.MISSING_SEAL})


@dataclass(frozen=True)
class GateIntegrity:
    """What the audit found of one gate's records. `seals_ok` is None when the gate gave no seed."""

    device_id: str
    name: str
    event_id: str
    status: str
    rows_held: int
    acked_seq: int
    last_checkpoint_seq: int
    chain_ok: bool
    seals_ok: bool | None
    ledger_ok: bool
    findings: tuple[Finding, ...] = ()

    @property
    def faults(self) -> tuple[Finding, ...]:
        """The findings that say the records themselves do not hold."""
        return tuple(f for f in self.findings if f.kind in INTEGRITY)

    @property
    def intact(self) -> bool:
        """True when no record of this gate is in doubt."""
        return not self.faults


# Below this many rows a gate's walk is quicker than starting a process for it.
PARALLEL_FROM_ROWS = 100_000


def verify_event(
    store: Store,
    event_id: str,
    now: datetime,
    policy: AuditPolicy | None = None,
    *,
    workers: int = 1,
    parallel_from_rows: int = PARALLEL_FROM_ROWS,
) -> list[GateIntegrity]:
    """Verify every gate of an event end to end, in the order they were added. With `workers` > 1
    and an event of `parallel_from_rows` rows or more, the gates are walked in up to `workers`
    processes at once (a walk is hashing in Python, one core each), each reading the database on
    its own; the result is the same."""
    key = ledger.ledger_key(store)
    chosen = policy or AuditPolicy()
    with store.session() as s:
        event = s.get(Event, event_id)
        if event is None:
            raise CheckinError(f"no event {event_id!r}", Reason.NOT_FOUND)
        devices = s.scalars(select(Device).where(Device.event_id == event_id).order_by(Device.created, Device.id)).all()
        held = sum(device.acked_seq for device in devices)
        url = _reopenable(store)
        if workers <= 1 or len(devices) < 2 or held < parallel_from_rows or url is None:
            return [_verify_gate(s, key, device, event, now, chosen) for device in devices]
    # forked (Linux): a spawned worker would import everything again and run the caller's main
    # script anew; the worker opens its own store and touches nothing of the parent's
    forking = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if forking else "spawn")
    with ProcessPoolExecutor(min(workers, len(devices)), mp_context=context) as pool:
        walks = [pool.submit(_verify_gate_apart, url, store.keys_dir, device.id, now, chosen) for device in devices]
        return [walk.result() for walk in walks]


def _reopenable(store: Store) -> str | None:
    """The store's URL, password included, for another process to open; None for a database
    only this process can see (SQLite in memory)."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


def _verify_gate_apart(
    url: str, keys_dir: Path | None, device_id: str, now: datetime, policy: AuditPolicy
) -> GateIntegrity:
    """One gate's walk in a worker process, over its own connection to the database."""
    store = Store(url, keys_dir=keys_dir)
    try:
        key = ledger.ledger_key(store)
        with store.session() as s:
            device = s.get(Device, device_id)
            event = None if device is None else s.get(Event, device.event_id)
            if device is None or event is None:
                raise CheckinError(f"no gate {device_id!r}", Reason.NOT_FOUND)
            return _verify_gate(s, key, device, event, now, policy)
    finally:
        store.dispose()


def verify_all(
    store: Store, now: datetime, policy: AuditPolicy | None = None, *, workers: int = 1
) -> list[GateIntegrity]:
    """Verify every gate of every event the service holds (`workers` as for verify_event)."""
    with store.session() as s:
        events = s.scalars(select(Event.id).order_by(Event.start, Event.id)).all()
    return [gate for event_id in events for gate in verify_event(store, event_id, now, policy, workers=workers)]


def record(store: Store, gates: Iterable[GateIntegrity], now: datetime) -> int:
    """Keep every finding as an alert (once per fingerprint); how many were new."""
    with store.writing() as s:
        return sum(alerts.record_finding(s, f, now) for gate in gates for f in gate.findings)


class _Found:
    """The seqs found per kind for one gate, each with why, made into one finding per kind."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.seqs: dict[Reason, dict[int, str]] = {}
        self.gate: list[Finding] = []

    def add(self, kind: Reason, seq: int, why: str) -> None:
        self.seqs.setdefault(kind, {}).setdefault(seq, why)

    def add_span(self, kind: Reason, first: int, last: int, why: str) -> None:
        for seq in (first, last) if last - first > 1 else range(first, last + 1):
            self.add(kind, seq, why if first == last else f"{why} (seq {first} to {last}, {last - first + 1} rows)")

    def gate_finding(self, kind: Reason, detail: str) -> None:
        device = self.device
        self.gate.append(
            Finding(kind, SEVERITY[kind], device.event_id, f"gate {device.name} ({device.id}): {detail}", (), device.id)
        )

    def findings(self) -> tuple[Finding, ...]:
        device, made = self.device, list(self.gate)
        for kind, found in sorted(self.seqs.items(), key=lambda item: SEVERITY_ORDER.index(SEVERITY[item[0]])):
            seqs = sorted(found)
            shown = "; ".join(f"seq {q}: {found[q]}" for q in seqs[:_SHOWN])
            more = f"; and {len(seqs) - _SHOWN} more" if len(seqs) > _SHOWN else ""
            detail = f"gate {device.name} ({device.id}): {shown}{more}"
            rows = tuple(RowRef(device.id, q) for q in seqs[:_NAMED])
            made.append(Finding(kind, SEVERITY[kind], device.event_id, detail, rows, device.id, {"gate": device.name}))
        return tuple(made)


@dataclass
class _Walk:
    """Where the walk over a gate's rows stands."""

    seq: int = 0
    hash: str = chain.GENESIS.hex()
    wall_ms: int | None = None
    rows: int = 0
    received: datetime | None = None
    received_ms: int = 0
    late_batches: set[datetime] = field(default_factory=set)


def _verify_gate(
    s: Session, key: bytes, device: Device, event: Event, now: datetime, policy: AuditPolicy
) -> GateIntegrity:
    found = _Found(device)
    tolerance_ms = int(policy.clock_tolerance.total_seconds() * 1000)
    late_ms = int(policy.late_after.total_seconds() * 1000)

    entries = ledger.entries(s, key, device.id)
    prev_mac = ""
    for entry in entries:
        if not entry.intact:
            found.add(Reason.LEDGER_BROKEN, entry.first_seq, "the ledger entry of this batch was changed")
        elif not hmac.compare_digest(entry.prev, prev_mac):
            found.add(Reason.LEDGER_BROKEN, entry.first_seq, "the ledger entry before this batch was removed")
        prev_mac = entry.mac
    heads = _checkpoints(s, device, found, tolerance_ms)
    for entry in entries:  # every stored batch came with a checkpoint at its last row
        if entry.intact and entry.last_seq not in heads:
            found.add(Reason.CHECKPOINT_MISSING, entry.last_seq, "the checkpoint stored with this batch is gone")

    seal_key = seal.SealKey.first(bytes.fromhex(device.seal_seed)) if device.seal_seed else None
    walk, covering = _Walk(), _covering(entries)
    for rows in _chunks(s, device.id):
        sealed: list[tuple[int, str, str]] = []
        for row in rows:
            try:
                _check_row(found, walk, row, heads, covering, device.acked_seq, tolerance_ms, late_ms, sealed)
            except (TypeError, ValueError, OverflowError):  # a hand in the database put text where numbers go
                found.add(Reason.ROW_CHANGED, walk.seq + 1, "it holds values no stored row can have")
        if seal_key is not None:
            problems, seal_key = seal.verify(sealed, seal_key)
            for problem in problems:
                if problem.kind is chain.ProblemKind.MISSING_SEAL:
                    found.add(Reason.MISSING_SEAL, problem.seq, "no seal")
                elif problem.kind is chain.ProblemKind.BAD_SEAL:
                    found.add(Reason.BAD_SEAL, problem.seq, "its seal does not hold (changed after sealing)")

    claimed = max([device.acked_seq, *heads, *(e.last_seq for e in entries)], default=0)
    if walk.seq < claimed:
        found.add_span(Reason.JOURNAL_TRUNCATED, walk.seq + 1, claimed, "acknowledged, no longer held")
    elif walk.seq == device.acked_seq and walk.seq and walk.hash != device.head_hash:
        found.add(Reason.ROW_CHANGED, walk.seq, "its hash is not the head the service acknowledged")
    _silence(found, device, event, now, policy)

    findings = found.findings()
    kinds = {f.kind for f in findings}
    return GateIntegrity(
        device_id=device.id,
        name=device.name,
        event_id=device.event_id,
        status=device.status,
        rows_held=walk.rows,
        acked_seq=device.acked_seq,
        last_checkpoint_seq=max(heads, default=0),
        chain_ok=not kinds & _CHAIN,
        seals_ok=None if not device.seal_seed else not kinds & _SEALS,
        ledger_ok=Reason.LEDGER_BROKEN not in kinds,
        findings=findings,
    )


def _check_row(
    found: _Found,
    walk: _Walk,
    row: tuple[Any, ...],
    heads: dict[int, str],
    covering: Callable[[int], ledger.Entry | None],
    acked_seq: int,
    tolerance_ms: int,
    late_ms: int,
    sealed: list[tuple[int, str, str]],
) -> None:
    """One held row, in seq order: its chain, checkpoint, ledger entry and times; its seal is
    checked with its chunk's (`sealed`)."""
    # id, then the journal fields seq to screening (what the hash covers), then the rest
    content, (prev, digest, row_seal, event_id, received) = row[1:12], row[12:]
    seq, wall_ms = content[0], content[1]
    if seq == walk.seq:
        found.add(Reason.JOURNAL_FORK, seq, "two rows are held with this seq")
        return
    if seq != walk.seq + 1:
        found.add_span(Reason.ROW_MISSING, walk.seq + 1, seq - 1, "missing")
    elif prev != walk.hash:
        found.add(Reason.ROW_CHANGED, seq, "its prev_hash is not the hash of the row before")
    if _hash(prev, content) != digest:
        found.add(Reason.ROW_CHANGED, seq, "its content does not match its hash")
    if seq in heads and heads[seq] != digest:
        found.add(Reason.JOURNAL_FORK, seq, "the gate signed another hash for this seq")
    if received != walk.received:
        walk.received, walk.received_ms = received, ledger.micros(received) // 1000
    stored, held = _digest(digest, row_seal), covering(seq)
    if held is None:
        kind, why = (Reason.LEDGER_BROKEN, "in no ledger entry")
        if seq > acked_seq:
            kind, why = Reason.ROW_ADDED, "beyond what the gate uploaded, and in no ledger entry"
        found.add(kind, seq, why)
    elif held.intact:
        if stored != held.digest(seq):
            found.add(Reason.ROW_CHANGED, seq, "it is not the row the service stored")
        elif event_id != held.event_id or received != held.received_at:
            found.add(Reason.ROW_CHANGED, seq, "its event or time of receipt is not the one stored")
    _times(found, walk, seq, wall_ms, tolerance_ms, late_ms, received)
    # a hash or seal that is not hex cannot be checked: it counts as no seal
    sealed.append((seq, digest, row_seal) if stored else (seq, chain.GENESIS.hex(), ""))
    walk.seq, walk.hash, walk.wall_ms = seq, digest, wall_ms
    walk.rows += 1


def _hash(prev: str, content: tuple[Any, ...]) -> str:
    """A held row's chain hash from its content, or "" when the database holds what no row can."""
    try:
        return chain.row_hash(prev, content)
    except (ValueError, TypeError, OverflowError):  # a prev_hash that is not hex, a text where a number goes
        return ""


def _digest(row_hash: str, row_seal: str) -> bytes:
    try:
        return ledger.row_digest(row_hash, row_seal)
    except ValueError:
        return b""


def _chunks(s: Session, device_id: str) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The gate's rows in (seq, id) order, a chunk at a time (keyset paging: no OFFSET)."""
    seq, row_id = 0, 0
    while True:
        after = or_(Scan.seq > seq, and_(Scan.seq == seq, Scan.id > row_id))
        query = select(*_COLUMNS).where(Scan.device_id == device_id, after).order_by(Scan.seq, Scan.id)
        rows = s.connection().execute(query.limit(_CHUNK)).all()  # Core rows: no ORM work per row
        if not rows:
            return
        yield rows
        row_id, seq = rows[-1][0], rows[-1][1]


def _covering(entries: Sequence[ledger.Entry]) -> Callable[[int], ledger.Entry | None]:
    """A lookup of the entry covering a seq, fast for seqs asked in increasing order."""
    at = 0

    def find(seq: int) -> ledger.Entry | None:
        nonlocal at
        while at < len(entries) and entries[at].last_seq < seq:
            at += 1
        if at < len(entries) and entries[at].first_seq <= seq:
            return entries[at]
        return None

    return find


def _checkpoints(s: Session, device: Device, found: _Found, tolerance_ms: int) -> dict[int, str]:
    """Verify every stored checkpoint; the heads of those that hold, by seq."""
    query = (
        select(CheckpointRecord.seq, CheckpointRecord.head, CheckpointRecord.wall_ms)
        .add_columns(CheckpointRecord.signed, CheckpointRecord.received_at)
        .where(CheckpointRecord.device_id == device.id)
        .order_by(CheckpointRecord.seq, CheckpointRecord.id)
    )
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(device.public_key))
    except ValueError:
        public = None
    heads: dict[int, str] = {}
    skewed: list[tuple[int, int]] = []
    for seq, head, wall_ms, signed, received in s.execute(query):
        try:
            if public is None:
                raise CheckinError("the gate has no usable device key")
            held = chain.verify_checkpoint(bytes(signed), public)
        except (CheckinError, TypeError, ValueError) as exc:
            detail = exc.detail if isinstance(exc, CheckinError) else "not a checkpoint"
            found.add(Reason.BAD_CHECKPOINT, seq, f"its checkpoint does not hold ({detail})")
            continue
        if (held.seq, held.head, held.wall_ms) != (seq, head, wall_ms):
            found.add(Reason.BAD_CHECKPOINT, seq, "its checkpoint's stored columns differ from what the gate signed")
            continue
        heads[seq] = head
        off = held.wall_ms - ledger.micros(received) // 1000
        if abs(off) > tolerance_ms:
            skewed.append((seq, off))
    if skewed:
        seq, off = max(skewed, key=lambda item: abs(item[1]))
        side = "ahead of" if off > 0 else "behind"
        found.add(
            Reason.CLOCK_SKEW,
            skewed[0][0],
            f"{len(skewed)} checkpoint(s) signed with the gate's clock off, at most {abs(off) // 1000} s {side} "
            f"the server's (at seq {seq})",
        )
    return heads


def _times(
    found: _Found, walk: _Walk, seq: int, wall_ms: int, tolerance_ms: int, late_ms: int, received: datetime
) -> None:
    """A row's time against the row before it and against the server's clock when it arrived."""
    if walk.wall_ms is not None and wall_ms < walk.wall_ms - tolerance_ms:
        back = (walk.wall_ms - wall_ms) // 1000
        found.add(Reason.TIME_BACKWARDS, walk.seq, f"the clock went back {back} s before seq {seq}")
        found.add(Reason.TIME_BACKWARDS, seq, f"written {back} s before seq {walk.seq}")
    if wall_ms - walk.received_ms > tolerance_ms:
        ahead = (wall_ms - walk.received_ms) // 1000
        found.add(Reason.CLOCK_SKEW, seq, f"written {ahead} s after the server received it")
    elif walk.received_ms - wall_ms > late_ms and received not in walk.late_batches:
        walk.late_batches.add(received)  # one per batch: its first late row
        late = (walk.received_ms - wall_ms) // 60_000
        found.add(Reason.LATE_UPLOAD, seq, f"uploaded {late} min after it was written")


def _silence(found: _Found, device: Device, event: Event, now: datetime, policy: AuditPolicy) -> None:
    """An active gate silent for longer than the policy allows, while its event runs."""
    if device.status != DeviceStatus.ACTIVE or not event.start <= now <= event.end:
        return
    last = device.last_seen or device.enrolled_at
    if last is None or now - last > policy.silent_after:
        since = "never" if last is None else f"for {int((now - last).total_seconds()) // 60} min"
        found.gate_finding(Reason.GATE_SILENT, f"not heard from {since} while the event runs")
