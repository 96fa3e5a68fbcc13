"""`checkin init` (a new deployment folder) and `checkin db` (the database schema, migrated explicitly)."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click

from checkin import config as config_mod
from checkin import files
from checkin.cli._context import Context, database_name, pass_ctx
from checkin.clikit import EXIT_ERROR
from checkin.config import Config
from checkin.core.errors import InputError, Reason


def upgrade(ctx: Context, cfg: Config) -> str:
    """Migrate the database to the newest schema; return its name (`init`, `db upgrade` and `serve` call it)."""
    store = ctx.store(cfg, schema=False)
    try:
        store.migrate()
        return database_name(store)
    finally:
        store.dispose()


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--deployment-id", metavar="ID", help="the iss of every ticket (default: from the template)")
@pass_ctx
def init(ctx: Context, directory: Path, deployment_id: str | None) -> None:
    """Create DIR/config.toml, DIR/keys/ and the database."""
    target = directory / config_mod.DEFAULT_NAME
    if target.exists():
        raise InputError(f"{target} already exists; edit it or choose another --dir", Reason.ALREADY_EXISTS)
    files.private_folder(directory)
    template = resources.files("checkin").joinpath("config.example.toml").read_text(encoding="utf-8")
    if deployment_id:
        template = template.replace('id = "hd-stttt"', f'id = "{deployment_id}"', 1)
    cfg = config_mod.parse(template, root=directory.resolve(), source=str(target))
    files.write_new(target, template.encode(), files.PRIVATE_FILE)  # a PostgreSQL URL may hold a password
    files.private_folder(cfg.keys_dir)
    upgrade(ctx, cfg)
    click.echo(f"wrote {target}, {cfg.keys_dir}/ and the database {cfg.paths.database}")
    click.echo(f"next: checkin --config {target} keys init")


@click.group()
def db() -> None:
    """The database schema: migrations are an explicit step (also run by init and serve)."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Migrate the database to the schema this version needs (safe to run again)."""
    from checkin.store.schema import head_revisions

    name = upgrade(ctx, ctx.config())
    click.echo(f"database {name}: schema at {', '.join(sorted(head_revisions()))} (current)")


@db.command("current")
@pass_ctx
def db_current(ctx: Context) -> None:
    """Show the database's schema revision and whether it is current; exit 1 when it is not."""
    from checkin.store.schema import current_revisions, head_revisions

    store = ctx.store(ctx.config(), schema=False)
    try:
        have, want = current_revisions(store.engine), head_revisions()
        name = database_name(store)
    finally:
        store.dispose()
    if have == want:
        click.echo(f"database {name}: schema at {', '.join(sorted(have))} (current)")
        return
    shown = ", ".join(sorted(have)) or "no schema"
    needs = ", ".join(sorted(want))
    click.echo(f"database {name}: {shown}; this version needs {needs}; run: {ctx.command('db', 'upgrade')}")
    sys.exit(EXIT_ERROR)
