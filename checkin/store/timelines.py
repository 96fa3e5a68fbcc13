"""What the cross-gate audit reads per uploaded batch: credentials' timelines across an event's
gates, the tries of codes that never verified, revocations; and (until the alerts store lands) how
its findings are kept as alerts."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from checkin.store.models import CredentialStatus, IssuedCredential, Scan

_SCANS = Scan.table().c
_CREDENTIALS = IssuedCredential.table().c
# the columns of services.crossgate.ScanRow, in its field order (Core columns: no ORM work per row)
TIMELINE_COLUMNS = (
    _SCANS.device_id,
    _SCANS.seq,
    _SCANS.wall_ms,
    _SCANS.cti,
    _SCANS.kid,
    _SCANS.verdict,
    _SCANS.reason,
    _SCANS.direction,
    _SCANS.zone,
    _SCANS.operator,
)
_CHUNK = 500  # values per IN list, well under SQLite's parameter limit
# Expanding parameters: one cached statement whatever the number of values, compiled once
_TIMELINES = select(*TIMELINE_COLUMNS).where(
    _SCANS.event_id == bindparam("event_id"),
    _SCANS.cti.in_(bindparam("ctis", expanding=True)),
    or_(_SCANS.verdict == "admit", _SCANS.reason == "revoked"),
)
_UNTRUSTED = select(*TIMELINE_COLUMNS).where(
    _SCANS.event_id == bindparam("event_id"),
    _SCANS.cti == "",
    _SCANS.device_id.in_(bindparam("devices", expanding=True)),
    _SCANS.kid.in_(bindparam("kids", expanding=True)),
    _SCANS.reason.in_(bindparam("reasons", expanding=True)),
)
_REVOKED = select(_CREDENTIALS.cti, _CREDENTIALS.revoked_at).where(
    _CREDENTIALS.event_id == bindparam("event_id"),
    _CREDENTIALS.cti.in_(bindparam("ctis", expanding=True)),
    _CREDENTIALS.status == CredentialStatus.REVOKED.value,
)


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


# kid and operator are not in the covering index: a timeline row read back carries "" for them (the
# audit reads them only from the batch's own rows and from the untrusted tries)
_COLUMN_LIST = ", ".join(column.name if column.name not in ("kid", "operator") else "''" for column in TIMELINE_COLUMNS)
# the rows a timeline is judged on: passages (in and out), and denials of a revoked code
_TIMELINE_WHERE = "(verdict = 'admit' OR reason = 'revoked')"


def timelines(s: Session, event_id: str, ctis: Collection[str]) -> list[Any]:
    """The event's admitted passages and revoked tries naming one of `ctis` (index scans(event_id,
    cti)), as TIMELINE_COLUMNS.

    Read on the transaction's own driver connection: a batch's credentials bring thousands of rows
    back, and SQLAlchemy's per-row work would cost more than the whole analysis of them."""
    if not ctis:
        return []
    connection = s.connection()
    dialect = connection.dialect.name
    raw: Any = connection.connection.driver_connection
    # only our own column names and placeholders go into the statements; every value is a parameter
    head = f"SELECT {_COLUMN_LIST} FROM scans WHERE {_TIMELINE_WHERE} AND event_id = "  # noqa: S608
    rows: list[Any] = []
    if dialect == "sqlite":
        for chunk in _chunks(ctis):
            marks = ", ".join("?" * len(chunk))
            rows.extend(raw.execute(f"{head}? AND cti IN ({marks})", [event_id, *chunk]).fetchall())
    elif dialect == "postgresql":
        with raw.cursor() as cursor:
            cursor.execute(f"{head}%s AND cti = ANY(%s)", (event_id, sorted(ctis)))
            rows.extend(cursor.fetchall())
    else:
        for chunk in _chunks(ctis):
            rows.extend(connection.execute(_TIMELINES, {"event_id": event_id, "ctis": chunk}))
    return rows


def _driver(s: Session) -> tuple[Any, str] | None:
    """The transaction's own driver connection and its parameter mark; None on another database."""
    connection = s.connection()
    marks = {"sqlite": "?", "postgresql": "%s"}
    mark = marks.get(connection.dialect.name)
    return None if mark is None else (connection.connection.driver_connection, mark)


# One row per admission into a zone in a stored range of a gate's rows, with the passage just before
# it and just after it in the same zone (an exit from a gate with no zone counts for every zone),
# in time order (wall time, gate, seq, as services.crossgate orders rows), and, when the policy
# limits entries, how many entries into that zone the credential has. Two correlated look-ups per
# admission, each one step in the covering index; the credential's status by its primary key alone (with
# the event in the condition, PostgreSQL's planner walks the event's credentials instead); placeholders
# are filled in by dialect.
_NEIGHBOUR = """(SELECT {a}.direction FROM scans {a}
 WHERE {a}.event_id = x.event_id AND {a}.cti = x.cti AND {a}.verdict = 'admit'
 AND ({a}.zone = x.zone OR ({a}.zone = '' AND {a}.direction = 'out'))
 AND ({a}.wall_ms, {a}.device_id, {a}.seq) {cmp} (x.wall_ms, x.device_id, x.seq)
 ORDER BY {a}.wall_ms {order}, {a}.device_id {order}, {a}.seq {order} LIMIT 1)"""
_ENTRIES = """(SELECT COUNT(*) FROM scans c WHERE c.event_id = x.event_id AND c.cti = x.cti
 AND c.zone = x.zone AND c.verdict = 'admit' AND c.direction = 'in')"""
_ADMISSIONS = """SELECT x.cti, {before}, {after}, {entries},
 (SELECT CASE WHEN r.event_id = x.event_id THEN r.status END FROM credentials r WHERE r.cti = x.cti)
 FROM scans x
 WHERE x.device_id = {m} AND x.seq BETWEEN {m} AND {m} AND x.verdict = 'admit' AND x.direction = 'in'
 AND x.cti <> ''"""


class Suspects(NamedTuple):
    """What the database says of the credentials a range of a gate's rows admits."""

    timelines: set[str]  # those whose whole timelines may hold a finding about the range
    revoked: set[str]  # those the service revoked


def suspects(s: Session, device_id: str, first: int, last: int, *, passback: bool, limit: int) -> Suspects | None:
    """The credentials admitted in `device_id`'s rows `first`..`last` that may be in a finding about
    those rows: entered again with no exit between (before or after, when `passback`), over `limit`
    entries into a zone (0: no limit), or revoked. A superset, checked by the analysis of their whole
    timelines; None when this database cannot be asked (then every credential is a suspect)."""
    driver = _driver(s)
    if driver is None:
        return None
    raw, mark = driver
    before = _NEIGHBOUR.format(a="p", cmp="<", order="DESC") if passback else "NULL"
    after = _NEIGHBOUR.format(a="n", cmp=">", order="ASC") if passback else "NULL"
    entries = _ENTRIES if limit else "0"
    sql = _ADMISSIONS.format(before=before, after=after, entries=entries, m=mark)
    found = raw.execute(sql, (device_id, first, last)).fetchall()
    revoked = {row[0] for row in found if row[4] == CredentialStatus.REVOKED.value}
    passed = {cti for cti, prior, later, count, _ in found if "in" in (prior, later) or (limit and count > limit)}
    return Suspects(passed | revoked, revoked)


def untrusted_tries(
    s: Session, event_id: str, codes: Collection[tuple[str, str]], reasons: Collection[str]
) -> list[Any]:
    """The event's rows with no credential id, denied for one of `reasons`, at a (gate, key id) of `codes`."""
    if not codes:
        return []
    devices, kids, why = sorted({d for d, _ in codes}), sorted({k for _, k in codes}), sorted(reasons)
    wanted = set(codes)
    driver = _driver(s)
    if driver is None:
        params = {"event_id": event_id, "devices": devices, "kids": kids, "reasons": why}
        found: Iterable[Any] = s.connection().execute(_UNTRUSTED, params)
    else:
        raw, m = driver
        columns = ", ".join(column.name for column in TIMELINE_COLUMNS)

        def marks(values: list[str]) -> str:
            return ", ".join([m] * len(values))

        # only our own column names and placeholders go into the statement; every value is a parameter
        # the partial index of rows with no credential id, one short range per key id (without
        # statistics SQLite would walk all the gate's rows by (device_id, seq) instead)
        hint = " INDEXED BY ix_scans_untrusted" if m == "?" else ""
        sql = (
            f"SELECT {columns} FROM scans{hint} WHERE event_id = {m} AND cti = ''"  # noqa: S608
            f" AND device_id IN ({marks(devices)}) AND kid IN ({marks(kids)}) AND reason IN ({marks(why)})"
        )
        found = raw.execute(sql, (event_id, *devices, *kids, *why)).fetchall()
    return [row for row in found if (row[0], row[4]) in wanted]


def revocations(s: Session, event_id: str, ctis: Collection[str]) -> dict[str, datetime]:
    """When each of `ctis` that the service revoked was revoked."""
    connection = s.connection()
    found: dict[str, datetime] = {}
    for chunk in _chunks(ctis):
        result = connection.execute(_REVOKED, {"event_id": event_id, "ctis": chunk})
        found.update((cti, at) for cti, at in result if at is not None)
    return found
