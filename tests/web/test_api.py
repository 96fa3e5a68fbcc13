"""The gate API's enrolment and bundle routes, through the Flask test client over a real database."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from sqlalchemy import select

from checkin.config import Config
from checkin.core import trust
from checkin.core.credential import Credential
from checkin.keystore import KeyStore
from checkin.store import Device, Store
from checkin.store import devices as stored_devices
from checkin.store import guests as stored_guests
from checkin.web import create_app
from tests.support.apikit import Clock, Gate
from tests.support.world import EVENT_ID, ISSUER

ENROL = "/api/v1/devices/enroll"


def public_hex(key: Ed25519PrivateKey | None = None) -> str:
    return (key or Ed25519PrivateKey.generate()).public_key().public_bytes_raw().hex()


def assert_refusal(response, status: int, reason: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.data
    assert response.is_json
    body = response.json
    assert body["reason"] == reason
    assert body["message"] and body["message_vi"]
    return body


# ---- enrolment ------------------------------------------------------------------------------------


def test_enrol_hands_out_token_root_key_and_a_bundle_that_verifies(gate: Gate, config: Config, clock: Clock) -> None:
    body = gate.enrolment
    assert set(body) == {
        "device_id", "token", "event_id", "name", "zone", "direction", "root_public_key",
        "bundle", "bundle_version", "server_time", "server_time_ms",
    }  # fmt: skip
    assert (body["event_id"], body["name"], body["zone"], body["direction"]) == (
        EVENT_ID,
        "Cổng A - sảnh chính",
        "hall",
        "in",
    )
    assert body["root_public_key"].encode() == KeyStore(config.keys_dir).root_public_pem()
    root = trust.root_key_from_pem(body["root_public_key"].encode())
    bundle = trust.verify_bundle(base64.b64decode(body["bundle"]), root)
    assert bundle.version == body["bundle_version"] == 1
    assert bundle.event.id == EVENT_ID and bundle.issuer == ISSUER
    assert bundle.expires_at == clock.now + timedelta(hours=config.bundle.validity_hours)
    assert body["server_time"] == "2022-03-26T01:00:00.000Z"
    assert body["server_time_ms"] == clock.ms
    assert len(body["token"]) >= 43


def test_enrol_keeps_only_hashes_of_code_and_token(client: FlaskClient, store: Store, clock: Clock) -> None:
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng B", "vip", "out", clock())
    response = client.post(ENROL, json={"code": code, "public_key": public_hex()})
    token = response.json["token"]
    with store.session() as s:
        row = s.scalars(select(Device).where(Device.id == device.id)).one()
        stored = [str(getattr(row, column.key)) for column in Device.__table__.columns]
    assert row.status == "active" and row.zone == "vip" and row.direction == "out"
    assert not any(code in value or code.replace("-", "") in value or token in value for value in stored)


def test_enrol_code_is_one_time(client: FlaskClient, store: Store, clock: Clock) -> None:
    _device, code = stored_devices.create_device(store, EVENT_ID, "Cổng C", None, "in", clock())
    assert client.post(ENROL, json={"code": code, "public_key": public_hex()}).status_code == 200
    assert_refusal(client.post(ENROL, json={"code": code, "public_key": public_hex()}), 403, "enrolment_invalid")


def test_enrol_code_accepts_how_people_type_it(client: FlaskClient, store: Store, clock: Clock) -> None:
    _device, code = stored_devices.create_device(store, EVENT_ID, "Cổng D", None, "in", clock())
    typed = " " + code.lower().replace("-", " ") + " "
    assert client.post(ENROL, json={"code": typed, "public_key": public_hex()}).status_code == 200


def test_enrol_code_expires_after_15_minutes(client: FlaskClient, store: Store, clock: Clock) -> None:
    _early, in_time = stored_devices.create_device(store, EVENT_ID, "Cổng E", None, "in", clock())
    _late, too_late = stored_devices.create_device(store, EVENT_ID, "Cổng F", None, "in", clock())
    clock.advance(minutes=14, seconds=59)
    assert client.post(ENROL, json={"code": in_time, "public_key": public_hex()}).status_code == 200
    clock.advance(seconds=1)
    assert_refusal(client.post(ENROL, json={"code": too_late, "public_key": public_hex()}), 403, "enrolment_invalid")


def test_enrol_unknown_code_and_revoked_gate_are_refused(client: FlaskClient, store: Store, clock: Clock) -> None:
    assert_refusal(
        client.post(ENROL, json={"code": "AAAA-BBBB-CCCC-DDDD", "public_key": public_hex()}), 403, "enrolment_invalid"
    )
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng G", None, "in", clock())
    stored_devices.revoke_device(store, device.id, clock())
    assert_refusal(client.post(ENROL, json={"code": code, "public_key": public_hex()}), 403, "enrolment_invalid")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"code": "ABCD"}',
        b'{"public_key": "' + b"a" * 64 + b'"}',
        b'{"code": 42, "public_key": "' + b"a" * 64 + b'"}',
        b'{"code": "ABCD", "public_key": "xyz"}',
        b'{"code": "ABCD", "public_key": "' + b"a" * 66 + b'"}',
        b'{"code": "ABCD", "public_key": "' + b"a" * 64 + b'", "zone": "vip"}',
        b'{"code": "' + b"A" * 65 + b'", "public_key": "' + b"a" * 64 + b'"}',
        b'{"code": "AB\\u0000CD", "public_key": "' + b"a" * 64 + b'"}',
        b'{"code": "AB\\ud800CD", "public_key": "' + b"a" * 64 + b'"}',
        b"[" * 2_000,  # deeper than the parser goes, within the body limit
        b"\xff\xfe",
    ],
    ids=[
        "not-json", "array", "no-key", "no-code", "code-number", "key-not-hex", "key-too-long", "extra-field",
        "code-too-long", "nul", "lone-surrogate", "deep-nesting", "not-utf8",
    ],
)  # fmt: skip
def test_enrol_bad_input_is_400_with_a_reason(client: FlaskClient, body: bytes) -> None:
    response = client.post(ENROL, data=body, headers={"Content-Type": "application/json"})
    assert_refusal(response, 400, "invalid_input")


# ---- bundle ---------------------------------------------------------------------------------------


def test_bundle_is_the_signed_ckb1_with_an_etag(gate: Gate, client: FlaskClient) -> None:
    response = client.get("/api/v1/bundle", headers=gate.auth)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/cose"
    assert response.headers["ETag"] == '"v1"'
    root = trust.root_key_from_pem(gate.enrolment["root_public_key"].encode())
    assert trust.verify_bundle(response.data, root).version == 1
    assert response.data == base64.b64decode(gate.enrolment["bundle"])


def test_bundle_304_when_the_gate_holds_the_current_version(gate: Gate, client: FlaskClient) -> None:
    response = client.get("/api/v1/bundle", headers={**gate.auth, "If-None-Match": '"v1"'})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == '"v1"'
    assert client.get("/api/v1/bundle", headers={**gate.auth, "If-None-Match": '"v0"'}).status_code == 200


def test_bundle_version_grows_with_a_revocation(gate: Gate, client: FlaskClient, store: Store, clock: Clock) -> None:
    credential = Credential.create(
        issuer=ISSUER,
        event_id=EVENT_ID,
        name="Lê Văn Cường",
        organisation="",
        category="delegate",
        zones=("hall",),
        not_before=clock.now,
        expires_at=clock.now + timedelta(days=1),
        issued_at=clock.now,
    )
    stored_guests.record_issued(store, [(None, credential, "00" * 8, "CK1:X")], credential.issued_at)
    assert client.get("/api/v1/bundle", headers={**gate.auth, "If-None-Match": '"v1"'}).status_code == 304
    stored_guests.revoke(store, credential.id_hex, "lost badge", clock())
    response = client.get("/api/v1/bundle", headers={**gate.auth, "If-None-Match": '"v1"'})
    assert response.status_code == 200 and response.headers["ETag"] == '"v2"'
    root = trust.root_key_from_pem(gate.enrolment["root_public_key"].encode())
    assert trust.verify_bundle(response.data, root).revoked == {credential.credential_id}


def test_bundle_is_renewed_as_a_new_version_once_half_its_validity_passed(
    gate: Gate, client: FlaskClient, clock: Clock, config: Config
) -> None:
    root = trust.root_key_from_pem(gate.enrolment["root_public_key"].encode())
    half = timedelta(hours=config.bundle.validity_hours) / 2
    clock.advance(seconds=half.total_seconds() - 1)
    same = client.get("/api/v1/bundle", headers=gate.auth)
    assert same.headers["ETag"] == '"v1"'
    clock.advance(seconds=1)
    renewed = client.get("/api/v1/bundle", headers=gate.auth)
    assert renewed.headers["ETag"] == '"v2"'
    bundle = trust.verify_bundle(renewed.data, root, held_version=1)
    assert bundle.issued_at == clock.now
    assert client.get("/api/v1/bundle", headers=gate.auth).data == renewed.data


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}, {"Authorization": "Bearer nope"}],
    ids=["none", "basic", "empty", "unknown"],
)
def test_bundle_without_a_known_token_is_401(client: FlaskClient, headers: dict[str, str]) -> None:
    assert_refusal(client.get("/api/v1/bundle", headers=headers), 401, "unauthorized")


def test_revoked_gate_is_refused_at_once(gate: Gate, client: FlaskClient, store: Store, clock: Clock) -> None:
    assert client.get("/api/v1/bundle", headers=gate.auth).status_code == 200
    stored_devices.revoke_device(store, gate.device_id, clock())
    assert_refusal(client.get("/api/v1/bundle", headers=gate.auth), 401, "device_revoked")
    assert_refusal(gate.upload(gate.scan(1)), 401, "device_revoked")


def test_service_without_its_root_key_answers_503(
    config: Config, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = config.keys_dir
    (keys / "root.key").rename(keys / "root.key.elsewhere")
    monkeypatch.delenv("CHECKIN_KEY_PASSPHRASE", raising=False)
    app = create_app(config, {"CLOCK": clock, "TESTING": True})
    store: Store = app.extensions["checkin.store"]
    _device, code = stored_devices.create_device(store, EVENT_ID, "Cổng H", None, "in", clock())
    response = app.test_client().post(ENROL, json={"code": code, "public_key": public_hex()})
    assert_refusal(response, 503, "service_unavailable")
    store.dispose()


# ---- the rest of /api/v1 ------------------------------------------------------------------------------


def test_openapi_document_describes_exactly_the_routes(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"].startswith("3.0")
    assert {path: sorted(ops) for path, ops in doc["paths"].items()} == {
        "/api/v1/devices/enroll": ["post"],
        "/api/v1/bundle": ["get"],
        "/api/v1/journal": ["post"],
        "/api/v1/presence": ["get"],
        "/api/v1/events/{event_id}/credentials": ["post"],
        "/api/v1/openapi.json": ["get"],
    }
    for ops in doc["paths"].values():
        for op in ops.values():
            for status, answer in op["responses"].items():
                if status.startswith("4"):
                    schema = answer["content"]["application/json"]["schema"]["$ref"]
                    assert schema.rsplit("/", 1)[1] in ("Error", "JournalError")


@pytest.mark.parametrize(
    ("method", "path", "status", "reason"),
    [
        ("GET", "/api/v1/journal", 405, "method_not_allowed"),
        ("DELETE", "/api/v1/bundle", 405, "method_not_allowed"),
        ("GET", "/api/v1/devices/enroll", 405, "method_not_allowed"),
        ("GET", "/api/v1/nothing/here", 404, "not_found"),
    ],
)
def test_unknown_routes_and_methods_answer_json(
    client: FlaskClient, method: str, path: str, status: int, reason: str
) -> None:
    assert_refusal(client.open(path, method=method), status, reason)


def test_store_enrolment_race_lets_one_gate_win(store: Store, clock: Clock, make_key: Callable[[], str]) -> None:
    _device, code = stored_devices.create_device(store, EVENT_ID, "Cổng I", None, "in", clock())
    stored_devices.enrol_device(store, code, make_key(), clock())
    with pytest.raises(Exception, match="enrolment"):
        stored_devices.enrol_device(store, code, make_key(), clock())


@pytest.fixture
def make_key() -> Callable[[], str]:
    return public_hex
