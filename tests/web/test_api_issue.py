"""Issuing through the API, for registration systems: API tokens, the issue route, its refusals."""

from __future__ import annotations

import http.client
import json
import threading
import unicodedata
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core import credential
from checkin.core.errors import InputError
from checkin.store import Store, tokens, users
from checkin.store import actions as stored_actions
from checkin.store import guests as stored_guests
from tests.support.apikit import Clock, Gate, Runner, bundle_for, waitress_thread
from tests.support.world import EVENT_ID, ZONES

ROUTE = f"/api/v1/events/{EVENT_ID}/credentials"


@pytest.fixture
def token(store: Store, clock: Clock) -> str:
    return tokens.create_api_token(store, "cổng đăng ký", users.Role.REGISTRAR, clock(), actor="test")[1]


def post(client: FlaskClient, body: object, secret: str | None, path: str = ROUTE) -> tuple[int, dict[str, object]]:
    headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
    response = client.post(path, json=body, headers=headers)
    return response.status_code, response.get_json()


def test_issue_returns_a_code_that_verifies_and_records_guest_and_credential(
    client: FlaskClient, store: Store, clock: Clock, config: Config, token: str
) -> None:
    status, body = post(
        client,
        {"name": "Nguyễn Thị Ánh", "organisation": "Sở TT&TT", "category": "delegate", "zones": ["hall", "vip"]},
        token,
    )
    assert status == 201, body
    verified = credential.verify(str(body["code"]), bundle_for(config, clock()), clock())
    assert verified.credential.name == "Nguyễn Thị Ánh" and verified.credential.zones == ("hall", "vip")
    assert verified.credential.id_hex == body["credential_id"]
    guest = stored_guests.guest(store, int(str(body["guest_id"])))
    assert guest.name == "Nguyễn Thị Ánh" and guest.event_id == EVENT_ID
    assert [c.cti for c in stored_guests.guest_credentials(store, guest.id)] == [body["credential_id"]]
    log = stored_actions.actions(store, limit=5)
    assert log[0].actor == "token:cổng đăng ký" and log[0].action == "credential.issue"


def test_zones_default_to_the_events_first_zone(client: FlaskClient, token: str) -> None:
    status, body = post(client, {"name": "Trần Văn Bình"}, token)
    assert status == 201 and body["zones"] == [ZONES[0]]


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "A", "zones": ["ballroom"]}, "ballroom"),
        ({"name": "A", "zones": "hall"}, "zones"),
        ({"name": "A", "zones": []}, "zones"),
        ({"name": "A", "email": "not an address"}, "email"),
        ({"name": "A", "colour": "red"}, "colour"),
        ({"name": "A\x00B"}, "NUL"),
        # the admin form's own checks, worded in English: no line breaks or bidi overrides in a
        # name that a badge and a gate screen will show
        ({"name": "A\nB"}, "name: Control characters are not allowed"),
        ({"name": "Nguy\u202eễn"}, "name: Control characters are not allowed"),
        ({"name": "A", "organisation": "Sở\tTT"}, "organisation: Control characters"),
        ({"name": "A", "zones": ["hall", "ballroom"]}, "zones: Unknown zone: ballroom"),
        ({"name": "A" * 101}, "name"),
        (["not", "an", "object"], "object"),
    ],
)
def test_bad_input_is_400_naming_the_field(client: FlaskClient, token: str, body: object, word: str) -> None:
    status, answer = post(client, body, token)
    assert status == 400 and answer["reason"] == "invalid_input"
    assert word in str(answer["message"])


def test_unknown_event_is_404(client: FlaskClient, token: str) -> None:
    status, answer = post(client, {"name": "A"}, token, "/api/v1/events/no-such-event/credentials")
    assert status == 404 and answer["reason"] == "not_found"
    # without a valid token, which events exist is not given away
    status, answer = post(client, {"name": "A"}, "ck_made_up", "/api/v1/events/no-such-event/credentials")
    assert status == 401 and answer["reason"] == "unauthorized"


def test_tokens_are_required_and_revocation_works_at_once(
    client: FlaskClient, store: Store, clock: Clock, token: str
) -> None:
    assert post(client, {"name": "A"}, None)[0] == 401
    assert post(client, {"name": "A"}, "ck_made_up")[0] == 401
    assert post(client, {"name": "A"}, token)[0] == 201
    tokens.revoke_api_token(store, "cổng đăng ký", clock(), actor="test")
    status, answer = post(client, {"name": "A"}, token)
    assert status == 401 and answer["reason"] == "unauthorized"


def test_a_gate_token_cannot_issue(client: FlaskClient, gate: Gate) -> None:
    status, answer = post(client, {"name": "A"}, gate.token)
    assert status == 401 and answer["reason"] == "unauthorized"


def test_officers_get_no_token_and_names_are_unique(store: Store, clock: Clock, token: str) -> None:
    with pytest.raises(InputError):
        tokens.create_api_token(store, "xem", users.Role.OFFICER, clock(), actor="test")
    with pytest.raises(InputError):
        tokens.create_api_token(store, "cổng đăng ký", users.Role.REGISTRAR, clock(), actor="test")
    assert tokens.issue_reads(store, token, EVENT_ID, None).token is not None  # stored as a hash, found by the secret
    assert all(token not in t.token_hash for t in tokens.api_tokens(store))


def test_after_the_event_nothing_is_issued(client: FlaskClient, clock: Clock, token: str) -> None:
    clock.advance(days=3)
    status, answer = post(client, {"name": "A"}, token)
    assert status == 400 and answer["reason"] == "invalid_input"


def test_cli_tokens_add_list_revoke(runner: Runner) -> None:
    added = runner("token", "add", "portal", "--role", "registrar")
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("ck_") and len(secret) > 40
    listed = runner("token", "list")
    assert "portal" in listed.output and secret not in listed.output
    assert runner("token", "revoke", "portal").exit_code == 0
    assert "revoked" in runner("token", "list").output


# ---- retries: Idempotency-Key -------------------------------------------------------------------


def post_keyed(client: FlaskClient, body: object, secret: str, key: str) -> tuple[int, dict[str, Any]]:
    response = client.post(ROUTE, json=body, headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key})
    return response.status_code, response.get_json()


GUEST = {"name": "Nguyễn Thị Ánh", "organisation": "Sở Y tế", "zones": ["hall", "vip"], "email": "anh@example.vn"}


def test_a_retried_request_gets_the_same_guest_and_code_not_a_second_one(
    client: FlaskClient, store: Store, token: str
) -> None:
    status, first = post_keyed(client, GUEST, token, "reg-2022-0001")
    assert status == 201 and first["replayed"] is False
    status, again = post_keyed(client, GUEST, token, "reg-2022-0001")
    assert status == 200 and again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "replayed"}
    assert [v.guest.name for v in stored_guests.guest_views(store, EVENT_ID)] == ["Nguyễn Thị Ánh"]
    assert [a.action for a in stored_actions.actions(store)] == ["credential.issue", "token.add"]
    # the same text, decomposed and padded as another system may send it, is the same guest
    nfd = {**GUEST, "name": " " + unicodedata.normalize("NFD", GUEST["name"]) + " "}  # type: ignore[operator]
    assert post_keyed(client, nfd, token, "reg-2022-0001")[0] == 200
    # a new key is a new request
    assert post_keyed(client, GUEST, token, "reg-2022-0002")[0] == 201
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 2


def test_a_key_used_for_another_guest_or_a_revoked_code_is_a_conflict(
    client: FlaskClient, store: Store, clock: Clock, token: str
) -> None:
    status, first = post_keyed(client, GUEST, token, "k1")
    assert status == 201
    status, answer = post_keyed(client, {**GUEST, "name": "Trần Văn Bình"}, token, "k1")
    assert status == 409 and answer["reason"] == "already_exists" and "another guest" in str(answer["message"])
    stored_guests.revoke(store, str(first["credential_id"]), "lost badge", clock())
    status, answer = post_keyed(client, GUEST, token, "k1")
    assert status == 409 and answer["reason"] == "already_exists" and "re-issue" in str(answer["message"])
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 1


def test_keys_of_two_registration_systems_never_meet(
    client: FlaskClient, store: Store, clock: Clock, token: str
) -> None:
    other = tokens.create_api_token(store, "cổng báo chí", users.Role.REGISTRAR, clock(), actor="test")[1]
    assert post_keyed(client, GUEST, token, "0001")[0] == 201
    assert post_keyed(client, GUEST, other, "0001")[0] == 201


@pytest.mark.parametrize("key", ["", "x" * 101, "khóa-1", "two words", "tab\there"])
def test_a_malformed_key_is_400(client: FlaskClient, token: str, key: str) -> None:
    status, answer = post_keyed(client, GUEST, token, key)
    assert status == 400 and answer["reason"] == "invalid_input" and "Idempotency-Key" in str(answer["message"])
    assert post_keyed(client, GUEST, "ck_made_up", key)[0] == 401  # who asks is checked first


def test_retries_racing_through_a_real_server_store_one_guest(app: Flask, store: Store, token: str) -> None:
    answers: list[tuple[int, dict[str, Any]]] = []
    start = threading.Barrier(8)

    def retry(port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "race", "Content-Type": "application/json"}
        start.wait()
        conn.request("POST", ROUTE, body=json.dumps(GUEST), headers=headers)
        response = conn.getresponse()
        answers.append((response.status, json.loads(response.read())))
        conn.close()

    with waitress_thread(app, threads=8) as port:
        threads = [threading.Thread(target=retry, args=(port,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert sorted(status for status, _ in answers) == [200] * 7 + [201]
    assert len({body["credential_id"] for _, body in answers}) == 1
    assert len(stored_guests.guest_views(store, EVENT_ID)) == 1
