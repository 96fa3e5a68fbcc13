"""`checkin user`: staff accounts for the admin pages. There is no default password anywhere."""

from __future__ import annotations

import getpass
import os
import sys

import click

from checkin.cli import Context, main, pass_ctx
from checkin.core.errors import InputError, Reason
from checkin.store import Store, people
from checkin.store.people import Role

PASSWORD_ENV = "CHECKIN_USER_PASSWORD"  # noqa: S105 - the variable name, not a secret


def _password(generate: bool) -> str:
    if generate:
        return people.generate_secret()
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise InputError(
            f"no password: set {PASSWORD_ENV}, run in a terminal, or pass --generate", Reason.WEAK_PASSWORD
        )
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise InputError("the two passwords differ", Reason.WEAK_PASSWORD)
    return first


@main.group()
def user() -> None:
    """Staff accounts: admin, registrar, officer."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="what the user may do")
@click.option("--generate", is_flag=True, help="generate a strong password and print it once, as the last line")
@pass_ctx
def user_add(ctx: Context, name: str, role: str, generate: bool) -> None:
    """Add a user; the password comes from $CHECKIN_USER_PASSWORD, a prompt, or --generate."""
    cfg = ctx.config()
    password = _password(generate)
    created = people.create_user(Store(cfg.database_url), name, Role(role), password, ctx.now(cfg), actor="cli")
    click.echo(f"user {created.username} ({created.role}) added", err=generate)
    if generate:
        click.echo(password)


@user.command("list")
@pass_ctx
def user_list(ctx: Context) -> None:
    """Show every user: name, role, state."""
    cfg = ctx.config()
    now = ctx.now(cfg)
    for row in people.users(Store(cfg.database_url)):
        state = "disabled" if not row.active else "locked" if people.is_locked(row, now) else "active"
        click.echo(f"{row.username:24} {row.role:10} {state}")


@main.group()
def token() -> None:
    """API tokens for registration systems that issue codes through the API."""


@token.command("add")
@click.argument("name")
@click.option(
    "--role", default="registrar", show_default=True, type=click.Choice([r.value for r in people.TOKEN_ROLES])
)
@pass_ctx
def token_add(ctx: Context, name: str, role: str) -> None:
    """Make a token; it is printed once, as the last line, and stored only as a hash."""
    cfg = ctx.config()
    row, secret = people.create_api_token(Store(cfg.database_url), name, Role(role), ctx.now(cfg), actor="cli")
    click.echo(f"API token {row.name} ({row.role}); send it as `Authorization: Bearer <token>`", err=True)
    click.echo(secret)


@token.command("list")
@pass_ctx
def token_list(ctx: Context) -> None:
    """Show every API token: name, role, created, state (never the secret)."""
    cfg = ctx.config()
    for row in people.api_tokens(Store(cfg.database_url)):
        state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
        click.echo(f"{row.name:24} {row.role:10} {row.created.isoformat():26} {state}")


@token.command("revoke")
@click.argument("name")
@pass_ctx
def token_revoke(ctx: Context, name: str) -> None:
    """Revoke a token: it fails from the next request on."""
    cfg = ctx.config()
    row = people.revoke_api_token(Store(cfg.database_url), name, ctx.now(cfg), actor="cli")
    click.echo(f"API token {row.name} revoked")
