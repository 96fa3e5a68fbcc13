"""The officer's dashboard counters, kept at ingest: who is inside now and who entered, per zone and
in total (`presence`), and entries, exits and denials per gate and 15 minutes (`scan_buckets`), with
the health screening's figures (screened, referred): counts only, never who.

"Inside" follows the gate (scanner.gate.count): an admitted row going in puts the person inside, in
that gate's zone; an admitted row going out takes them out. Across gates, the person is where their
latest admitted movement says, latest by (wall time, gate, seq): a total order, so the counters are
the same whatever order the gates' batches arrive in (every update is a sum, a minimum or that
maximum). `presence_totals` keeps the per-zone sums of the presence rows, changed by the difference
each batch makes, so the dashboard reads a handful of rows at any number of guests; counting one
event's batches is serialised by a lock on its totals row (PostgreSQL; SQLite has one writer).

Counting reads the stored rows after the gate's mark (`counter_marks`), so a count that failed
half-way, or never ran, is caught up by the next one: counters never miss a stored row and never
count one twice. `rebuild` recounts everything from the scans (after the migration, and for tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from checkin.core.chain import JournalRow
from checkin.store.engine import Store
from checkin.store.models import CounterMark, Presence, PresenceTotal, Scan, ScanBucket

BUCKET_MS = 15 * 60 * 1000
# the earliest bucket a BIGINT holds: a stored time near -2**63 (a hand in the database) is counted
# there rather than overflow the column; the chart only shows the event's days anyway
_FIRST_BUCKET = -(2**63 // BUCKET_MS) * BUCKET_MS
TOTAL = ""  # the presence row of the whole event, beside one per zone
_CHUNK = 20_000  # rows read at a time when recounting


@dataclass(frozen=True)
class PresenceRow:
    """One presence row's values (`zone` TOTAL for the whole event)."""

    entries: int
    first_in_ms: int | None
    last_ms: int
    last_device: str
    last_seq: int
    last_zone: str
    inside: bool

    def merged(self, other: PresenceRow) -> PresenceRow:
        """Both rows' movements together: sums, the first entry, the latest movement."""
        firsts = [t for t in (self.first_in_ms, other.first_in_ms) if t is not None]
        newer = other if _order(other) > _order(self) else self
        return PresenceRow(
            self.entries + other.entries,
            min(firsts) if firsts else None,
            newer.last_ms,
            newer.last_device,
            newer.last_seq,
            newer.last_zone,
            newer.inside,
        )


def _order(row: PresenceRow) -> tuple[int, str, int]:
    return (row.last_ms, row.last_device, row.last_seq)


@dataclass
class Tally:
    """Counters of some rows: presence by (event, cti, zone), buckets by (event, device, bucket start)
    as (entries, exits, denials, screened, referred)."""

    presence: dict[tuple[str, str, str], PresenceRow]
    buckets: dict[tuple[str, str, int], tuple[int, int, int, int, int]]

    @classmethod
    def empty(cls) -> Tally:
        """No rows counted."""
        return cls({}, {})

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        """Count rows of (event_id, device_id, seq, wall_ms, cti, verdict, direction, zone, screening)."""
        presence, buckets = self.presence, self.buckets
        for event_id, device_id, seq, wall_ms, cti, verdict, direction, zone, screening in rows:
            admitted = verdict == "admit"
            entering = admitted and direction == "in"
            leaving = admitted and direction == "out"
            screened = bool(screening)  # the row's screening outcome (and its details' digest), "" when none ran
            key = (event_id, device_id, max(wall_ms // BUCKET_MS * BUCKET_MS, _FIRST_BUCKET))
            e, x, d, sc, rf = buckets.get(key, (0, 0, 0, 0, 0))
            buckets[key] = (
                e + entering,
                x + leaving,
                d + (not admitted),
                sc + screened,
                rf + (screened and verdict == "refer"),
            )
            if not (entering or leaving) or not cti:
                continue  # only an admitted credential moves anyone
            move = PresenceRow(int(entering), wall_ms if entering else None, wall_ms, device_id, seq, zone, entering)
            # a row naming no zone (a gate set up without one) counts for the whole event only
            places = (TOTAL, zone) if entering and zone != TOTAL else (TOTAL,)
            for place in places:
                held = presence.get((event_id, cti, place))
                presence[(event_id, cti, place)] = move if held is None else held.merged(move)


_ROW_COLUMNS = (
    Scan.event_id,
    Scan.device_id,
    Scan.seq,
    Scan.wall_ms,
    Scan.cti,
    Scan.verdict,
    Scan.direction,
    Scan.zone,
    Scan.screening,
)


# ---- keeping them up to date ------------------------------------------------------------------------


def count_new_rows(store: Store, device_id: str) -> int:
    """Fold a gate's stored rows that are not counted yet into the counters; how many were new.
    Called after each stored batch (services.ingest); safe to call again at any time."""
    with store.writing() as s:
        return count_new_in(s.connection(), device_id)


def count_new_in(connection: Connection, device_id: str, stored: Sequence[JournalRow] = (), event_id: str = "") -> int:
    """`count_new_rows` in the caller's transaction. `stored` (with their `event_id`) are rows just
    stored in it, in seq order: when they follow the mark they are counted as they are, else the
    rows after the mark are read back."""
    marks = CounterMark.table()
    connection.execute(_insert(connection, marks).values(device_id=device_id, seq=0).on_conflict_do_nothing())
    # the mark's row lock (PostgreSQL) makes two counts of one gate wait for each other
    mark = connection.execute(select(marks.c.seq).where(marks.c.device_id == device_id).with_for_update()).scalar_one()
    rows: Sequence[Sequence[Any]]
    if stored and stored[0].seq == mark + 1:
        rows = [
            (event_id, device_id, r.seq, r.wall_ms, r.cti, r.verdict, r.direction, r.zone, r.screening) for r in stored
        ]
    else:
        rows = connection.execute(
            select(*_ROW_COLUMNS).where(Scan.device_id == device_id, Scan.seq > mark).order_by(Scan.seq)
        ).all()
    if not rows:
        return 0
    tally = Tally.empty()
    tally.add(rows)
    _fold(connection, tally)
    connection.execute(marks.update().where(marks.c.device_id == device_id).values(seq=rows[-1][2]))
    return len(rows)


def _insert(connection: Connection, table: Any) -> Any:
    """An INSERT that takes ON CONFLICT, in the connection's dialect."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"counters need PostgreSQL or SQLite, not {dialect}")


# Both databases share ON CONFLICT ... DO UPDATE and `excluded`. Sent through the driver's
# executemany (a pipeline on psycopg, one prepared statement on sqlite3): SQLAlchemy's per-row
# parameter work would cost more than the database's. Only our own column names are in the text.
_PRESENCE_COLUMNS = (
    "event_id",
    "cti",
    "zone",
    "entries",
    "first_in_ms",
    "last_ms",
    "last_device",
    "last_seq",
    "last_zone",
    "inside",
)
_PRESENCE_UPSERT = (
    f"INSERT INTO presence ({', '.join(_PRESENCE_COLUMNS)}) VALUES ({{marks}}) "  # noqa: S608
    "ON CONFLICT (event_id, cti, zone) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _PRESENCE_COLUMNS[3:])
)
_BUCKET_COLUMNS = ("event_id", "device_id", "bucket_ms", "entries", "exits", "denials", "screened", "referred")
_BUCKET_UPSERT = (
    f"INSERT INTO scan_buckets AS b ({', '.join(_BUCKET_COLUMNS)}) VALUES ({{marks}}) "  # noqa: S608
    "ON CONFLICT (event_id, device_id, bucket_ms) DO UPDATE SET "
    "entries = b.entries + excluded.entries, exits = b.exits + excluded.exits, denials = b.denials + excluded.denials, "
    "screened = b.screened + excluded.screened, referred = b.referred + excluded.referred"
)
_TOTALS_COLUMNS = ("event_id", "zone", "inside", "entered")
_TOTALS_UPSERT = (
    f"INSERT INTO presence_totals AS t ({', '.join(_TOTALS_COLUMNS)}) VALUES ({{marks}}) "  # noqa: S608
    "ON CONFLICT (event_id, zone) DO UPDATE SET "
    "inside = t.inside + excluded.inside, entered = t.entered + excluded.entered"
)
_IN_LIST = 500  # credential ids per IN (...) when reading the held presence rows


def _executemany(connection: Connection, statement: str, width: int, values: list[tuple[Any, ...]]) -> None:
    if not values:
        return
    mark = "%s" if connection.dialect.name == "postgresql" else "?"
    raw: Any = connection.connection.driver_connection
    cursor = raw.cursor()
    try:
        cursor.executemany(statement.format(marks=", ".join([mark] * width)), values)
    finally:
        cursor.close()


def _fold(connection: Connection, tally: Tally) -> None:
    """Add a tally to the stored counters, event by event, under the event's totals lock."""
    events = sorted({key[0] for key in tally.presence} | {key[0] for key in tally.buckets})
    for event_id in events:
        _lock_event(connection, event_id)
        mine = {key: row for key, row in tally.presence.items() if key[0] == event_id}
        held = _held_presence(connection, event_id, sorted({key[1] for key in mine}))
        merged = {key: row if key not in held else held[key].merged(row) for key, row in mine.items()}
        deltas = totals_of(merged)
        for zone, (inside, entered) in totals_of({k: held[k] for k in mine if k in held}).items():
            before = deltas.get(zone, (0, 0))
            deltas[zone] = (before[0] - inside, before[1] - entered)
        _executemany(
            connection,
            _PRESENCE_UPSERT,
            len(_PRESENCE_COLUMNS),
            [(*key, *_astuple(row)) for key, row in sorted(merged.items())],
        )
        _executemany(
            connection,
            _TOTALS_UPSERT,
            len(_TOTALS_COLUMNS),
            [(event_id, zone, d[0], d[1]) for zone, d in sorted(deltas.items()) if d != (0, 0)],
        )
    buckets = [(*key, *value) for key, value in sorted(tally.buckets.items())]
    _executemany(connection, _BUCKET_UPSERT, len(_BUCKET_COLUMNS), buckets)


def _lock_event(connection: Connection, event_id: str) -> None:
    """Take the event's totals row lock: one count of an event's rows at a time (PostgreSQL)."""
    totals = PresenceTotal.table()
    connection.execute(
        _insert(connection, totals).values(event_id=event_id, zone=TOTAL, inside=0, entered=0).on_conflict_do_nothing()
    )
    connection.execute(
        select(totals.c.inside).where(totals.c.event_id == event_id, totals.c.zone == TOTAL).with_for_update()
    )


# PostgreSQL: one primary-key probe per credential. Given `cti IN (...)`, it planned a walk of
# every presence row of the event, each compared with the list (without statistics, and in the
# generic plan of a statement psycopg prepared): 1 to 8 s a batch at 40,000 to 120,000 presence
# rows, under the event's lock. OFFSET 0 keeps the planner from folding the probe into that walk.
_HELD_BY_PROBE = text(
    f"SELECT {', '.join(f'p.{name}' for name in _PRESENCE_COLUMNS)} "  # noqa: S608 (our column names)
    "FROM unnest(CAST(:ctis AS text[])) AS k(cti) CROSS JOIN LATERAL "
    "(SELECT * FROM presence WHERE presence.event_id = :event_id AND presence.cti = k.cti OFFSET 0) AS p"
)


def _held_presence(connection: Connection, event_id: str, ctis: list[str]) -> dict[tuple[str, str, str], PresenceRow]:
    p = Presence.table().c
    held: dict[tuple[str, str, str], PresenceRow] = {}
    for start in range(0, len(ctis), _IN_LIST):
        chunk = ctis[start : start + _IN_LIST]
        if connection.dialect.name == "postgresql":
            found = connection.execute(_HELD_BY_PROBE, {"ctis": chunk, "event_id": event_id})
        else:  # SQLite looks each value of an IN list up in the primary key
            query = select(*(p[name] for name in _PRESENCE_COLUMNS)).where(p.event_id == event_id, p.cti.in_(chunk))
            found = connection.execute(query)
        for r in found:
            held[(r[0], r[1], r[2])] = PresenceRow(r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]))
    return held


def _astuple(row: PresenceRow) -> tuple[Any, ...]:
    return (row.entries, row.first_in_ms, row.last_ms, row.last_device, row.last_seq, row.last_zone, row.inside)


def totals_of(presence: dict[tuple[str, str, str], PresenceRow]) -> dict[str, tuple[int, int]]:
    """(inside, entered) by zone (TOTAL: the whole event) that presence rows of one event add up to.
    Inside counts on the whole-event rows, in the zone of the latest movement; entered on each row."""
    totals: dict[str, tuple[int, int]] = {}
    for (_event, _cti, zone), row in presence.items():
        inside, entered = totals.get(zone, (0, 0))
        totals[zone] = (inside + (zone == TOTAL and row.inside), entered + (row.first_in_ms is not None))
        if zone == TOTAL and row.inside and row.last_zone != TOTAL:  # inside somewhere named
            there = totals.get(row.last_zone, (0, 0))
            totals[row.last_zone] = (there[0] + 1, there[1])
    return totals


def _presence_values(key: tuple[str, str, str], row: PresenceRow) -> dict[str, Any]:
    event_id, cti, zone = key
    return {
        "event_id": event_id,
        "cti": cti,
        "zone": zone,
        "entries": row.entries,
        "first_in_ms": row.first_in_ms,
        "last_ms": row.last_ms,
        "last_device": row.last_device,
        "last_seq": row.last_seq,
        "last_zone": row.last_zone,
        "inside": row.inside,
    }


def _bucket_values(key: tuple[str, str, int], value: tuple[int, int, int, int, int]) -> dict[str, Any]:
    event_id, device_id, bucket = key
    entries, exits, denials, screened, referred = value
    return {
        "event_id": event_id,
        "device_id": device_id,
        "bucket_ms": bucket,
        "entries": entries,
        "exits": exits,
        "denials": denials,
        "screened": screened,
        "referred": referred,
    }


# ---- recounting from the scans ----------------------------------------------------------------------


def recount(store: Store, event_id: str | None = None) -> Tally:
    """The counters as the held scans imply them (of one event, if given), computed, not stored."""
    with store.session() as s:
        return _recount(s.connection(), event_id)


def _recount(connection: Connection, event_id: str | None) -> Tally:
    tally = Tally.empty()
    query = select(*_ROW_COLUMNS).order_by(Scan.device_id, Scan.seq)
    if event_id is not None:
        query = query.where(Scan.event_id == event_id)
    # streamed (a server-side cursor on PostgreSQL); set on the statement, not the shared connection
    result = connection.execute(query.execution_options(yield_per=_CHUNK))
    for chunk in result.partitions():
        tally.add(chunk)
    return tally


def stored(store: Store, event_id: str | None = None) -> Tally:
    """The counters as they are stored (of one event, if given)."""
    presence, buckets = Presence.table(), ScanBucket.table()
    p_query, b_query = select(presence), select(buckets)
    if event_id is not None:
        p_query, b_query = p_query.where(presence.c.event_id == event_id), b_query.where(buckets.c.event_id == event_id)
    with store.session() as s:
        tally = Tally.empty()
        for r in s.execute(p_query):
            tally.presence[(r.event_id, r.cti, r.zone)] = PresenceRow(
                r.entries, r.first_in_ms, r.last_ms, r.last_device, r.last_seq, r.last_zone, bool(r.inside)
            )
        for r in s.execute(b_query):
            tally.buckets[(r.event_id, r.device_id, r.bucket_ms)] = (
                r.entries,
                r.exits,
                r.denials,
                r.screened,
                r.referred,
            )
    return tally


def rebuild(store: Store) -> None:
    """Recount every counter from the held scans (the counters of a database that had scans before them)."""
    with store.writing() as s:
        rebuild_in(s.connection())


def rebuild_in(connection: Connection) -> None:
    """`rebuild` in the caller's transaction (the migration that adds the counters calls it)."""
    for table in (Presence.table(), PresenceTotal.table(), ScanBucket.table(), CounterMark.table()):
        connection.execute(delete(table))
    tally = _recount(connection, None)
    presence = [_presence_values(k, v) for k, v in sorted(tally.presence.items())]
    buckets = [_bucket_values(k, v) for k, v in sorted(tally.buckets.items())]
    totals = [
        {"event_id": event_id, "zone": zone, "inside": inside, "entered": entered}
        for event_id in sorted({key[0] for key in tally.presence})
        for zone, (inside, entered) in sorted(
            totals_of({k: v for k, v in tally.presence.items() if k[0] == event_id}).items()
        )
    ]
    for table, values in ((Presence.table(), presence), (ScanBucket.table(), buckets), (PresenceTotal.table(), totals)):
        for start in range(0, len(values), _CHUNK):
            connection.execute(insert(table), values[start : start + _CHUNK])
    held = select(Scan.device_id, func.max(Scan.seq)).group_by(Scan.device_id)
    marks = [{"device_id": device_id, "seq": seq} for device_id, seq in connection.execute(held)]
    if marks:
        connection.execute(insert(CounterMark.table()), marks)


# ---- what the dashboard reads -----------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneCount:
    """Inside now and entered so far, in one zone (TOTAL: the whole event)."""

    zone: str
    inside: int
    entered: int


def presence_counts(store: Store, event_id: str) -> dict[str, ZoneCount]:
    """Inside now and entered so far per zone and in total (key TOTAL), for one event: a few rows."""
    with store.session() as s:
        return presence_counts_in(s.connection(), event_id)


def presence_counts_in(connection: Connection, event_id: str) -> dict[str, ZoneCount]:
    """`presence_counts` in the caller's transaction (the report reads everything in one)."""
    t = PresenceTotal.table().c
    query = select(t.zone, t.inside, t.entered).where(t.event_id == event_id)
    counts = {zone: ZoneCount(zone, inside, entered) for zone, inside, entered in connection.execute(query)}
    counts.setdefault(TOTAL, ZoneCount(TOTAL, 0, 0))
    return counts


def recount_counts(store: Store, event_id: str) -> dict[str, ZoneCount]:
    """What `presence_counts` must say, recounted from the scans (zones at zero left out)."""
    tally = recount(store, event_id)
    return {zone: ZoneCount(zone, i, e) for zone, (i, e) in totals_of(tally.presence).items() if (i, e) != (0, 0)}


@dataclass(frozen=True)
class Bucket:
    """One gate's counts in one 15 minutes."""

    device_id: str
    start_ms: int
    entries: int
    exits: int
    denials: int
    screened: int = 0
    referred: int = 0


def buckets(store: Store, event_id: str, first_ms: int, last_ms: int) -> list[Bucket]:
    """The event's 15-minute counts starting from `first_ms` to `last_ms` (both included), by gate and time."""
    b = ScanBucket.table().c
    query = (
        select(b.device_id, b.bucket_ms, b.entries, b.exits, b.denials, b.screened, b.referred)
        .where(b.event_id == event_id, and_(b.bucket_ms >= first_ms, b.bucket_ms <= last_ms))
        .order_by(b.device_id, b.bucket_ms)
    )
    with store.session() as s:
        return [Bucket(*row) for row in s.execute(query)]


def bucket_span(store: Store, event_id: str, first_ms: int, last_ms: int) -> tuple[int, int] | None:
    """The starts of the first and the latest 15 minutes with any scan between `first_ms` and
    `last_ms`, or None when there is none."""
    b = ScanBucket.table().c
    query = select(func.min(b.bucket_ms), func.max(b.bucket_ms)).where(
        b.event_id == event_id, b.bucket_ms.between(first_ms, last_ms)
    )
    with store.session() as s:
        low, high = s.execute(query).one()
    return None if low is None else (int(low), int(high))
