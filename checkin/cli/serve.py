"""`checkin serve`: the service (admin pages and gate API) under a production WSGI server.

Flask, the web package and the servers are imported inside the command, so they cost nothing
to the other commands.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from checkin.cli._context import MAX_PASSPHRASE_BYTES, Context, keystore, pass_ctx, passphrase, read_passphrase
from checkin.cli.db import upgrade
from checkin.clikit import shifted_clock
from checkin.config import Config
from checkin.core.errors import CheckinError, ConfigError, Reason

if TYPE_CHECKING:
    from flask import Flask

# Chosen by measurement (bench/service.py, this 2-core machine, 4 gates uploading batches of 500
# rows at once, SQLite): gunicorn with 2 gthread workers ingested 22,500 journal rows/s against
# waitress's 15,300 (1.47x), while bundle fetches were alike (p95 4.3 ms against 4.0 ms). An upload
# is CPU-bound Python (JSON, row checks, SHA-256 chain, checkpoint signature), and waitress runs
# every request in one process under one GIL; gunicorn's two processes use both cores, and the
# chain is verified before the write lock is taken, so they overlap. Waitress stays available
# (--server waitress) where fork is not.
SERVERS = ("gunicorn", "waitress")
# names the pipe that carries the passphrase across the restart without it (never the passphrase)
HANDOVER_ENV = "CHECKIN_SERVE_PASSPHRASE_FD"
DEFAULT_SERVER = "gunicorn"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--server", type=click.Choice(SERVERS), default=DEFAULT_SERVER, show_default=True)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn processes")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="threads per process")
@pass_ctx
def serve(ctx: Context, host: str, port: int, server: str, workers: int, threads: int) -> None:
    """Run the service (admin pages and gate API) under a production WSGI server."""
    from checkin.keystore import PASSPHRASE_ENV
    from checkin.services.bundles import load_root_key
    from checkin.web import PASSPHRASE_CONFIG, ROOT_KEY_CONFIG, create_app

    handed_over = _take_handover()
    if PASSPHRASE_ENV in os.environ:
        _restart_without_passphrase(os.environ[PASSPHRASE_ENV].encode())  # does not return
    cfg = ctx.config()
    tls = _tls_files(cfg, server)
    overrides: dict[str, Any] = {}
    if ctx.now_text:  # a rehearsal or demo: the service's clock starts at --now and runs on
        overrides["CLOCK"] = shifted_clock(ctx.now(cfg))
    keys = keystore(cfg)
    if keys.exists():
        # Open the root key now, so a wrong passphrase stops the start with one clear line; the
        # issuing key (admin pages) is opened with the same passphrase when the app is built.
        encrypted = keys.root().encrypted
        secret = handed_over if encrypted and handed_over else passphrase(confirm=False, insecure=not encrypted)
        overrides[ROOT_KEY_CONFIG] = load_root_key(cfg, secret)
        overrides[PASSPHRASE_CONFIG] = secret
    else:
        click.echo("warning: no keys yet (checkin keys init): gate enrolment and bundles answer 503", err=True)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    upgrade(ctx, cfg)  # the explicit migration step, before any worker opens the database
    app = create_app(cfg, overrides)
    if server == "waitress":
        from waitress.server import create_server  # type: ignore[import-untyped]

        bound = create_server(app, host=host, port=port, threads=threads, ident="checkin")
        _listening(host, port, server, tls=False)
        try:
            bound.run()
        except KeyboardInterrupt:
            bound.close()
    else:
        _gunicorn(app, host, port, workers, threads, tls)


def _tls_files(cfg: Config, server: str) -> tuple[Path, Path] | None:
    """The [service] certificate and key, checked before anything starts."""
    files = cfg.tls_files
    if files is None:
        return None
    if server == "waitress":
        raise ConfigError(
            f"{cfg.source}: waitress cannot serve HTTPS (service.tls_cert is set): use --server gunicorn, "
            "or a TLS proxy in front of waitress and no [service] tls_cert",
        )
    for path in files:
        if not path.is_file():
            raise ConfigError(f"{cfg.source}: {path} (from [service]) is not a readable file")
    return files


def _restart_without_passphrase(secret: bytes) -> NoReturn:
    """Run this same command again without $CHECKIN_KEY_PASSPHRASE, handing it over through a pipe.

    Deleting it from os.environ is not enough: /proc/<pid>/environ shows the environment a process
    was started with, to the user and to root, and gunicorn's forked workers share that block. A
    fresh exec gets a fresh block; the passphrase waits in a pipe only this process can read.
    """
    from checkin.keystore import PASSPHRASE_ENV

    if len(secret) > MAX_PASSPHRASE_BYTES:  # a pipe holds 64 KiB: far more than a passphrase
        raise CheckinError(f"${PASSPHRASE_ENV} is longer than {MAX_PASSPHRASE_BYTES} bytes", Reason.INVALID_INPUT)
    read_end, write_end = os.pipe()
    os.write(write_end, secret)
    os.close(write_end)
    os.set_inheritable(read_end, True)
    env = {name: value for name, value in os.environ.items() if name != PASSPHRASE_ENV}
    env[HANDOVER_ENV] = str(read_end)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)  # noqa: S606 - this very command again


def _take_handover() -> bytes | None:
    """The passphrase `_restart_without_passphrase` left in a pipe, read once; None when there is none."""
    fd_text = os.environ.pop(HANDOVER_ENV, None)
    if fd_text is None or not fd_text.isdigit():
        return None
    fd = int(fd_text)
    try:
        data = b""
        while chunk := os.read(fd, MAX_PASSPHRASE_BYTES + 1):
            data += chunk
            if len(data) > MAX_PASSPHRASE_BYTES:
                break
    finally:
        os.close(fd)  # the workers must not inherit even the empty pipe
    return read_passphrase(data, "the handed-over passphrase") if data else None


def _listening(host: str, port: int, server: str, *, tls: bool) -> None:
    scheme = "https" if tls else "http"
    click.echo(f"checkin service listening on {scheme}://{host}:{port}/ ({server}); stop with Ctrl+C", err=True)


def _gunicorn(app: Flask, host: str, port: int, workers: int, threads: int, tls: tuple[Path, Path] | None) -> None:
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    def post_fork(_server: Any, _worker: Any) -> None:
        # Database connections opened before the fork (migrations) must not be shared.
        app.extensions["checkin.store"].engine.dispose(close=False)

    options = {
        "when_ready": lambda _arbiter: _listening(host, port, "gunicorn", tls=tls is not None),
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "post_fork": post_fork,
        "accesslog": None,  # requests carry bearer tokens in headers only, but log nothing per request
        "proc_name": "checkin",
        "timeout": 60,
    }
    if tls is not None:
        options.update(certfile=str(tls[0]), keyfile=str(tls[1]))

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> Flask:
            return app

    try:
        Server().run()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise CheckinError(f"gunicorn stopped with status {exc.code}", Reason.SERVICE_UNAVAILABLE) from None
