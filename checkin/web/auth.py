"""Staff in the admin pages: login, sessions, roles, CSRF, rate limiting and lockout.

Deny by default: the admin blueprint's `guard` runs before every view; a view opens only to the
roles it names with `@allow(...)` (or to everyone with `@public`), so a view that forgets to say
is closed. Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure outside tests)
holding the user id, the login time and a stamp of the password hash: a password change, a
disabled account or twelve hours end them. Every form carries a CSRF token (Flask-WTF); the
/api/v1 blueprint is exempt because gates authenticate with bearer tokens, not cookies.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from checkin.core.errors import Reason
from checkin.store import users
from checkin.store.actions import log_action
from checkin.store.users import Role
from checkin.web.context import config, now, store
from checkin.web.i18n import LANGUAGES, gettext, message

F = TypeVar("F", bound=Callable[..., Any])

EVERYONE = frozenset(Role)
REGISTRATION = frozenset({Role.ADMIN, Role.REGISTRAR})
ADMIN_ONLY = frozenset({Role.ADMIN})

SESSION_MAX_AGE = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
# Failed logins from one address before it must wait: catches one address trying many user names,
# which the per-user lockout cannot see. Generous, so one office behind one NAT is not shut out.
ADDRESS_FAILURES = 30
ADDRESS_WINDOW = timedelta(minutes=15)
LIMITER = "checkin.login_limiter"
# Addresses the limiter remembers at most: far more than one event's offices, and about a megabyte.
MAX_ADDRESSES = 10_000


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


class FailureLimiter:
    """Failed logins per client address in a sliding window; thread-safe, time from the caller.

    Memory is bounded: at most `max_addresses` addresses are kept, the one failing longest ago
    forgotten first, and an address whose failures all left the window is dropped when touched.
    """

    def __init__(self, limit: int, window: timedelta, max_addresses: int = MAX_ADDRESSES) -> None:
        self.limit, self.window, self.max_addresses = limit, window, max_addresses
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def blocked(self, address: str, now: datetime) -> bool:
        """True when this address failed too often lately."""
        with self._lock:
            return len(self._recent(address, now)) >= self.limit

    def fail(self, address: str, now: datetime) -> None:
        """Count one failure."""
        with self._lock:
            times = self._recent(address, now)
            times.append(now)
            self._failures[address] = times
            self._failures.move_to_end(address)
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)


def _stamp(moment: datetime) -> int:
    return int(moment.timestamp())


def _session_user() -> StaffUser | None:
    uid, at, seen, stamp = (session.get(k) for k in ("uid", "at", "seen", "pw"))
    if not isinstance(uid, int) or not isinstance(at, int) or not isinstance(seen, int):
        return None
    moment = _stamp(now())
    if moment - at > SESSION_MAX_AGE.total_seconds() or moment - seen > SESSION_IDLE.total_seconds():
        _end_session()
        session["expired"] = True  # the login page says why it is shown
        return None
    user = users.user_by_id(store(), uid)
    if user is None or not user.active or stamp != users.password_stamp(user.password_hash):
        _end_session()
        return None
    if moment - seen >= 60:  # rewrite the cookie at most once a minute
        session["seen"] = moment
    return StaffUser(user.id, user.username, Role(user.role))


def _end_session() -> None:
    chosen = session.get("lang")
    session.clear()
    if chosen in LANGUAGES:
        session["lang"] = chosen


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


def safe_next(target: str | None) -> str:
    """A redirect target from a parameter: a path on this site only, never another host. Only
    visible ASCII is taken: browsers and werkzeug drop tabs and line breaks, so "/\t/evil" would
    leave as "//evil", and a line break cannot go into a header at all."""
    if target and _SITE_PATH.fullmatch(target):
        return target
    return url_for("admin.events")


def showing() -> bool:
    """True when the request only reads the page: GET, and HEAD, which Flask answers with the GET
    view. Views must not take a HEAD for a POST: it carries no CSRF check."""
    return request.method in ("GET", "HEAD")


def _local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(config().deployment.timezone)).strftime("%H:%M %d/%m/%Y")


@public
def login() -> ResponseReturnValue:
    """The login form; a POST checks the password, with lockout and an address limit."""
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
    moment = now()
    limiter = cast(FailureLimiter, current_app.extensions[LIMITER])
    address = request.remote_addr or "unknown"
    if limiter.blocked(address, moment):
        return _refuse(username, message(Reason.TOO_MANY_ATTEMPTS), 429)
    user = users.user_by_name(store(), username)
    if user is None or not user.active:
        users.burn_verification(password)
        limiter.fail(address, moment)
        return _refuse(username, message(Reason.LOGIN_FAILED), 401)
    if users.is_locked(user, moment):
        return _refuse_locked(username, user.locked_until)
    if not users.password_matches(user.password_hash, password):
        limiter.fail(address, moment)
        user = users.record_failed_login(store(), user.id, moment)
        if users.is_locked(user, moment):
            return _refuse_locked(username, user.locked_until)
        return _refuse(username, message(Reason.LOGIN_FAILED), 401)
    user = users.record_login(store(), user.id, password, moment)
    _end_session()  # a fresh session: nothing from before the login carries over (fixation)
    stamp = _stamp(moment)
    session.update(uid=user.id, at=stamp, seen=stamp, pw=users.password_stamp(user.password_hash))
    return redirect(safe_next(request.args.get("next")))


def _refuse(username: str, text: str, status: int) -> ResponseReturnValue:
    return render_template("admin/login.html", errors={}, failure=text, username=username), status


def _refuse_locked(username: str, until: datetime | None) -> ResponseReturnValue:
    reason = message(Reason.ACCOUNT_LOCKED)
    text = gettext("%(reason)s. Try again after %(time)s.", reason=reason, time=_local(until)) if until else reason
    return _refuse(username, text, 423)


@allow(EVERYONE)
def logout() -> ResponseReturnValue:
    """End the session (POST, so another site cannot log people out)."""
    log_action(store(), current_user().username, "user.logout", current_user().username, "", now())
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
    """Put login, logout, the language switch and the guard on the admin blueprint."""
    bp.add_url_rule("/login", view_func=login, methods=["GET", "POST"])
    bp.add_url_rule("/logout", view_func=logout, methods=["POST"])
    bp.add_url_rule("/lang/<code>", view_func=switch_language)
    bp.before_request(guard)


def template_names() -> dict[str, Any]:
    """What every template may use to show or hide what the user's role allows."""
    return {
        "can": can,
        "EVERYONE": EVERYONE,
        "REGISTRATION": REGISTRATION,
        "ADMIN_ONLY": ADMIN_ONLY,
        "current_staff": g.get("checkin_user"),
    }
