"""Staff in the admin pages: login, server-side sessions, roles, CSRF, login throttling.

Deny by default: the admin blueprint's `guard` runs before every view; a view opens only to the
roles it names with `@allow(...)` (or to everyone with `@public`), so a view that forgets to say
is closed. The session cookie (Flask's signed cookie: HttpOnly, SameSite=Lax, Secure outside
tests) holds only a random session id; the session itself lives in the database
(`checkin.store.sessions`), so logout, a password change, a disabled user and "log out
everywhere" end it at once, for every copy of the cookie. Every form carries a CSRF token
(Flask-WTF); the /api/v1 blueprint is exempt because gates authenticate with bearer tokens.

Logins are throttled in the database (`checkin.store.throttle`), shared by every worker: by client
address and by (address, name), with growing waits, never a lock on an account. An unknown name, a
wrong password, a disabled user and a throttled attempt get the same answer after the same work
(one argon2 verification), so the answer tells nobody which names exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from checkin.core.errors import InputError, Reason
from checkin.store import sessions, throttle, users
from checkin.store.actions import log_action
from checkin.store.models import User
from checkin.store.users import Role
from checkin.web.context import now, store
from checkin.web.i18n import LANGUAGES, describe, gettext, message

F = TypeVar("F", bound=Callable[..., Any])

EVERYONE = frozenset(Role)
REGISTRATION = frozenset({Role.ADMIN, Role.REGISTRAR})
ADMIN_ONLY = frozenset({Role.ADMIN})
AUDIT = frozenset({Role.ADMIN, Role.OFFICER})  # the security officer's pages; registrars never see them

SESSION_MAX_AGE = sessions.MAX_AGE
SESSION_ID = "sid"  # the one key of the cookie that says who is logged in


@dataclass(frozen=True)
class StaffUser:
    """The person behind the current request."""

    id: int
    username: str
    role: Role


def allow(roles: frozenset[Role]) -> Callable[[F], F]:
    """Open a view to these roles (the guard refuses everyone else with 403)."""

    def mark(view: F) -> F:
        view.checkin_roles = roles  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Open a view to people who are not logged in (login, language switch)."""
    view.checkin_public = True  # type: ignore[attr-defined]
    return view


def current_user() -> StaffUser:
    """The logged-in user; only inside views the guard let through."""
    return cast(StaffUser, g.checkin_user)


def can(roles: frozenset[Role]) -> bool:
    """True when the current user has one of these roles (templates use it to hide buttons)."""
    user: StaffUser | None = g.get("checkin_user")
    return user is not None and user.role in roles


def may_open(endpoint: str) -> bool:
    """True when the current user's role may open this view (templates show a link only then)."""
    view = current_app.view_functions.get(endpoint)
    roles: frozenset[Role] | None = getattr(view, "checkin_roles", None)
    return roles is not None and can(roles)


def _session_user() -> StaffUser | None:
    secret = session.get(SESSION_ID)
    if not isinstance(secret, str):
        return None
    live = sessions.find(store(), secret, now())
    if live is None:
        _end_session()
        session["expired"] = True  # the login page says why it is shown
        return None
    g.checkin_session_id = live.id
    return StaffUser(live.user_id, live.username, Role(live.role))


def _end_session() -> None:
    chosen = session.get("lang")
    session.clear()
    if chosen in LANGUAGES:
        session["lang"] = chosen


def _start_session(user_id: int) -> None:
    _end_session()  # a fresh cookie: nothing from before the login carries over (fixation)
    session[SESSION_ID] = sessions.start(store(), user_id, now())


def guard() -> ResponseReturnValue | None:
    """Before every admin request: let public views through, send strangers to the login page,
    refuse roles the view does not name (403)."""
    if request.endpoint is None or request.endpoint.endswith(".static"):
        return None
    view = current_app.view_functions.get(request.endpoint)
    g.checkin_user = _session_user()
    if getattr(view, "checkin_public", False):
        return None
    user: StaffUser | None = g.checkin_user
    if user is None:
        target = request.full_path.rstrip("?") if showing() else None
        return redirect(url_for("admin.login", next=target))
    roles: frozenset[Role] | None = getattr(view, "checkin_roles", None)
    if roles is None or user.role not in roles:
        abort(403)
    return None


_SITE_PATH = re.compile(r"/(?![/\\])[!-\[\]-~]*")  # visible ASCII, no backslash, not "//" at the start


def safe_next(target: str | None, role: Role | None = None) -> str:
    """A redirect target from a parameter: a path on this site only, never another host. Only
    visible ASCII is taken: browsers and werkzeug drop tabs and line breaks, so "/\t/evil" would
    leave as "//evil", and a line break cannot go into a header at all. Without one, the home of
    `role` (or of the logged-in user)."""
    if target and _SITE_PATH.fullmatch(target):
        return target
    return home_for(role)


def home_for(role: Role | None = None) -> str:
    """Where a user starts: officers at the audit dashboard, everyone else at the events list."""
    if role is None:
        user: StaffUser | None = g.get("checkin_user")
        role = user.role if user is not None else None
    return url_for("audit.home") if role is Role.OFFICER else url_for("admin.events")


def showing() -> bool:
    """True when the request only reads the page: GET, and HEAD, which Flask answers with the GET
    view. Views must not take a HEAD for a POST: it carries no CSRF check."""
    return request.method in ("GET", "HEAD")


def _client_address() -> str:
    # behind [service] trusted_proxies, ProxyFix has already put the client's own address here
    return request.remote_addr or "unknown"


def check_password_throttled(username: str, password: str) -> User | None:
    """The active user whose password this is, or None; counted against the client's address and
    (address, name) budgets first. Every refusal (throttled, unknown, disabled, wrong) does the
    same work, one argon2 verification, and looks the same to the caller."""
    moment = now()
    budgets = throttle.login_budgets(_client_address(), username.strip().lower())
    allowed = throttle.claim(store(), budgets, moment)
    user = users.user_by_name(store(), username)
    real = allowed and user is not None and user.active and len(password) <= users.MAX_PASSWORD
    if not real or user is None:
        users.burn_verification(password[: users.MAX_PASSWORD])
        return None
    if not users.password_matches(user.password_hash, password):
        return None
    throttle.give_back(store(), budgets, moment, forget=budgets[1])
    return user


@public
def login() -> ResponseReturnValue:
    """The login form; a POST checks the password, throttled per address and per (address, name)."""
    if showing():
        if g.checkin_user is not None:
            return redirect(safe_next(request.args.get("next")))
        expired = bool(session.pop("expired", False))
        return render_template("admin/login.html", errors={}, username="", expired=expired)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = gettext("Enter your user name.")
    if not password:
        errors["password"] = gettext("Enter your password.")
    if errors:
        return render_template("admin/login.html", errors=errors, username=username), 400
    user = check_password_throttled(username, password)
    if user is None:
        failure = message(Reason.LOGIN_FAILED)
        return render_template("admin/login.html", errors={}, failure=failure, username=username), 401
    users.record_login(store(), user.id, password, now())
    _start_session(user.id)
    return redirect(safe_next(request.args.get("next"), Role(user.role)))


@allow(EVERYONE)
def logout() -> ResponseReturnValue:
    """End the session here and in the database (POST, so another site cannot log people out)."""
    log_action(store(), current_user().username, "user.logout", current_user().username, "", now())
    sessions.end(store(), cast(int, g.checkin_session_id), now())
    _end_session()
    return redirect(url_for("admin.login"))


def _account_page(errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    live = sessions.live_count(store(), current_user().id, now())
    return render_template("admin/account.html", errors=errors, live_sessions=live), status


@allow(EVERYONE)
def account() -> ResponseReturnValue:
    """The user's own account: change the password, log out everywhere."""
    return _account_page({})


@allow(EVERYONE)
def change_password() -> ResponseReturnValue:
    """Change one's own password (the current one first); every other session ends, this browser
    gets a fresh one."""
    me = current_user()
    current, new, repeat = (request.form.get(k, "") for k in ("current", "new", "repeat"))
    errors: dict[str, str] = {}
    if not current or check_password_throttled(me.username, current) is None:
        errors["current"] = message(Reason.LOGIN_FAILED)
    elif new != repeat:
        errors["repeat"] = gettext("The two passwords differ.")
    else:
        try:
            users.update_user(store(), me.id, now(), actor=me.username, password=new)
        except InputError as exc:
            errors["new"] = describe(exc)
    if errors:
        return _account_page(errors, 400)
    _start_session(me.id)
    flash(gettext("Password changed. Your other sessions have ended."), "ok")
    return redirect(url_for("admin.account"), 303)


@allow(EVERYONE)
def logout_everywhere() -> ResponseReturnValue:
    """End every session of the user, this one too (a lost phone, a shared computer)."""
    users.log_out_everywhere(store(), current_user().id, now(), actor=current_user().username)
    _end_session()
    return redirect(url_for("admin.login"))


@public
def switch_language(code: str) -> ResponseReturnValue:
    """Remember the chosen language in the session and go back."""
    if code not in LANGUAGES:
        abort(404)
    session["lang"] = code
    return redirect(safe_next(request.args.get("next")))


def install(bp: Blueprint) -> None:
    """Put login, logout, the account page, the language switch and the guard on the admin blueprint."""
    bp.add_url_rule("/login", view_func=login, methods=["GET", "POST"])
    bp.add_url_rule("/logout", view_func=logout, methods=["POST"])
    bp.add_url_rule("/account", view_func=account)
    bp.add_url_rule("/account/password", view_func=change_password, methods=["POST"])
    bp.add_url_rule("/account/logout-all", view_func=logout_everywhere, methods=["POST"])
    bp.add_url_rule("/lang/<code>", view_func=switch_language)
    bp.before_request(guard)


def template_names() -> dict[str, Any]:
    """What every template may use to show or hide what the user's role allows."""
    return {
        "can": can,
        "EVERYONE": EVERYONE,
        "REGISTRATION": REGISTRATION,
        "ADMIN_ONLY": ADMIN_ONLY,
        "AUDIT": AUDIT,
        "may_open": may_open,
        "current_staff": g.get("checkin_user"),
    }
