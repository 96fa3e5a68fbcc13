"""The guest's own page, opened from the link of their invitation (`/declare/<token>`), no login: their
ticket (the QR code large, name, event, time, zones, short code; PNG and PDF to download) and, when
the event screens guests, the health questions. A declaration signs a fresh code carrying it
(claim 5: when, and whether it passed, by the gate's own rule) in place of the guest's code.

The token is the only key to the page, and it rides in the path: these answers send no Referer
and are never cached, a failure is logged without the path, and an unknown or revoked token gets
the same page (404) whatever the reason, in both languages.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError  # type: ignore[import-untyped]
from werkzeug.exceptions import HTTPException

from checkin import i18n, qr
from checkin.core.credential import Declaration, short_code
from checkin.core.errors import N_, CheckinError, KeyStoreError, Reason
from checkin.core.trust import ScreeningPolicy
from checkin.i18n import LANGUAGES
from checkin.services import invitations, issuing
from checkin.services.bundles import screening_of
from checkin.services.invitations import Invited
from checkin.store import throttle
from checkin.web.context import config, now, signer, store
from checkin.web.formatting import attachment, download_name
from checkin.web.i18n import gettext as _
from checkin.web.i18n import language

bp = Blueprint("declare", __name__, url_prefix="/declare")
log = logging.getLogger(__name__)

_DECLARED = "checkin_declared"  # the session's note of the code just issued: {"cti", "passed"}
YES, NO = "yes", "no"
ANSWER_MISSING = N_("Please answer this question.")


# ---- what every answer of this blueprint carries -----------------------------------------------


@bp.before_request
def _choose_language() -> None:
    """`?lang=en` (or vi) on the page itself: the admin pages' switch would carry the path, token and
    all, in its `next` parameter."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen


@bp.after_request
def _private(response: Response) -> Response:
    """The URL holds the token: no Referer to anyone (our own stylesheet included), no cache."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 400
    if isinstance(exc, CSRFError):
        return _problem(400, N_("This form has expired. Open your link again and answer once more."))
    if status == 404:
        return _gone()
    return _problem(status, N_("Something went wrong. Open your link again."))


@bp.errorhandler(Exception)
def _failure(exc: Exception) -> ResponseReturnValue:
    # Flask's own handler would log the path, and with it the guest's token
    log.error("failure on a guest's page: %s", type(exc).__name__, exc_info=exc)
    return _problem(500, N_("Something went wrong. Open your link again."))


GONE_TITLE = N_("This link no longer works")
GONE_TEXT = N_("This link is wrong or was revoked. Open the link in your newest invitation, or contact the organisers.")


def _gone() -> ResponseReturnValue:
    """An unknown, revoked or ended link: one answer for all, in both languages, nothing about why."""
    texts = [(lang, i18n.gettext(lang, GONE_TITLE), i18n.gettext(lang, GONE_TEXT)) for lang in LANGUAGES]
    return render_template("declare/gone.html", texts=texts), 404


def _problem(status: int, msgid: str) -> ResponseReturnValue:
    return render_template("declare/problem.html", status=status, text=_(msgid)), status


def _invited(token: str) -> Invited:
    found = invitations.guest_for_token(store(), token, now())
    if found is None:
        abort(404)
    return found


def _screening() -> ScreeningPolicy:
    return screening_of(config())


# ---- the page -----------------------------------------------------------------------------------


@bp.route("/<token>", methods=["GET", "POST"])
def page(token: str) -> ResponseReturnValue:
    """The guest's ticket and, when the event screens guests, the health questions (a POST answers them)."""
    invited = _invited(token)
    policy = _screening()
    if request.method == "POST":
        return _declare(token, invited, policy)
    return _render(token, invited, policy)


def _render(
    token: str,
    invited: Invited,
    policy: ScreeningPolicy,
    *,
    answers: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str = "",
    status: int = 200,
) -> ResponseReturnValue:
    active = invited.active
    declared = session.get(_DECLARED)
    just_declared = isinstance(declared, dict) and active is not None and declared.get("cti") == active.cti
    return render_template(
        "declare/page.html",
        token=token,
        guest=invited.guest,
        event=invited.event,
        active=active,
        svg=qr.svg(active.text, border=config().qr.border) if active is not None else None,
        code=short_code(bytes.fromhex(active.cti)) if active is not None else "",
        screening=policy.enabled,
        questions=policy.questions,
        answers=answers or {},
        errors=errors or {},
        problem=problem,
        just_declared=just_declared,
        passed=bool(declared.get("passed")) if just_declared and isinstance(declared, dict) else False,
        lang=language(),
    ), status


def _declare(token: str, invited: Invited, policy: ScreeningPolicy) -> ResponseReturnValue:
    if not policy.enabled or invited.active is None:
        return redirect(url_for("declare.page", token=token), 303)
    answers = {q.id: request.form.get(f"q-{q.id}", "") for q in policy.questions}
    errors = {qid: _(ANSWER_MISSING) for qid, given in answers.items() if given not in (YES, NO)}
    if errors:
        return _render(token, invited, policy, answers=answers, errors=errors, status=400)
    moment = now()
    if not throttle.claim(store(), [throttle.declaration_budget(invited.invitation_id)], moment):
        problem = _("You have answered several times in a short while. Wait a minute, then answer again.")
        return _render(token, invited, policy, answers=answers, problem=problem, status=429)
    passed = policy.declaration_passes((qid, given == YES) for qid, given in answers.items())
    guest_id = invited.guest.id
    try:
        issued = issuing.issue_declared(
            store(), config(), signer, guest_id, Declaration(moment, passed), moment, actor=f"guest:{guest_id}"
        )
    except KeyStoreError:
        problem = _("Your answers could not be recorded just now. Your current code still works; try again later.")
        return _render(token, invited, policy, answers=answers, problem=problem, status=503)
    except CheckinError as exc:
        if exc.reason is Reason.EVENT_OVER:
            return _render(token, invited, policy, answers=answers, problem=_("The event is over."), status=409)
        if exc.reason is Reason.NOT_FOUND:  # the code was revoked meanwhile
            return redirect(url_for("declare.page", token=token), 303)
        raise
    session[_DECLARED] = {"cti": issued.credential.id_hex, "passed": passed}
    return redirect(url_for("declare.page", token=token, _anchor="ticket"), 303)


@bp.route("/<token>/<path:_rest>")
def elsewhere(token: str, _rest: str) -> ResponseReturnValue:
    """Any other address below a link: the same answer as an unknown link, whatever the token."""
    return _gone()


# ---- downloads ----------------------------------------------------------------------------------


def _badge(token: str) -> tuple[qr.Badge, Any]:
    invited = _invited(token)
    if invited.active is None:
        abort(404)
    return issuing.stored_badge(invited.active, invited.guest, invited.event), invited


@bp.route("/<token>/ticket.png")
def ticket_png(token: str) -> ResponseReturnValue:
    """The guest's code as a PNG, with their name, short code and the event under it."""
    badge, invited = _badge(token)
    body = qr.badge_png(badge, invited.event.name, scale=config().qr.scale, border=config().qr.border)
    return attachment(body, "image/png", _file_name(invited, "png"))


@bp.route("/<token>/ticket.pdf")
def ticket_pdf(token: str) -> ResponseReturnValue:
    """The guest's badge as a one-page PDF."""
    badge, invited = _badge(token)
    return attachment(qr.badge_pdf(badge, invited.event.name), "application/pdf", _file_name(invited, "pdf"))


def _file_name(invited: Invited, ext: str) -> str:
    assert invited.active is not None
    return download_name(invited.guest.name, invited.active.cti, ext)
