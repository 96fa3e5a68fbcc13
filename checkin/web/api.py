"""The JSON API, versioned under /api/v1/: gate enrolment, bundles and journal upload, and issuing
for registration systems.

Every answer is JSON (the bundle itself excepted: raw CKB1 bytes); every refusal is
`{"reason": <code word>, "message": <English>, "message_vi": <Vietnamese>}` with a 4xx status
(`web/errors.py`), and no input, however malformed, ends in a 500. Gates authenticate with the
bearer token they got at enrolment, registration systems with an API token; the service keeps
only their SHA-256. Handlers parse the request, call `checkin.services`, and answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from flask import Blueprint, Response, request

from checkin.core import chain
from checkin.core.credential import tidy_text
from checkin.core.errors import KeyStoreError, Reason, shown
from checkin.services import gates, ingest, issuing
from checkin.services.crossgate_analysis import audit_policy
from checkin.store import Device
from checkin.store.guests import GuestRow
from checkin.store.journal import JournalRefused
from checkin.web.context import bundles, config, now, signer, store
from checkin.web.errors import ApiError
from checkin.web.limits import KIB, body_limit
from checkin.web.openapi import document

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_ROWS = chain.MAX_BATCH
MAX_CHECKPOINT = 1024  # base64 characters; a CKC1 checkpoint is about 200
MAX_TOKEN = 200
# Body limits, checked from Content-Length before anything is read (web/limits.py)
ENROL_BODY = 2 * KIB  # a code and a public key: about 160 bytes
ROW_BODY = KIB  # an honest row as JSON is 500 to 700 bytes; a gate halves its batch on 413
JOURNAL_BODY = MAX_ROWS * ROW_BODY + 4 * KIB
ISSUE_BODY = 16 * KIB  # one guest


_View = TypeVar("_View", bound=Callable[..., Response])


def _route(rule: str, methods: list[str], max_body: int = 0) -> Callable[[_View], _View]:
    """A route taking a body of at most `max_body` bytes (none by default)."""

    def register(view: _View) -> _View:
        # no automatic OPTIONS: a 405 names exactly the methods a route takes
        return bp.route(rule, methods=methods, provide_automatic_options=False)(body_limit(max_body)(view))

    return register


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
        first = shown(min(unknown), 40)
        raise ApiError(f"{len(unknown)} unknown field(s), such as {first}", Reason.INVALID_INPUT)


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
    """The enrolled device whose bearer token came with the request; 401 otherwise."""
    return gates.authenticate(store(), _bearer("the device token"))


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


# ---- gates ---------------------------------------------------------------------------------------


@_route("/devices/enroll", ["POST"], ENROL_BODY)
def enroll() -> Response:
    """Spend a one-time enrolment code: bind the gate's public key, hand out token, root key and bundle."""
    body = _json_object()
    _only(body, {"code", "public_key", "seal_seed"})
    code = _text(body, "code", 64)
    public_hex = _text(body, "public_key", 64).lower()
    _clean([code], "code")
    seed = _seal_seed(body.get("seal_seed"))
    moment = now()
    done = gates.enrol(store(), bundles(), code, public_hex, moment, seal_seed=seed)
    device = done.device
    return _json(
        {
            "device_id": device.id,
            "token": done.token,
            "event_id": device.event_id,
            "name": device.name,
            "zone": device.zone,
            "direction": device.direction,
            "root_public_key": done.root_public_pem,
            "bundle": base64.b64encode(done.bundle.data).decode(),
            "bundle_version": done.bundle.version,
            **_times(moment),
        }
    )


def _seal_seed(value: Any) -> bytes:
    """The gate's journal sealing seed: 64 hex digits (none from a client that does not seal)."""
    if value is None:
        return b""
    if not isinstance(value, str) or len(value) != 64:
        raise ApiError("seal_seed must be 64 hex digits", Reason.INVALID_INPUT)
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ApiError("seal_seed must be 64 hex digits", Reason.INVALID_INPUT) from None


@_route("/bundle", ["GET"])
def bundle() -> Response:
    """The newest signed bundle of the device's event; 304 when the gate already holds it."""
    device = _device()
    signed = gates.gate_bundle(store(), bundles(), device, now())
    etag = f"v{signed.version}"
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(signed.data, mimetype="application/cose")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


@_route("/journal", ["POST"], JOURNAL_BODY)
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
        result = ingest.upload_journal(store(), device, rows, checkpoint, moment, policy=audit_policy(config()))
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


MAX_CURSOR = 2**63 - 1


@_route("/presence", ["GET"])
def presence() -> Response:
    """The admitted entries and exits of the other gates of the device's event after the cursor `after`."""
    device = _device()
    after = _cursor(request.args.get("after", "0"))
    moment = now()
    page = gates.peer_passages(store(), device, after, moment)
    return _json(
        {
            "passages": [
                {
                    "id": p.id,
                    "gate": p.device_id,
                    "cti": p.cti,
                    "direction": p.direction,
                    "wall_ms": p.wall_ms,
                    "zone": p.zone,
                }
                for p in page.passages
            ],
            "next": page.cursor,
            "more": page.more,
            **_times(moment),
        }
    )


def _cursor(value: str) -> int:
    # digits only: int() would also take "+1", " 1", "1_0" and non-ASCII digits
    if not value or len(value) > 19 or not (value.isascii() and value.isdigit()) or int(value) > MAX_CURSOR:
        raise ApiError(f"after must be a whole number from 0 to {MAX_CURSOR}", Reason.INVALID_INPUT)
    return int(value)


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


def _optional_text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(f"{name} must be text of at most {limit} characters", Reason.INVALID_INPUT)
    return value


def _guest_row(body: Mapping[str, Any], default_zones: list[str]) -> GuestRow:
    """The guest in a request body, its shape checked (its content is checked by the service, as
    the admin pages' guest form is)."""
    _only(body, {"name", "organisation", "category", "zones", "email"})
    # the exact limits are the service's own, on the normalised text; these only bound the raw input
    name = _optional_text(body, "name", RAW_TEXT_LIMIT)
    organisation = _optional_text(body, "organisation", RAW_TEXT_LIMIT)
    category = _optional_text(body, "category", RAW_TEXT_LIMIT)
    email = _optional_text(body, "email", RAW_TEXT_LIMIT)
    zones = body.get("zones", default_zones)
    if (
        not isinstance(zones, list)
        or not 1 <= len(zones) <= MAX_ZONES_FIELD
        or not all(isinstance(z, str) for z in zones)
    ):
        raise ApiError(f"zones must be a list of 1 to {MAX_ZONES_FIELD} zone codes", Reason.INVALID_INPUT)
    _clean([name, organisation, category, email, *zones], "the guest")
    name, organisation, category, email = (tidy_text(v) for v in (name, organisation, category, email))
    return GuestRow(0, name, organisation, category, tuple(dict.fromkeys(tidy_text(z) for z in zones)), email)


def _well_formed(key: str) -> bool:
    return 1 <= len(key) <= MAX_IDEMPOTENCY_KEY and set(key) <= _KEY_CHARACTERS


@_route("/events/<event_id>/credentials", ["POST"], ISSUE_BODY)
def issue(event_id: str) -> Response:
    """Add a guest to an event and issue their code: for registration systems, with an API token.

    With an Idempotency-Key header, a retried request (the first answer lost on the way) gets the
    first request's guest and code again, 200 instead of 201, rather than a second valid code.
    """
    secret = _bearer("an API token")
    key = request.headers.get(IDEMPOTENCY_HEADER)
    malformed = key is not None and not _well_formed(key)
    authorised = issuing.authorise_issue(store(), secret, event_id, None if malformed else key)
    if malformed:  # refused after the token and the event: their 401, 403 and 404 come first
        raise ApiError(
            f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters", Reason.INVALID_INPUT
        )
    row = _guest_row(_json_object(), authorised.scope.default_zones(authorised.event.zone_codes))
    try:
        made = issuing.issue_for_registration(store(), config(), signer, authorised, row, now())
    except KeyStoreError as exc:
        raise ApiError(exc.detail, Reason.SERVICE_UNAVAILABLE) from None
    response = _json(
        {
            "credential_id": made.credential_id,
            "guest_id": made.guest_id,
            "code": made.code,
            "name": made.name,
            "zones": list(made.zones),
            "valid_from": made.valid_from.isoformat(),
            "valid_until": made.valid_until.isoformat(),
            "replayed": made.replayed,
        }
    )
    response.status_code = 200 if made.replayed else 201
    return response


@_route("/openapi.json", ["GET"])
def openapi() -> Response:
    """The OpenAPI 3.0 description of this API."""
    return _json(document(MAX_ROWS))
