"""The security officer's pages (officers and administrators; registrars never see them): the live
dashboard of an event, and each gate's page.

Read only, server-rendered; the dashboard refreshes itself every 30 seconds with a small script of
our own (static/audit.js) while the tab is visible. Everything shown comes from the counters kept at
ingest (`checkin.store.counters`), so a page costs the same at any number of scans.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask.typing import ResponseReturnValue

from checkin.core.errors import InputError
from checkin.services import dashboard as dashboards
from checkin.store import Event, counters, reports
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.web import auth
from checkin.web.auth import AUDIT, allow
from checkin.web.charts import Chart, TimeAxis, line_chart, time_axis
from checkin.web.context import now, store
from checkin.web.formatting import local_time

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(auth.guard)

REFRESH_SECONDS = 30


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
