"""`checkin gate ...` (gate devices) and `checkin serve` (the service under a production WSGI server).

Registered on the `checkin` command by the import at the bottom of checkin/cli.py.
"""

from __future__ import annotations

import getpass
import logging
import os
from typing import Any

import click
from flask import Flask

from checkin.bundles import load_root_key
from checkin.cli import Context, _passphrase, main, pass_ctx
from checkin.clikit import shifted_clock
from checkin.core.errors import CheckinError, Reason
from checkin.keystore import PASSPHRASE_ENV, KeyStore
from checkin.store import DIRECTIONS, Store

# Chosen by measurement (bench/service.py, this 2-core machine, 4 gates uploading batches of 500
# rows at once, SQLite): gunicorn with 2 gthread workers ingested 22,500 journal rows/s against
# waitress's 15,300 (1.47x), while bundle fetches were alike (p95 4.3 ms against 4.0 ms). An upload
# is CPU-bound Python (JSON, row checks, SHA-256 chain, checkpoint signature), and waitress runs
# every request in one process under one GIL; gunicorn's two processes use both cores, and the
# chain is verified before the write lock is taken, so they overlap. Waitress stays available
# (--server waitress) where fork is not.
SERVERS = ("gunicorn", "waitress")
DEFAULT_SERVER = "gunicorn"


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


# ---- gates ------------------------------------------------------------------------------------


@main.group()
def gate() -> None:
    """Gate devices: add one (with its one-time enrolment code), list, revoke."""


@gate.command("add")
@click.option("--event", "event_id", required=True)
@click.option("--name", required=True, help="what staff call the gate, e.g. 'Cổng A - sảnh chính'")
@click.option("--zone", help="the zone it guards (default: the event's first zone)")
@click.option("--direction", type=click.Choice(DIRECTIONS), default="in", show_default=True)
@pass_ctx
def gate_add(ctx: Context, event_id: str, name: str, zone: str | None, direction: str) -> None:
    """Register a gate; print its one-time enrolment code (valid 15 minutes) as the last line."""
    cfg = ctx.config()
    store = Store(cfg.database_url)
    now = ctx.now(cfg)
    device, code = store.create_device(event_id, name, zone, direction, now)
    store.record_action(
        _actor(), "gate.add", f"{event_id}/{device.id}", f"{device.name} ({device.zone}, {device.direction})", now
    )
    assert device.enrol_expires is not None
    click.echo(f"gate {device.id}: {device.name}, zone {device.zone}, direction {device.direction}")
    click.echo(
        f"enrolment code valid until {device.enrol_expires.isoformat()} (15 minutes, one use); "
        "at the gate: checkin-gate enroll --server URL --code CODE",
        err=True,
    )
    click.echo(code)


@gate.command("list")
@click.option("--event", "event_id", help="only this event's gates")
@pass_ctx
def gate_list(ctx: Context, event_id: str | None) -> None:
    """List gates: id, event, name, zone, direction, status, rows received, last seen."""
    cfg = ctx.config()
    line = "{:16}  {:20}  {:8}  {:8}  {:3}  {:>7}  {:25}  {}"
    click.echo(line.format("id", "event", "status", "zone", "dir", "rows", "last seen", "name"))
    for d in Store(cfg.database_url).devices(event_id):
        seen = d.last_seen.isoformat() if d.last_seen else "-"
        click.echo(line.format(d.id, d.event_id, d.status, d.zone, d.direction, d.acked_seq, seen, d.name))


@gate.command("revoke")
@click.argument("device_id")
@pass_ctx
def gate_revoke(ctx: Context, device_id: str) -> None:
    """Revoke a gate: its token stops working at once (a lost or stolen laptop)."""
    cfg = ctx.config()
    store = Store(cfg.database_url)
    now = ctx.now(cfg)
    device = store.revoke_device(device_id, now)
    store.record_action(_actor(), "gate.revoke", f"{device.event_id}/{device.id}", device.name, now)
    click.echo(f"revoked gate {device.id} ({device.name}); its uploads and bundle fetches are refused from now on")


# ---- serve ------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--server", type=click.Choice(SERVERS), default=DEFAULT_SERVER, show_default=True)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn processes")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="threads per process")
@pass_ctx
def serve(ctx: Context, host: str, port: int, server: str, workers: int, threads: int) -> None:
    """Run the service (admin pages and gate API) under a production WSGI server."""
    from checkin.web import create_app
    from checkin.web.admin import PASSPHRASE_CONFIG
    from checkin.web.api import ROOT_KEY_CONFIG

    cfg = ctx.config()
    overrides: dict[str, Any] = {}
    if ctx.now_text:  # a rehearsal or demo: the service's clock starts at --now and runs on
        overrides["CLOCK"] = shifted_clock(ctx.now(cfg))
    keys = KeyStore(cfg.keys_dir)
    if keys.exists():
        # Open the root key now, so a wrong passphrase stops the start with one clear line; the
        # issuing key (admin pages) is opened with the same passphrase when the app is built.
        passphrase = _passphrase(confirm=False, insecure=not keys.root().encrypted)
        overrides[ROOT_KEY_CONFIG] = load_root_key(cfg, passphrase)
        overrides[PASSPHRASE_CONFIG] = passphrase
    else:
        click.echo("warning: no keys yet (checkin keys init): gate enrolment and bundles answer 503", err=True)
    os.environ.pop(PASSPHRASE_ENV, None)  # nothing started from here inherits it
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(cfg, overrides)
    if server == "waitress":
        from waitress.server import create_server  # type: ignore[import-untyped]

        bound = create_server(app, host=host, port=port, threads=threads, ident="checkin")
        _listening(host, port, server)
        try:
            bound.run()
        except KeyboardInterrupt:
            bound.close()
    else:
        _gunicorn(app, host, port, workers, threads)


def _listening(host: str, port: int, server: str) -> None:
    click.echo(f"checkin service listening on http://{host}:{port}/ ({server}); stop with Ctrl+C", err=True)


def _gunicorn(app: Flask, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    def post_fork(_server: Any, _worker: Any) -> None:
        # Database connections opened before the fork (migrations) must not be shared.
        app.extensions["checkin.store"].engine.dispose(close=False)

    options = {
        "when_ready": lambda _arbiter: _listening(host, port, "gunicorn"),
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "post_fork": post_fork,
        "accesslog": None,  # requests carry bearer tokens in headers only, but log nothing per request
        "proc_name": "checkin",
        "timeout": 60,
    }

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
