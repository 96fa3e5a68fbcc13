"""The officer's search over an event's scans: filters, newest-first pages by keyset, exports streamed
in time order, and one guest's timeline.

Pages use a keyset (the last row's wall time and id), not an offset, so page 2,000 of a million scans
costs what page 1 does; the indexes `ix_scans_event_time` and `ix_scans_event_device_time` (migration
0013) serve the order. A guest name is matched on the guests' folded `search_text` first, then the
scans of their credentials are read by credential id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, tuple_
from sqlalchemy.orm import Session

from checkin.core.text import fold
from checkin.store.engine import Store
from checkin.store.models import Device, Guest, IssuedCredential, Scan
from checkin.store.reports import scan_moment

STREAM_BATCH = 2_000


@dataclass(frozen=True)
class ScanQuery:
    """Which of an event's scans to read; empty fields match everything. `since_ms` is inclusive,
    `until_ms` exclusive; `name` is matched folded (no diacritics, any case), every word in the
    guest's name; `cti_prefixes` match the start of a credential id (hex, lower case)."""

    event_id: str
    since_ms: int | None = None
    until_ms: int | None = None
    device_id: str = ""
    zone: str = ""
    verdict: str = ""
    reason: str = ""
    name: str = ""
    cti_prefixes: tuple[str, ...] = ()
    guest_id: int | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row's wall time and id (the next page starts after it)."""

    wall_ms: int
    id: int

    def __str__(self) -> str:
        return f"{self.wall_ms}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """A cursor from a URL parameter, or None when it is not one."""
        wall, _, row = text.partition(".")
        try:
            return cls(int(wall), int(row))
        except ValueError:
            return None


@dataclass(frozen=True)
class ScanView:
    """A scan with its gate's name and the name on the credential it names ("" for an unknown code).
    `at` is None when the row's time is not a plausible clock's: the pages show `wall_ms` as it is."""

    id: int
    at: datetime | None
    wall_ms: int
    device_id: str
    gate: str
    seq: int
    zone: str
    direction: str
    verdict: str
    reason: str
    cti: str
    name: str
    guest_id: int | None
    operator: str
    screening: str


@dataclass(frozen=True)
class ScanPage:
    """One page, newest first; `next` is where the following (older) page starts, None on the last.

    No total is counted: with a rare filter, counting reads every row of the event, a million of
    them, where the page itself stops after fifty matches."""

    rows: list[ScanView]
    next: Cursor | None = None


def _matching_ctis(s: Session, query: ScanQuery) -> list[str] | None:
    """The credential ids the name or guest filter allows (None: no such filter)."""
    if not query.name and query.guest_id is None:
        return None
    statement = select(IssuedCredential.cti, IssuedCredential.name, Guest.name).outerjoin(
        Guest, Guest.id == IssuedCredential.guest_id
    )
    statement = statement.where(IssuedCredential.event_id == query.event_id)
    if query.guest_id is not None:
        statement = statement.where(IssuedCredential.guest_id == query.guest_id)
    words = fold(query.name).split()
    if words:  # narrowed in SQL on the folded text, then on the name alone below
        in_guest = and_(*(Guest.search_text.contains(word, autoescape=True) for word in words))
        statement = statement.where(or_(in_guest, IssuedCredential.guest_id.is_(None)))
    found = []
    for cti, on_code, guest_name in s.execute(statement):
        name = fold(guest_name if guest_name is not None else on_code)
        if all(word in name for word in words):
            found.append(cti)
    return found


def _conditions(s: Session, query: ScanQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Scan.event_id == query.event_id]
    if query.since_ms is not None:
        conditions.append(Scan.wall_ms >= query.since_ms)
    if query.until_ms is not None:
        conditions.append(Scan.wall_ms < query.until_ms)
    if query.device_id:
        conditions.append(Scan.device_id == query.device_id)
    for column, value in ((Scan.zone, query.zone), (Scan.verdict, query.verdict), (Scan.reason, query.reason)):
        if value:
            conditions.append(column == value)
    if query.cti_prefixes:
        conditions.append(or_(*(Scan.cti.startswith(p, autoescape=True) for p in query.cti_prefixes)))
    ctis = _matching_ctis(s, query)
    if ctis is not None:
        conditions.append(Scan.cti.in_(ctis) if ctis else false())
    return conditions


_COLUMNS = (
    Scan.id,
    Scan.wall_ms,
    Scan.received_at,
    Scan.device_id,
    Scan.seq,
    Scan.zone,
    Scan.direction,
    Scan.verdict,
    Scan.reason,
    Scan.cti,
    Scan.operator,
    Scan.screening,
    IssuedCredential.name,
    IssuedCredential.guest_id,
)


def _views(rows: Iterable[Any], gates: dict[str, str]) -> Iterator[ScanView]:
    for sid, wall, received, device, seq, zone, way, verdict, reason, cti, operator, screening, name, guest in rows:
        yield ScanView(
            id=sid,
            at=scan_moment(wall, received),
            wall_ms=wall,
            device_id=device,
            gate=gates.get(device, device),
            seq=seq,
            zone=zone,
            direction=way,
            verdict=verdict,
            reason=reason,
            cti=cti,
            name=name or "",
            guest_id=guest,
            operator=operator,
            screening=screening,
        )


def gate_names(store: Store, event_id: str) -> dict[str, str]:
    """The event's gates' names by device id (a few dozen: read once rather than joined per row)."""
    with store.session() as s:
        return {d: n for d, n in s.execute(select(Device.id, Device.name).where(Device.event_id == event_id))}


def _older(cursor: Cursor) -> ColumnElement[bool]:
    # the plain bound on wall_ms lets SQLite walk the index from the cursor (it does not range-scan a
    # row-value comparison): without it, each page (and export batch) re-reads every row before it
    return and_(Scan.wall_ms <= cursor.wall_ms, tuple_(Scan.wall_ms, Scan.id) < tuple_(cursor.wall_ms, cursor.id))


def _newer(cursor: Cursor) -> ColumnElement[bool]:
    return and_(Scan.wall_ms >= cursor.wall_ms, tuple_(Scan.wall_ms, Scan.id) > tuple_(cursor.wall_ms, cursor.id))


def search(store: Store, query: ScanQuery, *, after: Cursor | None = None, limit: int = 50) -> ScanPage:
    """One page of the scans `query` matches, newest first, starting after `after`."""
    gates = gate_names(store, query.event_id)
    with store.session() as s:
        conditions = _conditions(s, query)
        if after is not None:
            conditions.append(_older(after))
        statement = (
            select(*_COLUMNS)
            .outerjoin(IssuedCredential, IssuedCredential.cti == Scan.cti)
            .where(*conditions)
            .order_by(Scan.wall_ms.desc(), Scan.id.desc())
            .limit(limit + 1)
        )
        rows = list(_views(s.execute(statement), gates))
    more = len(rows) > limit
    rows = rows[:limit]
    return ScanPage(rows, Cursor(rows[-1].wall_ms, rows[-1].id) if more and rows else None)


def stream(store: Store, query: ScanQuery) -> Iterator[ScanView]:
    """Every scan `query` matches, oldest first, read in batches by keyset: an export of a million rows
    holds one batch in memory, and no read transaction stays open between batches."""
    gates = gate_names(store, query.event_id)
    with store.session() as s:
        base = _conditions(s, query)  # the name's credential ids are looked up once
    after: Cursor | None = None
    while True:
        with store.session() as s:
            conditions = list(base)
            if after is not None:
                conditions.append(_newer(after))
            statement = (
                select(*_COLUMNS)
                .outerjoin(IssuedCredential, IssuedCredential.cti == Scan.cti)
                .where(*conditions)
                .order_by(Scan.wall_ms, Scan.id)
                .limit(STREAM_BATCH)
            )
            batch = list(_views(s.execute(statement), gates))
        yield from batch
        if len(batch) < STREAM_BATCH:
            return
        after = Cursor(batch[-1].wall_ms, batch[-1].id)


def timeline(store: Store, event_id: str, guest_id: int) -> list[ScanView]:
    """Every scan of every credential of a guest, oldest first."""
    return list(stream(store, ScanQuery(event_id, guest_id=guest_id)))
