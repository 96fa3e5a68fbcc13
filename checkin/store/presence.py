"""Who went in and out at the other gates of an event: what a gate pulls to decide as if it had seen it.

A gate asks for the passages (admitted entries and exits) the other gates of its event uploaded
after a cursor, the scans table's id. Only what a decision needs leaves the service: the credential
id, the direction, the gate's wall time, the zone and the gate's id; no names.

The cursor must never step over a row that commits later with a smaller id. SQLite has one writer
at a time, so ids appear in id order; PostgreSQL's sequence hands out ids before commit, so two
uploads can commit out of order. There the cursor stops before the first row received less than
`PG_SETTLE_MS` ago: such rows are sent, and sent again on the next pull (the gate keeps each once,
by id), until they have settled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, literal, select

from checkin.store.engine import Store
from checkin.store.models import Scan

PAGE = 5000  # scans looked at per answer; `more` tells the gate to ask again at once
PG_SETTLE_MS = 5000  # longer than an upload's transaction runs between taking ids and committing
_ADMIT = "admit"  # checkin.core.errors.Verdict.ADMIT; the store does not import the core's enums
_DIRECTIONS = frozenset({"in", "out"})


@dataclass(frozen=True)
class Passage:
    """An admitted entry or exit at a gate: scan id, gate, credential id (hex), way, wall time, zone."""

    id: int
    device_id: str
    cti: str
    direction: str
    wall_ms: int
    zone: str


@dataclass(frozen=True)
class PassagePage:
    """The passages after a cursor, the cursor to ask with next, and whether more are waiting."""

    passages: tuple[Passage, ...]
    cursor: int
    more: bool


def settle_ms(store: Store) -> int:
    """How long a row must have been held before the cursor may pass it, on this database."""
    return PG_SETTLE_MS if store.engine.dialect.name == "postgresql" else 0


def passages_after(
    store: Store, event_id: str, device_id: str, cursor: int, now: datetime, *, limit: int = PAGE
) -> PassagePage:
    """The admitted entries and exits of the event's other gates with a scan id above `cursor`.

    At most `limit` scans are looked at (the gate's own rows and denials are skipped, and still move
    the cursor); `(event_id, id)` is indexed, so a pull costs what it returns.
    """
    query = (
        select(
            Scan.id, Scan.device_id, Scan.cti, Scan.direction, Scan.wall_ms, Scan.zone, Scan.verdict, Scan.received_at
        )
        # a cursor is any 64-bit whole number; the column is 32-bit on PostgreSQL, and int4 > int8 still uses the index
        .where(Scan.event_id == event_id, Scan.id > literal(cursor, BigInteger()))
        .order_by(Scan.id)
        .limit(limit)
    )
    with store.session() as s:
        scanned = s.execute(query).all()
    settled_before = now - timedelta(milliseconds=settle_ms(store))
    passages: list[Passage] = []
    following = cursor
    settled = True
    for row_id, device, cti, direction, wall_ms, zone, verdict, received_at in scanned:
        settled = settled and received_at <= settled_before
        if settled:
            following = row_id
        if verdict == _ADMIT and cti and direction in _DIRECTIONS and device != device_id:
            passages.append(Passage(row_id, device, cti, direction, wall_ms, zone))
    more = len(scanned) >= limit
    if more:  # a full page moves on whatever it holds, or a gate could ask for it forever
        following = scanned[-1][0]
    return PassagePage(tuple(passages), following, more)
