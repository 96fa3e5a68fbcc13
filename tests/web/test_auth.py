"""Staff login: argon2id passwords, lockout after five failures, the per-address limit, session
lifetime and invalidation, cookie flags, CSRF, deny by default, the language switch, `checkin user`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core.errors import InputError, Reason
from checkin.store import Store, users
from checkin.store import actions as stored_actions
from checkin.store.users import Role
from checkin.web import auth, create_app

PASSWORD = "registrar test password 2022"  # conftest's STAFF_PASSWORDS["registrar"]
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


# ---- lockout and the per-address limit ------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_for_15_minutes(
    client: FlaskClient, store: Store, staff: dict[str, int], clock: Any
) -> None:
    for attempt in range(1, 5):
        assert log_in(client, "registrar", f"wrong password {attempt}").status_code == 401
    fifth = log_in(client, "registrar", "wrong password 5")
    assert fifth.status_code == 423
    assert "Tài khoản tạm bị khóa" in fifth.text and "08:15 26/03/2022" in fifth.text  # Hanoi time
    # locked: even the right password is refused, and the failures stop counting
    assert log_in(client, "registrar", PASSWORD).status_code == 423
    user = users.user_by_name(store, "registrar")
    assert user is not None and user.failed_logins == 5
    clock.advance(minutes=14, seconds=59)
    assert log_in(client, "registrar", PASSWORD).status_code == 423
    clock.advance(seconds=1)
    assert log_in(client, "registrar", PASSWORD).status_code == 302
    user = users.user_by_name(store, "registrar")
    assert user is not None and user.failed_logins == 0 and user.locked_until is None
    actions = [a.action for a in stored_actions.actions(store)]
    assert "user.locked" in actions and "user.login" in actions


def test_a_good_login_resets_the_count(client: FlaskClient, store: Store, staff: dict[str, int]) -> None:
    for _ in range(4):
        log_in(client, "registrar", "wrong password")
    user = users.user_by_name(store, "registrar")
    assert user is not None and user.failed_logins == 4
    assert log_in(client, "registrar", PASSWORD).status_code == 302
    user = users.user_by_name(store, "registrar")
    assert user is not None and user.failed_logins == 0


def test_one_address_trying_many_names_is_slowed_down(
    app: Flask, client: FlaskClient, staff: dict[str, int], clock: Any
) -> None:
    limiter = app.extensions[auth.LIMITER]
    for _ in range(auth.ADDRESS_FAILURES - 1):  # as many failures as the limit allows, but one
        limiter.fail("127.0.0.1", clock())
    assert log_in(client, "nobody", "some password").status_code == 401  # the last one allowed
    assert log_in(client, "registrar", PASSWORD).status_code == 429
    assert "Quá nhiều lần thử" in log_in(client, "registrar", PASSWORD).text
    clock.advance(minutes=15)
    assert log_in(client, "registrar", PASSWORD).status_code == 302


def test_twenty_thousand_addresses_leave_at_most_the_bound(app: Flask, staff: dict[str, int], clock: Any) -> None:
    """The app's limiter keeps at most MAX_ADDRESSES addresses (it kept every one before), forgets
    the address that failed longest ago first, and still blocks a recent one through the login form."""
    limiter = app.extensions[auth.LIMITER]
    addresses = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(20_000)]
    for address in addresses:
        limiter.fail(address, clock())
    assert len(limiter) == auth.MAX_ADDRESSES < len(addresses)
    newest = addresses[-1]
    for _ in range(auth.ADDRESS_FAILURES - 2):
        limiter.fail(newest, clock())
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = newest
    assert log_in(client, "nobody", "some password").status_code == 401  # the last one allowed
    assert log_in(client, "registrar", PASSWORD).status_code == 429
    client.environ_base["REMOTE_ADDR"] = "192.0.2.1"  # one more address: still within the bound
    assert log_in(client, "nobody", "some password").status_code == 401
    assert len(limiter) == auth.MAX_ADDRESSES
    assert not limiter.blocked(addresses[0], clock()) and limiter.blocked(newest, clock())


def test_addresses_whose_failures_left_the_window_are_dropped() -> None:
    limiter = auth.FailureLimiter(2, auth.ADDRESS_WINDOW, max_addresses=3)
    from datetime import UTC, datetime, timedelta

    start = datetime(2022, 3, 26, tzinfo=UTC)
    limiter.fail("10.0.0.1", start)
    assert len(limiter) == 1
    assert not limiter.blocked("10.0.0.1", start + auth.ADDRESS_WINDOW)
    assert len(limiter) == 0
    for i in range(5):
        limiter.fail(f"10.0.1.{i}", start + timedelta(seconds=i))
    assert len(limiter) == 3 and not limiter.blocked("10.0.1.0", start)


def test_the_limiter_forgets_old_failures() -> None:
    limiter = auth.FailureLimiter(2, auth.ADDRESS_WINDOW)
    from datetime import UTC, datetime, timedelta

    start = datetime(2022, 3, 26, tzinfo=UTC)
    limiter.fail("10.0.0.1", start)
    limiter.fail("10.0.0.1", start + timedelta(minutes=10))
    assert limiter.blocked("10.0.0.1", start + timedelta(minutes=14))
    assert not limiter.blocked("10.0.0.1", start + timedelta(minutes=15))
    assert not limiter.blocked("10.0.0.2", start)


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
    [("short pass", "at least"), ("a" * 300, "at most"), ("aaaaaaaaaaaaaaaa", "easy"), ("registrar-2022-x", "easy")],
)
def test_weak_passwords_are_refused(password: str, why: str) -> None:
    with pytest.raises(InputError, match=why) as caught:
        users.check_password(password, "registrar")
    assert caught.value.reason is Reason.WEAK_PASSWORD


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
    assert re.search(r"boss\s+admin\s+active", listed.stdout)


def test_cli_user_add_refuses_no_password_weak_passwords_and_repeats(
    runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHECKIN_USER_PASSWORD", raising=False)
    result = runner("user", "add", "someone", "--role", "officer")
    assert isinstance(result.exception, InputError) and "CHECKIN_USER_PASSWORD" in str(result.exception)
    monkeypatch.setenv("CHECKIN_USER_PASSWORD", "short")
    result = runner("user", "add", "someone", "--role", "officer")
    assert isinstance(result.exception, InputError) and result.exception.reason is Reason.WEAK_PASSWORD
    monkeypatch.setenv("CHECKIN_USER_PASSWORD", "a good long password 9")
    assert runner("user", "add", "someone", "--role", "officer").exit_code == 0
    result = runner("user", "add", "SomeOne", "--role", "admin")
    assert isinstance(result.exception, InputError) and result.exception.reason is Reason.ALREADY_EXISTS
    result = runner("user", "add", "x y", "--role", "admin")
    assert isinstance(result.exception, InputError) and "user name" in str(result.exception)
    assert runner("user", "add", "z", "--role", "root").exit_code == 2
