"""Issuing through the API, for registration systems: API tokens, the issue route, its refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from apikit import EVENT_ID, ISSUER, ZONES, Clock, Gate, Runner
from flask.testing import FlaskClient

from checkin import credential
from checkin.config import Config
from checkin.errors import InputError
from checkin.keystore import KeyStore
from checkin.store import Store, people
from checkin.trust import EventInfo, TrustBundle

ROUTE = f"/api/v1/events/{EVENT_ID}/credentials"


@pytest.fixture
def token(store: Store, clock: Clock) -> str:
    return people.create_api_token(store, "cổng đăng ký", people.Role.REGISTRAR, clock(), actor="test")[1]


def post(client: FlaskClient, body: object, secret: str | None, path: str = ROUTE) -> tuple[int, dict[str, object]]:
    headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
    response = client.post(path, json=body, headers=headers)
    return response.status_code, response.get_json()


def bundle_for(config: Config, clock: Clock) -> TrustBundle:
    now = clock()
    return TrustBundle(
        1,
        now,
        now + timedelta(days=1),
        ISSUER,
        EventInfo(EVENT_ID, "x", "Asia/Ho_Chi_Minh", now, now + timedelta(hours=8), zones=ZONES),
        KeyStore(config.keys_dir).bundle_keys(),
    )


def test_issue_returns_a_code_that_verifies_and_records_guest_and_credential(
    client: FlaskClient, store: Store, clock: Clock, config: Config, token: str
) -> None:
    status, body = post(
        client,
        {"name": "Nguyễn Thị Ánh", "organisation": "Sở TT&TT", "category": "delegate", "zones": ["hall", "vip"]},
        token,
    )
    assert status == 201, body
    verified = credential.verify(str(body["code"]), bundle_for(config, clock), clock())
    assert verified.credential.name == "Nguyễn Thị Ánh" and verified.credential.zones == ("hall", "vip")
    assert verified.credential.id_hex == body["credential_id"]
    guest = people.guest(store, int(str(body["guest_id"])))
    assert guest.name == "Nguyễn Thị Ánh" and guest.event_id == EVENT_ID
    assert [c.cti for c in people.guest_credentials(store, guest.id)] == [body["credential_id"]]
    log = people.actions(store, limit=5)[0]
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
    people.revoke_api_token(store, "cổng đăng ký", clock(), actor="test")
    status, answer = post(client, {"name": "A"}, token)
    assert status == 401 and answer["reason"] == "unauthorized"


def test_a_gate_token_cannot_issue(client: FlaskClient, gate: Gate) -> None:
    status, answer = post(client, {"name": "A"}, gate.token)
    assert status == 401 and answer["reason"] == "unauthorized"


def test_officers_get_no_token_and_names_are_unique(store: Store, clock: Clock, token: str) -> None:
    with pytest.raises(InputError):
        people.create_api_token(store, "xem", people.Role.OFFICER, clock(), actor="test")
    with pytest.raises(InputError):
        people.create_api_token(store, "cổng đăng ký", people.Role.REGISTRAR, clock(), actor="test")
    assert people.api_token(store, token) is not None  # stored as a hash, found by the secret
    assert all(token not in t.token_hash for t in people.api_tokens(store))


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
