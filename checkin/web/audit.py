"""The security officer's pages (officers and administrators; registrars never see them): the live
dashboard of an event and each gate's page; alerts (acknowledge, resolve with a note); the search
over scans with its CSV and JSON exports; a guest's timeline.

The dashboard reads the counters kept at ingest (`checkin.store.counters`), so it costs the same at
any number of scans, and refreshes itself every 30 seconds with a small script of our own
(static/audit.js) while the tab is visible. The query logic of alerts and search lives in
`services.alertdesk`, `services.scansearch` and `store.scan_search`, which the `checkin audit`
commands use too; the views only read the request and render. Exports stream: a million scans go
out as they are read.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from checkin.core.errors import InputError, Reason, Verdict
from checkin.services import alertdesk, audit, crossgate, scansearch
from checkin.services import dashboard as dashboards
from checkin.services.alertdesk import AlertFilter
from checkin.services.findings import SEVERITY_ORDER, AlertState, Severity
from checkin.services.problems import FieldsInvalid
from checkin.store import Event, counters, reports, scan_search
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store.scan_search import Cursor
from checkin.web import auth
from checkin.web.auth import ADMIN_ONLY, AUDIT, allow, current_user
from checkin.web.charts import Chart, TimeAxis, line_chart, time_axis
from checkin.web.context import now, store
from checkin.web.formatting import local_time
from checkin.web.i18n import describe, language

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(auth.guard)  # deny by default, as on the admin pages

PAGE_SIZE = 50
REFRESH_SECONDS = 30
# every kind of alert: what the upload and the integrity audit find, then the cross-gate findings
ALERT_KINDS = (*audit.SEVERITY, *crossgate.KINDS)
# what a gate journals (scanner.gate): the search offers these reasons
SCAN_REASONS = (
    Reason.ADMITTED,
    Reason.ALREADY_INSIDE,
    Reason.ENTRY_LIMIT_REACHED,
    Reason.ZONE_NOT_ALLOWED,
    Reason.REVOKED,
    Reason.EXPIRED,
    Reason.NOT_YET_VALID,
    Reason.WRONG_EVENT,
    Reason.BAD_SIGNATURE,
    Reason.UNKNOWN_KEY,
    Reason.KEY_REVOKED,
    Reason.KEY_RETIRED,
    Reason.MALFORMED,
    Reason.UNSUPPORTED_FORMAT,
    Reason.UNSUPPORTED_ALGORITHM,
    Reason.SCREENING_REQUIRED,
    Reason.SCREENING_FAILED,
    Reason.BUNDLE_STALE,
    Reason.CLOCK_SUSPECT,
    Reason.REFUSED_BY_STAFF,
    Reason.CLOCK_ACKNOWLEDGED,
)


def _event_or_404(event_id: str) -> Event:
    try:
        return stored_events.event(store(), event_id)
    except InputError:
        abort(404)


def _chart(series: dashboards.Series, axis: TimeAxis) -> Chart:
    return line_chart({"entries": series.entries, "exits": series.exits, "denials": series.denials}, axis)


def _slot_labels(window: dashboards.Window | None, event: Event) -> list[str]:
    """Each slot's start as the tables write it (once per page, not once per gate)."""
    return [local_time(start, event.timezone) for start in window.starts] if window else []


@bp.route("/")
@allow(AUDIT)
def home() -> ResponseReturnValue:
    """The events, each with who is inside now and its open alerts."""
    events = stored_events.events(store())
    rows = [
        (
            ev,
            counters.presence_counts(store(), ev.id)[counters.TOTAL],
            sum(reports.open_alert_counts(store(), ev.id).values()),
        )
        for ev in events
    ]
    return render_template("audit/events.html", rows=rows)


@bp.route("/events/<event_id>")
@allow(AUDIT)
def event(event_id: str) -> ResponseReturnValue:
    """An event's live dashboard: inside now and entered per zone, the 15-minute chart per gate,
    open alerts by severity, the gates."""
    ev = _event_or_404(event_id)
    board = dashboards.dashboard(store(), ev, now())
    charts: dict[str, Chart] = {}
    if board.window:
        axis = time_axis(board.window.starts, ev.timezone)
        charts = {s.device.id: _chart(s, axis) for s in board.series}
    return render_template(
        "audit/dashboard.html",
        event=ev,
        board=board,
        charts=charts,
        slots=_slot_labels(board.window, ev),
        refresh=REFRESH_SECONDS,
        now=now(),
    )


@bp.route("/events/<event_id>/gates/<device_id>")
@allow(AUDIT)
def gate(event_id: str, device_id: str) -> ResponseReturnValue:
    """One gate: last sync, bundle, rows held and missing, clock offset, chain and seals, its chart."""
    ev = _event_or_404(event_id)
    try:
        device = stored_devices.device(store(), device_id)
    except InputError:
        abort(404)
    if device.event_id != ev.id:
        abort(404)
    report = dashboards.gate_report(store(), ev, device, now())
    chart = None
    if report.series and report.window:
        chart = _chart(report.series, time_axis(report.window.starts, ev.timezone))
    return render_template(
        "audit/gate.html", event=ev, report=report, chart=chart, slots=_slot_labels(report.window, ev), now=now()
    )


# ---- alerts, scans, timelines ---------------------------------------------------------------------


def _page() -> int:
    try:
        return min(max(1, int(request.args.get("page", "1"))), 100_000)
    except ValueError:
        return 1


# ---- alerts -----------------------------------------------------------------------------------------


def _alert_filter(ev: Event) -> tuple[AlertFilter, dict[str, str]]:
    """The list's filters from the query string; values the page does not offer are ignored."""
    args = {k: request.args.get(k, "").strip() for k in ("state", "kind", "gate", "severity")}
    chosen = {
        "state": args["state"] if args["state"] in AlertState._value2member_map_ else "",
        "kind": args["kind"] if args["kind"] in {k.value for k in ALERT_KINDS} else "",
        "gate": args["gate"][:64],
        "severity": args["severity"] if args["severity"] in Severity._value2member_map_ else "",
    }
    wanted = AlertFilter(
        ev.id,
        states=frozenset({AlertState(chosen["state"])}) if chosen["state"] else frozenset(),
        kinds=frozenset({chosen["kind"]}) if chosen["kind"] else frozenset(),
        severities=frozenset({Severity(chosen["severity"])}) if chosen["severity"] else frozenset(),
        device_id=chosen["gate"],
    )
    return wanted, chosen


def _alerts_page(ev: Event, errors: dict[int, str] | None = None, status: int = 200) -> ResponseReturnValue:
    wanted, chosen = _alert_filter(ev)
    page = _page()
    found = alertdesk.alert_page(store(), wanted, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template(
        "audit/alerts.html",
        event=ev,
        alerts=found.rows,
        total=found.total,
        page=page,
        pages=max(1, -(-found.total // PAGE_SIZE)),
        chosen=chosen,
        filters={k: v for k, v in chosen.items() if v},
        kinds=ALERT_KINDS,
        states=tuple(AlertState),
        severities=SEVERITY_ORDER,
        open_counts=alertdesk.open_counts(store(), ev.id),
        gates=stored_devices.devices(store(), ev.id),
        errors=errors or {},
        back=request.full_path.rstrip("?"),
    ), status


@bp.route("/events/<event_id>/alerts")
@allow(AUDIT)
def alerts(event_id: str) -> ResponseReturnValue:
    """The event's alerts, newest first, filtered by state, kind, severity and gate."""
    return _alerts_page(_event_or_404(event_id))


@bp.route("/events/<event_id>/alerts/<int:alert_id>/<any(acknowledge, resolve):move>", methods=["POST"])
@allow(AUDIT)
def alert_move(event_id: str, alert_id: int, move: str) -> ResponseReturnValue:
    """Acknowledge an open alert, or resolve one with a note (each move kept in the activity log)."""
    ev = _event_or_404(event_id)
    held = alertdesk.alert(store(), alert_id)
    if held is None or held.event_id != ev.id:
        abort(404)
    act = alertdesk.acknowledge if move == "acknowledge" else alertdesk.resolve
    try:
        act(store(), alert_id, request.form.get("note", ""), current_user().username, now())
    except InputError as refused:
        status = 409 if refused.reason is Reason.ALERT_STATE_CONFLICT else 400
        return _alerts_page(ev, {alert_id: describe(refused)}, status)
    flash(_moved_text(move, alert_id), "ok")
    back = request.form.get("back")
    return redirect(auth.safe_next(back) if back else url_for(".alerts", event_id=ev.id), 303)


def _moved_text(move: str, alert_id: int) -> str:
    from checkin.web.i18n import gettext as _

    if move == "acknowledge":
        return _("Alert #%(id)d acknowledged.", id=alert_id)
    return _("Alert #%(id)d resolved.", id=alert_id)


@bp.route("/events/<event_id>/alerts.<any(csv, json):fmt>")
@allow(AUDIT)
def alerts_export(event_id: str, fmt: str) -> ResponseReturnValue:
    """The alerts the list's filters match, oldest first, as CSV (spreadsheet-safe) or JSON."""
    ev = _event_or_404(event_id)
    wanted, _chosen = _alert_filter(ev)
    rows = alertdesk.all_alerts(store(), wanted)
    if fmt == "csv":
        return _download(scansearch.alerts_csv(rows, ev.timezone), f"{ev.id}-alerts.csv", "text/csv; charset=utf-8")
    return _download(scansearch.alerts_json(ev.id, ev.timezone, rows), f"{ev.id}-alerts.json", "application/json")


# ---- scans ------------------------------------------------------------------------------------------


def _named_screening() -> bool:
    """True when the user may see a named guest's screening outcome: administrators only (issue 11,
    item 5); officers keep the screening figures of the dashboard, counts without names."""
    return auth.can(ADMIN_ONLY)


def _typed_filters() -> dict[str, str]:
    return {name: request.args.get(name, "").strip()[: scansearch.TEXT_LIMIT] for name in scansearch.FILTERS}


@bp.route("/events/<event_id>/scans")
@allow(AUDIT)
def scans(event_id: str) -> ResponseReturnValue:
    """Search the event's scans: time range (local), gate, zone, verdict, reason, guest name without
    diacritics, code id or short code; newest first, a page at a time."""
    ev = _event_or_404(event_id)
    typed = _typed_filters()
    errors: dict[str, str] = {}
    found = None
    named = _named_screening()
    try:
        query = scansearch.parse_filter(ev, typed, screening=named)
    except FieldsInvalid as refused:
        errors = refused.texts(language())
    else:
        after = Cursor.parse(request.args.get("after", ""))
        found = scan_search.search(store(), query, after=after, limit=PAGE_SIZE)
        found = replace(found, rows=list(scansearch.as_seen(found.rows, screening=named)))
    filters = {k: v for k, v in typed.items() if v}
    return render_template(
        "audit/scans.html",
        event=ev,
        typed=typed,
        filters=filters,
        errors=errors,
        found=found,
        first_page="after" not in request.args,
        gates=stored_devices.devices(store(), ev.id),
        verdicts=tuple(Verdict),
        reasons=SCAN_REASONS if named else tuple(r for r in SCAN_REASONS if r not in scansearch.SCREENING_REASONS),
        named_screening=named,
    ), 400 if errors else 200


@bp.route("/events/<event_id>/scans.<any(csv, json):fmt>")
@allow(AUDIT)
def scans_export(event_id: str, fmt: str) -> ResponseReturnValue:
    """Every scan the search's filters match, oldest first, streamed as CSV or JSON."""
    ev = _event_or_404(event_id)
    named = _named_screening()
    try:
        query = scansearch.parse_filter(ev, _typed_filters(), screening=named)
    except FieldsInvalid as refused:
        return Response("\n".join(refused.texts(language()).values()) + "\n", 400, mimetype="text/plain")
    rows = scan_search.stream(store(), query)
    if fmt == "csv":
        pieces = scansearch.scans_csv(rows, ev.timezone, screening=named)
        return _download(pieces, f"{ev.id}-scans.csv", "text/csv; charset=utf-8")
    return _download(scansearch.scans_json(ev, query, rows, screening=named), f"{ev.id}-scans.json", "application/json")


def _download(pieces: Iterator[str], name: str, mimetype: str) -> Response:
    if name.endswith(".csv"):
        pieces = itertools.chain(("\ufeff",), pieces)  # a byte order mark: Excel reads Vietnamese names right
    response = Response(pieces, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"  # guests' names and movements
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---- a guest's timeline -----------------------------------------------------------------------------


@bp.route("/events/<event_id>/guests/<int:guest_id>")
@allow(AUDIT)
def timeline(event_id: str, guest_id: int) -> ResponseReturnValue:
    """Every scan of every code of one guest, oldest first: where they went, when, and what the gate said."""
    ev = _event_or_404(event_id)
    try:
        guest = stored_guests.guest(store(), guest_id)
    except InputError:
        abort(404)
    if guest.event_id != ev.id:
        abort(404)
    return render_template(
        "audit/timeline.html",
        event=ev,
        guest=guest,
        credentials=stored_guests.guest_credentials(store(), guest.id),
        rows=list(scansearch.as_seen(scan_search.timeline(store(), ev.id, guest.id), screening=_named_screening())),
    )
