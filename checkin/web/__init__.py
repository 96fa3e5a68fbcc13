"""The signing service's Flask app: `create_app(config)` with one blueprint per area.

Time comes from `app.config["CLOCK"]` (a callable returning an aware UTC datetime), so tests
pass a fixed clock instead of patching one. The session secret lives in the keys folder (0600),
created on first start; it is never in the config file or the repository.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any, cast

from flask import Flask, abort, current_app, redirect, request, url_for
from werkzeug.routing import IntegerConverter, Map

from checkin import files
from checkin.config import Config
from checkin.store import Store

SECRET_FILE = "web-secret"  # noqa: S105 - a file name, not a secret


def _real_clock() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _secret_key(keys_dir: Path) -> bytes:
    path = keys_dir / SECRET_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret = secrets.token_bytes(32)
        files.write_new(path, secret, 0o600)
        return secret


def create_app(config: Config, test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service app over the configured database and keys."""
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=_secret_key(config.keys_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=True,
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        CLOCK=_real_clock,
        CHECKIN_CONFIG=config,
    )
    if test_config:
        app.config.update(test_config)
    store = Store(config.database_url)
    store.migrate()
    app.extensions["checkin.store"] = store

    app.before_request(_refuse_nul)
    app.url_map.converters["int"] = RowId

    from checkin.web import admin, api, audit, declare

    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(declare.bp)
    app.add_url_rule("/", "index", lambda: redirect(url_for("admin.home")))
    return app


class RowId(IntegerConverter):
    """`<int:...>` in our URLs is a row id: ASCII digits up to the largest id a PostgreSQL INTEGER
    holds. Anything larger is no such page (404), not an overflow in the database (500)."""

    regex = r"[0-9]+"

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


_FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _refuse_nul() -> None:
    """A NUL in the path, the query or a form field is refused (400) before any view: nobody types
    one, and PostgreSQL refuses it in text, so it must never reach a query. JSON bodies are
    checked where they are read (api._clean)."""
    fields = request.args.items(multi=True)
    if request.mimetype in _FORMS:
        fields = chain(fields, request.form.items(multi=True))
    if "\x00" in request.path or any("\x00" in key or "\x00" in value for key, value in fields):
        abort(400)


def store() -> Store:
    """The current app's store."""
    return cast(Store, current_app.extensions["checkin.store"])


def config() -> Config:
    """The current app's configuration."""
    return cast(Config, current_app.config["CHECKIN_CONFIG"])


def now() -> datetime:
    """The current time, from the app's clock."""
    clock = cast(Callable[[], datetime], current_app.config["CLOCK"])
    return clock()
