"""`checkin event`: events and their zones."""

from __future__ import annotations

import click

from checkin import config as config_mod
from checkin.cli._context import Context, pass_ctx, zones
from checkin.core.clock import parse_time
from checkin.core.errors import InputError


@click.group()
def event() -> None:
    """Events and their zones."""


@event.command("create")
@click.option("--id", "event_id", required=True, help="short stable id, e.g. cds-hd-2022")
@click.option("--name", required=True)
@click.option("--start", required=True, metavar="ISO")
@click.option("--end", required=True, metavar="ISO")
@click.option("--zones", "zone_list", default="hall", show_default=True, metavar="A,B")
@click.option("--timezone", metavar="TZ", help="IANA time zone (default: the deployment's)")
@click.option("--venue", default="")
@pass_ctx
def event_create(
    ctx: Context, event_id: str, name: str, start: str, end: str, zone_list: str, timezone: str | None, venue: str
) -> None:
    """Create an event; times without a zone are read in the event's time zone."""
    from checkin.services import events
    from checkin.store.events import NewEvent

    cfg = ctx.config()
    tz = timezone or cfg.deployment.timezone
    config_mod.parse(f'[deployment]\ntimezone = "{tz}"\n', root=cfg.root, source="--timezone")
    new = NewEvent(
        id=event_id.strip(),
        name=name.strip(),
        start=parse_time(start, tz, "--start"),
        end=parse_time(end, tz, "--end"),
        timezone=tz,
        zones=zones(zone_list),
        venue=venue.strip(),
    )
    if not new.id or not new.id.replace("-", "").replace("_", "").isalnum():
        raise InputError("--id must be letters, digits, - and _ only")
    row = events.create_event(ctx.store(cfg), new, ctx.now(cfg))
    click.echo(f"event {row.id}: {row.name}, zones {', '.join(row.zone_codes)}")


@event.command("list")
@pass_ctx
def event_list(ctx: Context) -> None:
    """List events."""
    from checkin.store import events

    cfg = ctx.config()
    for row in events.events(ctx.store(cfg)):
        click.echo(f"{row.id:24} {row.start.isoformat()}  {row.name}  [{', '.join(row.zone_codes)}]")
