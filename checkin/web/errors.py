"""Every refusal the app answers, in one place: JSON below /api/ (`{"reason", "message",
"message_vi"}`), the admin pages' error page elsewhere. Installed on the app by `create_app`, so
routing errors (no such route, wrong method), errors inside views and CSRF failures all get the
same answer and headers; no module lists routes, the URL map does."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError  # type: ignore[import-untyped]
from werkzeug.exceptions import HTTPException

from checkin import i18n
from checkin.core.errors import CheckinError, Reason

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
REASON_OF_STATUS = {
    400: Reason.INVALID_INPUT,
    401: Reason.UNAUTHORIZED,
    403: Reason.FORBIDDEN,
    404: Reason.NOT_FOUND,
    405: Reason.METHOD_NOT_ALLOWED,
    409: Reason.JOURNAL_GAP,
    413: Reason.TOO_LARGE,
    500: Reason.SERVICE_UNAVAILABLE,
    503: Reason.SERVICE_UNAVAILABLE,
}
_API_REASON_OF_STATUS = {**REASON_OF_STATUS, 403: Reason.ENROLMENT_INVALID}
STATUS_OF_REASON = {
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
    Reason.ROW_INVALID: 422,
    Reason.TOKEN_UNSCOPED: 403,
    Reason.OUT_OF_SCOPE: 403,
    Reason.BAD_CHECKPOINT: 422,
    Reason.SERVICE_UNAVAILABLE: 503,
}


class ApiError(CheckinError):
    """A refusal of the JSON API with its reason; `extra` fields join the JSON body."""

    def __init__(self, detail: str, reason: Reason, **extra: Any) -> None:
        super().__init__(detail, reason)
        self.extra = extra


def json_error(
    status: int, reason: Reason, detail: str = "", *, words: CheckinError | None = None, **extra: Any
) -> Response:
    """The JSON body of every API refusal, worded in English and Vietnamese (by `words` if given)."""
    error = words or CheckinError(detail, reason)
    body = {
        "reason": reason.value,
        "message": _capped(error.text()),
        "message_vi": _capped(_vietnamese(error)),
        **extra,
    }
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


MAX_MESSAGE = 500  # characters: a refusal explains, it never carries back what it refused


def _capped(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _vietnamese(error: CheckinError) -> str:
    """The refusal in Vietnamese only: its detail joins when the catalogue has it, and otherwise stays
    in the English `message`, so `message_vi` is never half in English."""
    head = i18n.gettext("vi", error.msgid, **error.params)
    detail = i18n.gettext("vi", error.detail, **error.params) if error.detail else ""
    english = i18n.gettext("en", error.detail, **error.params) if error.detail else ""
    return f"{head}: {detail}" if detail and detail != english else head


def error_page(status: int, reason: Reason, detail: str = "") -> ResponseReturnValue:
    """The admin pages' error page."""
    return render_template("admin/error.html", status=status, reason=reason, detail=detail), status


# Reasons that name what is wrong with the input more precisely than the API's v1 contract does:
# the API answers them as invalid_input, with their words in the message.
_INPUT_REASONS = frozenset(
    {
        Reason.FIELD_REQUIRED,
        Reason.FIELD_TOO_LONG,
        Reason.CONTROL_CHARACTERS,
        Reason.ZONE_REQUIRED,
        Reason.ZONE_UNKNOWN,
        Reason.EMAIL_INVALID,
        Reason.EVENT_OVER,
    }
)


def _in_api() -> bool:
    return request.path.startswith(API_PREFIX)


def _checkin_error(exc: CheckinError) -> ResponseReturnValue:
    if _in_api():
        extra = exc.extra if isinstance(exc, ApiError) else {}
        if exc.reason in _INPUT_REASONS:
            return json_error(400, Reason.INVALID_INPUT, words=exc, **extra)
        return json_error(STATUS_OF_REASON.get(exc.reason, 400), exc.reason, exc.detail, **extra)
    status = 404 if exc.reason is Reason.NOT_FOUND else 400
    return error_page(status, exc.reason, exc.detail)


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 400
    if _in_api():
        response = json_error(status, _API_REASON_OF_STATUS.get(status, Reason.INVALID_INPUT), exc.description or "")
    else:
        reason = (
            Reason.FORM_EXPIRED if isinstance(exc, CSRFError) else REASON_OF_STATUS.get(status, Reason.INVALID_INPUT)
        )
        response = make_response(error_page(status, reason))
    # the methods a 405 names are the URL map's own; OPTIONS only where a route offers it
    response.headers.extend([(k, v) for k, v in exc.get_headers() if k == "Allow"])
    return response


def _unexpected(exc: Exception) -> ResponseReturnValue:
    if not _in_api():
        raise exc  # Flask's own 500 page (and the traceback in tests)
    log.exception("API failure on %s %s", request.method, request.path)
    return json_error(500, Reason.SERVICE_UNAVAILABLE, "unexpected error; it has been logged")


def install(app: Flask) -> None:
    """Answer every refusal of the app: domain errors, HTTP errors (routing ones included), crashes."""
    app.register_error_handler(CheckinError, _checkin_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
