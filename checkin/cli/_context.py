"""What every `checkin` command module shares: the context, the passphrase prompt, the database.

The group modules import this, never the root group in `checkin/cli/__init__.py`, so the package
has no import cycle. Nothing heavy (SQLAlchemy, Alembic, Flask, the cryptography behind the key
store) is imported at module level here or in the group modules: `checkin --help` loads them all.
"""

from __future__ import annotations

import getpass
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from checkin import config as config_mod
from checkin.clikit import now_or
from checkin.config import Config
from checkin.core.errors import CheckinError, KeyStoreError, Reason

if TYPE_CHECKING:
    from checkin.keystore import KeyStore
    from checkin.store import Store

PROGRAM = "checkin"


@dataclass
class Context:
    """What every subcommand gets: the config path, verbosity and `now`."""

    config_path: str | None
    verbose: bool
    now_text: str | None
    passphrase_file: Path | None = None

    def config(self) -> Config:
        """The deployment's configuration (--config, else $CHECKIN_CONFIG, else ./config.toml)."""
        return config_mod.load(self.config_path)

    def now(self, cfg: Config) -> datetime:
        """The current time, or --now read in the deployment's time zone."""
        return now_or(self.now_text, cfg.deployment.timezone)

    def command(self, *words: str) -> str:
        """The command line to run another `checkin` command with the same config file."""
        where = ("--config", self.config_path) if self.config_path else ()
        return shlex.join((PROGRAM, *where, *words))

    def store(self, cfg: Config, *, schema: bool = True) -> Store:
        """The database; with `schema`, only when its schema is current, else one line saying what to run."""
        from sqlalchemy.exc import OperationalError

        from checkin.store import Store

        store = Store(cfg.database_url, keys_dir=cfg.keys_dir)
        try:
            current = store.schema_current()  # also proves the database can be reached
        except OperationalError as error:
            store.dispose()
            reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            raise CheckinError(
                f"cannot open the database at {database_name(store)}: {reason}", Reason.SERVICE_UNAVAILABLE
            ) from None
        if schema and not current:
            store.dispose()
            raise CheckinError(f"{database_name(store)}; run: {self.command('db', 'upgrade')}", Reason.SCHEMA_OUTDATED)
        return store


def database_name(store: Store) -> str:
    """The database as a person names it: the file for SQLite, the URL without its password otherwise."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database
    return url.render_as_string(hide_password=True)


pass_ctx = click.make_pass_decorator(Context)


PASSPHRASE_FILE_ENV = "CHECKIN_KEY_PASSPHRASE_FILE"  # noqa: S105 - the variable name, not a secret
# systemd: `LoadCredential=checkin-key-passphrase:/etc/checkin/passphrase` puts the file in
# $CREDENTIALS_DIRECTORY, readable by the service alone, and found there without any setting
SYSTEMD_CREDENTIAL = "checkin-key-passphrase"
MAX_PASSPHRASE_BYTES = 4096


def passphrase_file() -> Path | None:
    """Where the passphrase is to be read from: --passphrase-file or $CHECKIN_KEY_PASSPHRASE_FILE,
    else the systemd credential of that name when the service runs with one; None otherwise."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.find_object(Context) if ctx is not None else None
    if chosen is not None and chosen.passphrase_file is not None:
        return chosen.passphrase_file
    if os.environ.get(PASSPHRASE_FILE_ENV):
        return Path(os.environ[PASSPHRASE_FILE_ENV])
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / SYSTEMD_CREDENTIAL).is_file():
        return Path(credentials) / SYSTEMD_CREDENTIAL
    return None


def read_passphrase(data: bytes, where: str) -> bytes:
    """The passphrase in a file's (or pipe's) bytes: one line, its line end dropped."""
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise KeyStoreError(f"{where}: more than {MAX_PASSPHRASE_BYTES} bytes; not a passphrase", Reason.INVALID_INPUT)
    secret = data.removesuffix(b"\n").removesuffix(b"\r")
    if not secret:
        raise KeyStoreError(f"{where}: empty; it must hold the key passphrase", Reason.WRONG_PASSPHRASE)
    return secret


def passphrase(*, confirm: bool, insecure: bool = False) -> bytes | None:
    """The key passphrase from a file (--passphrase-file, $CHECKIN_KEY_PASSPHRASE_FILE or a systemd
    credential), else $CHECKIN_KEY_PASSPHRASE, else a prompt; None for unencrypted keys."""
    if insecure:
        return None
    from checkin.keystore import PASSPHRASE_ENV

    path = passphrase_file()
    if path is not None:
        with path.open("rb") as handle:  # a FIFO or /dev/fd/N too: read once, up to the cap
            return read_passphrase(handle.read(MAX_PASSPHRASE_BYTES + 1), str(path))
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env.encode()
    if not sys.stdin.isatty():
        raise KeyStoreError(
            f"no passphrase: give --passphrase-file, set {PASSPHRASE_FILE_ENV} or {PASSPHRASE_ENV}, "
            "or run in a terminal",
            Reason.WRONG_PASSPHRASE,
        )
    first = getpass.getpass("Key passphrase: ")
    if confirm and getpass.getpass("Repeat the passphrase: ") != first:
        raise KeyStoreError("the two passphrases differ", Reason.WRONG_PASSPHRASE)
    return first.encode()


def keystore(cfg: Config) -> KeyStore:
    """The deployment's key folder (the cryptography behind it loads only when a command needs it)."""
    from checkin.keystore import KeyStore

    return KeyStore(cfg.keys_dir)


def zones(text: str | None) -> tuple[str, ...]:
    """Zone codes from `A,B`: trimmed, empty ones dropped."""
    return tuple(z.strip() for z in text.split(",") if z.strip()) if text else ()


def actor() -> str:
    """Who the action log names for a CLI change: `cli:<login name>`, or `cli` when there is none."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def short(cti: str) -> str:
    """The short code printed on a credential's badge (7K3M-Q9XD), from its hex id."""
    from checkin.core.credential import short_code

    return short_code(bytes.fromhex(cti))


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], object]]:
    """A progress bar on stderr for long work (rich), shown only on a terminal: piped or logged
    output stays one line per fact. Yields what to call with each step done."""
    if not sys.stderr.isatty() or total < 2:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
