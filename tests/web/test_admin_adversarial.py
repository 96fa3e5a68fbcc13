"""Trying to break the admin pages: every route as every role and as a stranger, CSRF tokens of
other sessions and methods that skip the check, `next` redirects off the site, sessions of users
changed while logged in, login throttling edges, look-alike user names, odd ids, zones and event forms,
search metacharacters, and HTML in every text field. A refusal must be a clean 4xx or a redirect
with a page, never a 500, and must not lose anything already stored.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from checkin.config import Config
from checkin.keystore import KeyStore
from checkin.services import issuing
from checkin.store import Store, sessions, sha256_hex, throttle, users
from checkin.store import actions as stored_actions
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store import jobs as stored_jobs
from checkin.store.guests import GuestRow
from checkin.store.users import Role
from tests.support.apikit import Clock, event_form

EVENT = "cds2022"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ROLES = ("admin", "registrar", "officer")
PASSWORDS = {role: f"{role} test password 2022" for role in ROLES}  # conftest's STAFF_PASSWORDS
RAW_TAG = re.compile(r"<\s*/?\s*(script|img|iframe|svg\s+onload)", re.IGNORECASE)
LoginAs = Callable[[str | None], FlaskClient]


# ---- set-up ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def errors_as_500(app: Flask) -> None:
    """Let an unhandled error come back as the 500 a browser would get, so tests can say "never 500"."""
    app.config["PROPAGATE_EXCEPTIONS"] = False


@dataclass
class World:
    guest_id: int
    cti: str
    device_id: str
    user_id: int
    job_id: str = ""

    def fill(self, rule: str) -> str:
        values = {
            "<event_id>": EVENT,
            "<int:guest_id>": str(self.guest_id),
            "<device_id>": self.device_id,
            "<cti>": self.cti,
            "<int:user_id>": str(self.user_id),
            "<code>": "en",
            "<job_id>": self.job_id,
        }
        for key, value in values.items():
            rule = rule.replace(key, value)
        return rule


def issue_to(store: Store, config: Config, clock: Clock, rows: list[GuestRow]) -> list[issuing.Issued]:
    """Sign and store codes for new guests, as `checkin issue --csv` does."""
    ev = stored_events.event(store, EVENT)
    keystore = KeyStore(config.keys_dir)
    info = keystore.active_issuing()
    signed, errors = issuing.sign_rows(
        rows,
        issuer=config.deployment.id,
        event=ev,
        key=keystore.load_private(info, None),
        kid=info.kid_bytes,
        window=issuing.ticket_window(ev, 24, 6),
        now=clock(),
    )
    assert not errors
    issuing.record(store, signed, info.kid_bytes, clock())
    return signed


ANH = GuestRow(2, "Nguyễn Thị Ánh", "Sở Thông tin và Truyền thông", "delegate", ("hall", "vip"), "anh@example.vn")


@pytest.fixture
def world(store: Store, config: Config, clock: Clock, staff: dict[str, int]) -> World:
    signed = issue_to(store, config, clock, [ANH])
    guest_id = stored_guests.guest_views(store, EVENT)[0].guest.id
    device, _code = stored_devices.create_device(store, EVENT, "Cổng A", "hall", "in", clock())
    job = stored_jobs.create_job(store, "import", EVENT, "registrar", clock(), total=3)
    return World(guest_id, signed[0].credential.id_hex, device.id, staff["officer"], job.id)


def csrf(client: FlaskClient, path: str = "/admin/account") -> str:
    page = client.get(path)
    if page.status_code != 200:
        page = client.get("/admin/login")
    match = TOKEN.search(page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def open_session(app: Flask, store: Store, clock: Clock, user_id: int) -> FlaskClient:
    """A second browser with a live session of this user, as the login form would leave it."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["sid"] = sessions.start(store, user_id, clock())
    return client


def log_in(client: FlaskClient, username: str, password: str, next_path: str | None = None) -> TestResponse:
    query = {"next": next_path} if next_path is not None else {}
    data = {"csrf_token": csrf(client, "/admin/login"), "username": username, "password": password}
    return client.post("/admin/login", query_string=query, data=data)


def is_login_redirect(response: TestResponse) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def stored(store: Store) -> tuple[Any, ...]:
    """A snapshot of what the pages may change, to show that a refusal changed nothing."""
    events = tuple(
        (e.id, e.name, e.venue, e.timezone, e.start, e.end, e.zone_codes) for e in stored_events.events(store)
    )
    guests = tuple(
        (v.guest.id, v.guest.name, v.guest.organisation, v.guest.category, v.guest.zones, v.guest.email, v.status)
        for e in stored_events.events(store)
        for v in stored_guests.guest_views(store, e.id)
    )
    staff = tuple((u.id, u.username, u.role, u.active, u.password_hash) for u in users.users(store))
    devices = tuple((d.id, d.name, d.status) for d in stored_devices.devices(store))
    return events, guests, staff, devices, len(stored_actions.actions(store))


def admin_rules(app: Flask) -> Iterator[tuple[str, str, frozenset[str], bool]]:
    """Every admin route: (rule, endpoint, methods, public), with the roles read off the view."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") and rule.endpoint != "admin.static":
            view = app.view_functions[rule.endpoint]
            yield rule.rule, rule.endpoint, frozenset(rule.methods or ()), getattr(view, "checkin_public", False)


def roles_of(app: Flask, endpoint: str) -> set[str]:
    return {str(r) for r in getattr(app.view_functions[endpoint], "checkin_roles", ())}


# ---- deny by default, for every route in the URL map --------------------------------------------


def test_strangers_are_sent_to_the_login_page_from_every_route(
    app: Flask, client: FlaskClient, world: World, store: Store
) -> None:
    before = stored(store)
    token = csrf(client, "/admin/login")  # an anonymous session's own, valid token
    for rule, _endpoint, methods, public in admin_rules(app):
        if public:
            continue
        path = world.fill(rule)
        for method in sorted(methods & {"GET", "HEAD", "POST", "OPTIONS"}):
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(path, method=method, data=data)
            assert is_login_redirect(response), (method, path, response.status_code)
    assert stored(store) == before


@pytest.mark.parametrize("role", ["officer", "registrar"])
def test_every_route_a_role_may_not_use_is_403_with_a_page(
    role: str, app: Flask, login_as: LoginAs, world: World, store: Store
) -> None:
    client = login_as(role)
    token = csrf(client)
    before = stored(store)
    refused = 0
    for rule, endpoint, methods, public in admin_rules(app):
        if public or role in roles_of(app, endpoint):
            continue
        path = world.fill(rule)
        for method in sorted(methods & {"GET", "HEAD", "POST", "OPTIONS"}):
            response = client.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert response.status_code == 403, (role, method, path, response.status_code)
            if method not in ("HEAD", "OPTIONS"):
                assert "<code>forbidden</code>" in response.text and response.headers["X-Frame-Options"] == "DENY"
            refused += 1
    assert refused > (5 if role == "registrar" else 15)
    assert stored(store) == before


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_may_see_answers_without_error(
    role: str, app: Flask, login_as: LoginAs, world: World
) -> None:
    client = login_as(role)
    for rule, endpoint, methods, public in admin_rules(app):
        if "GET" not in methods or (not public and role not in roles_of(app, endpoint)):
            continue
        response = client.get(world.fill(rule))
        assert response.status_code in (200, 302, 303), (role, rule, response.status_code)


def test_every_route_with_ids_that_do_not_exist_is_a_404_page(app: Flask, login_as: LoginAs, world: World) -> None:
    client = login_as("admin")
    token = csrf(client)
    missing = World(guest_id=987654, cti="f" * 32, device_id="nope", user_id=987654, job_id="A" * 43)
    for rule, _endpoint, methods, public in admin_rules(app):
        if public or "<" not in rule:
            continue
        path = missing.fill(rule).replace(f"/events/{EVENT}", "/events/no-such-event")
        for method in sorted(methods & {"GET", "POST"}):
            response = client.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert response.status_code == 404, (method, path, response.status_code)
            assert "<code>not_found</code>" in response.text


# ---- CSRF ----------------------------------------------------------------------------------------


def post_rules(app: Flask) -> list[str]:
    return [rule for rule, _e, methods, public in admin_rules(app) if "POST" in methods and not public]


@pytest.mark.parametrize("with_token", ["none", "a stranger's", "another user's", "garbage", "empty"])
def test_every_form_refuses_a_token_that_is_not_this_sessions(
    with_token: str, app: Flask, login_as: LoginAs, world: World, store: Store, clock: Clock, staff: dict[str, int]
) -> None:
    strangers = csrf(app.test_client(), "/admin/login")
    officers = csrf(open_session(app, store, clock, staff["officer"]))
    client = login_as("admin")
    mine = csrf(client)
    tokens = {"none": None, "a stranger's": strangers, "another user's": officers, "garbage": mine[::-1], "empty": ""}
    token = tokens[with_token]
    before = stored(store)
    for rule in [*post_rules(app), "/admin/login"]:
        data = {"action": "disable", "name": "X", "zones": "hall", "reason": "x", "username": "thu", "role": "admin"}
        if token is not None:
            data["csrf_token"] = token
        response = client.post(world.fill(rule), data=data)
        assert response.status_code == 400, (rule, response.status_code)
        assert "<code>form_expired</code>" in response.text
    assert stored(store) == before
    assert client.get("/admin/users").status_code == 200  # still logged in


def test_a_token_from_before_login_is_dead_after_it(client: FlaskClient, staff: dict[str, int], store: Store) -> None:
    before_login = csrf(client, "/admin/login")
    assert log_in(client, "admin", PASSWORDS["admin"]).status_code == 302
    before = stored(store)
    response = client.post("/admin/users", data={"csrf_token": before_login, "username": "thu", "role": "admin"})
    assert response.status_code == 400 and "<code>form_expired</code>" in response.text
    assert stored(store) == before


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/users", {"username": "mallory", "role": "admin"}),
        (
            "/admin/events/new",
            {"id": "e1", "name": "x", "timezone": "UTC", "start": "2022-04-02T08:00", "end": "2022-04-02T09:00"},
        ),
        (f"/admin/events/{EVENT}/guests/new", {"name": "Mallory", "zones": "hall"}),
    ],
    ids=["users", "event_new", "guest_new"],
)
def test_head_with_a_form_body_changes_nothing(
    path: str, data: dict[str, str], login_as: LoginAs, store: Store
) -> None:
    client = login_as("admin")
    before = stored(store)
    response = client.open(path, method="HEAD", data={**data, "zones": "hall"})
    assert response.status_code in (200, 400, 405)
    assert stored(store) == before


def test_head_cannot_log_in_without_a_token(client: FlaskClient, staff: dict[str, int]) -> None:
    response = client.open("/admin/login", method="HEAD", data={"username": "admin", "password": PASSWORDS["admin"]})
    assert response.status_code != 302
    assert is_login_redirect(client.get("/admin/users"))


@pytest.mark.parametrize(
    "rule",
    [
        "/admin/events",
        "/admin/events/<event_id>",
        "/admin/guests/<int:guest_id>",
        "/admin/keys",
        "/admin/log",
        "/admin/users",
        "/admin/events/new",
        "/admin/events/<event_id>/guests/new",
        "/admin/guests/<int:guest_id>/edit",
        "/admin/events/<event_id>/import",
        "/admin/login",
    ],
)
def test_head_answers_like_get(rule: str, login_as: LoginAs, world: World) -> None:
    client = login_as("admin" if rule != "/admin/login" else None)
    path = world.fill(rule)
    head = client.head(path)
    assert head.status_code == client.get(path).status_code == 200
    assert head.data == b""


def test_other_methods_are_405_and_change_nothing(app: Flask, login_as: LoginAs, world: World, store: Store) -> None:
    client = login_as("admin")
    token = csrf(client)
    before = stored(store)
    for method in ("PUT", "DELETE", "PATCH", "TRACE"):
        for rule, _endpoint, methods, _public in admin_rules(app):
            response = client.open(world.fill(rule), method=method, data={"csrf_token": token, "action": "disable"})
            assert response.status_code == 405, (method, rule)
            assert set(response.headers["Allow"].split(", ")) == set(methods)
    assert stored(store) == before


def test_options_tells_strangers_nothing_and_respects_roles(client: FlaskClient, login_as: LoginAs) -> None:
    assert is_login_redirect(client.options("/admin/users"))
    assert login_as("officer").options("/admin/users").status_code == 403
    response = login_as("admin").options("/admin/users")
    assert response.status_code == 200 and "POST" in response.headers["Allow"]


# ---- `next` must stay on this site ------------------------------------------------------------------


def browser_target(location: str) -> str:
    """What a browser makes of a Location header: it drops ASCII tab and newline characters."""
    return re.sub(r"[\t\r\n]", "", location)


def stays_on_site(location: str) -> bool:
    target = browser_target(location)
    return target.startswith("/") and not target.startswith(("//", "/\\"))


SAFE_NEXT = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\/\\/evil.example",
    "\\\\evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%5C%5Cevil.example",
    "https://evil.example/",
    "HTTPS://evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example",
    "\t//evil.example",
    "\n//evil.example",
    "/\u2215\u2215evil.example",  # division slash
    "/\uff0f/evil.example",  # full-width solidus
    "/\u2044/evil.example",  # fraction slash
    "/\u3002evil.example",
    "/\u00a0/evil.example",
    "/\x0b/evil.example",
    "/%09/evil.example",
    "/.//evil.example",
    "/@evil.example",
    "evil.example",
    "",
    "/admin/log?page=2#top",
]


def test_next_never_leaves_the_site(client: FlaskClient, login_as: LoginAs) -> None:
    stranger = client
    for target in SAFE_NEXT:
        switched = stranger.get("/admin/lang/en", query_string={"next": target})
        assert switched.status_code == 302 and stays_on_site(switched.headers["Location"]), target
    member = login_as("officer")
    for target in SAFE_NEXT:
        again = member.get("/admin/login", query_string={"next": target})
        assert again.status_code == 302 and stays_on_site(again.headers["Location"]), target
    assert member.get("/admin/login?next=/admin/log").headers["Location"] == "/admin/log"


OPEN_REDIRECT = (
    "BUG: safe_next accepts '/<TAB>/evil.example' (starts with '/', no '//', no backslash); the Location "
    "header leaves as '//evil.example' (werkzeug's iri_to_uri drops the tab, as browsers do): an open redirect"
)


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\t\t/evil.example/login"])
def test_language_switch_is_not_an_open_redirect_for_strangers(client: FlaskClient, target: str) -> None:
    response = client.get("/admin/lang/vi", query_string={"next": target})
    assert response.status_code == 302 and stays_on_site(response.headers["Location"])


def test_login_form_next_with_a_tab_stays_on_the_site(client: FlaskClient, staff: dict[str, int]) -> None:
    response = log_in(client, "registrar", PASSWORDS["registrar"], "/\t/evil.example")
    assert response.status_code == 302 and stays_on_site(response.headers["Location"])


@pytest.mark.parametrize("target", ["/\n/evil.example", "/\r/evil.example", "/admin/log\r\nSet-Cookie: x=1"])
def test_next_with_a_line_break_is_a_redirect_not_a_500(client: FlaskClient, target: str) -> None:
    response = client.get("/admin/lang/en", query_string={"next": target})
    assert response.status_code == 302 and stays_on_site(response.headers["Location"])
    assert "Set-Cookie: x" not in str(response.headers)


# ---- sessions of users changed while logged in --------------------------------------------------------


def test_disabling_a_user_in_the_users_page_ends_their_open_session(
    app: Flask, login_as: LoginAs, store: Store, clock: Clock, staff: dict[str, int]
) -> None:
    registrar = open_session(app, store, clock, staff["registrar"])
    token = csrf(registrar)
    admin = login_as("admin")
    response = admin.post(f"/admin/users/{staff['registrar']}", data={"action": "disable", "csrf_token": csrf(admin)})
    assert response.status_code == 302
    before = stored(store)
    assert is_login_redirect(registrar.get("/admin/events"))
    # the form they still have open, with its token, does nothing either
    late = registrar.post(f"/admin/events/{EVENT}/guests/new", data={"csrf_token": token, "name": "X", "zones": "hall"})
    assert late.status_code in (302, 400) and not late.headers.get("Location", "").startswith("/admin/guests")
    assert stored(store) == before
    # enabling them again does not bring the old session back
    admin.post(f"/admin/users/{staff['registrar']}", data={"action": "enable", "csrf_token": csrf(admin)})
    assert is_login_redirect(registrar.get("/admin/events"))


def test_a_new_password_from_the_users_page_ends_the_open_session(
    app: Flask, login_as: LoginAs, store: Store, clock: Clock, staff: dict[str, int]
) -> None:
    officer = open_session(app, store, clock, staff["officer"])
    assert officer.get("/audit/").status_code == 200
    admin = login_as("admin")
    reset = admin.post(f"/admin/users/{staff['officer']}", data={"action": "password", "csrf_token": csrf(admin)})
    assert reset.status_code == 200
    assert is_login_redirect(officer.get("/audit/"))


def test_a_role_change_applies_to_an_open_session_at_once(
    app: Flask, login_as: LoginAs, store: Store, clock: Clock, staff: dict[str, int]
) -> None:
    registrar = open_session(app, store, clock, staff["registrar"])
    assert registrar.get(f"/admin/events/{EVENT}/guests/new").status_code == 200
    token = csrf(registrar)
    admin = login_as("admin")
    admin.post(
        f"/admin/users/{staff['registrar']}", data={"action": "role", "role": "officer", "csrf_token": csrf(admin)}
    )
    before = stored(store)
    refused = registrar.post(
        f"/admin/events/{EVENT}/guests/new", data={"csrf_token": token, "name": "X", "zones": "hall"}
    )
    assert refused.status_code == 403
    assert stored(store) == before
    admin.post(
        f"/admin/users/{staff['registrar']}", data={"action": "role", "role": "admin", "csrf_token": csrf(admin)}
    )
    assert registrar.get("/admin/users").status_code == 200  # promoted: at once too


def test_an_admin_who_demotes_themselves_loses_the_admin_pages_at_once(
    login_as: LoginAs, store: Store, clock: Clock, staff: dict[str, int]
) -> None:
    users.update_user(store, staff["registrar"], clock(), actor="test", role=Role.ADMIN)  # another admin remains
    admin = login_as("admin")
    response = admin.post(
        f"/admin/users/{staff['admin']}", data={"action": "role", "role": "officer", "csrf_token": csrf(admin)}
    )
    assert response.status_code == 302
    assert admin.get("/admin/users").status_code == 403
    assert admin.get("/admin/events").status_code == 403  # an officer now: the audit pages, not the registrar's
    assert admin.get("/audit/").status_code == 200


def test_sessions_that_do_not_hold_up_send_to_the_login_page(
    store: Store, client: FlaskClient, staff: dict[str, int], clock: Clock
) -> None:
    now = int(clock().timestamp())
    admin = staff["admin"]
    ended = sessions.start(store, admin, clock())
    live = sessions.find(store, ended, clock())
    assert live is not None
    sessions.end(store, live.id, clock())
    for session in (
        {"uid": admin, "at": now, "seen": now},  # the old cookie's fields: a user id opens nothing now
        {"sid": "no such session"},
        {"sid": 12345},
        {"sid": None},
        {"sid": ["a", "list"]},
        {"sid": "x" * 5000},
        {"sid": ended},  # logged out
        {"sid": sha256_hex(sessions.start(store, admin, clock()))},  # the stored hash is not the id
    ):
        with client.session_transaction() as live:
            live.clear()
            live.update(session)
        assert is_login_redirect(client.get("/admin/events")), session


def test_a_forged_session_cookie_is_ignored(client: FlaskClient, staff: dict[str, int]) -> None:
    for value in ("garbage", "eyJ1aWQiOjF9.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA", "." * 4000, "\u00e9"):
        client.set_cookie("session", value)
        assert is_login_redirect(client.get("/admin/users")), value


# ---- login throttling --------------------------------------------------------------------------------


def test_a_throttled_name_is_throttled_only_from_where_it_failed(
    app: Flask, client: FlaskClient, store: Store, clock: Clock, staff: dict[str, int]
) -> None:
    for attempt in range(throttle.PAIR_FREE + 3):
        log_in(client, "registrar", f"a wrong password {attempt}")
        clock.advance(seconds=1)
    assert log_in(client, "registrar", PASSWORDS["registrar"]).status_code == 401  # this address waits
    assert log_in(client, "admin", PASSWORDS["admin"]).status_code == 302  # other names from here do not
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert log_in(elsewhere, "registrar", PASSWORDS["registrar"]).status_code == 302  # nor this name elsewhere


def test_concurrent_guesses_cannot_slip_past_the_count(
    app: Flask, store: Store, clock: Clock, staff: dict[str, int]
) -> None:
    """Each attempt is counted in the same transaction that checks the wait, before the password is
    checked: twenty guesses at once from one address get at most the free attempts checked."""
    budgets = throttle.login_budgets("203.0.113.9", "admin")
    allowed = [throttle.claim(store, budgets, clock()) for _ in range(20)]
    assert allowed == [True] * throttle.PAIR_FREE + [False] * (20 - throttle.PAIR_FREE)
    with ThreadPoolExecutor(8) as pool:
        later = list(pool.map(lambda _i: throttle.claim(store, budgets, clock()), range(20)))
    assert not any(later)


# ---- user names --------------------------------------------------------------------------------------


def test_names_that_only_look_like_a_user_are_not_that_user(
    client: FlaskClient, store: Store, staff: dict[str, int], clock: Clock
) -> None:
    for username in (
        "ｒｅｇｉｓｔｒａｒ",  # full-width
        "rеgistrar",  # Cyrillic е
        "registrar\u200b",  # zero-width space
        "reg istrar",
        "registrar\u0301",  # a combining accent (NFD-style)
    ):
        response = log_in(client, username, PASSWORDS["registrar"])
        assert response.status_code == 401, username
        assert is_login_redirect(client.get("/admin/events"))
    assert sessions.live_count(store, staff["registrar"], clock()) == 0


def test_the_users_form_refuses_names_that_collide_or_are_not_ascii_and_keeps_the_existing_user(
    login_as: LoginAs, store: Store
) -> None:
    client = login_as("admin")
    token = csrf(client)
    before = stored(store)
    for username in (
        "Registrar",
        "  registrar  ",
        "REGISTRAR\n",
        "ｒｅｇｉｓｔｒａｒ",
        "Thu.Lê",
        "thu le",
        "registrar\u200b",
        "a" * 65,
        "-x",
    ):
        response = client.post("/admin/users", data={"csrf_token": token, "username": username, "role": "admin"})
        assert response.status_code == 400, username
        assert 'data-field="username"' in response.text and '<p class="secret">' not in response.text
    assert stored(store) == before  # the registrar kept their role and password


# ---- guests ---------------------------------------------------------------------------------------------


def test_a_guest_edit_to_unknown_or_no_zones_is_refused_and_keeps_the_guest(
    login_as: LoginAs, world: World, store: Store
) -> None:
    client = login_as("registrar")
    token = csrf(client)
    before = stored(store)
    for zones in (
        [],
        [""],
        ["moon"],
        ["hall", "moon"],
        ["HALL"],
        [" hall"],
        ["hall,vip"],
        ["hall\u200b"],
        ["x" * 10_000],
    ):
        response = client.post(
            f"/admin/guests/{world.guest_id}/edit", data={"csrf_token": token, "name": "Nguyễn Thị Ánh", "zones": zones}
        )
        assert response.status_code == 400 and 'data-field="zones"' in response.text, zones
        added = client.post(
            f"/admin/events/{EVENT}/guests/new", data={"csrf_token": token, "name": "An", "zones": zones}
        )
        assert added.status_code == 400 and 'data-field="zones"' in added.text, zones
    assert stored(store) == before
    assert stored_guests.guest(store, world.guest_id).zones == "hall,vip"


def test_a_guest_edit_with_repeated_zones_stores_each_once(login_as: LoginAs, world: World, store: Store) -> None:
    client = login_as("registrar")
    response = client.post(
        f"/admin/guests/{world.guest_id}/edit",
        data={"csrf_token": csrf(client), "name": "Nguyễn Thị Ánh", "zones": ["press", "hall", "press", "", "hall"]},
    )
    assert response.status_code == 302
    assert stored_guests.guest(store, world.guest_id).zones == "press,hall"


def test_a_bad_guest_field_is_refused_and_keeps_the_guest(login_as: LoginAs, world: World, store: Store) -> None:
    client = login_as("registrar")
    token = csrf(client)
    before = stored(store)
    for field, value in (
        ("name", "x" * 101),
        ("name", "   "),
        ("name", "\u00a0\u3000"),
        ("name", "Ánh\u202egnp.exe"),  # right-to-left override
        ("name", "Ánh\u2028Bình"),  # line separator
        ("name", "Ánh\x1b[31m"),
        ("organisation", "o" * 121),
        ("category", "c" * 41),
        ("email", "a@b"),
        ("email", "a b@c.vn"),
        ("email", "a@b.vn\u200b"),
        ("email", "x" * 250 + "@b.vn"),
    ):
        data = {"csrf_token": token, "name": "Nguyễn Thị Ánh", "zones": ["hall"], field: value}
        response = client.post(f"/admin/guests/{world.guest_id}/edit", data=data)
        assert response.status_code == 400 and f'data-field="{field}"' in response.text, (field, value)
        added = client.post(f"/admin/events/{EVENT}/guests/new", data={**data, "issue_now": "1"})
        assert added.status_code == 400 and f'data-field="{field}"' in added.text, (field, value)
    assert stored(store) == before


NAMES = re.compile(r'<a class="strong" href="/admin/guests/\d+">([^<]+)</a>')


def guest_names(client: FlaskClient, query: str) -> list[str]:
    response = client.get(f"/admin/events/{EVENT}", query_string={"q": query})
    assert response.status_code == 200, query
    return [html.unescape(n) for n in NAMES.findall(response.text)]


def test_search_takes_metacharacters_literally(login_as: LoginAs, store: Store, clock: Clock) -> None:
    names = ["100% Đúng", "a_b Cường", "O'Brien", 'Nói "xin chào"', "back\\slash", "Lê (Sở Y tế)", "Trần Văn Bình"]
    stored_guests.add_guests(
        store, EVENT, [GuestRow(0, n, "", "", ("hall",), "") for n in names], clock(), actor="test"
    )
    client = login_as("registrar")
    expectations = {
        "%": ["100% Đúng"],
        "_": ["a_b Cường"],
        "'": ["O'Brien"],
        '"': ['Nói "xin chào"'],
        "\\": ["back\\slash"],
        "(": ["Lê (Sở Y tế)"],
        "%%": [],
        "a%b": [],
        "a_b": ["a_b Cường"],
        ".*": [],
        "[a-z]": [],
        "' OR '1'='1": [],
        '" OR 1=1 --': [],
        "'; DROP TABLE guests; --": [],
        "*": [],
        "^": [],
    }
    for query, expected in expectations.items():
        assert guest_names(client, query) == expected, query
    assert len(guest_names(client, "   ")) == len(names)  # nothing but spaces: everyone
    assert len(stored_guests.guest_views(store, EVENT)) == len(names)


def test_search_with_nfd_long_and_odd_queries(login_as: LoginAs, store: Store, clock: Clock) -> None:
    stored_guests.add_guests(
        store, EVENT, [GuestRow(0, "Nguyễn Thị Ánh", "", "", ("hall",), "")], clock(), actor="test"
    )
    client = login_as("registrar")
    nfd = "Nguye\u0302\u0303n Thi\u0323 A\u0301nh"
    assert guest_names(client, nfd) == ["Nguyễn Thị Ánh"]
    assert guest_names(client, "NGUYỄN") == ["Nguyễn Thị Ánh"]
    for query in ("a" * 100_000, "Ánh" * 5000, "\ufffd", "\U0001f600", "\u202e", "%FF"):
        assert guest_names(client, query) == [], query[:20]
    page = client.get(f"/admin/events/{EVENT}", query_string={"q": "a" * 100_000, "page": "2"})
    assert page.status_code == 200
    assert f'name="q" value="{"a" * 200}"' in page.text  # searched and shown cut to 200 characters


# ---- ids in URLs ------------------------------------------------------------------------------------


GUEST_ROUTES = [
    ("GET", "/admin/guests/{}"),
    ("GET", "/admin/guests/{}/edit"),
    ("POST", "/admin/guests/{}/edit"),
    ("POST", "/admin/guests/{}/issue"),
    ("POST", "/admin/guests/{}/email"),
    ("POST", "/admin/users/{}"),
]


@pytest.mark.parametrize(
    "number",
    [
        pytest.param(2**31, id="2**31"),
        pytest.param(2**63, id="2**63"),
        pytest.param(10**30, id="10**30"),
    ],
)
def test_huge_guest_and_user_ids_are_404(number: int, login_as: LoginAs, store: Store) -> None:
    client = login_as("admin")
    token = csrf(client)
    before = stored(store)
    for method, pattern in GUEST_ROUTES:
        data = {"csrf_token": token, "action": "enable", "name": "X", "zones": "hall"} if method == "POST" else None
        response = client.open(pattern.format(number), method=method, data=data)
        assert response.status_code == 404, (method, pattern, response.status_code)
    assert stored(store) == before


def test_negative_and_non_numeric_guest_ids_are_404(login_as: LoginAs, world: World, store: Store) -> None:
    client = login_as("admin")
    token = csrf(client)
    before = stored(store)
    for text in ("-1", "1x", "0x1", "1.0", "+1", "%201", "1e3", "0", "9" * 5000):
        for method, pattern in GUEST_ROUTES:
            data = {"csrf_token": token, "action": "enable"} if method == "POST" else None
            response = client.open(pattern.format(text), method=method, data=data)
            assert response.status_code == 404, (text[:20], method, pattern, response.status_code)
    assert stored(store) == before


def test_odd_page_numbers_show_a_page(login_as: LoginAs) -> None:
    client = login_as("registrar")
    for page in ("-1", "0", "abc", "٣", "1e3", "9" * 5000, str(10**17)):
        assert client.get("/admin/log", query_string={"page": page}).status_code == 200, page
        assert client.get(f"/admin/events/{EVENT}", query_string={"page": page}).status_code == 200, page
    assert client.get(f"/admin/events/{EVENT}", query_string={"page": str(10**30)}).status_code == 200


def test_a_huge_page_number_in_the_log_is_not_a_500(login_as: LoginAs) -> None:
    assert login_as("registrar").get("/admin/log", query_string={"page": str(10**18)}).status_code == 200


def test_credential_ids_that_are_not_32_lowercase_hex_are_404(login_as: LoginAs, world: World, store: Store) -> None:
    client = login_as("registrar")
    token = csrf(client)
    before = stored(store)
    routes = (
        ("GET", "/admin/credentials/{}.png"),
        ("GET", "/admin/credentials/{}.svg"),
        ("POST", "/admin/credentials/{}/revoke"),
    )
    for cti in (
        world.cti.upper(),
        world.cti[:31],
        world.cti + "0",
        "g" * 32,
        "０" * 32,
        "%20" + world.cti[:29],
        world.cti + "%20",
        "*" * 32,
        "%" * 32,
        "a" * 5000,
    ):
        for method, path in routes:
            data = {"csrf_token": token, "reason": "x"} if method == "POST" else None
            response = client.open(path.format(cti), method=method, data=data)
            assert response.status_code == 404, (cti[:40], path, response.status_code)
    assert stored(store) == before
    # a prefix of the real id does not revoke it either
    prefix = client.post(f"/admin/credentials/{world.cti[:8]}/revoke", data={"csrf_token": token, "reason": "x"})
    assert prefix.status_code == 404 and stored_guests.credential(store, world.cti).status == "active"


def test_event_ids_with_odd_characters_are_404(login_as: LoginAs, world: World, store: Store) -> None:
    client = login_as("admin")
    token = csrf(client)
    before = stored(store)
    routes = (
        ("GET", ""),
        ("GET", "/guests/new"),
        ("GET", "/import"),
        ("GET", "/badges.pdf"),
        ("POST", "/issue"),
        ("POST", "/gates"),
    )
    odd = (
        "..",
        "%2e%2e",
        "a b",
        "<script>",
        "x" * 5000,
        "cds2022%20",
        "CDS2022",
        "cds2022;",
        "%ED%A0%80",
        "%FF",
        "c%25",
        "_",
        "%",
    )
    for event_id in odd:
        for method, suffix in routes:
            data = {"csrf_token": token, "name": "G", "zone": "hall"} if method == "POST" else None
            response = client.open(f"/admin/events/{event_id}{suffix}", method=method, data=data)
            assert response.status_code == 404, (event_id[:20], suffix, response.status_code)
            assert RAW_TAG.search(response.text) is None
    assert stored(store) == before


def test_gate_ids_that_do_not_exist_are_404(login_as: LoginAs, world: World, store: Store) -> None:
    client = login_as("admin")
    token = csrf(client)
    for device_id in ("x" * 5000, "%FF", "<script>", world.device_id.upper(), " " + world.device_id):
        response = client.post(f"/admin/gates/{device_id}/revoke", data={"csrf_token": token})
        assert response.status_code == 404, device_id
    assert stored_devices.device(store, world.device_id).status == "pending"


# ---- the event form ------------------------------------------------------------------------------


BAD_EVENTS: list[tuple[dict[str, str], str]] = [
    ({"end": "2022-04-02T07:59"}, "end"),
    ({"end": "2022-04-02T08:00"}, "end"),
    ({"end": "2022-04-02T01:00Z"}, "end"),  # the same instant written in UTC
    ({"timezone": "America"}, "timezone"),  # a folder of the zone database
    ({"timezone": "a" * 300}, "timezone"),
    ({"timezone": "../../../../etc/passwd"}, "timezone"),
    ({"timezone": "/etc/localtime"}, "timezone"),
    ({"timezone": "Asia/../Asia/Tokyo"}, "timezone"),
    ({"timezone": "asia/ho_chi_minh"}, "timezone"),
    ({"timezone": "+07:00"}, "timezone"),
    ({"zones": ""}, "zones"),
    ({"zones": " ,;| "}, "zones"),
    ({"zones": ",".join(f"z{i}" for i in range(17))}, "zones"),
    ({"zones": ",".join(f"z{i}" for i in range(100))}, "zones"),
    ({"zones": "z" * 33}, "zones"),
    ({"zones": "hall, vip!"}, "zones"),
    ({"zones": "hàll"}, "zones"),
    ({"id": "new event"}, "id"),
    ({"id": "x" * 65}, "id"),
    ({"id": "cds2022\u200b"}, "id"),
    ({"id": "hội-thảo"}, "id"),
    ({"name": "n" * 201}, "name"),
    ({"name": "Tên\u202esự kiện"}, "name"),
    ({"venue": "v" * 201}, "venue"),
    ({"start": "2022-04-02T08:00+25:00"}, "start"),
    ({"start": "02/04/2022 08:00"}, "start"),
    ({"start": "2022-02-30T08:00"}, "start"),
    ({"start": "9" * 5000}, "start"),
]


def test_a_bad_event_form_names_the_field_and_stores_nothing(login_as: LoginAs, store: Store) -> None:
    client = login_as("registrar")
    token = csrf(client)
    before = stored(store)
    for overrides, field in BAD_EVENTS:
        response = client.post("/admin/events/new", data={**event_form(**overrides), "csrf_token": token})
        assert response.status_code == 400, (overrides, response.status_code)
        assert f'data-field="{field}"' in response.text, overrides
    assert stored(store) == before


def test_the_event_form_folds_repeated_and_upper_case_zones_and_takes_16(login_as: LoginAs, store: Store) -> None:
    client = login_as("registrar")
    token = csrf(client)
    response = client.post(
        "/admin/events/new", data={**event_form(zones="hall, HALL;vip|vip  press,,"), "csrf_token": token}
    )
    assert response.status_code == 302
    assert stored_events.event(store, "hoi-thao-2").zone_codes == ("hall", "vip", "press")
    sixteen = ",".join(f"z{i}" for i in range(16))
    response = client.post("/admin/events/new", data={**event_form(id="e16", zones=sixteen), "csrf_token": token})
    assert response.status_code == 302 and len(stored_events.event(store, "e16").zone_codes) == 16


def test_an_existing_event_id_is_never_overwritten(login_as: LoginAs, store: Store) -> None:
    client = login_as("admin")
    before = stored(store)
    response = client.post(
        "/admin/events/new", data={**event_form(id=EVENT, name="Tên khác", zones="moon"), "csrf_token": csrf(client)}
    )
    assert response.status_code == 400 and 'data-field="id"' in response.text
    assert stored(store) == before
    assert stored_events.event(store, EVENT).zone_codes == ("hall", "vip", "press")


@pytest.mark.parametrize(
    ("start", "end", "timezone"),
    [
        ("9999-12-31T20:00", "9999-12-31T23:00", "America/New_York"),
        ("0001-01-01T00:00", "0001-01-01T05:00", "Asia/Tokyo"),
    ],
    ids=["year-9999", "year-1"],
)
def test_event_times_at_the_edge_of_the_calendar_are_refused(
    start: str, end: str, timezone: str, login_as: LoginAs, store: Store
) -> None:
    client = login_as("registrar")
    before = stored(store)
    response = client.post(
        "/admin/events/new", data={**event_form(start=start, end=end, timezone=timezone), "csrf_token": csrf(client)}
    )
    assert response.status_code == 400
    assert stored(store) == before


@pytest.mark.parametrize(
    ("start", "end", "timezone"),
    [("9999-12-31T10:00", "9999-12-31T20:00", "UTC"), ("0001-01-01T00:00", "0001-01-01T05:00", "America/New_York")],
    ids=["year-9999", "year-1"],
)
def test_issuing_for_an_event_at_the_edge_of_the_calendar_is_not_a_500(
    start: str, end: str, timezone: str, login_as: LoginAs, store: Store
) -> None:
    client = login_as("registrar")
    token = csrf(client)
    created = client.post(
        "/admin/events/new", data={**event_form(id="far", start=start, end=end, timezone=timezone), "csrf_token": token}
    )
    if created.status_code == 400:  # refusing such an event is a fix too
        return
    assert created.status_code == 302
    added = client.post(
        "/admin/events/far/guests/new", data={"csrf_token": token, "name": "An", "zones": "hall", "issue_now": "1"}
    )
    assert added.status_code in (302, 303, 400)
    issued = client.post("/admin/events/far/issue", data={"csrf_token": token})
    assert issued.status_code in (302, 303, 400)


def test_an_event_whose_id_is_new_can_be_seen(login_as: LoginAs, store: Store) -> None:
    client = login_as("registrar")
    response = client.post(
        "/admin/events/new", data={**event_form(id="new", name="Hội nghị Quý Mão"), "csrf_token": csrf(client)}
    )
    if response.status_code == 400:  # refusing the id is a fix too
        assert 'data-field="id"' in response.text
        return
    page = client.get(response.headers["Location"])
    assert "Hội nghị Quý Mão" in page.text


# ---- gates and the badge sheet ---------------------------------------------------------------------------


def test_a_bad_gate_is_refused_and_nothing_is_created(login_as: LoginAs, store: Store) -> None:
    client = login_as("admin")
    token = csrf(client)
    before = stored(store)
    for data, field in (
        ({"name": "g" * 101, "zone": "hall"}, "gate_name"),
        ({"name": "", "zone": "hall"}, "gate_name"),
        ({"name": "Cổng\u202eB", "zone": "hall"}, "gate_name"),
        ({"name": "Cổng B", "zone": "HALL"}, "gate_zone"),
        ({"name": "Cổng B", "zone": ""}, "gate_zone"),
        ({"name": "Cổng B"}, "gate_zone"),
        ({"name": "Cổng B", "zone": "hall", "direction": "sideways"}, "gate_direction"),
    ):
        response = client.post(f"/admin/events/{EVENT}/gates", data={**data, "csrf_token": token})
        assert response.status_code == 400 and f'data-field="{field}"' in response.text, data
        assert '<p class="secret"' not in response.text
    assert stored(store) == before


def test_badge_sheet_without_active_codes_says_so(
    login_as: LoginAs, store: Store, clock: Clock, config: Config
) -> None:
    client = login_as("registrar")
    for _ in range(2):  # no codes at all, then only a revoked one
        response = client.get(f"/admin/events/{EVENT}/badges.pdf")
        assert response.status_code == 303 and response.headers["Location"] == f"/admin/events/{EVENT}"
        page = client.get(response.headers["Location"])
        assert page.status_code == 200 and "flash-error" in page.text
        [signed] = issue_to(store, config, clock, [ANH])
        stored_guests.revoke(store, signed.credential.id_hex, "test", clock())
    assert all(a.action != "badges.print" for a in stored_actions.actions(store))


# ---- HTML in every text field ----------------------------------------------------------------------------


XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&"
SHORT_XSS = "<script>x</script>\"'"  # fits the 40 characters of a category


def assert_escaped(response: TestResponse, where: str) -> None:
    assert response.status_code in (200, 400, 401, 404), (where, response.status_code)
    found = RAW_TAG.search(response.text)
    assert found is None, f"{where}: unescaped {found.group(0) if found else ''!r}"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_html_in_every_text_field_is_escaped_on_every_page(lang: str, login_as: LoginAs, store: Store) -> None:
    client = login_as("admin")
    client.get(f"/admin/lang/{lang}")
    token = csrf(client)
    created = client.post(
        "/admin/events/new", data={**event_form(id="xss", name=XSS, venue=XSS, zones="hall"), "csrf_token": token}
    )
    assert created.status_code == 302
    assert_escaped(client.get(created.headers["Location"]), "event page (flash)")
    gate = client.post(
        "/admin/events/xss/gates", data={"name": XSS, "zone": "hall", "direction": "in", "csrf_token": token}
    )
    assert_escaped(gate, "gate created")
    assert "&lt;script&gt;" in gate.text
    assert_escaped(
        client.post("/admin/events/xss/gates", data={"name": XSS, "zone": "moon", "csrf_token": token}), "gate error"
    )
    guest = {"name": XSS, "organisation": XSS, "category": SHORT_XSS, "email": '"><script>alert(3)</script>@x.vn'}
    added = client.post(
        "/admin/events/xss/guests/new", data={**guest, "zones": "hall", "issue_now": "1", "csrf_token": token}
    )
    assert added.status_code == 302, added.text[:500]
    gid = int(added.headers["Location"].rsplit("/", 1)[1])
    [cred] = stored_guests.guest_credentials(store, gid)
    stored_guest = stored_guests.guest(store, gid)
    assert (stored_guest.name, stored_guest.organisation, stored_guest.category) == (XSS, XSS, SHORT_XSS)
    assert_escaped(client.get(added.headers["Location"]), "guest page (flash)")
    pdf = client.get("/admin/events/xss/badges.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    upload = client.post(
        "/admin/events/xss/import",
        data={"csrf_token": token, "file": (io.BytesIO(f"name,zones\n{XSS},hall\n,hall\n".encode()), f"{XSS}.csv")},
        content_type="multipart/form-data",
    )
    assert_escaped(upload, "import report")
    assert_escaped(
        client.post(
            f"/admin/credentials/{cred.cti}/revoke", data={"reason": XSS, "csrf_token": token}, follow_redirects=True
        ),
        "revoke",
    )
    assert_escaped(
        client.post(f"/admin/guests/{gid}/edit", data={**guest, "zones": "moon", "csrf_token": token}),
        "guest edit error",
    )
    assert_escaped(
        client.post(
            "/admin/events/new",
            data={
                **event_form(id="bad id", name=XSS, venue=XSS, timezone=XSS, start=XSS, zones=XSS),
                "csrf_token": token,
            },
        ),
        "event form error",
    )
    assert_escaped(client.post("/admin/users", data={"username": XSS, "role": XSS, "csrf_token": token}), "users error")
    for path in (
        "/admin/events",
        "/admin/events/xss",
        f"/admin/events/xss?q={XSS}",
        f"/admin/events/xss?q=x&page={XSS}",
        f"/admin/guests/{gid}",
        f"/admin/guests/{gid}/edit",
        "/admin/events/xss/guests/new",
        "/admin/events/xss/import",
        "/admin/log",
        f"/admin/log?{XSS}={XSS}",
        f"/admin/events/{XSS}",
    ):
        response = client.get(path)
        assert_escaped(response, path)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/admin/events/xss").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/admin/log").text
    # the login page reflects the user name and `next`
    stranger = login_as(None)
    page = stranger.get("/admin/login", query_string={"next": f"/x{XSS}"})
    assert_escaped(page, "login page")
    refused = stranger.post(
        "/admin/login",
        query_string={"next": f"/x{XSS}"},
        data={"csrf_token": csrf(stranger, "/admin/login"), "username": XSS, "password": "x"},
    )
    assert refused.status_code == 401
    assert_escaped(refused, "login refused")


def test_form_attributes_reach_the_browser_intact(login_as: LoginAs) -> None:
    assert 'autocomplete="username"' in login_as(None).get("/admin/login").text
    client = login_as("registrar")
    assert 'list="categories"' in client.get(f"/admin/events/{EVENT}/guests/new").text
    assert "&#34;" not in client.get("/admin/events/new").text


# ---- the language switch ---------------------------------------------------------------------------------


def test_odd_languages_are_refused_and_keep_the_chosen_one(client: FlaskClient) -> None:
    client.get("/admin/lang/en")
    for code in ("EN", "en-US", "vi ", "fr", "..", "en.", "e" * 1000, "%ED%A0%80", "%00", "vi%0a", "%20vi", "vi%2F"):
        response = client.get(f"/admin/lang/{code}", query_string={"next": "/admin/log"})
        assert response.status_code in (400, 404), (code[:20], response.status_code)
        assert 'lang="en"' in client.get("/admin/login").text, code[:20]


def test_the_language_switch_opens_no_door(client: FlaskClient, staff: dict[str, int]) -> None:
    response = client.get("/admin/lang/en", query_string={"next": "/admin/users"})
    assert response.headers["Location"] == "/admin/users"
    assert is_login_redirect(client.get("/admin/users"))


# ---- refusals are the app's pages -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/guests/-1", "/admin/nope", "/admin/logout"])
def test_routing_refusals_are_the_apps_pages(path: str, login_as: LoginAs) -> None:
    response = login_as("officer").get(path)
    assert response.status_code in (404, 405)
    assert '<html lang="vi">' in response.text and response.headers.get("X-Frame-Options") == "DENY"
