"""`checkin event`: events and their zones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from checkin import config as config_mod
from checkin.cli._context import Context, actor, pass_ctx, zones
from checkin.core.clock import parse_time
from checkin.core.errors import InputError

if TYPE_CHECKING:
    from checkin.core.trust import Label


@click.group()
def event() -> None:
    """Events and their zones."""


_ZONE_HELP = 'a zone with its names, repeatable: --zone hall="Hội trường/Main hall"'
_CATEGORY_HELP = 'a category with its names, repeatable: --category delegate="Đại biểu/Delegate"'


def _labelled(
    zone_list: str | None,
    named: tuple[str, ...],
    current: tuple[str, ...] = (),
    current_names: Mapping[str, Label] = {},
) -> tuple[tuple[str, ...], dict[str, Label]]:
    """Zones from --zones A,B and --zone CODE=VI/EN (both in order); with neither, the current ones."""
    from checkin.services.events import parse_labels

    if zone_list is None and not named:
        return current, dict(current_names)
    codes, names = parse_labels("\n".join([", ".join(zones(zone_list)), *named]))
    return codes, names


def _categories(named: tuple[str, ...], current: Mapping[str, Label] = {}) -> dict[str, Label]:
    from checkin.core.trust import Label
    from checkin.services.events import CATEGORY_CODE, parse_labels

    if not named:
        return dict(current)
    codes, names = parse_labels("\n".join(named), CATEGORY_CODE)
    return {c: names.get(c, Label()) for c in codes}


@event.command("create")
@click.option("--id", "event_id", required=True, help="short stable id, e.g. cds-hd-2022")
@click.option("--name", required=True)
@click.option("--start", required=True, metavar="ISO")
@click.option("--end", required=True, metavar="ISO")
@click.option("--zones", "zone_list", metavar="A,B", help="zone codes (default: hall)")
@click.option("--zone", "named_zones", multiple=True, metavar="CODE=VI/EN", help=_ZONE_HELP)
@click.option("--category", "named_categories", multiple=True, metavar="CODE=VI/EN", help=_CATEGORY_HELP)
@click.option("--timezone", metavar="TZ", help="IANA time zone (default: the deployment's)")
@click.option("--venue", default="")
@pass_ctx
def event_create(
    ctx: Context,
    event_id: str,
    name: str,
    start: str,
    end: str,
    zone_list: str | None,
    named_zones: tuple[str, ...],
    named_categories: tuple[str, ...],
    timezone: str | None,
    venue: str,
) -> None:
    """Create an event; times without a zone are read in the event's time zone."""
    from checkin.services import events
    from checkin.store.events import NewEvent

    cfg = ctx.config()
    tz = _timezone(cfg, timezone or cfg.deployment.timezone)
    codes, names = _labelled(zone_list, named_zones, ("hall",))
    new = NewEvent(
        id=event_id.strip(),
        name=name.strip(),
        start=parse_time(start, tz, "--start"),
        end=parse_time(end, tz, "--end"),
        timezone=tz,
        zones=codes,
        venue=venue.strip(),
        zone_names=names,
        category_names=_categories(named_categories),
    )
    if not new.id or not new.id.replace("-", "").replace("_", "").isalnum():
        raise InputError("--id must be letters, digits, - and _ only")
    row = events.create_event(ctx.store(cfg), new, ctx.now(cfg))
    click.echo(f"event {row.id}: {row.name}, zones {_zones_line(row)}")


@event.command("edit")
@click.option("--id", "event_id", required=True, help="the event to change (its id stays)")
@click.option("--name")
@click.option("--start", metavar="ISO")
@click.option("--end", metavar="ISO")
@click.option("--zones", "zone_list", metavar="A,B", help="the new zone list (a zone still in use cannot go)")
@click.option("--zone", "named_zones", multiple=True, metavar="CODE=VI/EN", help=_ZONE_HELP)
@click.option("--category", "named_categories", multiple=True, metavar="CODE=VI/EN", help=_CATEGORY_HELP)
@click.option("--timezone", metavar="TZ")
@click.option("--venue")
@pass_ctx
def event_edit(
    ctx: Context,
    event_id: str,
    name: str | None,
    start: str | None,
    end: str | None,
    zone_list: str | None,
    named_zones: tuple[str, ...],
    named_categories: tuple[str, ...],
    timezone: str | None,
    venue: str | None,
) -> None:
    """Change an event: what is not given stays; gates receive the change with their next bundle."""
    from checkin.core.trust import Label
    from checkin.services import events
    from checkin.store import events as stored
    from checkin.store.events import NewEvent

    cfg = ctx.config()
    store = ctx.store(cfg)
    row = stored.event(store, event_id.strip())
    tz = _timezone(cfg, timezone or row.timezone)
    codes, names = _labelled(zone_list, named_zones, row.zone_codes, row.zone_names)
    changed = NewEvent(
        id=row.id,
        name=row.name if name is None else name.strip(),
        start=row.start if start is None else parse_time(start, tz, "--start"),
        end=row.end if end is None else parse_time(end, tz, "--end"),
        timezone=tz,
        zones=codes,
        venue=row.venue if venue is None else venue.strip(),
        zone_names=names,
        category_names=_categories(named_categories, {c.code: Label(c.name_vi, c.name_en) for c in row.categories}),
    )
    row = events.update_event(store, changed, ctx.now(cfg), actor=actor())
    click.echo(f"event {row.id}: {row.name}, zones {_zones_line(row)}; gates get it with their next bundle")


def _timezone(cfg: Any, tz: str) -> str:
    config_mod.parse(f'[deployment]\ntimezone = "{tz}"\n', root=cfg.root, source="--timezone")
    return tz


def _zones_line(row: Any) -> str:
    names = row.zone_names
    return ", ".join(f"{z} ({names[z].vi} / {names[z].en})" if z in names else z for z in row.zone_codes)


@event.command("list")
@pass_ctx
def event_list(ctx: Context) -> None:
    """List events."""
    from checkin.store import events

    cfg = ctx.config()
    for row in events.events(ctx.store(cfg)):
        click.echo(f"{row.id:24} {row.start.isoformat()}  {row.name}  [{', '.join(row.zone_codes)}]")
