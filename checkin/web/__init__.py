"""The signing service's Flask app: `create_app(config)` does all the wiring (store, issuing key,
root key, CSRF, the trusted proxies, languages, security headers, error answers) and registers the
blueprints, which only add routes.

Time comes from `app.config["CLOCK"]` (a callable returning an aware UTC datetime), so tests
pass a fixed clock instead of patching one. The session secret lives in the keys folder (0600),
created on first start; it is never in the config file or the repository. The database schema is
not migrated here: `checkin db upgrade` does that, and the app refuses to start on an old schema.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, abort, redirect, request, url_for
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from checkin import files
from checkin.config import Config
from checkin.core.errors import CheckinError, ConfigError, KeyStoreError, Reason
from checkin.keystore import PASSPHRASE_ENV
from checkin.services import imports, invitemail, jobs
from checkin.services.bundles import BundleService, load_root_key
from checkin.services.issuing import Signer, load_signer, usable_signer
from checkin.store import Store
from checkin.web import (
    admin,
    api,
    audit,
    auth,
    declare,
    errors,
    formatting,
    i18n,
    jobpages,  # noqa: F401 - adds the job pages' routes to the admin blueprint
    limits,
)
from checkin.web.context import BUNDLES, JOBS, SIGNER, STORE

__all__ = ["PASSPHRASE_CONFIG", "ROOT_KEY_CONFIG", "SECRET_FILE", "SchemaNotCurrent", "create_app"]

SECRET_FILE = "web-secret"  # noqa: S105 - a file name, not a secret
# handed over by `checkin serve` and dropped at start: the issuing key's passphrase, the opened root key
PASSPHRASE_CONFIG = "CHECKIN_KEY_PASSPHRASE"  # noqa: S105 - a config key name
ROOT_KEY_CONFIG = "CHECKIN_ROOT_KEY"
log = logging.getLogger(__name__)


class SchemaNotCurrent(ConfigError):
    """The database is not at the newest migration: the service refuses to start on it."""


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


def create_app(cfg: Config, test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service app over the configured database (which must be migrated) and keys."""
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=_secret_key(cfg.keys_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=int(auth.SESSION_MAX_AGE.total_seconds()),
        CLOCK=_real_clock,
        CHECKIN_CONFIG=cfg,
    )
    if test_config:
        app.config.update(test_config)
    app.config["SESSION_COOKIE_SECURE"] = not app.testing
    # the first hook of all (CSRF reads forms): nothing may read a body before its size is checked
    app.before_request(limits.check_body)

    store = Store(cfg.database_url, keys_dir=cfg.keys_dir)
    if not store.schema_current():
        where = store.engine.url.render_as_string(hide_password=True)
        store.dispose()
        raise SchemaNotCurrent(f"database {where}; run: checkin db upgrade", Reason.SCHEMA_OUTDATED)
    app.extensions[STORE] = store
    app.extensions[SIGNER] = load_signer(cfg, cast(bytes | None, app.config.pop(PASSPHRASE_CONFIG, None)))
    root_key = _root_key(cfg, cast(Ed25519PrivateKey | None, app.config.pop(ROOT_KEY_CONFIG, None)))
    if root_key is not None:
        app.extensions[BUNDLES] = BundleService(cfg, store, root_key)
    app.extensions[JOBS] = _job_runner(app, store)
    hops = cfg.service.trusted_proxies
    if hops:  # the client's own address and scheme, as the named number of proxies saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # gates and registration systems send bearer tokens, not cookies
    i18n.init_app(app)
    errors.install(app)
    app.before_request(_refuse_nul)
    app.after_request(_site_headers)
    app.url_map.converters["int"] = RowId
    app.jinja_env.filters["local"] = formatting.local_time
    app.jinja_env.globals["reason_text"] = formatting.reason_text
    for helper in (
        formatting.action_text,
        formatting.detail_text,
        formatting.revoke_reason,
        formatting.short_code,
        formatting.zone_name,
        formatting.category_name,
    ):
        app.jinja_env.globals[helper.__name__] = helper
    app.context_processor(auth.template_names)

    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(declare.bp)
    app.add_url_rule("/", "index", lambda: redirect(url_for("admin.home")))
    return app


def _job_runner(app: Flask, store: Store) -> jobs.JobRunner:
    """The worker thread that runs imports and bulk e-mail; jobs a restart interrupted are marked
    failed first (see checkin.services.jobs for the limits)."""

    def clock() -> datetime:
        return cast(datetime, app.config["CLOCK"]())

    def cfg() -> Config:
        return cast(Config, app.config["CHECKIN_CONFIG"])

    def signer() -> Signer:
        return usable_signer(cast(Signer | KeyStoreError | None, app.extensions.get(SIGNER)), cfg())

    jobs.recover(store, clock())
    handlers: dict[str, jobs.Handler] = {
        imports.KIND: lambda work: imports.run_import(work, config=cfg, signer=signer),
        invitemail.KIND: lambda work: invitemail.run_invitations(work, config=cfg),
    }
    return jobs.JobRunner(store, clock, handlers)


def _root_key(cfg: Config, given: Ed25519PrivateKey | None) -> Ed25519PrivateKey | None:
    """The root key: opened by `checkin serve`, or with $CHECKIN_KEY_PASSPHRASE. A service whose
    keys are missing or locked still starts (the admin pages work); enrolment and bundles then
    answer 503 until it is restarted with the key."""
    if given is not None:
        return given
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        return load_root_key(cfg, passphrase.encode() if passphrase else None)
    except CheckinError as exc:
        log.warning("gate API without the root key (enrolment and bundles answer 503): %s", exc.code)
        return None


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


def _site_headers(response: Any) -> Any:
    """The security headers on every answer, pages and JSON API, refusals included."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith(errors.API_PREFIX):  # JSON and bundles: nothing to run, style or frame
        headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
        headers.setdefault("Cache-Control", "no-store")
        return response
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    if request.endpoint and not request.endpoint.endswith(".static"):
        headers.setdefault("Cache-Control", "no-store")  # pages hold personal data and one-time codes
    return response
