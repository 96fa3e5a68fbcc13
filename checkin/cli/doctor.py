"""`checkin doctor`: what on this machine would let another local user read the deployment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from checkin import config as config_mod
from checkin import files
from checkin.cli._context import PASSPHRASE_FILE_ENV, Context, pass_ctx, passphrase_file
from checkin.clikit import EXIT_ERROR

# What others may read: the public keys gates pin, and the index of public key facts.
PUBLIC_FILES = frozenset({"root.pub", "keys.json", "report.crt"})  # report.crt: what checks reports
SQLITE_SIBLINGS = ("", "-wal", "-shm", "-journal", ".writer-lock")


@click.command()
@pass_ctx
def doctor(ctx: Context) -> None:
    """Warn, one line each, about deployment files others can read and a passphrase in the environment."""
    from checkin.keystore import PASSPHRASE_ENV

    cfg = ctx.config()
    found = [
        *files.loose_modes(cfg.root, recurse=False),
        *files.loose_modes(config_mod.find(ctx.config_path)),
        *files.loose_modes(cfg.keys_dir, public=PUBLIC_FILES),
        *(found for path in _database_files(cfg.paths.database, cfg.root) for found in files.loose_modes(path)),
        *files.loose_modes(cfg.output_dir),
    ]
    secret_file = passphrase_file()
    if secret_file is not None:
        found.extend(files.loose_modes(secret_file, recurse=False))
    lines = list(dict.fromkeys(item.line() for item in found))  # a path named twice is one warning
    if os.environ.get(PASSPHRASE_ENV):
        lines.append(
            f"warning: ${PASSPHRASE_ENV} is set: every process started from this shell inherits it and "
            f"/proc/<pid>/environ shows it; use --passphrase-file or ${PASSPHRASE_FILE_ENV} (a systemd credential)"
        )
    for line in lines:
        click.echo(line)
    if lines:
        sys.exit(EXIT_ERROR)
    click.echo(f"ok: {cfg.root} and its keys, database and outputs are readable by their owner only")


def _database_files(database: str, root: Path) -> list[Path]:
    """The SQLite database and the files SQLite and the store keep beside it; none for a server URL."""
    if "://" in database:
        return []
    path = root / database
    return [path.with_name(path.name + suffix) for suffix in SQLITE_SIBLINGS]
