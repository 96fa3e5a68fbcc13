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
    """Show every user: name, role, state."""
    from checkin.store import users as stored

    cfg = ctx.config()
    now = ctx.now(cfg)
    for row in stored.users(ctx.store(cfg)):
        state = "disabled" if not row.active else "locked" if stored.is_locked(row, now) else "active"
        click.echo(f"{row.username:24} {row.role:10} {state}")
