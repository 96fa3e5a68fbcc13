"""The JSON API for gates, versioned under /api/v1/: enrolment, bundles, journal upload.

Every answer is JSON (the bundle itself excepted: raw CKB1 bytes); every refusal is
`{"reason": <code word>, "message": <English>, "message_vi": <Vietnamese>}` with a 4xx status, and
no input, however malformed, ends in a 500. Gates authenticate with the bearer token they got at
enrolment; the service keeps only its SHA-256, and a revoked gate's token fails at once because
every request looks the device up again.

The root key is loaded once, when the blueprint is registered, and lives only in the
BundleService; it signs bundles and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from checkin import issuing
from checkin.bundles import BundleService, load_root_key
from checkin.config import Config
from checkin.core import chain, cose
from checkin.core.credential import tidy_text
from checkin.core.errors import CheckinError, KeyStoreError, Reason
from checkin.i18n import describe
from checkin.keystore import PASSPHRASE_ENV
from checkin.store import Device, JournalRefused, Store, people
from checkin.store.models import ApiToken, Event, Guest, IssuedCredential
from checkin.web import i18n, now, store
from checkin.web.admin import guest_errors, sign_for_event
from checkin.web.openapi import document

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)

MAX_ROWS = chain.MAX_BATCH
MAX_CHECKPOINT = 1024  # base64 characters; a CKC1 checkpoint is about 200
MAX_TOKEN = 200
ROOT_KEY_CONFIG = "CHECKIN_ROOT_KEY"  # an already opened root key handed over by `checkin serve`
_BUNDLES = "checkin.bundles"
_ROUTES = {  # path below /api/v1/ -> methods, for a JSON 405 (routing errors never reach a blueprint)
    "devices/enroll": ("POST",),
    "bundle": ("GET", "HEAD"),
    "journal": ("POST",),
    "openapi.json": ("GET", "HEAD"),
    "events/<event_id>/credentials": ("POST",),
}
_ISSUE_PATH = re.compile(r"^events/[^/]+/credentials$")
_STATUS_REASONS = {
    400: Reason.INVALID_INPUT,
    401: Reason.UNAUTHORIZED,
    403: Reason.ENROLMENT_INVALID,
    404: Reason.NOT_FOUND,
    405: Reason.METHOD_NOT_ALLOWED,
    409: Reason.JOURNAL_GAP,
    413: Reason.TOO_LARGE,
    503: Reason.SERVICE_UNAVAILABLE,
}
_REASON_STATUS = {
    Reason.INVALID_INPUT: 400,
    Reason.UNAUTHORIZED: 401,
    Reason.DEVICE_REVOKED: 401,
    Reason.ENROLMENT_INVALID: 403,
    Reason.FORBIDDEN: 403,
    Reason.ALREADY_EXISTS: 409,
    Reason.NOT_FOUND: 404,
    Reason.JOURNAL_GAP: 409,
    Reason.TOO_LARGE: 413,
    Reason.JOURNAL_FORK: 422,
    Reason.BROKEN_CHAIN: 422,
    Reason.BAD_CHECKPOINT: 422,
    Reason.SERVICE_UNAVAILABLE: 503,
}


class ApiError(CheckinError):
    """A refusal with its reason; `extra` fields join the JSON body."""

    def __init__(self, detail: str, reason: Reason, **extra: Any) -> None:
        super().__init__(detail, reason)
        self.extra = extra


# ---- set-up ------------------------------------------------------------------------------------


@bp.record_once
def _load_root_key(state: BlueprintSetupState) -> None:
    """Open the root key once, at start: from `checkin serve`, or with $CHECKIN_KEY_PASSPHRASE.

    A service whose keys are missing or locked still starts (the admin pages work); enrolment
    and bundles then answer 503 until it is restarted with the key.
    """
    app = cast(Flask, state.app)
    key = cast(Ed25519PrivateKey | None, app.config.pop(ROOT_KEY_CONFIG, None))
    if key is None:
        passphrase = os.environ.get(PASSPHRASE_ENV)
        try:
            key = load_root_key(config_of(app), passphrase.encode() if passphrase else None)
        except CheckinError as exc:
            log.warning("gate API without the root key (enrolment and bundles answer 503): %s", exc.code)
            return
    app.extensions[_BUNDLES] = BundleService(config_of(app), cast(Store, app.extensions["checkin.store"]), key)


def config_of(app: Flask) -> Config:
    """The checkin configuration of an app."""
    return cast(Config, app.config["CHECKIN_CONFIG"])


def _bundles() -> BundleService:
    service = current_app.extensions.get(_BUNDLES)
    if service is None:
        raise ApiError("the service was started without its root key", Reason.SERVICE_UNAVAILABLE)
    return cast(BundleService, service)


# ---- errors --------------------------------------------------------------------------------------


def error_response(status: int, reason: Reason, detail: str = "", **extra: Any) -> Response:
    """The JSON body of every refusal."""
    error = CheckinError(detail, reason)
    body = {"reason": reason.value, "message": error.text(), "message_vi": describe(error, "vi"), **extra}
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(CheckinError)
def _checkin_error(exc: CheckinError) -> Response:
    extra = exc.extra if isinstance(exc, ApiError) else {}
    return error_response(_REASON_STATUS.get(exc.reason, 400), exc.reason, exc.detail, **extra)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 400
    response = error_response(status, _STATUS_REASONS.get(status, Reason.INVALID_INPUT), exc.description or "")
    methods = getattr(exc, "valid_methods", None)
    if status == 405 and isinstance(methods, list):
        response.headers["Allow"] = ", ".join(methods)
    return response


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("gate API failure on %s %s", request.method, request.path)
    return error_response(500, Reason.SERVICE_UNAVAILABLE, "unexpected error; it has been logged")


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
def _unknown(rest: str) -> Response:
    """Paths below /api/v1/ that match no route (or not with this method), answered in JSON."""
    allowed = _ROUTES.get(_ISSUE_PATH.sub("events/<event_id>/credentials", rest))
    if allowed is None:
        return error_response(404, Reason.NOT_FOUND, f"no API route /api/v1/{rest}")
    response = error_response(405, Reason.METHOD_NOT_ALLOWED, f"/api/v1/{rest} takes {' or '.join(allowed)}")
    response.headers["Allow"] = ", ".join(allowed)
    return response


# ---- input ----------------------------------------------------------------------------------------


def _json_object() -> Mapping[str, Any]:
    """The request body as a JSON object (whatever the Content-Type says)."""
    raw = request.get_data(cache=False)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError("the body is not valid JSON (UTF-8)", Reason.INVALID_INPUT) from None
    if not isinstance(data, dict):
        raise ApiError("the body must be a JSON object", Reason.INVALID_INPUT)
    return data


def _only(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(f"unknown fields {sorted(unknown)}", Reason.INVALID_INPUT)


def _text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ApiError(f"{name} must be text of 1 to {limit} characters", Reason.INVALID_INPUT)
    return value


def _clean(texts: list[str], where: str) -> None:
    """Refuse text no database can store faithfully: NUL characters and lone surrogates."""
    joined = "".join(texts)
    if "\x00" in joined:
        raise ApiError(f"{where} contains a NUL character", Reason.INVALID_INPUT)
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(f"{where} contains text that is not valid Unicode", Reason.INVALID_INPUT) from None


def _bearer(what: str) -> str:
    """The bearer token of the request; 401 when there is none or it cannot be one of ours."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN:
        raise ApiError(f"send {what} as `Authorization: Bearer <token>`", Reason.UNAUTHORIZED)
    return token


def _device() -> Device:
    """The device whose bearer token came with the request; 401 otherwise."""
    device = store().device_for_token(_bearer("the device token"))
    if device is None:
        raise ApiError("the device token is not known", Reason.UNAUTHORIZED)
    if device.status == "revoked":
        raise ApiError(f"gate {device.id} has been revoked", Reason.DEVICE_REVOKED)
    if device.status != "active":
        raise ApiError("the device is not enrolled", Reason.UNAUTHORIZED)
    return device


def _times(moment: datetime) -> dict[str, Any]:
    utc = moment.astimezone(UTC)
    return {
        "server_time": utc.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "server_time_ms": int(utc.timestamp() * 1000),
    }


def _json(body: Mapping[str, Any]) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- routes -------------------------------------------------------------------------------------


@bp.post("/devices/enroll")
def enroll() -> Response:
    """Spend a one-time enrolment code: bind the gate's public key, hand out token, root key and bundle."""
    body = _json_object()
    _only(body, {"code", "public_key"})
    code = _text(body, "code", 64)
    public_hex = _text(body, "public_key", 64).lower()
    _clean([code], "code")
    try:
        raw_key = bytes.fromhex(public_hex)
    except ValueError:
        raw_key = b""
    if len(public_hex) != 64 or not cose.usable_public_key(raw_key):
        # checked now: a key libsodium refuses would spend the code, then fail every upload
        raise ApiError("public_key must be 64 hex digits of a valid Ed25519 public key", Reason.INVALID_INPUT)
    service = _bundles()
    moment = now()
    device, token = store().enrol_device(code, public_hex, moment)
    signed = service.current(device.event_id, moment)
    return _json(
        {
            "device_id": device.id,
            "token": token,
            "event_id": device.event_id,
            "name": device.name,
            "zone": device.zone,
            "direction": device.direction,
            "root_public_key": service.root_public_pem(),
            "bundle": base64.b64encode(signed.data).decode(),
            "bundle_version": signed.version,
            **_times(moment),
        }
    )


@bp.get("/bundle")
def bundle() -> Response:
    """The newest signed bundle of the device's event; 304 when the gate already holds it."""
    device = _device()
    service = _bundles()
    moment = now()
    signed = service.current(device.event_id, moment)
    store().seen(device, moment)
    etag = f"v{signed.version}"
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(signed.data, mimetype="application/cose")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/journal")
def journal() -> Response:
    """Take a batch of journal rows with a checkpoint signed by the device key."""
    device = _device()
    body = _json_object()
    _only(body, {"rows", "checkpoint"})
    raw_rows = body.get("rows")
    if not isinstance(raw_rows, list) or not raw_rows:
        raise ApiError("rows must be a non-empty list of journal rows", Reason.INVALID_INPUT)
    if len(raw_rows) > MAX_ROWS:
        raise ApiError(f"a batch holds at most {MAX_ROWS} rows; this one has {len(raw_rows)}", Reason.TOO_LARGE)
    checkpoint = _checkpoint(body.get("checkpoint"))
    rows = [chain.row_from_json(item, f"rows[{i}]") for i, item in enumerate(raw_rows)]
    _clean([text for row in rows for text in vars(row).values() if isinstance(text, str)], "rows")
    moment = now()
    try:
        result = store().ingest_journal(device, rows, checkpoint, moment)
    except JournalRefused as refused:
        _refuse(refused)
    return _json(
        {
            "acked_seq": result.acked_seq,
            "head_hash": result.head_hash,
            "stored": result.stored,
            **_times(moment),
            "alerts": [note.to_json() for note in result.alerts],
        }
    )


def _checkpoint(value: Any) -> bytes:
    if not isinstance(value, str) or not value or len(value) > MAX_CHECKPOINT:
        raise ApiError(f"checkpoint must be base64 of at most {MAX_CHECKPOINT} characters", Reason.INVALID_INPUT)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("checkpoint is not valid base64", Reason.INVALID_INPUT) from None


def _refuse(refused: JournalRefused) -> NoReturn:
    extra: dict[str, Any] = {"acked_seq": refused.acked_seq}
    if refused.reason is not Reason.DEVICE_REVOKED:
        extra.update(head_hash=refused.head_hash, seq=refused.seq)
    raise ApiError(refused.detail, refused.reason, **extra)


# ---- issuing, for registration systems -----------------------------------------------------------

MAX_ZONES_FIELD = 16
RAW_TEXT_LIMIT = 1024  # characters of one guest field before normalising
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 100
_KEY_CHARACTERS = frozenset(chr(c) for c in range(0x21, 0x7F))  # visible ASCII


def _issue_reads(
    event_id: str,
) -> tuple[ApiToken, Event, str | None, tuple[Guest, IssuedCredential | None] | None]:
    """The API token that came with the request, if it may issue codes (401/403 otherwise), the
    event it issues for (404), the request's Idempotency-Key (400 if malformed) and what the
    guest an earlier request with that key added, read at once."""
    raw_key = request.headers.get(IDEMPOTENCY_HEADER)
    well_formed = raw_key is not None and 1 <= len(raw_key) <= MAX_IDEMPOTENCY_KEY and set(raw_key) <= _KEY_CHARACTERS
    reads = people.issue_reads(store(), _bearer("an API token"), event_id, raw_key if well_formed else None)
    token, ev = reads.token, reads.event
    if token is None or token.revoked_at is not None:
        raise ApiError("the API token is not known or was revoked", Reason.UNAUTHORIZED)
    if people.Role(token.role) not in people.TOKEN_ROLES:
        raise ApiError("this token may not issue codes", Reason.FORBIDDEN)
    if ev is None:
        raise ApiError(f"no event {event_id!r}", Reason.NOT_FOUND)
    if raw_key is not None and not well_formed:
        raise ApiError(
            f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters", Reason.INVALID_INPUT
        )
    return token, ev, None if raw_key is None else people.request_key(token, raw_key), reads.earlier


def _optional_text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(f"{name} must be text of at most {limit} characters", Reason.INVALID_INPUT)
    return value


def _guest_row(body: Mapping[str, Any], ev: Event) -> issuing.GuestRow:
    """The guest in a request body: its shape checked here, its content by the same checks as the
    admin pages' guest form (worded in English)."""
    _only(body, {"name", "organisation", "category", "zones", "email"})
    # the exact limits are guest_errors' own, on the normalised text; these only bound the raw input
    name = _optional_text(body, "name", RAW_TEXT_LIMIT)
    organisation = _optional_text(body, "organisation", RAW_TEXT_LIMIT)
    category = _optional_text(body, "category", RAW_TEXT_LIMIT)
    email = _optional_text(body, "email", RAW_TEXT_LIMIT)
    zones = body.get("zones", list(ev.zone_codes[:1]))
    if (
        not isinstance(zones, list)
        or not 1 <= len(zones) <= MAX_ZONES_FIELD
        or not all(isinstance(z, str) for z in zones)
    ):
        raise ApiError(f"zones must be a list of 1 to {MAX_ZONES_FIELD} zone codes", Reason.INVALID_INPUT)
    _clean([name, organisation, category, email, *zones], "the guest")
    name, organisation, category, email = (tidy_text(v) for v in (name, organisation, category, email))
    row = issuing.GuestRow(0, name, organisation, category, tuple(dict.fromkeys(tidy_text(z) for z in zones)), email)
    with i18n.speaking("en"):
        errors = guest_errors(row, ev)
    if errors:
        raise ApiError("; ".join(f"{field}: {problem}" for field, problem in errors.items()), Reason.INVALID_INPUT)
    return row


@bp.post("/events/<event_id>/credentials")
def issue(event_id: str) -> Response:
    """Add a guest to an event and issue their code: for registration systems, with an API token.

    With an Idempotency-Key header, a retried request (the first answer lost on the way) gets the
    first request's guest and code again, 200 instead of 201, rather than a second valid code.
    """
    token, ev, key, earlier = _issue_reads(event_id)
    row = _guest_row(_json_object(), ev)
    if earlier is not None:
        return _replay(row, *earlier)
    try:
        with i18n.speaking("en"):  # "the event is over" comes from the admin pages' words
            signer, moment, signed, errors = sign_for_event(ev, [row])
    except KeyStoreError as exc:
        raise ApiError(exc.detail, Reason.SERVICE_UNAVAILABLE) from None
    if errors:
        raise ApiError(errors[0].detail, Reason.INVALID_INPUT)
    item = signed[0]
    guest_id = people.issue_to_new_guest(
        store(), row, item.credential, signer.kid.hex(), item.text, moment, actor=f"token:{token.name}", request_key=key
    )
    if isinstance(guest_id, tuple):  # the same request, retried at the same moment, was stored first
        return _replay(row, *guest_id)
    made = item.credential
    return _issued(201, made.id_hex, guest_id, item.text, made.name, made.zones, made.not_before, made.expires_at)


def _replay(row: issuing.GuestRow, guest: Guest, active: IssuedCredential | None) -> Response:
    """The answer to a request whose Idempotency-Key was used before: the same guest, their code."""
    stored = people.guest_row(guest, line=row.line)
    if stored != row:
        raise ApiError(
            f"this {IDEMPOTENCY_HEADER} was used for another guest (guest {guest.id}); use a new key",
            Reason.ALREADY_EXISTS,
        )
    if active is None:
        raise ApiError(
            f"guest {guest.id}, added by this {IDEMPOTENCY_HEADER}, holds no active code now; "
            "re-issue it in the admin pages",
            Reason.ALREADY_EXISTS,
        )
    return _issued(
        200, active.cti, guest.id, active.text, active.name, stored.zones, active.not_before, active.expires_at
    )


def _issued(
    status: int,
    cti: str,
    guest_id: int,
    text: str,
    name: str,
    zones: tuple[str, ...],
    valid_from: datetime,
    valid_until: datetime,
) -> Response:
    response = _json(
        {
            "credential_id": cti,
            "guest_id": guest_id,
            "code": text,
            "name": name,
            "zones": list(zones),
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat(),
            "replayed": status == 200,
        }
    )
    response.status_code = status
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.0 description of this API."""
    return _json(document(MAX_ROWS))
