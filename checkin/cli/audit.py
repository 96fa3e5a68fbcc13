"""`checkin audit`: the security officer's commands (alerts, exports of scans and alerts).

The queries are the audit pages' own (`services.alertdesk`, `services.scansearch`,
`store.scan_search`): a filter typed here finds what the same filter finds on the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import click

from checkin.cli._context import Context, pass_ctx


@click.group()
def audit() -> None:
    """Security audit: alerts, exports of scans and alerts."""


@audit.command("alerts")
@click.option("--event", "event_id", help="only this event's alerts")
@click.option("--open", "only_open", is_flag=True, help="only alerts nobody has acknowledged or resolved")
@pass_ctx
def audit_alerts(ctx: Context, event_id: str | None, only_open: bool) -> None:
    """List alerts, newest first: id, event, gate, kind, severity, state, time, row, detail."""
    from checkin.services import alertdesk
    from checkin.services.findings import AlertState
    from checkin.store import events

    cfg = ctx.config()
    store = ctx.store(cfg)
    if event_id is not None:
        events.event(store, event_id)  # a wrong event is an error, not an empty list
    states = frozenset({AlertState.OPEN}) if only_open else frozenset()
    page = alertdesk.alert_page(store, alertdesk.AlertFilter(event_id, states=states), limit=None)
    line = "{:>6}  {:16}  {:16}  {:16}  {:8}  {:12}  {:25}  {:>8}  {}"
    click.echo(line.format("id", "event", "gate", "kind", "severity", "state", "raised", "row", "detail"))
    for row in page.rows:
        a = row.alert
        severity = alertdesk.severity_of(a.kind).value  # coordinator: use alerts.severity at merge
        seq = "-" if a.seq is None else f"#{a.seq}"
        gate = row.gate or a.device_id or "-"
        click.echo(
            line.format(a.id, a.event_id, gate[:16], a.kind, severity, a.state, a.created.isoformat(), seq, a.detail)
        )
    click.echo(f"{page.total} alerts{' open' if only_open else ''}", err=True)


@audit.command("export")
@click.option("--event", "event_id", required=True)
@click.option("--format", "fmt", type=click.Choice(("csv", "json")), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="file to write (0600)")
@click.option("--what", type=click.Choice(("scans", "alerts")), default="scans", show_default=True)
@click.option("--since", default="", help="scans from this time (ISO, the event's zone unless it says)")
@click.option("--until", default="", help="scans before this time")
@click.option("--gate", default="", help="a gate's device id")
@click.option("--zone", default="")
@click.option("--verdict", default="", help="admit, deny or refer")
@click.option("--reason", default="", help="a reason code, e.g. already_inside")
@click.option("--name", default="", help="guest name, diacritics optional")
@click.option("--code", default="", help="start of a code id (hex) or a short code")
@click.option("--open", "only_open", is_flag=True, help="alerts: only open ones")
@pass_ctx
def audit_export(
    ctx: Context,
    /,
    event_id: str,
    fmt: str,
    out: Path,
    what: str,
    only_open: bool,
    **filters: str,
) -> None:
    """Export an event's scans (oldest first, with the search's filters) or its alerts, as CSV safe for
    spreadsheets or as JSON; written as it is read, into a new file readable by you only."""
    from checkin import files
    from checkin.services import alertdesk, scansearch
    from checkin.services.findings import AlertState
    from checkin.store import events, scan_search

    cfg = ctx.config()
    store = ctx.store(cfg)
    ev = events.event(store, event_id)
    tally = _Tally()
    count = tally.through

    if what == "alerts":
        states = frozenset({AlertState.OPEN}) if only_open else frozenset()
        alerts = count(alertdesk.all_alerts(store, alertdesk.AlertFilter(ev.id, states=states)))
        if fmt == "csv":
            pieces = scansearch.alerts_csv(alerts, ev.timezone)
        else:
            pieces = scansearch.alerts_json(ev.id, ev.timezone, alerts)
    else:
        query = scansearch.parse_filter(ev, filters)
        scans = count(scan_search.stream(store, query))
        pieces = scansearch.scans_csv(scans, ev.timezone) if fmt == "csv" else scansearch.scans_json(ev, query, scans)
    files.write_text(out, pieces, bom=fmt == "csv")
    click.echo(f"wrote {tally.count} {what} to {out}")


T = TypeVar("T")


class _Tally:
    """Counts what passes through it on its way to the file."""

    def __init__(self) -> None:
        self.count = 0

    def through(self, rows: Iterable[T]) -> Iterator[T]:
        for row in rows:
            self.count += 1
            yield row
