"""The officer's scan search and exports, shared by the audit pages and `checkin audit`.

Filters come as text, as a form or a command line gives them: local times in the event's zone, a
gate's id, a zone, a verdict, a reason, a guest name typed with or without diacritics, and the start
of a credential id or a short code. `parse_filter` turns them into a `store.scan_search.ScanQuery`
or says, per field, what is wrong. Exports (CSV safe for spreadsheets, JSON) are generators of text
pieces: a download or a file is written as the rows are read, never built whole in memory.

Health screening beside a name is for administrators only (issue 11, item 5): for anyone else the
views are passed through `without_screening` (the screening column and the two screening reasons
blanked), the exports leave the screening column out, and the reason filter refuses the screening
reasons, which would otherwise list exactly who was referred. Officers keep the figures (screened,
referred, by hour and gate) on the dashboard.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
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
from checkin.store.reports import EntryView
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
# the reasons that say how a named guest's health screening went; the verdict (refer) stays shown,
# as whether someone entered is the officer's business, and why a guest was referred is not
SCREENING_REASONS = frozenset({Reason.SCREENING_FAILED.value, Reason.SCREENING_REQUIRED.value})
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


def parse_filter(event: Event, values: Mapping[str, str], *, screening: bool) -> ScanQuery:
    """The query the typed filters ask for; FieldsInvalid naming each field at fault. Without
    `screening` (a role that may not see named screening outcomes) a screening reason is FORBIDDEN."""
    typed = {name: (values.get(name) or "").strip()[:TEXT_LIMIT] for name in FILTERS}
    problems: dict[str, Problem] = {}
    if typed["reason"] in SCREENING_REASONS and not screening:
        problems["reason"] = Problem(Reason.FORBIDDEN)
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


def without_screening(view: ScanView) -> ScanView:
    """A scan as a role without named screening outcomes sees it: the screening column and the
    screening reasons blank (the page shows the bare verdict, "Referred")."""
    if not view.screening and view.reason not in SCREENING_REASONS:
        return view
    return replace(view, screening="", reason="" if view.reason in SCREENING_REASONS else view.reason)


def entry_without_screening(view: EntryView) -> EntryView:
    """An event page's entry as a role without named screening outcomes sees it (the reason blank)."""
    return replace(view, reason="") if view.reason in SCREENING_REASONS else view


def as_seen(rows: Iterable[ScanView], *, screening: bool) -> Iterator[ScanView]:
    """Scans as the role sees them: as stored with `screening`, else `without_screening`."""
    return (view if screening else without_screening(view) for view in rows)


def scan_columns(*, screening: bool) -> tuple[str, ...]:
    """The export's columns: the screening column only for a role that may see it (left out rather
    than blank, so an empty cell never passes for "not screened")."""
    return SCAN_COLUMNS if screening else tuple(c for c in SCAN_COLUMNS if c != "screening")


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


def scans_csv(rows: Iterable[ScanView], timezone: str, *, screening: bool) -> Iterator[str]:
    """Scans as spreadsheet-safe CSV text, in pieces (the screening column only with `screening`)."""
    columns = scan_columns(screening=screening)
    records = _scan_records(rows, timezone, screening=screening)
    return csv_lines(columns, ([record[c] for c in columns] for record in records))


def alerts_csv(rows: Iterable[AlertRow], timezone: str) -> Iterator[str]:
    """Alerts as spreadsheet-safe CSV text, in pieces."""
    records = (alert_record(row, timezone) for row in rows)
    return csv_lines(ALERT_COLUMNS, ([record[c] for c in ALERT_COLUMNS] for record in records))


def _scan_records(rows: Iterable[ScanView], timezone: str, *, screening: bool) -> Iterator[dict[str, str | int | None]]:
    columns = scan_columns(screening=screening)
    for view in as_seen(rows, screening=screening):
        record = scan_record(view, timezone)
        yield {c: record[c] for c in columns}


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


def scans_json(event: Event, query: ScanQuery, rows: Iterable[ScanView], *, screening: bool) -> Iterator[str]:
    """Scans as one JSON document: the event, the filters used, then the rows (the screening field
    only with `screening`)."""
    head = {"event": event.id, "timezone": event.timezone, "filters": query_summary(query)}
    return json_document(head, "scans", _scan_records(rows, event.timezone, screening=screening))


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
