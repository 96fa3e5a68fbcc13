"""`checkin token`: API tokens for registration systems that issue codes through the API."""

from __future__ import annotations

from collections.abc import Callable

import click

from checkin.cli._context import Context, pass_ctx
from checkin.clikit import LazyChoice


def _roles() -> list[str]:
    from checkin.store import tokens as stored

    return [r.value for r in stored.TOKEN_ROLES]


@click.group()
def token() -> None:
    """API tokens for registration systems that issue codes through the API."""


def _scope_options(command: Callable[..., None]) -> Callable[..., None]:
    """--event (one or more, required), --category and --zone: what a token may issue."""
    for option in reversed(
        [
            click.option("--event", "events", multiple=True, required=True, help="an event it issues for (repeat)"),
            click.option("--category", "categories", multiple=True, help="only guests of this category (repeat)"),
            click.option("--zone", "zones", multiple=True, help="only codes for this zone (repeat)"),
        ]
    ):
        command = option(command)
    return command


@token.command("add")
@click.argument("name")
@click.option("--role", default="registrar", show_default=True, type=LazyChoice(_roles))
@_scope_options
@pass_ctx
def token_add(
    ctx: Context, name: str, role: str, events: tuple[str, ...], categories: tuple[str, ...], zones: tuple[str, ...]
) -> None:
    """Make a token for some events (categories, zones); it is printed once, as the last line, and stored
    only as a hash."""
    from checkin.store import tokens as stored
    from checkin.store.users import Role

    cfg = ctx.config()
    scope = stored.TokenScope(events, categories, zones)
    row, secret = stored.create_api_token(ctx.store(cfg), name, Role(role), ctx.now(cfg), actor="cli", scope=scope)
    click.echo(f"API token {row.name} ({row.role}); send it as `Authorization: Bearer <token>`", err=True)
    click.echo(secret)


@token.command("scope")
@click.argument("name")
@_scope_options
@pass_ctx
def token_scope(
    ctx: Context, name: str, events: tuple[str, ...], categories: tuple[str, ...], zones: tuple[str, ...]
) -> None:
    """Set what a token may issue (replacing its scope); a token made before scopes issues nothing until then."""
    from checkin.store import tokens as stored

    cfg = ctx.config()
    scope = stored.TokenScope(events, categories, zones)
    done = stored.scope_api_token(ctx.store(cfg), name, scope, ctx.now(cfg), actor="cli")
    click.echo(f"API token {name}: {done.describe()}")


@token.command("list")
@pass_ctx
def token_list(ctx: Context) -> None:
    """Show every API token: name, role, created, state and scope (never the secret)."""
    from checkin.store import tokens as stored

    cfg = ctx.config()
    for row, scope in stored.api_tokens(ctx.store(cfg)):
        state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
        click.echo(f"{row.name:24} {row.role:10} {row.created.isoformat():26} {state:8} {scope.describe()}")


@token.command("revoke")
@click.argument("name")
@pass_ctx
def token_revoke(ctx: Context, name: str) -> None:
    """Revoke a token: it fails from the next request on."""
    from checkin.store import tokens as stored

    cfg = ctx.config()
    row = stored.revoke_api_token(ctx.store(cfg), name, ctx.now(cfg), actor="cli")
    click.echo(f"API token {row.name} revoked")
