"""The `checkin` command: set up, keys, events, issuing, revocation, gate bundles, gates, users, the service.

The root group lives here; each command group is a module of this package that defines its
commands and imports only `_context` (never this module), and this module adds them to the root.
Modules import Flask, SQLAlchemy and the rest inside the commands that need them, so
`checkin --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from checkin.cli import audit, bundles, db, doctor, events, gates, guests, issue, keys, serve, tokens, users
from checkin.cli._context import PASSPHRASE_FILE_ENV, Context
from checkin.clikit import run_guarded
from checkin.core.clock import parse_time


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="config file (else $CHECKIN_CONFIG, ./config.toml)")
@click.option("-v", "--verbose", is_flag=True, help="show details, tracebacks included, on errors")
@click.option("--now", "now_text", metavar="ISO", help="act as if it were this time (demos, rehearsals, tests)")
@click.option(
    "--passphrase-file",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"read the key passphrase from this file (else ${PASSPHRASE_FILE_ENV}, a systemd credential, a prompt)",
)
@click.version_option(package_name="checkin")
@click.pass_context
def main(
    ctx: click.Context, config_path: str | None, verbose: bool, now_text: str | None, passphrase_file: Path | None
) -> None:
    """checkin: signed QR credentials for public events (service and administration)."""
    if now_text:
        parse_time(now_text, "UTC", "--now")  # refuse a bad --now even where the time is not needed
    ctx.obj = Context(config_path, verbose, now_text, passphrase_file)


for _command in (
    db.init,
    db.db,
    doctor.doctor,
    keys.keys,
    events.event,
    issue.issue,
    issue.revoke,
    guests.guest,
    guests.credential,
    bundles.bundle,
    gates.gate,
    serve.serve,
    users.user,
    tokens.token,
    audit.audit,
):
    main.add_command(_command)


def run() -> None:
    """Console entry point."""
    run_guarded(main)


if __name__ == "__main__":
    run()
