"""`checkin guest list|show` and `checkin credential list`: find a guest's code, its id and short code."""

from __future__ import annotations

import click

from checkin.cli._context import Context, pass_ctx, short

STATUSES = ("active", "revoked")


@click.group()
def guest() -> None:
    """Guests: list and search them, show one with their codes."""


@guest.command("list")
@click.option("--event", "event_id", required=True)
@click.option("--search", default="", help="name, organisation, e-mail, code id or short code; best matches first")
@click.option("--limit", type=click.IntRange(1), default=None, help="show the first N")
@pass_ctx
def guest_list(ctx: Context, event_id: str, search: str, limit: int | None) -> None:
    """List an event's guests: id, short code and state of their newest code, name, organisation."""
    from checkin.store import events, guests

    cfg = ctx.config()
    store = ctx.store(cfg)
    events.event(store, event_id)  # a wrong event is an error, not an empty list
    found = guests.guest_page(store, event_id, search, limit=limit)
    for view in found.views:
        code = f"{short(view.cti)} {view.status}" if view.cti and view.status else "(no code)"
        org = f"  ({view.guest.organisation})" if view.guest.organisation else ""
        click.echo(f"{view.guest.id:>6}  {code:<20} {view.guest.name}{org}")
    click.echo(f"{len(found.views)} of {found.total} guests; {found.pending} without a code", err=True)


@guest.command("show")
@click.argument("guest_id", type=int)
@pass_ctx
def guest_show(ctx: Context, guest_id: int) -> None:
    """One guest's details and every code issued to them (id, short code, state), newest first."""
    from checkin.store import guests

    cfg = ctx.config()
    store = ctx.store(cfg)
    row = guests.guest(store, guest_id)
    click.echo(f"guest {row.id} of event {row.event_id}: {row.name}")
    for label, value in (("organisation", row.organisation), ("category", row.category), ("zones", row.zones),
                         ("e-mail", row.email)):  # fmt: skip
        if value:
            click.echo(f"  {label}: {value}")
    for cred in guests.guest_credentials(store, guest_id):
        why = f" ({cred.reason})" if cred.reason else ""
        click.echo(f"  code {short(cred.cti)}  id {cred.cti}  {cred.status}{why}  issued {cred.issued_at.isoformat()}")
    click.echo(f"revoke a code with: {ctx.command('revoke', 'SHORT-CODE-OR-ID')}", err=True)


@click.group()
def credential() -> None:
    """Issued credentials (codes): list them with their ids and short codes."""


@credential.command("list")
@click.option("--event", "event_id", required=True)
@click.option("--status", type=click.Choice(STATUSES), default=None)
@pass_ctx
def credential_list(ctx: Context, event_id: str, status: str | None) -> None:
    """List an event's codes in the order issued: short code, id, state, guest."""
    from checkin.store import events, guests
    from checkin.store.models import CredentialStatus

    cfg = ctx.config()
    store = ctx.store(cfg)
    events.event(store, event_id)
    rows = guests.event_credentials(store, event_id, None if status is None else CredentialStatus(status))
    for cred in rows:
        who = f"guest {cred.guest_id}" if cred.guest_id is not None else "no guest"
        click.echo(f"{short(cred.cti)}  {cred.cti}  {cred.status:<8} {who:>12}  {cred.name}")
    click.echo(f"{len(rows)} codes", err=True)
