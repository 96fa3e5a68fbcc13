"""Staff login: argon2id passwords and their policy, login throttling shared through the database
(per address and per address and name, growing waits, never a lock), the same refusal for every
failure, trusted proxies, server-side sessions (lifetime, logout, password change, disabled users,
log out everywhere), cookie flags, CSRF, deny by default, the language switch, `checkin user`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from checkin.config import Config, parse
from checkin.core.errors import ConfigError, InputError, Reason
from checkin.store import LoginThrottle, StaffSession, Store, sessions, sha256_hex, throttle, users
from checkin.store import actions as stored_actions
from checkin.store.users import Role
from checkin.web import create_app

STAFF_PASSWORDS = {role: f"{role} test password 2022" for role in ("admin", "registrar", "officer")}  # conftest's
PASSWORD = STAFF_PASSWORDS["registrar"]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(client: FlaskClient, path: str = "/admin/login") -> str:
    match = TOKEN.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(client: FlaskClient, username: str, password: str, next_path: str | None = None) -> Any:
    query = f"?next={next_path}" if next_path else ""
    data = {"csrf_token": token(client), "username": username, "password": password}
    return client.post(f"/admin/login{query}", data=data)


# ---- the login form -----------------------------------------------------------------------------


def test_strangers_are_sent_to_the_login_page_in_vietnamese(client: FlaskClient) -> None:
    response = client.get("/admin/events?q=x")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/events?q%3Dx"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "<h1>Đăng nhập</h1>" in page.text and 'lang="vi"' in page.text


def test_login_then_back_to_the_page_asked_for(client: FlaskClient, staff: dict[str, int]) -> None:
    response = log_in(client, "registrar", PASSWORD, "/admin/log")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/log"
    assert client.get("/admin/log").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"])
def test_login_never_redirects_off_the_site(client: FlaskClient, staff: dict[str, int], target: str) -> None:
    response = log_in(client, "registrar", PASSWORD, target)
    assert response.headers["Location"] == "/admin/events"


def test_user_names_are_not_case_sensitive(client: FlaskClient, staff: dict[str, int]) -> None:
    assert log_in(client, "  Registrar ", PASSWORD).status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_answer(client: FlaskClient, staff: dict[str, int]) -> None:
    wrong = log_in(client, "registrar", "not the password at all")
    unknown = log_in(client, "nobody", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Sai tên đăng nhập hoặc mật khẩu" in response.text
    assert client.get("/admin/events").status_code == 302


def test_empty_fields_are_named(client: FlaskClient) -> None:
    response = client.post("/admin/login", data={"csrf_token": token(client), "username": "", "password": ""})
    assert response.status_code == 400
    assert 'data-field="username"' in response.text and 'data-field="password"' in response.text


def test_login_without_csrf_token_is_refused(client: FlaskClient, staff: dict[str, int]) -> None:
    response = client.post("/admin/login", data={"username": "registrar", "password": PASSWORD})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.text
    assert client.get("/admin/events").status_code == 302


def test_a_disabled_user_cannot_log_in(client: FlaskClient, store: Store, staff: dict[str, int], clock: Any) -> None:
    users.update_user(store, staff["registrar"], clock(), actor="admin", active=False)
    assert log_in(client, "registrar", PASSWORD).status_code == 401


# ---- throttling: shared, per address and per (address, name), growing waits, never a lock ---------


class CountingHasher(PasswordHasher):
    """The real argon2id hasher, counting its verifications: which refusals did the same work."""

    calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        CountingHasher.calls += 1
        return super().verify(hash, password)


def page_text(response: Any, username: str) -> str:
    """The answer's body without what legitimately differs: the echoed name and the CSRF token."""
    return TOKEN.sub("", response.text).replace(f'value="{username}"', 'value=""')


def from_address(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_unknown_name_wrong_password_disabled_user_and_throttled_attempt_look_the_same(
    app: Flask, client: FlaskClient, store: Store, staff: dict[str, int], clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users, "_hasher", CountingHasher())
    users.update_user(store, staff["officer"], clock(), actor="admin", active=False)
    answers = {}
    for case, name, password in (
        ("unknown", "nobody", "not the password at all"),
        ("wrong", "registrar", "not the password at all"),
        ("disabled", "officer", STAFF_PASSWORDS["officer"]),
    ):
        before = CountingHasher.calls
        answers[case] = log_in(client, name, password), name
        assert CountingHasher.calls - before == 1, case  # one argon2 verification each, whatever the case
    for attempt in range(throttle.PAIR_FREE - 1):  # the name's free attempts from this address, then one more
        log_in(client, "registrar", f"wrong {attempt}")
    before = CountingHasher.calls
    answers["throttled"] = log_in(client, "registrar", PASSWORD), "registrar"  # the right password, too soon
    assert CountingHasher.calls - before == 1
    statuses = {case: response.status_code for case, (response, _name) in answers.items()}
    assert statuses == dict.fromkeys(answers, 401)
    bodies = {page_text(response, name) for response, name in answers.values()}
    assert len(bodies) == 1 and "Sai tên đăng nhập hoặc mật khẩu" in bodies.pop()
    assert client.get("/admin/events").status_code == 302


def test_five_wrong_passwords_from_one_address_do_not_lock_the_admin_out_from_another(
    app: Flask, store: Store, staff: dict[str, int], clock: Any
) -> None:
    attacker, admin = from_address(app, "203.0.113.9"), from_address(app, "198.51.100.7")
    for attempt in range(20):  # the free five, then as fast as the waits let through
        assert log_in(attacker, "admin", f"guess number {attempt}").status_code == 401
        clock.advance(seconds=1)
    assert log_in(attacker, "admin", STAFF_PASSWORDS["admin"]).status_code == 401  # even the right one, there
    assert log_in(admin, "admin", STAFF_PASSWORDS["admin"]).status_code == 302  # at once, from elsewhere
    assert admin.get("/admin/users").status_code == 200
    assert "user.locked" not in {a.action for a in stored_actions.actions(store)}


def test_the_waits_double_after_the_free_attempts_and_end_exactly(
    app: Flask, client: FlaskClient, staff: dict[str, int], clock: Any
) -> None:
    for attempt in range(throttle.PAIR_FREE):
        assert log_in(client, "registrar", f"wrong {attempt}").status_code == 401
    start = clock()
    for wait in (1, 2, 4, 8):  # each counted failure past the free ones doubles the next wait
        clock.now = start
        assert log_in(client, "registrar", PASSWORD).status_code == 401  # refused unseen: not counted
        clock.now = start + timedelta(seconds=wait) - timedelta(microseconds=1)
        assert log_in(client, "registrar", PASSWORD).status_code == 401
        start += timedelta(seconds=wait)
        clock.now = start
        assert log_in(client, "registrar", "still wrong").status_code == 401
    clock.now = start + timedelta(seconds=16)
    assert log_in(client, "registrar", PASSWORD).status_code == 302  # the wait over, the right password works
    again = app.test_client()  # the same address, another browser
    assert log_in(again, "registrar", "wrong once more").status_code == 401
    assert log_in(again, "registrar", PASSWORD).status_code == 302  # the name's count here started afresh


def test_the_wait_stops_growing_at_15_minutes() -> None:
    waits = [throttle.wait_after(n, throttle.PAIR_FREE) for n in range(40)]
    assert waits[:5] == [timedelta(0)] * 5 and waits[5:9] == [timedelta(seconds=s) for s in (1, 2, 4, 8)]
    assert max(waits) == waits[-1] == throttle.MAX_WAIT == timedelta(minutes=15)
    assert waits == sorted(waits)


def test_one_address_trying_many_names_waits_too(app: Flask, staff: dict[str, int], clock: Any) -> None:
    sprayer = from_address(app, "203.0.113.50")
    for attempt in range(throttle.ADDRESS_FREE):
        assert log_in(sprayer, f"name{attempt}", "Spring2022!").status_code == 401
    assert log_in(sprayer, "registrar", PASSWORD).status_code == 401  # a new name, but the address waits
    clock.advance(seconds=1)
    assert log_in(sprayer, "registrar", PASSWORD).status_code == 302
    assert log_in(from_address(app, "203.0.113.51"), "admin", STAFF_PASSWORDS["admin"]).status_code == 302


def test_two_instances_on_one_database_share_the_budget(
    config: Config, client: FlaskClient, staff: dict[str, int], clock: Any
) -> None:
    other = create_app(config, {"CLOCK": clock, "TESTING": True})
    try:
        second = other.test_client()
        for attempt in range(throttle.PAIR_FREE):
            assert log_in(client if attempt % 2 else second, "registrar", f"wrong {attempt}").status_code == 401
        assert log_in(client, "registrar", PASSWORD).status_code == 401  # waits, whichever instance counted
        assert log_in(second, "registrar", PASSWORD).status_code == 401
        clock.advance(seconds=1)
        assert log_in(second, "registrar", PASSWORD).status_code == 302
    finally:
        other.extensions["checkin.store"].dispose()


def test_the_table_forgets_idle_keys_and_holds_no_address_or_name(
    app: Flask, store: Store, staff: dict[str, int], clock: Any
) -> None:
    for i in range(50):
        log_in(from_address(app, f"10.0.0.{i}"), f"someone{i}", "a wrong password")
    with store.session() as s:
        rows = s.scalars(select(LoginThrottle)).all()
    assert len(rows) == 100 and all(re.fullmatch(r"[0-9a-f]{64}", row.key) for row in rows)
    clock.advance(hours=1, seconds=1)
    log_in(from_address(app, "10.9.9.9"), "registrar", "a wrong password")
    with store.session() as s:
        assert len(s.scalars(select(LoginThrottle)).all()) == 2  # only the last attempt's two keys


def proxied(config: Config, hops: int) -> Config:
    return replace(config, service=replace(config.service, trusted_proxies=hops))


@pytest.mark.parametrize("hops", [0, 1])
def test_x_forwarded_for_is_believed_only_behind_trusted_proxies(
    config: Config, staff: dict[str, int], clock: Any, hops: int
) -> None:
    app = create_app(proxied(config, hops), {"CLOCK": clock, "TESTING": True})
    try:
        proxy = from_address(app, "127.0.0.1")  # every client arrives through the TLS proxy
        for attempt in range(throttle.PAIR_FREE):  # an attacker changes the header on every try
            proxy.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{attempt}"
            assert log_in(proxy, "admin", f"guess {attempt}").status_code == 401
        proxy.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.99"  # still the attacker
        attacker = log_in(proxy, "admin", STAFF_PASSWORDS["admin"]).status_code
        office_browser = from_address(app, "127.0.0.1")
        office_browser.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"  # the admin, in the office
        office = log_in(office_browser, "admin", STAFF_PASSWORDS["admin"]).status_code
    finally:
        app.extensions["checkin.store"].dispose()
    if hops:  # each client is itself: the attacker's five are his own, the admin gets in
        assert office == 302 and attacker == 302
    else:  # the header is ignored: one address, one budget, whatever the attacker writes in it
        assert office == attacker == 401


def test_trusted_proxies_in_the_config_file(tmp_path: Path) -> None:
    cfg = parse("[service]\ntrusted_proxies = 1\n", root=tmp_path, source="t.toml")
    assert cfg.service.trusted_proxies == 1
    assert parse("", root=tmp_path, source="t.toml").service.trusted_proxies == 0
    with pytest.raises(ConfigError, match="0 or more"):
        parse("[service]\ntrusted_proxies = -1\n", root=tmp_path, source="t.toml")


# ---- sessions -------------------------------------------------------------------------------------


def test_session_cookie_flags(client: FlaskClient, staff: dict[str, int]) -> None:
    log_in(client, "registrar", PASSWORD)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert not cookie.secure  # TESTING: the test client speaks plain HTTP


def test_session_cookie_is_secure_outside_tests(config: Config, clock: Any, staff: dict[str, int]) -> None:
    app = create_app(config, {"CLOCK": clock})
    try:
        client = app.test_client()
        log_in(client, "registrar", PASSWORD)
        cookie = client.get_cookie("session")
        assert cookie is not None and cookie.secure and cookie.http_only and cookie.same_site == "Lax"
    finally:
        app.extensions["checkin.store"].dispose()


def test_sessions_end_after_two_idle_hours(client: FlaskClient, staff: dict[str, int], clock: Any) -> None:
    log_in(client, "registrar", PASSWORD)
    clock.advance(hours=1, minutes=59)
    assert client.get("/admin/events").status_code == 200  # activity keeps the session alive
    clock.advance(hours=1, minutes=59)
    assert client.get("/admin/events").status_code == 200
    clock.advance(hours=2, seconds=1)
    response = client.get("/admin/events")
    assert response.status_code == 302
    assert "Phiên làm việc đã kết thúc" in client.get(response.headers["Location"]).text


def test_sessions_end_after_twelve_hours_whatever_the_activity(
    client: FlaskClient, staff: dict[str, int], clock: Any
) -> None:
    log_in(client, "registrar", PASSWORD)
    for _ in range(11):
        clock.advance(hours=1)
        assert client.get("/admin/events").status_code == 200
    clock.advance(hours=1, seconds=1)
    assert client.get("/admin/events").status_code == 302


def test_a_password_change_ends_other_sessions(
    client: FlaskClient, store: Store, staff: dict[str, int], clock: Any
) -> None:
    log_in(client, "registrar", PASSWORD)
    users.update_user(store, staff["registrar"], clock(), actor="admin", password="a brand new password 42")
    assert client.get("/admin/events").status_code == 302
    assert log_in(client, "registrar", "a brand new password 42").status_code == 302


def test_disabling_a_user_ends_their_session_at_once(
    client: FlaskClient, store: Store, staff: dict[str, int], clock: Any
) -> None:
    log_in(client, "registrar", PASSWORD)
    users.update_user(store, staff["registrar"], clock(), actor="admin", active=False)
    assert client.get("/admin/events").status_code == 302


def test_logout_needs_post_and_a_token(client: FlaskClient, store: Store, staff: dict[str, int]) -> None:
    log_in(client, "registrar", PASSWORD)
    assert client.get("/admin/logout").status_code == 405
    assert client.post("/admin/logout").status_code == 400
    response = client.post("/admin/logout", data={"csrf_token": token(client, "/admin/events")})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login"
    assert client.get("/admin/events").status_code == 302
    assert stored_actions.actions(store)[0].action == "user.logout"


def cookie_payload(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """What the signed session cookie holds, read the way Flask reads it."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return dict(serializer.loads(cookie.value))


def test_the_cookie_holds_only_a_session_id_the_database_only_its_hash(
    app: Flask, client: FlaskClient, store: Store, staff: dict[str, int]
) -> None:
    log_in(client, "registrar", PASSWORD)
    payload = cookie_payload(app, client)
    assert set(payload) <= {"sid", "csrf_token", "lang"} and len(payload["sid"]) >= 40
    with store.session() as s:
        row = s.scalars(select(StaffSession)).one()
    assert row.user_id == staff["registrar"] and row.token_hash == sha256_hex(payload["sid"])
    assert payload["sid"] not in row.token_hash
    thief = app.test_client()
    with thief.session_transaction() as session:
        session["sid"] = row.token_hash  # what a copy of the database holds opens nothing
    assert thief.get("/admin/events").status_code == 302


def test_a_cookie_copied_before_logout_no_longer_works(app: Flask, client: FlaskClient, staff: dict[str, int]) -> None:
    log_in(client, "registrar", PASSWORD)
    copied = client.get_cookie("session")
    assert copied is not None
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/events")})
    thief = app.test_client()
    thief.set_cookie("session", copied.value)
    assert thief.get("/admin/events").status_code == 302


def test_log_out_everywhere_ends_every_session_of_the_user_only(
    app: Flask, client: FlaskClient, store: Store, staff: dict[str, int], clock: Any
) -> None:
    log_in(client, "registrar", PASSWORD)
    phone, colleague = app.test_client(), app.test_client()
    log_in(phone, "registrar", PASSWORD)
    log_in(colleague, "admin", STAFF_PASSWORDS["admin"])
    page = client.get("/admin/account")
    assert page.status_code == 200 and "Bạn đang đăng nhập ở 2 nơi" in page.text
    response = client.post("/admin/account/logout-all", data={"csrf_token": token(client, "/admin/account")})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login"
    assert client.get("/admin/events").status_code == 302 and phone.get("/admin/events").status_code == 302
    assert colleague.get("/admin/events").status_code == 200
    assert sessions.live_count(store, staff["registrar"], clock()) == 0
    assert stored_actions.actions(store)[0].action == "user.logout_all"


def test_cli_user_logout_all(runner: Any, client: FlaskClient, staff: dict[str, int], clock: Any) -> None:
    log_in(client, "registrar", PASSWORD)
    result = runner("user", "list", now=clock())
    assert re.search(r"registrar\s+registrar\s+active\s+1 sessions", result.stdout), result.output
    result = runner("user", "logout-all", "Registrar", now=clock())
    assert result.exit_code == 0 and "1 sessions of registrar ended" in result.stdout
    assert client.get("/admin/events").status_code == 302
    result = runner("user", "logout-all", "nobody")
    assert isinstance(result.exception, InputError) and result.exception.reason is Reason.NOT_FOUND


def change_password(client: FlaskClient, current: str, new: str, repeat: str | None = None) -> Any:
    data = {"csrf_token": token(client, "/admin/account"), "current": current, "new": new}
    return client.post("/admin/account/password", data={**data, "repeat": new if repeat is None else repeat})


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(
    app: Flask, client: FlaskClient, store: Store, staff: dict[str, int]
) -> None:
    log_in(client, "registrar", PASSWORD)
    other = app.test_client()
    log_in(other, "registrar", PASSWORD)
    before = client.get_cookie("session")
    assert change_password(client, "not my password", "mưa rơi trên phố cổ Hội An").status_code == 400
    assert change_password(client, PASSWORD, "mưa rơi trên phố cổ Hội An", "typo").status_code == 400
    response = change_password(client, PASSWORD, "mưa rơi trên phố cổ Hội An")
    assert response.status_code == 303
    assert "Đã đổi mật khẩu" in client.get("/admin/account").text  # this browser goes on, with a new id
    assert other.get("/admin/events").status_code == 302
    stale = app.test_client()
    assert before is not None
    stale.set_cookie("session", before.value)
    assert stale.get("/admin/events").status_code == 302
    user = users.user_by_name(store, "registrar")
    assert user is not None and users.password_matches(user.password_hash, "mưa rơi trên phố cổ Hội An")


@pytest.mark.parametrize("weak", ["password1234", "qwertyuiop123", "registrar2022!", "short"])
def test_the_account_page_refuses_weak_passwords_in_vietnamese(
    client: FlaskClient, store: Store, staff: dict[str, int], weak: str
) -> None:
    log_in(client, "registrar", PASSWORD)
    response = change_password(client, PASSWORD, weak)
    assert response.status_code == 400
    assert "Mật khẩu quá ngắn hoặc quá dễ đoán" in response.text and 'data-field="new"' in response.text
    user = users.user_by_name(store, "registrar")
    assert user is not None and users.password_matches(user.password_hash, PASSWORD)
    assert client.get("/admin/events").status_code == 200


# ---- roles, deny by default, CSRF scope, headers ---------------------------------------------------


def test_every_admin_view_names_who_may_use_it(app: Flask) -> None:
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith("admin.") and endpoint != "admin.static":
            roles = getattr(view, "checkin_roles", None)
            public = getattr(view, "checkin_public", False)
            assert roles or public, f"{endpoint} says nothing about roles: the guard would refuse everyone"
    public = sorted(e for e, v in app.view_functions.items() if getattr(v, "checkin_public", False))
    assert public == ["admin.login", "admin.switch_language"]


def test_wrong_role_gets_403_with_a_page(login_as: Callable[[str | None], FlaskClient]) -> None:
    client = login_as("officer")
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "Vai trò của bạn không được phép làm việc này" in response.text


def test_the_gate_api_is_exempt_from_csrf(client: FlaskClient) -> None:
    response = client.post("/api/v1/devices/enroll", json={"code": "XXXX-XXXX-XXXX-XXXX", "public_key": "00" * 32})
    assert response.status_code != 400 or "CSRF" not in response.text
    assert response.is_json


def test_pages_carry_security_headers(login_as: Callable[[str | None], FlaskClient]) -> None:
    response = login_as("officer").get("/admin/events")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# ---- languages ------------------------------------------------------------------------------------


def test_english_by_choice_kept_in_the_session(client: FlaskClient) -> None:
    response = client.get("/admin/lang/en?next=/admin/login")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login"
    page = client.get("/admin/login")
    assert "<h1>Log in</h1>" in page.text and 'lang="en"' in page.text
    client.get("/admin/lang/vi")
    assert "<h1>Đăng nhập</h1>" in client.get("/admin/login").text


def test_unknown_language_and_foreign_next_are_refused(client: FlaskClient) -> None:
    assert client.get("/admin/lang/fr").status_code == 404
    assert client.get("/admin/lang/en?next=https://evil.example/").headers["Location"] == "/admin/events"


def test_the_language_survives_login_and_logout(client: FlaskClient, staff: dict[str, int]) -> None:
    client.get("/admin/lang/en")
    log_in(client, "registrar", PASSWORD)
    assert "<h1>Events</h1>" in client.get("/admin/events").text
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/events")})
    assert "<h1>Log in</h1>" in client.get("/admin/login").text


# ---- passwords and `checkin user` ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short pass", "at least"),
        ("a" * 300, "at most"),
        ("aaaaaaaaaaaaaaaa", "easy"),
        ("registrar-2022-x", "easy"),
        ("password1234", "easy"),
        ("iloveyou12345", "easy"),
        ("qwertyuiop123", "easy"),
        ("1234567890123", "easy"),
    ],
)
def test_weak_passwords_are_refused(password: str, why: str) -> None:
    with pytest.raises(InputError, match=why) as caught:
        users.check_password(password, "registrar")
    assert caught.value.reason is Reason.WEAK_PASSWORD


@pytest.mark.parametrize(
    "good",
    [
        "correct horse battery staple",
        "mùa thu Hà Nội lá vàng rơi",
        "k7mq2-xhd9p-4tzra-8bnwe",
        "Tr0ub4dor&3 at the gate",
    ],
)
def test_good_passphrases_are_accepted(good: str) -> None:
    users.check_password(good, "registrar")


def test_generated_passwords_are_strong_and_different() -> None:
    secrets = {users.generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert re.fullmatch(r"([a-z2-9]{5}-){3}[a-z2-9]{5}", secret)
        users.check_password(secret, "admin")


def test_passwords_are_stored_as_argon2id(store: Store, clock: Any) -> None:
    users.create_user(store, "anh.nguyen", Role.REGISTRAR, "correct horse battery", clock(), actor="test")
    user = users.user_by_name(store, "anh.nguyen")
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert "correct horse battery" not in user.password_hash


def test_cli_user_add_with_the_password_from_the_environment(
    runner: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECKIN_USER_PASSWORD", "registrar desk password 1")
    result = runner("user", "add", "Linh.Tran", "--role", "registrar")
    assert result.exit_code == 0, result.output
    assert "registrar desk password 1" not in result.output
    user = users.user_by_name(store, "linh.tran")
    assert user is not None and user.role == "registrar"
    assert users.password_matches(user.password_hash, "registrar desk password 1")
    assert stored_actions.actions(store)[0].actor == "cli"


def test_cli_user_add_generate_prints_the_password_once_last(runner: Any, store: Store) -> None:
    result = runner("user", "add", "boss", "--role", "admin", "--generate")
    assert result.exit_code == 0, result.output
    password = result.stdout.strip().splitlines()[-1]
    assert result.stdout.count(password) == 1
    user = users.user_by_name(store, "boss")
    assert user is not None and users.password_matches(user.password_hash, password)
    listed = runner("user", "list")
    assert re.search(r"boss\s+admin\s+active\s+0 sessions", listed.stdout)


def test_cli_user_add_refuses_no_password_weak_passwords_and_repeats(
    runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHECKIN_USER_PASSWORD", raising=False)
    result = runner("user", "add", "someone", "--role", "officer")
    assert isinstance(result.exception, InputError) and "CHECKIN_USER_PASSWORD" in str(result.exception)
    for weak in ("short", "password1234"):
        monkeypatch.setenv("CHECKIN_USER_PASSWORD", weak)
        result = runner("user", "add", "someone", "--role", "officer")
        assert isinstance(result.exception, InputError) and result.exception.reason is Reason.WEAK_PASSWORD
    monkeypatch.setenv("CHECKIN_USER_PASSWORD", "a good long password 9")
    assert runner("user", "add", "someone", "--role", "officer").exit_code == 0
    result = runner("user", "add", "SomeOne", "--role", "admin")
    assert isinstance(result.exception, InputError) and result.exception.reason is Reason.ALREADY_EXISTS
    result = runner("user", "add", "x y", "--role", "admin")
    assert isinstance(result.exception, InputError) and "user name" in str(result.exception)
    assert runner("user", "add", "z", "--role", "root").exit_code == 2
