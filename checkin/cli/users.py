"""`checkin user`: staff accounts for the admin pages. There is no default password anywhere."""

from __future__ import annotations

import getpass
import os
import sys

import click

from checkin.cli._context import Context, pass_ctx
from checkin.clikit import LazyChoice
from checkin.core.errors import InputError, Reason

PASSWORD_ENV = "CHECKIN_USER_PASSWORD"  # noqa: S105 - the variable name, not a secret


def _roles() -> list[str]:
    from checkin.store import users as stored

    return [r.value for r in stored.Role]


def _password(generate: bool) -> str:
    if generate:
        from checkin.store import users as stored

        return stored.generate_secret()
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


@click.group()
def user() -> None:
    """Staff accounts: admin, registrar, officer."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=LazyChoice(_roles), help="what the user may do")
@click.option("--generate", is_flag=True, help="generate a strong password and print it once, as the last line")
@pass_ctx
def user_add(ctx: Context, name: str, role: str, generate: bool) -> None:
    """Add a user; the password comes from $CHECKIN_USER_PASSWORD, a prompt, or --generate."""
    from checkin.store import users as stored

    cfg = ctx.config()
    password = _password(generate)
    created = stored.create_user(ctx.store(cfg), name, stored.Role(role), password, ctx.now(cfg), actor="cli")
    click.echo(f"user {created.username} ({created.role}) added", err=generate)
    if generate:
        click.echo(password)


@user.command("list")
@pass_ctx
def user_list(ctx: Context) -> None:
    """Show every user: name, role, state, live sessions."""
    from checkin.store import sessions
    from checkin.store import users as stored

    cfg = ctx.config()
    now, store = ctx.now(cfg), ctx.store(cfg)
    for row in stored.users(store):
        state = "active" if row.active else "disabled"
        click.echo(f"{row.username:24} {row.role:10} {state:9} {sessions.live_count(store, row.id, now)} sessions")


@user.command("logout-all")
@click.argument("name")
@pass_ctx
def user_logout_all(ctx: Context, name: str) -> None:
    """End every session of a user at once (a lost phone, a password seen by someone else)."""
    from checkin.store import users as stored

    cfg = ctx.config()
    store = ctx.store(cfg)
    found = stored.user_by_name(store, name)
    if found is None:
        raise InputError(f"no user {name!r}", Reason.NOT_FOUND)
    ended = stored.log_out_everywhere(store, found.id, ctx.now(cfg), actor="cli")
    click.echo(f"{ended} sessions of {found.username} ended")
