"""Adversarial tests of the issuing API (POST /api/v1/events/<id>/credentials): malformed input,
Unicode edge cases, Idempotency-Key replays after admin changes and the end of the event, races
through a real server, and the admin action log."""

from __future__ import annotations

import http.client
import json
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core import credential
from checkin.store import Store, tokens, users
from checkin.store import actions as stored_actions
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store.events import NewEvent
from tests.support.apikit import Clock, bundle_for, waitress_thread
from tests.support.world import EVENT_ID, ZONES

ROUTE = f"/api/v1/events/{EVENT_ID}/credentials"
GUEST: dict[str, Any] = {
    "name": "Nguyễn Thị Ánh",
    "organisation": "Sở Y tế",
    "category": "delegate",
    "zones": ["hall", "vip"],
    "email": "anh@example.vn",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def token(store: Store, clock: Clock) -> str:
    return tokens.create_api_token(store, "cổng đăng ký", users.Role.REGISTRAR, clock(), actor="test")[1]


def call(
    client: FlaskClient,
    body: object = None,
    secret: str | None = None,
    key: str | None = None,
    *,
    raw: bytes | None = None,
    path: str = ROUTE,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], Any]:
    """One request; the status, the JSON body (asserted to be JSON) and the response."""
    sent = dict(headers or {})
    if secret is not None:
        sent["Authorization"] = f"Bearer {secret}"
    if key is not None:
        sent["Idempotency-Key"] = key
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    response = client.open(path, method=method, data=data, headers=sent, content_type="application/json")
    assert response.mimetype == "application/json", (response.status_code, response.data[:200])
    answer = json.loads(response.data)
    assert isinstance(answer, dict)
    return response.status_code, answer, response


def verifies(config: Config, clock: Clock, answer: dict[str, Any]) -> credential.Credential:
    """The answer's code verifies, and its claims are what the answer says."""
    made = credential.verify(str(answer["code"]), bundle_for(config, clock()), clock()).credential
    assert made.id_hex == answer["credential_id"]
    assert made.name == answer["name"]
    assert list(made.zones) == answer["zones"]
    assert made.not_before.isoformat() == answer["valid_from"]
    assert made.expires_at.isoformat() == answer["valid_until"]
    return made


def log_lines(store: Store) -> list[tuple[str, str]]:
    return [(a.action, a.actor) for a in stored_actions.actions(store)]


def issues_logged(store: Store) -> int:
    return sum(1 for action, _actor in log_lines(store) if action == "credential.issue")


def same_answer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "replayed"} == {k: v for k, v in b.items() if k != "replayed"}


def admin_reissue(login_as: Callable[[str | None], FlaskClient], guest_id: int, *, reissue: bool) -> None:
    """Press the guest page's Issue (or Re-issue) button as a registrar."""
    admin = login_as("registrar")
    match = CSRF.search(admin.get(f"/admin/guests/{guest_id}").text)
    assert match
    data = {"csrf_token": match.group(1)}
    if reissue:
        data["reissue"] = "1"
    response = admin.post(f"/admin/guests/{guest_id}/issue", data=data)
    assert response.status_code == 302, response.text[:500]
    login_as(None)


# ---- every refusal is JSON with a reason, never a 500 ---------------------------------------------


BAD_RAW_BODIES = [
    b"",
    b"{",
    b"\xff\xfe\x00",
    b"null",
    b"[]",
    b'"name"',
    b"1e999999",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"name": "A\\ud800"}',  # a lone surrogate
    b'{"name": "A", "zones": ["hall\\udfff"]}',
    b'{"name": "A", "email": "a\\u0000@x.vn"}',
    b'{"name": "A", "name": 1}',
    '{"name": "Ánh"}'.encode("latin-1"),
]


@pytest.mark.parametrize("raw", BAD_RAW_BODIES, ids=range(len(BAD_RAW_BODIES)))
def test_malformed_bodies_are_400_json(client: FlaskClient, store: Store, token: str, raw: bytes) -> None:
    status, answer, _ = call(client, secret=token, raw=raw)
    assert status == 400 and answer["reason"] == "invalid_input", answer
    assert answer["message"] and answer["message_vi"]
    assert stored_guests.guest_views(store, EVENT_ID) == []


BAD_GUESTS: list[dict[str, Any]] = [
    {"name": None},
    {"name": 12},
    {"name": ["A"]},
    {"name": {"first": "A"}},
    {"name": True},
    {"name": "A", "organisation": None},
    {"name": "A", "category": 3},
    {"name": "A", "email": False},
    {"name": "A", "zones": None},
    {"name": "A", "zones": {"hall": True}},
    {"name": "A", "zones": [1]},
    {"name": "A", "zones": [None]},
    {"name": "A", "zones": [["hall"]]},
    {"name": "A", "zones": [""]},
    {"name": "A", "zones": ["   "]},
    {"name": "A", "zones": ["HALL"]},
    {"name": "A", "zones": ["hall,vip"]},
    {"name": "A", "zones": ["hall"] * 17},
    {"name": "A", "zones": ["x" * 10_000]},
    {"name": "A", "email": "a@b"},
    {"name": "A", "email": "a@b.vn\r\nBcc: x@y.vn"},
    {"name": "A", "email": "x" * 255},
    {"name": "A", "organisation": "x" * 121},
    {"name": "A", "category": "x" * 41},
    {"name": "\u200b"},  # zero-width space: invisible, a format character
    {"name": "\ufeffNguyễn"},
    {"name": "A\u0007"},
    {"name": "A\x85B"},
    {"name": "A\ue000"},  # private use
    {"name": "A", "category": "vip\u202e"},
    {"name": "\U0001f600" * 101},
    {"name": "A", "Name": "B"},
    {"name": "A", "zones": ["hall"], "extra": None},
]


@pytest.mark.parametrize("body", BAD_GUESTS, ids=range(len(BAD_GUESTS)))
def test_bad_guests_are_400_json_and_store_nothing(
    client: FlaskClient, store: Store, token: str, body: dict[str, Any]
) -> None:
    for key in (None, "bad-guest"):
        status, answer, _ = call(client, body, token, key)
        assert status == 400 and answer["reason"] == "invalid_input", answer
    assert stored_guests.guest_views(store, EVENT_ID) == []
    assert issues_logged(store) == 0


@pytest.mark.parametrize("name", [" ", "   ", "\t", "\n\r", "\u00a0", "\u3000", "\u2003\u2009", " \x1f "])
def test_whitespace_only_names_are_400_naming_the_field(
    client: FlaskClient, store: Store, token: str, name: str
) -> None:
    status, answer, _ = call(client, {"name": name}, token)
    assert status == 400 and answer["reason"] == "invalid_input"
    assert "name" in answer["message"]
    assert stored_guests.guest_views(store, EVENT_ID) == []


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("POST", {}),
        ("POST", {"Authorization": "Bearer"}),
        ("POST", {"Authorization": "Basic Zm9vOmJhcg=="}),
        ("POST", {"Authorization": "Bearer " + "x" * 201}),
        ("POST", {"Authorization": "Bearer ck_x", "Idempotency-Key": "x" * 1000}),
    ],
)
def test_without_a_valid_token_the_answer_is_401_json(
    client: FlaskClient, method: str, headers: dict[str, str]
) -> None:
    status, answer, _ = call(client, GUEST, method=method, headers=headers)
    assert status == 401 and answer["reason"] == "unauthorized"


def test_odd_event_ids_are_404_or_401_never_500(client: FlaskClient, token: str) -> None:
    for event_id in ["%ff%fe", "x" * 5000, "CDS2022", "cds2022%20", "%F0%9F%98%80", "..", "%2e%2e"]:
        path = f"/api/v1/events/{event_id}/credentials"
        status, answer, _ = call(client, GUEST, token, path=path)
        assert status == 404 and answer["reason"] == "not_found", (event_id, answer)
        status, answer, _ = call(client, GUEST, "ck_made_up", "k", path=path)
        assert status == 401 and answer["reason"] == "unauthorized", (event_id, answer)


@pytest.mark.parametrize("event_id", ["%00", "cds2022%00"])
def test_an_event_id_with_a_nul_is_a_json_400_never_500(client: FlaskClient, token: str, event_id: str) -> None:
    # refused before any view, whoever asks: a NUL must never reach a (PostgreSQL) query
    path = f"/api/v1/events/{event_id}/credentials"
    for secret in ("ck_made_up", token):
        status, answer, _ = call(client, GUEST, secret, "k", path=path)
        assert status == 400 and answer["reason"] == "invalid_input", answer


def test_a_body_over_the_size_limit_is_413_json(client: FlaskClient, token: str) -> None:
    raw = b'{"name": "' + b"A" * (33 * 1024 * 1024) + b'"}'
    status, answer, _ = call(client, secret=token, raw=raw)
    assert status == 413 and answer["reason"] == "too_large"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_on_the_issue_route_are_405_json(client: FlaskClient, token: str, method: str) -> None:
    status, answer, response = call(client, GUEST, token, method=method)
    assert status == 405 and answer["reason"] == "method_not_allowed", answer
    assert response.headers["Allow"] == "POST"


# ---- Unicode: NFC, edges, limits --------------------------------------------------------------------


def test_long_unicode_at_every_limit_issues_a_code_that_verifies(
    client: FlaskClient, store: Store, config: Config, clock: Clock, token: str
) -> None:
    body = {
        "name": "\U0001f600" * 100,  # astral characters: 4 UTF-8 bytes, 2 UTF-16 units each
        "organisation": "Đ" * 120,
        "category": "\U00020000" * 40,
        "zones": list(ZONES),
        "email": ("ánh" * 80)[:240] + "@example.vn",
    }
    status, answer, _ = call(client, body, token, "long")
    assert status == 201, answer
    made = verifies(config, clock, answer)
    assert made.name == body["name"] and made.organisation == body["organisation"]
    assert made.category == body["category"]
    guest = stored_guests.guest(store, answer["guest_id"])
    assert (guest.name, guest.organisation, guest.category, guest.email) == (
        body["name"], body["organisation"], body["category"], body["email"]
    )  # fmt: skip
    status, again, _ = call(client, body, token, "long")
    assert status == 200 and same_answer(answer, again)


def test_nfc_expanding_input_is_checked_after_normalising(client: FlaskClient, store: Store, token: str) -> None:
    # U+0344 is 1 code point that NFC turns into 2: 60 of them are 120 after normalising
    status, answer, _ = call(client, {"name": "\u0344" * 60}, token)
    assert status == 400 and "name" in answer["message"]
    assert stored_guests.guest_views(store, EVENT_ID) == []


def test_names_are_stored_and_signed_nfc_without_edge_spaces(
    client: FlaskClient, store: Store, config: Config, clock: Clock, token: str
) -> None:
    nfd = unicodedata.normalize("NFD", "  Đặng Thị Hồng Nhung\u3000")
    body = {"name": nfd, "organisation": unicodedata.normalize("NFD", " Sở Nội vụ "), "zones": [" vip "]}
    status, answer, _ = call(client, body, token, "nfd")
    assert status == 201, answer
    made = verifies(config, clock, answer)
    assert made.name == "Đặng Thị Hồng Nhung" and made.organisation == "Sở Nội vụ" and made.zones == ("vip",)
    guest = stored_guests.guest(store, answer["guest_id"])
    assert guest.name == "Đặng Thị Hồng Nhung" and guest.zones == "vip"
    # the NFC, unpadded form of the same guest is a replay
    status, again, _ = call(
        client, {"name": "Đặng Thị Hồng Nhung", "organisation": "Sở Nội vụ", "zones": ["vip"]}, token, "nfd"
    )
    assert status == 200 and same_answer(answer, again)


@pytest.mark.parametrize(
    "name",
    [
        unicodedata.normalize("NFD", "Nguyễn Thị Ánh Hồng " * 5).strip(),  # 99 characters NFC, far more NFD
        "  " + "A" * 100 + "  ",  # 100 characters once the edges are stripped
    ],
    ids=["nfd", "padded"],
)
def test_a_name_within_the_limit_once_normalised_is_accepted(
    client: FlaskClient, config: Config, clock: Clock, token: str, name: str
) -> None:
    clean = unicodedata.normalize("NFC", name).strip()
    assert len(clean) <= credential.MAX_NAME < len(name)
    status, answer, _ = call(client, {"name": name}, token)
    assert status == 201, answer
    assert verifies(config, clock, answer).name == clean


@pytest.mark.parametrize("name", ["Nguyễn\u2028Văn A", "Nguyễn\u2029Văn A"])
def test_a_name_with_a_unicode_line_break_is_refused(client: FlaskClient, store: Store, token: str, name: str) -> None:
    status, answer, _ = call(client, {"name": name}, token)
    assert status == 400 and answer["reason"] == "invalid_input", answer


@pytest.mark.parametrize("email", ["anh\u202egro.elpmaxe@x.vn", "a\u0007b@example.vn", "a\u200bb@example.vn"])
def test_an_email_with_control_characters_is_refused(client: FlaskClient, store: Store, token: str, email: str) -> None:
    status, answer, _ = call(client, {"name": "A", "email": email}, token)
    assert status == 400 and answer["reason"] == "invalid_input", answer


# ---- zones -------------------------------------------------------------------------------------------


def test_zone_order_is_kept_and_a_replay_must_send_the_same_list(
    client: FlaskClient, store: Store, config: Config, clock: Clock, token: str
) -> None:
    body = {**GUEST, "zones": ["vip", "hall"]}
    status, first, _ = call(client, body, token, "order")
    assert status == 201 and first["zones"] == ["vip", "hall"]
    assert verifies(config, clock, first).zones == ("vip", "hall")
    status, again, _ = call(client, body, token, "order")
    assert status == 200 and same_answer(first, again)
    # the comparison is strict: another order is another request (409), never a second code
    status, answer, _ = call(client, {**body, "zones": ["hall", "vip"]}, token, "order")
    assert status == 409 and answer["reason"] == "already_exists"
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 1 and issues_logged(store) == 1


def test_repeated_zones_answer_the_same_on_replay_and_are_stored_once(
    client: FlaskClient, store: Store, config: Config, clock: Clock, token: str
) -> None:
    body = {**GUEST, "zones": ["hall", "vip", "hall"]}
    status, first, _ = call(client, body, token, "dup")
    assert status == 201 and first["zones"] == ["hall", "vip"]
    assert verifies(config, clock, first).zones == ("hall", "vip")
    status, again, _ = call(client, body, token, "dup")
    assert status == 200
    assert again["zones"] == first["zones"] and same_answer(first, again), (first["zones"], again["zones"])
    assert stored_guests.guest(store, first["guest_id"]).zones == "hall,vip"  # as the admin form keeps them


def test_zones_default_and_explicit_first_zone_are_the_same_request(client: FlaskClient, token: str) -> None:
    body = {k: v for k, v in GUEST.items() if k != "zones"}
    status, first, _ = call(client, body, token, "default-zone")
    assert status == 201 and first["zones"] == [ZONES[0]]
    status, again, _ = call(client, {**body, "zones": [ZONES[0]]}, token, "default-zone")
    assert status == 200 and same_answer(first, again)


# ---- Idempotency-Key ---------------------------------------------------------------------------------


def test_keys_differing_only_in_case_are_different_requests(
    client: FlaskClient, store: Store, config: Config, clock: Clock, token: str
) -> None:
    answers = {}
    for key in ("Reg-0001", "reg-0001", "REG-0001"):
        status, answers[key], _ = call(client, GUEST, token, key)
        assert status == 201
    assert len({a["credential_id"] for a in answers.values()}) == 3
    for key, first in answers.items():
        status, again, _ = call(client, GUEST, token, key)
        assert status == 200 and same_answer(first, again)
        verifies(config, clock, again)
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 3 and issues_logged(store) == 3


def test_keys_of_every_visible_ascii_character_work_and_are_not_patterns(
    client: FlaskClient, store: Store, token: str
) -> None:
    everything = "".join(chr(c) for c in range(0x21, 0x7F))  # 94 characters, quotes and backslash included
    keys = [everything, "x" * 100, "%", "_", "a%", "ab", "a_", "';DROP/**/TABLE/**/guests;--", "\\", "*"]
    firsts = {}
    for i, key in enumerate(keys):
        status, firsts[key], _ = call(client, {**GUEST, "name": f"Khách {i}"}, token, key)
        assert status == 201, (key, firsts[key])
    for i, key in enumerate(keys):
        status, again, _ = call(client, {**GUEST, "name": f"Khách {i}"}, token, key)
        assert status == 200 and same_answer(firsts[key], again), key
    assert len(stored_guests.guest_views(store, EVENT_ID)) == len(keys)


@pytest.mark.parametrize("key", [" lead", "trail ", "tab\t", "ngày", "a\u00a0b", "x" * 101, "\x7f"])
def test_malformed_keys_are_400_after_auth_and_store_nothing(
    client: FlaskClient, store: Store, token: str, key: str
) -> None:
    status, answer, _ = call(client, GUEST, token, key)
    assert status == 400 and answer["reason"] == "invalid_input" and "Idempotency-Key" in answer["message"]
    status, answer, _ = call(client, GUEST, "ck_made_up", key)
    assert status == 401
    assert stored_guests.guest_views(store, EVENT_ID) == []


def test_a_key_is_per_event_and_never_crosses_into_another(
    client: FlaskClient, store: Store, clock: Clock, token: str
) -> None:
    start = datetime(2022, 3, 26, 0, 30, tzinfo=UTC)
    stored_events.create_event(
        store,
        NewEvent("other", "Hội thảo", start, start + timedelta(hours=10), "Asia/Ho_Chi_Minh", ("hall",), "Hà Nội"),
        clock(),
    )
    status, first, _ = call(client, {**GUEST, "zones": ["hall"]}, token, "shared")
    assert status == 201
    other = "/api/v1/events/other/credentials"
    status, second, _ = call(client, {**GUEST, "zones": ["hall"]}, token, "shared", path=other)
    assert status == 201 and second["guest_id"] != first["guest_id"]
    assert stored_guests.guest(store, second["guest_id"]).event_id == "other"
    status, again, _ = call(client, {**GUEST, "zones": ["hall"]}, token, "shared", path=other)
    assert status == 200 and same_answer(second, again)


def test_another_token_cannot_replay_or_block_a_key(
    client: FlaskClient, store: Store, clock: Clock, token: str
) -> None:
    admin = tokens.create_api_token(store, "admin system", users.Role.ADMIN, clock(), actor="test")[1]
    status, mine, _ = call(client, GUEST, token, "k")
    assert status == 201
    status, theirs, _ = call(client, {**GUEST, "name": "Người khác"}, admin, "k")
    assert status == 201 and theirs["guest_id"] != mine["guest_id"]
    status, again, _ = call(client, GUEST, token, "k")
    assert status == 200 and same_answer(mine, again)


def test_a_revoked_token_cannot_replay_its_own_key(client: FlaskClient, store: Store, clock: Clock, token: str) -> None:
    assert call(client, GUEST, token, "k")[0] == 201
    tokens.revoke_api_token(store, "cổng đăng ký", clock(), actor="test")
    status, answer, _ = call(client, GUEST, token, "k")
    assert status == 401 and answer["reason"] == "unauthorized" and "code" not in answer


def test_a_replay_with_an_invalid_body_is_400_not_a_replay(client: FlaskClient, token: str) -> None:
    assert call(client, GUEST, token, "k")[0] == 201
    status, answer, _ = call(client, {**GUEST, "zones": ["ballroom"]}, token, "k")
    assert status == 400 and answer["reason"] == "invalid_input"
    status, answer, _ = call(client, {**GUEST, "colour": "red"}, token, "k")
    assert status == 400 and answer["reason"] == "invalid_input"


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Nguyễn Thị Anh"},
        {"name": "nguyễn thị ánh"},
        {"organisation": ""},
        {"category": "press"},
        {"email": "ANH@example.vn"},
        {"email": ""},
        {"zones": ["hall"]},
        {"zones": ["hall", "vip", "press"]},
    ],
)
def test_any_other_guest_under_a_used_key_is_409_and_writes_nothing(
    client: FlaskClient, store: Store, token: str, change: dict[str, Any]
) -> None:
    assert call(client, GUEST, token, "k")[0] == 201
    status, answer, _ = call(client, {**GUEST, **change}, token, "k")
    assert status == 409 and answer["reason"] == "already_exists" and "code" not in answer
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 1 and issues_logged(store) == 1


# ---- replays after the admin pages changed things ------------------------------------------------------


def test_a_replay_after_a_reissue_returns_the_new_active_code(
    client: FlaskClient,
    store: Store,
    config: Config,
    clock: Clock,
    token: str,
    login_as: Callable[[str | None], FlaskClient],
) -> None:
    status, first, _ = call(client, GUEST, token, "k")
    assert status == 201
    admin_reissue(login_as, first["guest_id"], reissue=True)
    creds = stored_guests.guest_credentials(store, first["guest_id"])
    assert sorted(c.status for c in creds) == ["active", "revoked"]
    new = next(c for c in creds if c.status == "active")
    assert new.cti != first["credential_id"]
    before = len(log_lines(store))
    for _ in range(3):
        status, again, response = call(client, GUEST, token, "k")
        assert status == 200 and again["replayed"] is True
        assert response.headers["Cache-Control"] == "no-store"
        assert again["credential_id"] == new.cti and again["code"] == new.text
        assert again["guest_id"] == first["guest_id"] and again["zones"] == first["zones"]
        assert verifies(config, clock, again).id_hex == new.cti
    assert len(log_lines(store)) == before  # replays write nothing to the log
    assert bytes.fromhex(first["credential_id"]) in stored_events.revoked_ids(store, EVENT_ID)
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 1


def test_a_replay_after_the_guest_was_edited_is_409_and_gives_no_code(
    client: FlaskClient, store: Store, clock: Clock, token: str
) -> None:
    status, first, _ = call(client, GUEST, token, "k")
    assert status == 201
    edited = stored_guests.guest_row(stored_guests.guest(store, first["guest_id"]))
    stored_guests.update_guest(
        store, first["guest_id"], replace(edited, name="Nguyễn Thị Ánh Hồng"), clock(), actor="registrar"
    )
    status, answer, _ = call(client, GUEST, token, "k")
    assert status == 409 and answer["reason"] == "already_exists" and "code" not in answer
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 1 and issues_logged(store) == 1


def test_a_replay_after_revoke_then_issue_returns_the_new_code(
    client: FlaskClient,
    store: Store,
    config: Config,
    clock: Clock,
    token: str,
    login_as: Callable[[str | None], FlaskClient],
) -> None:
    status, first, _ = call(client, GUEST, token, "k")
    assert status == 201
    stored_guests.revoke(store, first["credential_id"], "lost badge", clock())
    status, answer, _ = call(client, GUEST, token, "k")
    assert status == 409 and answer["reason"] == "already_exists" and "code" not in answer
    clock.advance(minutes=5)
    admin_reissue(login_as, first["guest_id"], reissue=False)
    status, again, _ = call(client, GUEST, token, "k")
    assert status == 200 and again["credential_id"] != first["credential_id"]
    assert verifies(config, clock, again).name == GUEST["name"]


def test_a_replay_after_the_event_returns_the_same_code_and_a_new_key_is_refused(
    client: FlaskClient, store: Store, clock: Clock, token: str
) -> None:
    status, first, _ = call(client, GUEST, token, "k")
    assert status == 201
    before = len(log_lines(store))
    clock.advance(days=3)
    status, again, _ = call(client, GUEST, token, "k")
    assert status == 200 and same_answer(first, again)
    status, answer, _ = call(client, GUEST, token, "new")
    assert status == 400 and answer["reason"] == "invalid_input"
    status, answer, _ = call(client, {**GUEST, "name": "B"}, token, "k")
    assert status == 409 and answer["reason"] == "already_exists"
    assert len(log_lines(store)) == before and len(stored_guests.guest_views(store, EVENT_ID)) == 1


def test_a_replay_after_the_event_of_a_revoked_code_is_409(
    client: FlaskClient, store: Store, clock: Clock, token: str
) -> None:
    status, first, _ = call(client, GUEST, token, "k")
    assert status == 201
    stored_guests.revoke(store, first["credential_id"], "lost badge", clock())
    clock.advance(days=3)
    status, answer, _ = call(client, GUEST, token, "k")
    assert status == 409 and answer["reason"] == "already_exists"


def test_the_event_is_over_refusal_is_worded_in_english(client: FlaskClient, clock: Clock, token: str) -> None:
    clock.advance(days=3)
    status, answer, _ = call(client, GUEST, token)
    assert status == 400
    assert "event is over" in answer["message"] and "Sự kiện" not in answer["message"], answer["message"]


# ---- the admin action log ------------------------------------------------------------------------------


def test_the_log_gets_one_line_per_real_issue_and_none_per_replay_or_refusal(
    client: FlaskClient, store: Store, token: str
) -> None:
    start = log_lines(store)
    assert call(client, GUEST, token, "a")[0] == 201
    assert call(client, GUEST, token, "a")[0] == 200
    assert call(client, GUEST, token, "a")[0] == 200
    assert call(client, {**GUEST, "name": "B"}, token, "a")[0] == 409
    assert call(client, {**GUEST, "zones": ["x"]}, token, "a")[0] == 400
    assert call(client, GUEST, token, "b")[0] == 201
    assert call(client, GUEST, token)[0] == 201
    assert call(client, GUEST, token)[0] == 201
    lines = log_lines(store)
    added = lines[: len(lines) - len(start)]
    assert added == [("credential.issue", "token:cổng đăng ký")] * 4
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 4


# ---- races through a real server --------------------------------------------------------------------------


def race(app: Flask, requests: list[tuple[dict[str, Any], dict[str, str]]]) -> list[tuple[int, dict[str, Any]]]:
    """Send every request at once through waitress; the statuses and JSON bodies."""
    answers: list[tuple[int, dict[str, Any]]] = []
    start = threading.Barrier(len(requests))

    def send(port: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        conn.request("POST", ROUTE, body=json.dumps(body), headers={**headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        answers.append((response.status, json.loads(response.read())))
        conn.close()

    with waitress_thread(app, threads=len(requests)) as port:
        threads = [threading.Thread(target=send, args=(port, b, h)) for b, h in requests]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(answers) == len(requests)
    return answers


def test_racing_replays_of_a_stored_key_all_get_the_same_code(
    app: Flask, client: FlaskClient, store: Store, token: str
) -> None:
    status, first, _ = call(client, GUEST, token, "race")
    assert status == 201
    before = len(log_lines(store))
    answers = race(app, [(GUEST, {"Authorization": f"Bearer {token}", "Idempotency-Key": "race"})] * 8)
    assert [s for s, _ in answers] == [200] * 8
    assert all(same_answer(first, a) and a["replayed"] is True for _, a in answers)
    assert len(log_lines(store)) == before


def test_racing_first_requests_with_one_key_and_different_guests_store_one(
    app: Flask, store: Store, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "contested"}
    answers = race(app, [({**GUEST, "name": f"Khách {i}"}, headers) for i in range(8)])
    statuses = sorted(s for s, _ in answers)
    assert statuses == [201] + [409] * 7, answers
    assert all(a["reason"] == "already_exists" for s, a in answers if s == 409)
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 1 and issues_logged(store) == 1


def test_racing_requests_with_distinct_keys_all_issue(
    app: Flask, store: Store, config: Config, clock: Clock, token: str
) -> None:
    requests = [
        ({**GUEST, "name": f"Khách {i}"}, {"Authorization": f"Bearer {token}", "Idempotency-Key": f"k{i}"})
        for i in range(8)
    ]
    requests += [({**GUEST, "name": f"Không khóa {i}"}, {"Authorization": f"Bearer {token}"}) for i in range(4)]
    answers = race(app, requests)
    assert sorted(s for s, _ in answers) == [201] * 12, answers
    assert len({a["credential_id"] for _, a in answers}) == 12
    for _, answer in answers:
        verifies(config, clock, answer)
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 12 and issues_logged(store) == 12
