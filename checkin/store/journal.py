"""Journal upload on the server side (DESIGN section 5): check a gate's batch, store what is new.

The server holds each gate's rows 1..acked_seq, gap-free, exactly as the gate chained them. A batch
is checked against that with `checkin.chain` (the code the gate writes its journal with), then
either every new row is stored in one transaction or nothing is. A refused batch still leaves an
alert for the officers (the service layer keeps it, in the same transaction): a gap, a fork, a
broken chain and a bad checkpoint are never silent drops. Clock skew is an alert on a batch that
is stored.

Row values are screened by `chain.row_findings` (the service layer runs it): a value no gate writes
(verdict, direction, zone, cti, kid) refuses the batch with an alert; a time out of range or an
unknown reason is stored as the gate chained it, with an alert. A gate cannot skip a row it chained,
so refusing those would stop an honest gate with a broken clock, or a newer gate, from ever
uploading again; the pages show such values as they are, and never fail on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from checkin.core import chain
from checkin.core.chain import JournalRow
from checkin.core.errors import CheckinError, InputError, Reason
from checkin.store.engine import Store
from checkin.store.models import CheckpointRecord, Device, DeviceStatus, Scan

SKEW_LIMIT_MS = 5 * 60 * 1000
_MAX_INT64 = 2**63
_ROW_FIELDS = tuple(f.name for f in fields(JournalRow))
_ROW_VALUES = attrgetter(*_ROW_FIELDS)
_INSERT_COLUMNS = ("device_id", "event_id", *_ROW_FIELDS, "received_at")
ROW_COLUMNS = (  # a JournalRow's fields, in order, as the scans table holds them
    Scan.seq,
    Scan.wall_ms,
    Scan.mono_ms,
    Scan.cti,
    Scan.kid,
    Scan.verdict,
    Scan.reason,
    Scan.direction,
    Scan.zone,
    Scan.operator,
    Scan.screening,
    Scan.prev_hash,
    Scan.hash,
    Scan.seal,
)


@dataclass(frozen=True)
class AlertNote:
    """A problem found in an upload, as the API reports it (and as it is kept in `alerts`)."""

    kind: Reason  # gap, fork, broken_chain, bad_checkpoint or clock_skew
    seq: int | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        """The note as the API's JSON carries it."""
        return {"kind": self.kind.value, "seq": self.seq, "detail": self.detail}


@dataclass(frozen=True)
class Ingested:
    """A stored batch: the highest contiguous seq now held, its hash, how many rows were new."""

    acked_seq: int
    head_hash: str
    stored: int
    alerts: tuple[AlertNote, ...] = ()
    new_rows: Sequence[JournalRow] = field(default=(), repr=False, compare=False)  # the rows stored now


class JournalRefused(CheckinError):
    """A batch was refused whole (its alert is kept by the caller). `acked_seq` tells the gate where to resume."""

    default_reason = Reason.BROKEN_CHAIN

    def __init__(self, detail: str, reason: Reason, *, acked_seq: int, head_hash: str, seq: int | None) -> None:
        super().__init__(detail, reason)
        self.acked_seq = acked_seq
        self.head_hash = head_hash
        self.seq = seq


@dataclass(frozen=True)
class CheckedBatch:
    """A batch checked on its own, before any lock is taken: the expensive part of an upload.

    `chain_problems` are the hash chain's problems inside the batch; whether its first row links
    to the row the server holds is checked later, under the lock. `checkpoint_problem` is "" when
    the checkpoint is signed by the device key and covers the batch's last row.
    """

    rows: Sequence[JournalRow]
    checkpoint: bytes
    public_key: str
    signed: chain.Checkpoint | None
    checkpoint_problem: str
    chain_problems: Sequence[chain.ChainProblem]
    findings: Sequence[chain.RowFinding] = ()


def check_batch(
    rows: Sequence[JournalRow], checkpoint: bytes, public_key: str, findings: Sequence[chain.RowFinding] = ()
) -> CheckedBatch:
    """Verify a batch's chain and checkpoint: pure CPU work, done outside the write transaction."""
    if not rows:
        raise InputError("the batch has no rows")
    first, last = rows[0], rows[-1]
    # The row before the batch, as far as the batch itself says: chain.check then verifies every
    # hash and every link inside the batch; the first link is checked against the held row later.
    anchor = None
    if first.seq > 1:
        anchor = JournalRow(first.seq - 1, 0, 0, "", "", "", "", "", "", hash=first.prev_hash)
    problems = chain.check(rows, anchor)
    signed: chain.Checkpoint | None = None
    problem = ""
    try:
        signed = chain.verify_checkpoint(checkpoint, Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)))
    except (CheckinError, ValueError) as exc:
        problem = exc.detail if isinstance(exc, CheckinError) else "the device key is unusable"
    else:
        if (signed.seq, signed.head) != (last.seq, last.hash):
            problem = f"the checkpoint covers seq {signed.seq}; the batch ends at seq {last.seq}"
        elif not 0 <= signed.wall_ms < _MAX_INT64:
            problem = "the checkpoint's time is out of range"
    return CheckedBatch(rows, checkpoint, public_key, signed, problem, problems, tuple(findings))


def ingest(s: Session, device_id: str, batch: CheckedBatch, now: datetime) -> Ingested | JournalRefused:
    """Under the device's lock: refuse the batch (the refusal names the alert to keep), or store its
    new rows, their checkpoint and the gate's new head (the alerts they raise are to keep)."""
    rows = batch.rows
    device = s.get(Device, device_id, with_for_update=True, populate_existing=True)
    if device is None or device.status != DeviceStatus.ACTIVE or device.public_key != batch.public_key:
        return JournalRefused("the device is not active", Reason.DEVICE_REVOKED, acked_seq=0, head_hash="", seq=None)
    acked, last, first = device.acked_seq, rows[-1], rows[0].seq

    def refuse(reason: Reason, seq: int | None, detail: str) -> JournalRefused:
        return JournalRefused(detail, reason, acked_seq=acked, head_hash=device.head_hash, seq=seq)

    if batch.checkpoint_problem or batch.signed is None:
        return refuse(Reason.BAD_CHECKPOINT, last.seq, batch.checkpoint_problem)
    signed = batch.signed
    if first > acked + 1:
        return refuse(Reason.JOURNAL_GAP, first, f"the batch starts at seq {first}; the server holds up to seq {acked}")
    resent = [row.seq for row in rows if row.seq <= acked]
    if resent:  # rows the server holds already: each must be the very row it holds
        span = Scan.seq.between(min(resent), max(resent))  # the batch may be out of order: its chain check says so
        held = {
            seq: digest
            for seq, digest in s.execute(select(Scan.seq, Scan.hash).where(Scan.device_id == device_id, span))
        }
        for row in rows:
            if row.seq <= acked and held.get(row.seq) != row.hash:
                return refuse(Reason.JOURNAL_FORK, row.seq, f"seq {row.seq} is held with another hash")
    if batch.chain_problems:
        problem = batch.chain_problems[0]
        return refuse(Reason.BROKEN_CHAIN, problem.seq, f"{problem.kind}: {problem.detail}")
    if first > 1 and rows[0].prev_hash != _held_hash(s, device, first - 1):
        return refuse(Reason.BROKEN_CHAIN, first, "broken_link: prev_hash is not the hash of the row held before it")

    # rows already held were screened when they were stored: only the new ones are judged now
    findings = [found for found in batch.findings if found.seq > acked]
    invalid = next((found for found in findings if found.refuses), None)
    if invalid is not None:
        return refuse(Reason.ROW_INVALID, invalid.seq, invalid.detail)

    new = [row for row in rows if row.seq > acked]
    notes: list[AlertNote] = []
    if new:
        _store_rows(s, device, new, now)
        s.execute(
            insert(CheckpointRecord).values(
                device_id=device_id,
                seq=signed.seq,
                head=signed.head,
                wall_ms=signed.wall_ms,
                signed=batch.checkpoint,
                received_at=now,
            )
        )
        s.execute(
            update(Device)
            .where(Device.id == device_id)
            .values(acked_seq=last.seq, head_hash=last.hash, last_seen=now)
            .execution_options(synchronize_session=False)
        )
        skew = _skew(last, signed, now)
        if skew:
            notes.append(AlertNote(Reason.CLOCK_SKEW, last.seq, skew))
        for kind in (Reason.TIME_OUT_OF_RANGE, Reason.UNKNOWN_REASON):  # one alert per kind and batch
            flagged = [found for found in findings if found.kind is kind]
            if flagged:
                more = f" ({len(flagged)} rows in this batch)" if len(flagged) > 1 else ""
                notes.append(AlertNote(kind, flagged[0].seq, flagged[0].detail + more))
        acked = last.seq
    head = last.hash if new else device.head_hash
    return Ingested(acked_seq=acked, head_hash=head, stored=len(new), alerts=tuple(notes), new_rows=new)


def _store_rows(s: Session, device: Device, rows: Sequence[JournalRow], now: datetime) -> None:
    """Insert rows in bulk on the transaction's own connection: COPY on PostgreSQL, executemany on
    SQLite. The ORM costs more per row than everything else in an upload together."""
    connection = s.connection()
    dialect = connection.dialect
    table = Scan.table()
    process = table.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
    received = process(now) if process else now
    device_id, event_id = device.id, device.event_id
    values = [(device_id, event_id, *_ROW_VALUES(row), received) for row in rows]
    raw: Any = connection.connection.driver_connection
    if dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY scans ({', '.join(_INSERT_COLUMNS)}) FROM STDIN") as copy:
            for item in values:
                copy.write_row(item)
    elif dialect.name == "sqlite":
        marks = ", ".join("?" * len(_INSERT_COLUMNS))
        # only our own column names go into the statement; every value is a parameter
        raw.executemany(f"INSERT INTO scans ({', '.join(_INSERT_COLUMNS)}) VALUES ({marks})", values)  # noqa: S608
    else:
        connection.execute(insert(table), [dict(zip(_INSERT_COLUMNS, item, strict=True)) for item in values])


def _skew(newest: JournalRow, signed: chain.Checkpoint, now: datetime) -> str:
    """Why the gate's clock looks wrong, or "" when it does not.

    A row stamped in the server's future cannot be explained by delay. The checkpoint, signed by
    the gate when it uploads, tells the gate's clock now; an old row alone does not (a gate that
    was offline for an hour uploads hour-old rows with a correct clock).
    """
    now_ms = int(now.timestamp() * 1000)
    if newest.wall_ms - now_ms > SKEW_LIMIT_MS:
        return f"the newest row (seq {newest.seq}) is {(newest.wall_ms - now_ms) // 1000} s ahead of the server clock"
    off = signed.wall_ms - now_ms
    if abs(off) > SKEW_LIMIT_MS:
        side = "ahead of" if off > 0 else "behind"
        return f"the checkpoint for seq {signed.seq} was signed {abs(off) // 1000} s {side} the server clock"
    return ""


def _held_hash(s: Session, device: Device, seq: int) -> str:
    if seq == device.acked_seq:
        return device.head_hash
    found = s.scalar(select(Scan.hash).where(Scan.device_id == device.id, Scan.seq == seq))
    assert found is not None, "rows 1..acked_seq are always held"
    return found


def held_rows(s: Session, device_id: str) -> list[JournalRow]:
    """Every row held for a device, in seq order."""
    result = s.execute(select(*ROW_COLUMNS).where(Scan.device_id == device_id).order_by(Scan.seq))
    return [JournalRow(*row) for row in result]


def journal_rows(store: Store, device_id: str) -> list[JournalRow]:
    """A device's uploaded journal, in seq order, as the gate chained it."""
    with store.session() as s:
        return held_rows(s, device_id)
