"""`checkin issue` (one ticket, or one per row of a guest list) and `checkin revoke` (one credential)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from checkin.cli._context import Context, pass_ctx, zones
from checkin.cli.keys import signing_key
from checkin.config import Config
from checkin.core.clock import parse_time
from checkin.core.errors import InputError

if TYPE_CHECKING:
    from checkin.store import Event, Store


@click.command()
@click.option("--event", "event_id", required=True)
@click.option("--name")
@click.option("--org", "organisation", default="")
@click.option("--category", default="")
@click.option("--zones", "zone_list", metavar="A,B")
@click.option("--email", default="")
@click.option("--valid-from", metavar="ISO")
@click.option("--valid-until", metavar="ISO")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def issue(
    ctx: Context,
    event_id: str,
    name: str | None,
    organisation: str,
    category: str,
    zone_list: str | None,
    email: str,
    valid_from: str | None,
    valid_until: str | None,
    png_path: Path | None,
    svg_path: Path | None,
    csv_path: Path | None,
    out_dir: Path | None,
) -> None:
    """Issue one ticket (--name), printing its CK1 text last, or one per row of --csv into --out."""
    from checkin import files, qr
    from checkin.services import issuing
    from checkin.store import events, guests

    cfg = ctx.config()
    store = ctx.store(cfg)
    ev = events.event(store, event_id)
    now = ctx.now(cfg)
    window = issuing.ticket_window(ev, cfg.issuing.valid_before_event_hours, cfg.issuing.valid_after_event_hours)
    if valid_from:
        window = (parse_time(valid_from, ev.timezone, "--valid-from"), window[1])
    if valid_until:
        window = (window[0], parse_time(valid_until, ev.timezone, "--valid-until"))
    if window[1] <= now:
        raise InputError(f"the tickets would expire at {window[1].isoformat()}, before now; give --valid-until")
    if (csv_path is None) == (name is None):
        raise InputError("give either --name for one ticket or --csv FILE --out DIR for a list")
    if csv_path is not None:
        _issue_csv(cfg, store, ev, csv_path, out_dir or cfg.output_dir / ev.id, window, now)
        return
    assert name is not None
    row = guests.GuestRow(0, name, organisation, category, zones(zone_list) or ev.zone_codes[:1], email)
    unknown = [z for z in row.zones if z not in ev.zone_codes]
    if unknown:
        raise InputError(f"unknown zone(s) {', '.join(unknown)}; the event has {', '.join(ev.zone_codes)}")
    kid, key = signing_key(cfg)
    issued, errors = issuing.sign_rows(
        [row], issuer=cfg.deployment.id, event=ev, key=key, kid=kid, window=window, now=now
    )
    if errors:
        raise InputError(errors[0].text())
    item = issued[0]
    issuing.record(store, issued, kid, now)
    if png_path:  # a code is a ticket: its files are the owner's alone
        files.write_private(png_path, qr.png(item.text, scale=cfg.qr.scale, border=cfg.qr.border))
    if svg_path:
        files.write_private(svg_path, qr.svg(item.text, border=cfg.qr.border).encode())
    click.echo(f"credential {item.credential.id_hex} for {item.credential.name}", err=True)
    click.echo(item.text)


def _issue_csv(
    cfg: Config,
    store: Store,
    ev: Event,
    path: Path,
    out: Path,
    window: tuple[datetime, datetime],
    now: datetime,
) -> None:
    from checkin import files
    from checkin.services import guestlist, issuing

    rows, errors = guestlist.read_guest_csv(path.read_bytes(), ev.zone_codes)
    kid, key = signing_key(cfg)
    issued, sign_errors = issuing.sign_rows(
        rows, issuer=cfg.deployment.id, event=ev, key=key, kid=kid, window=window, now=now
    )
    errors = sorted([*errors, *sign_errors], key=lambda e: e.line)
    for error in errors:
        click.echo(f"{path}: {error}", err=True)
    if not issued:
        raise InputError(f"no ticket issued: all {len(errors)} rows of {path} were refused")
    issuing.record(store, issued, kid, now)
    sheet = issuing.render(issued, out, scale=cfg.qr.scale, border=cfg.qr.border, event_name=ev.name)
    files.write_atomic(out / "badges.pdf", sheet, files.PRIVATE_FILE)
    issuing.write_index(out / "index.csv", issued)
    click.echo(f"issued {len(issued)} tickets into {out} (PNGs, badges.pdf, index.csv); {len(errors)} rows refused")


@click.command()
@click.argument("credential_id")
@click.option("--reason", default="", help="why, for the audit log")
@pass_ctx
def revoke(ctx: Context, credential_id: str, reason: str) -> None:
    """Revoke one credential (id or a unique prefix); gates refuse it from the next bundle on."""
    from checkin.store import guests

    cfg = ctx.config()
    row = guests.revoke(ctx.store(cfg), credential_id, reason, ctx.now(cfg))
    click.echo(f"revoked {row.cti} ({row.name}); export new bundles for the gates")
