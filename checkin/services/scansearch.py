"""The officer's scan search and exports, shared by the audit pages and `checkin audit`.

Filters come as text, as a form or a command line gives them: local times in the event's zone, a
gate's id, a zone, a verdict, a reason, a guest name typed with or without diacritics, and the start
of a credential id or a short code. `parse_filter` turns them into a `store.scan_search.ScanQuery`
or says, per field, what is wrong. Exports (CSV safe for spreadsheets, JSON) are generators of text
pieces: a download or a file is written as the rows are read, never built whole in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from checkin.core.clock import parse_time
from checkin.core.credential import stored_short_code
from checkin.core.errors import InputError, Reason
from checkin.files import csv_lines
from checkin.services.problems import FieldsInvalid, Problem
from checkin.store import Event
from checkin.store.alerts_view import AlertRow
from checkin.store.guests import code_prefixes
from checkin.store.scan_search import ScanQuery, ScanView

FILTERS = ("since", "until", "gate", "zone", "verdict", "reason", "name", "code")
TEXT_LIMIT = 200

SCAN_COLUMNS = (
    "time",
    "wall_ms",
    "gate",
    "device_id",
    "seq",
    "zone",
    "direction",
    "verdict",
    "reason",
    "credential_id",
    "short_code",
    "name",
    "guest_id",
    "operator",
    "screening",
)
ALERT_COLUMNS = (
    "id",
    "created",
    "kind",
    "severity",
    "gate",
    "device_id",
    "seq",
    "detail",
    "state",
    "note",
    "state_by",
    "state_at",
)


def parse_filter(event: Event, values: Mapping[str, str]) -> ScanQuery:
    """The query the typed filters ask for; FieldsInvalid naming each field at fault."""
    typed = {name: (values.get(name) or "").strip()[:TEXT_LIMIT] for name in FILTERS}
    problems: dict[str, Problem] = {}
    times: dict[str, int | None] = {"since": None, "until": None}
    for name in ("since", "until"):
        if typed[name]:
            try:
                times[name] = int(parse_time(typed[name], event.timezone, name).timestamp() * 1000)
            except InputError:
                problems[name] = Problem(Reason.TIME_INVALID)
    prefixes: tuple[str, ...] = ()
    if typed["code"]:
        prefixes = tuple(code_prefixes(typed["code"]))
        if not prefixes:
            problems["code"] = Problem(Reason.CODE_PREFIX_INVALID)
    if problems:
        raise FieldsInvalid(problems)
    return ScanQuery(
        event.id,
        since_ms=times["since"],
        until_ms=times["until"],
        device_id=typed["gate"],
        zone=typed["zone"],
        verdict=typed["verdict"],
        reason=typed["reason"],
        name=typed["name"],
        cti_prefixes=prefixes,
    )


def local_iso(moment: datetime | None, timezone: str) -> str:
    """A time as ISO 8601 in the event's zone, to the millisecond ("" when the row's time is implausible)."""
    return "" if moment is None else moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="milliseconds")


def scan_record(view: ScanView, timezone: str) -> dict[str, str | int | None]:
    """One scan as an export row, by column name."""
    return {
        "time": local_iso(view.at, timezone),
        "wall_ms": view.wall_ms,
        "gate": view.gate,
        "device_id": view.device_id,
        "seq": view.seq,
        "zone": view.zone,
        "direction": view.direction,
        "verdict": view.verdict,
        "reason": view.reason,
        "credential_id": view.cti,
        "short_code": stored_short_code(view.cti) if view.cti else "",
        "name": view.name,
        "guest_id": view.guest_id,
        "operator": view.operator,
        "screening": view.screening,
    }


def alert_record(row: AlertRow, timezone: str) -> dict[str, str | int | None]:
    """One alert as an export row, by column name."""
    alert = row.alert
    return {
        "id": alert.id,
        "created": local_iso(alert.created, timezone),
        "kind": alert.kind,
        "severity": alert.severity,
        "gate": row.gate,
        "device_id": alert.device_id or "",
        "seq": alert.seq,
        "detail": alert.detail,
        "state": alert.state,
        "note": alert.note,
        "state_by": alert.state_by,
        "state_at": local_iso(alert.state_at, timezone),
    }


def scans_csv(rows: Iterable[ScanView], timezone: str) -> Iterator[str]:
    """Scans as spreadsheet-safe CSV text, in pieces."""
    return csv_lines(SCAN_COLUMNS, ([record[c] for c in SCAN_COLUMNS] for record in _scan_records(rows, timezone)))


def alerts_csv(rows: Iterable[AlertRow], timezone: str) -> Iterator[str]:
    """Alerts as spreadsheet-safe CSV text, in pieces."""
    records = (alert_record(row, timezone) for row in rows)
    return csv_lines(ALERT_COLUMNS, ([record[c] for c in ALERT_COLUMNS] for record in records))


def _scan_records(rows: Iterable[ScanView], timezone: str) -> Iterator[dict[str, str | int | None]]:
    return (scan_record(view, timezone) for view in rows)


def json_document(head: Mapping[str, object], key: str, records: Iterable[Mapping[str, object]]) -> Iterator[str]:
    """`{...head, key: [records]}` as JSON text in pieces: one piece per 500 records."""
    opening = json.dumps(dict(head), ensure_ascii=False)[:-1]
    yield f'{opening}{", " if head else ""}"{key}": [\n'
    pieces: list[str] = []
    for number, record in enumerate(records):
        pieces.append(("" if number == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        if len(pieces) == 500:
            yield "".join(pieces)
            pieces.clear()
    yield "".join(pieces) + "\n]}\n"


def scans_json(event: Event, query: ScanQuery, rows: Iterable[ScanView]) -> Iterator[str]:
    """Scans as one JSON document: the event, the filters used, then the rows."""
    head = {"event": event.id, "timezone": event.timezone, "filters": query_summary(query)}
    return json_document(head, "scans", _scan_records(rows, event.timezone))


def alerts_json(event_id: str, timezone: str, rows: Iterable[AlertRow]) -> Iterator[str]:
    """Alerts as one JSON document."""
    head = {"event": event_id, "timezone": timezone}
    return json_document(head, "alerts", (alert_record(row, timezone) for row in rows))


def query_summary(query: ScanQuery) -> dict[str, object]:
    """The filters a query applies, for an export's header (empty ones left out)."""
    fields = {
        "since_ms": query.since_ms,
        "until_ms": query.until_ms,
        "device_id": query.device_id,
        "zone": query.zone,
        "verdict": query.verdict,
        "reason": query.reason,
        "name": query.name,
        "credential_id_prefixes": list(query.cti_prefixes),
    }
    return {name: value for name, value in fields.items() if value not in (None, "", [])}
