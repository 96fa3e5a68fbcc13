"""`checkin token`: API tokens for registration systems that issue codes through the API."""

from __future__ import annotations

import click

from checkin.cli._context import Context, pass_ctx
from checkin.clikit import LazyChoice


def _roles() -> list[str]:
    from checkin.store import tokens as stored

    return [r.value for r in stored.TOKEN_ROLES]


@click.group()
def token() -> None:
    """API tokens for registration systems that issue codes through the API."""


@token.command("add")
@click.argument("name")
@click.option("--role", default="registrar", show_default=True, type=LazyChoice(_roles))
@pass_ctx
def token_add(ctx: Context, name: str, role: str) -> None:
    """Make a token; it is printed once, as the last line, and stored only as a hash."""
    from checkin.store import tokens as stored
    from checkin.store.users import Role

    cfg = ctx.config()
    row, secret = stored.create_api_token(ctx.store(cfg), name, Role(role), ctx.now(cfg), actor="cli")
    click.echo(f"API token {row.name} ({row.role}); send it as `Authorization: Bearer <token>`", err=True)
    click.echo(secret)


@token.command("list")
@pass_ctx
def token_list(ctx: Context) -> None:
    """Show every API token: name, role, created, state (never the secret)."""
    from checkin.store import tokens as stored

    cfg = ctx.config()
    for row in stored.api_tokens(ctx.store(cfg)):
        state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
        click.echo(f"{row.name:24} {row.role:10} {row.created.isoformat():26} {state}")


@token.command("revoke")
@click.argument("name")
@pass_ctx
def token_revoke(ctx: Context, name: str) -> None:
    """Revoke a token: it fails from the next request on."""
    from checkin.store import tokens as stored

    cfg = ctx.config()
    row = stored.revoke_api_token(ctx.store(cfg), name, ctx.now(cfg), actor="cli")
    click.echo(f"API token {row.name} revoked")
