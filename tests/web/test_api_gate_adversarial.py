"""Adversarial tests of the gate-facing JSON API: enrolment, bundle, journal upload, revocation.

Every refusal must be JSON with a `reason` and a 4xx status (never a 500), nothing already stored
may be lost or changed, and gaps, forks, broken chains and bad checkpoints leave an alert.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core import chain, cose
from checkin.keystore import KeyStore
from checkin.services import ingest
from checkin.store import Store, reports, tokens, users
from checkin.store import devices as stored_devices
from checkin.store import journal as stored_journal
from checkin.store.journal import JournalRefused
from checkin.web import create_app
from tests.support.apikit import Clock, Gate, Runner, waitress_thread
from tests.support.world import EVENT_ID

ENROL = "/api/v1/devices/enroll"
BUNDLE = "/api/v1/bundle"
JOURNAL = "/api/v1/journal"


def public_hex(key: Ed25519PrivateKey | None = None) -> str:
    return (key or Ed25519PrivateKey.generate()).public_key().public_bytes_raw().hex()


def refused(response: Any, status: int, reason: str) -> dict[str, Any]:
    """A refusal as the API promises it: the status, JSON with the reason and both messages."""
    assert response.status_code == status, (response.status_code, response.data[:300])
    assert response.is_json, response.data[:300]
    body = response.get_json()
    assert body["reason"] == reason, body
    assert body["message"] and body["message_vi"]
    assert response.headers["Cache-Control"] == "no-store"
    return body


def state(store: Store, gate: Gate) -> tuple[Any, ...]:
    """Everything an upload may change for a gate: its rows, acked seq, head and alerts."""
    device = stored_devices.device(store, gate.device_id)
    alerts = [(a.kind, a.seq) for a in reports.alerts(store, device_id=gate.device_id)]
    return stored_journal.journal_rows(store, gate.device_id), device.acked_seq, device.head_hash, alerts


def alert_kinds(store: Store, gate: Gate) -> list[tuple[str, int | None]]:
    return [(a.kind, a.seq) for a in reports.alerts(store, device_id=gate.device_id)]


def post_raw(gate: Gate, data: bytes) -> Any:
    return gate.client.post(JOURNAL, data=data, headers={**gate.auth, "Content-Type": "application/json"})


def signed_checkpoint(key: Ed25519PrivateKey, payload: Any, content_type: str = chain.CHECKPOINT_FORMAT) -> str:
    """base64 of a COSE_Sign1 by `key` over any payload (a dict is CBOR-encoded first)."""
    raw = payload if isinstance(payload, bytes) else cose.canonical_dumps(payload)
    return base64.b64encode(cose.sign_typed(key, raw, content_type)).decode()


# ---- enrolment --------------------------------------------------------------------------------------


def test_enrol_code_expires_exactly_15_minutes_after_it_was_made(
    client: FlaskClient, store: Store, clock: Clock
) -> None:
    _a, last_moment = stored_devices.create_device(store, EVENT_ID, "Cổng 1", None, "in", clock())
    _b, too_late = stored_devices.create_device(store, EVENT_ID, "Cổng 2", None, "in", clock())
    clock.advance(minutes=14, seconds=59, microseconds=999_999)
    assert client.post(ENROL, json={"code": last_moment, "public_key": public_hex()}).status_code == 200
    clock.advance(microseconds=1)  # exactly 15 minutes
    refused(client.post(ENROL, json={"code": too_late, "public_key": public_hex()}), 403, "enrolment_invalid")
    clock.advance(days=400)
    refused(client.post(ENROL, json={"code": too_late, "public_key": public_hex()}), 403, "enrolment_invalid")


@pytest.mark.parametrize(
    "typed",
    [
        lambda c: c.replace("-", ""),
        lambda c: c.lower(),
        lambda c: "\t" + c.replace("-", "\t") + "\t",
        lambda c: "-".join(c.replace("-", "")),  # a dash between every character
        lambda c: c.swapcase().replace("-", " - "),
    ],
    ids=["no-dashes", "lower", "tabs", "dash-each", "mixed-spacing"],
)
def test_enrol_code_as_typed_by_people(
    client: FlaskClient, store: Store, clock: Clock, typed: Callable[[str], str]
) -> None:
    _device, code = stored_devices.create_device(store, EVENT_ID, "Cổng gõ tay", None, "in", clock())
    assert client.post(ENROL, json={"code": typed(code), "public_key": public_hex()}).status_code == 200
    refused(client.post(ENROL, json={"code": code, "public_key": public_hex()}), 403, "enrolment_invalid")


def test_codes_that_only_look_like_the_code_are_refused(client: FlaskClient, store: Store, clock: Clock) -> None:
    _device, code = stored_devices.create_device(store, EVENT_ID, "Cổng giống", None, "in", clock())
    plain = code.replace("-", "")
    lookalikes = [
        plain[:-1],  # one character short
        plain + "2",  # one more
        "".join(chr(ord(c) + 0xFEE0) for c in plain),  # full-width forms
        plain.replace(plain[0], "\u00a0" + plain[0], 1),  # no-break space is not a separator
        " - \t ",  # only separators
        code + "\n",
    ]
    for attempt in lookalikes:
        response = client.post(ENROL, json={"code": attempt, "public_key": public_hex()})
        assert response.status_code in (400, 403), attempt
        assert response.get_json()["reason"] in ("invalid_input", "enrolment_invalid")
    assert client.post(ENROL, json={"code": code, "public_key": public_hex()}).status_code == 200


def test_a_public_key_already_enrolled_is_refused_and_the_code_kept(
    client: FlaskClient, store: Store, clock: Clock
) -> None:
    # a cloned laptop, or a gate enrolled twice: two gates must never share a signing key
    key = public_hex()
    _first, code = stored_devices.create_device(store, EVENT_ID, "Cổng 1", None, "in", clock())
    assert client.post(ENROL, json={"code": code, "public_key": key}).status_code == 200
    second, code = stored_devices.create_device(store, EVENT_ID, "Cổng 2", None, "in", clock())
    refused(client.post(ENROL, json={"code": code, "public_key": key}), 409, "already_exists")
    assert stored_devices.device(store, second.id).status == "pending"
    assert client.post(ENROL, json={"code": code, "public_key": public_hex()}).status_code == 200


def test_refused_enrolments_do_not_spend_the_code(client: FlaskClient, store: Store, clock: Clock) -> None:
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng kiên nhẫn", None, "in", clock())
    for body in (
        {"code": code, "public_key": "zz" * 32},
        {"code": code, "public_key": public_hex()[:62]},
        {"code": code, "public_key": public_hex() + "00"},
        {"code": code, "public_key": public_hex(), "token": "x"},
        {"code": code, "public_key": " " + public_hex()[1:]},
        {"code": code, "public_key": public_hex()[:32] + " " + public_hex()[33:]},
        {"code": [code], "public_key": public_hex()},
        {"code": code, "public_key": None},
        {"code": code + "\x00", "public_key": public_hex()},
    ):
        refused(client.post(ENROL, json=body), 400, "invalid_input")
    assert stored_devices.device(store, device.id).status == "pending"
    key = Ed25519PrivateKey.generate()
    response = client.post(ENROL, json={"code": code, "public_key": public_hex(key).upper()})
    assert response.status_code == 200
    assert stored_devices.device(store, device.id).public_key == public_hex(key)


def test_a_gate_enrolled_with_an_uppercase_key_uploads(client: FlaskClient, store: Store, clock: Clock) -> None:
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng HOA", None, "in", clock())
    key = Ed25519PrivateKey.generate()
    body = client.post(ENROL, json={"code": code, "public_key": public_hex(key).upper()}).get_json()
    gate = Gate(client, clock, device.id, body["token"], key, body)
    assert gate.upload(gate.scan(3)).get_json()["acked_seq"] == 3


# 32 bytes that are not a usable Ed25519 public key: small-order points (libsodium, which verifies
# checkpoints, refuses them) and a y coordinate with no point on the curve.
_UNUSABLE_KEYS = {
    "identity": "01" + "00" * 31,
    "all-zero": "00" * 32,
    "order-2": "ec" + "ff" * 30 + "7f",
    "not-on-curve": "02" + "00" * 31,
}


@pytest.mark.parametrize("name", sorted(_UNUSABLE_KEYS))
def test_enrol_refuses_a_public_key_that_is_not_a_usable_ed25519_point(
    client: FlaskClient, store: Store, clock: Clock, name: str
) -> None:
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng khóa hỏng", None, "in", clock())
    refused(client.post(ENROL, json={"code": code, "public_key": _UNUSABLE_KEYS[name]}), 400, "invalid_input")
    assert stored_devices.device(store, device.id).status == "pending"


def test_a_gate_with_the_identity_key_cannot_forge_a_checkpoint(
    client: FlaskClient, store: Store, clock: Clock
) -> None:
    """Even if a small-order key got in (enrolment refuses them now), the all-verifying signature of
    the identity point (R = identity, S = 0) is refused: the checkpoint is not forgeable."""
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng đơn vị", None, "in", clock())
    identity = bytes.fromhex(_UNUSABLE_KEYS["identity"])
    response = client.post(ENROL, json={"code": code, "public_key": identity.hex()})
    if response.status_code != 200:  # refused at enrolment: nothing further to forge
        return
    gate = Gate(client, clock, device.id, response.get_json()["token"], Ed25519PrivateKey.generate(), {})
    rows = gate.scan(2)
    protected = cose.protected_eddsa(cose.kid_of(identity), {cose.HEADER_CONTENT_TYPE: chain.CHECKPOINT_FORMAT})
    payload = cose.canonical_dumps({"seq": 2, "head": rows[-1].hash, "wall_ms": clock.ms})
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, identity + bytes(32)]))
    body = {"rows": [r.to_json() for r in rows], "checkpoint": base64.b64encode(forged).decode()}
    refused(client.post(JOURNAL, json=body, headers=gate.auth), 422, "bad_checkpoint")
    assert stored_journal.journal_rows(store, device.id) == []


def test_a_gate_enrolled_with_the_root_key_cannot_pass_a_bundle_as_its_checkpoint(
    client: FlaskClient, store: Store, clock: Clock, config: Config
) -> None:
    root = serialization.load_pem_public_key(KeyStore(config.keys_dir).root_public_pem())
    assert isinstance(root, Ed25519PublicKey)
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng gốc", None, "in", clock())
    response = client.post(ENROL, json={"code": code, "public_key": root.public_bytes_raw().hex()})
    if response.status_code != 200:
        refused(response, 400, "invalid_input")
        return
    body = response.get_json()
    gate = Gate(client, clock, device.id, body["token"], Ed25519PrivateKey.generate(), body)
    rows = gate.scan(1)
    bundle = client.get(BUNDLE, headers=gate.auth).data  # signed by the root key, content type CKB1
    upload = {"rows": [r.to_json() for r in rows], "checkpoint": base64.b64encode(bundle).decode()}
    refused(client.post(JOURNAL, json=upload, headers=gate.auth), 422, "bad_checkpoint")
    assert stored_journal.journal_rows(store, device.id) == []


def test_two_gates_with_one_public_key_never_write_into_each_other(
    client: FlaskClient, store: Store, clock: Clock, enrol: Callable[..., Gate]
) -> None:
    north = enrol("Cổng Bắc")
    north_rows = north.scan(4)
    assert north.upload(north_rows[:2]).status_code == 200
    twin, code = stored_devices.create_device(store, EVENT_ID, "Cổng Nam (bản sao)", None, "in", clock())
    response = client.post(ENROL, json={"code": code, "public_key": public_hex(north.key)})
    if response.status_code != 200:
        assert 400 <= response.status_code < 500 and response.get_json()["reason"]
        return
    twin_token = response.get_json()["token"]
    assert twin_token != north.token
    # north's own signed batch, sent with the twin's token, can only ever land in the twin's journal
    answer = client.post(JOURNAL, json=north.body(north_rows), headers={"Authorization": f"Bearer {twin_token}"})
    assert answer.status_code in (200, 422), answer.data
    assert stored_journal.journal_rows(store, twin.id) == (north_rows if answer.status_code == 200 else [])
    assert stored_journal.journal_rows(store, north.device_id) == north_rows[:2]
    assert stored_devices.device(store, north.device_id).acked_seq == 2
    assert north.upload(north_rows).get_json()["acked_seq"] == 4


def test_one_code_raced_by_many_gates_through_a_real_server_enrols_one(app: Flask, store: Store, clock: Clock) -> None:
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng tranh", None, "in", clock())
    keys = [public_hex() for _ in range(6)]
    answers: dict[str, tuple[int, dict[str, Any]]] = {}
    start = threading.Barrier(len(keys))

    def enrol(port: int, key: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = json.dumps({"code": code, "public_key": key})
        start.wait()
        conn.request("POST", ENROL, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        answers[key] = (response.status, json.loads(response.read()))
        conn.close()

    with waitress_thread(app, threads=len(keys)) as port:
        threads = [threading.Thread(target=enrol, args=(port, key)) for key in keys]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    winners = [key for key, (status, _body) in answers.items() if status == 200]
    assert len(answers) == len(keys) and len(winners) == 1, answers
    losers = [body for key, (status, body) in answers.items() if key not in winners]
    assert all(body["reason"] == "enrolment_invalid" for body in losers), losers
    assert stored_devices.device(store, device.id).public_key == winners[0]


# ---- tokens -------------------------------------------------------------------------------------------


def test_odd_tokens_are_a_json_401_on_every_gate_route(gate: Gate, client: FlaskClient, store: Store) -> None:
    token = gate.token
    odd = [
        f"Bearer {token}\x00",
        f"Bearer \x00{token}",
        f"Bearer {token[:-1]}",
        f"Bearer {token}x",
        f"Bearer {token} {token}",
        f"Bearer {token.upper()}" if token.upper() != token else "Bearer X",
        "Bearer " + "A" * 201,
        "Bearer " + "A" * 20_000,
        f"Bearer\t{token}",
        f"Bearer:{token}",
        f"Token {token}",
        f"Basic {base64.b64encode(f'{gate.device_id}:{token}'.encode()).decode()}",
        token,
        "Bearer é" + token,
        "Bearer " + stored_devices.device(store, gate.device_id).token_hash,  # the stored hash is not the token
        "Bearer",
        "",
    ]
    body = gate.body(gate.scan(1))
    for header in odd:
        refused(client.get(BUNDLE, headers={"Authorization": header}), 401, "unauthorized")
        refused(client.post(JOURNAL, json=body, headers={"Authorization": header}), 401, "unauthorized")
    for query in (f"token={token}", f"access_token={token}", f"authorization=Bearer%20{token}"):
        refused(client.get(f"{BUNDLE}?{query}"), 401, "unauthorized")
        refused(client.post(f"{JOURNAL}?{query}", json=body), 401, "unauthorized")
    assert stored_journal.journal_rows(store, gate.device_id) == []
    # the token itself still works afterwards, however it is spaced and whatever the scheme's case
    for header in (f"bearer {token}", f"BEARER   {token}  "):
        assert client.get(BUNDLE, headers={"Authorization": header}).status_code == 200


def test_the_enrolment_code_is_not_a_token(client: FlaskClient, store: Store, clock: Clock) -> None:
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng chờ", None, "in", clock())
    for secret in (code, code.replace("-", ""), ""):
        refused(client.get(BUNDLE, headers={"Authorization": f"Bearer {secret}"}), 401, "unauthorized")
    assert stored_devices.device(store, device.id).status == "pending"


def test_device_tokens_and_api_tokens_do_not_cross(gate: Gate, client: FlaskClient, store: Store, clock: Clock) -> None:
    secret = tokens.create_api_token(
        store, "portal", users.Role.ADMIN, clock(), actor="test", scope=tokens.TokenScope((EVENT_ID,))
    )[1]
    api = {"Authorization": f"Bearer {secret}"}
    refused(client.get(BUNDLE, headers=api), 401, "unauthorized")
    refused(client.post(JOURNAL, json=gate.body(gate.scan(1)), headers=api), 401, "unauthorized")
    answer = client.post(f"/api/v1/events/{EVENT_ID}/credentials", json={"name": "Trần Thị Mai"}, headers=gate.auth)
    refused(answer, 401, "unauthorized")
    assert stored_journal.journal_rows(store, gate.device_id) == []


def test_without_its_root_key_the_service_still_takes_journals(
    gate: Gate, store: Store, config: Config, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bundles and enrolment need the root key (503 without it, the code not spent); uploads do not."""
    keys = config.keys_dir
    (keys / "root.key").rename(keys / "root.key.away")
    monkeypatch.delenv("CHECKIN_KEY_PASSPHRASE", raising=False)
    keyless = create_app(config, {"CLOCK": clock, "TESTING": True})
    try:
        other = keyless.test_client()
        refused(other.get(BUNDLE, headers={**gate.auth, "If-None-Match": '"v1"'}), 503, "service_unavailable")
        device, code = stored_devices.create_device(store, EVENT_ID, "Cổng sau", None, "in", clock())
        refused(other.post(ENROL, json={"code": code, "public_key": public_hex()}), 503, "service_unavailable")
        assert stored_devices.device(store, device.id).status == "pending"
        rows = gate.scan(3)
        answer = other.post(JOURNAL, json=gate.body(rows), headers=gate.auth)
        assert answer.status_code == 200 and answer.get_json()["acked_seq"] == 3
        assert gate.client.post(ENROL, json={"code": code, "public_key": public_hex()}).status_code == 200
    finally:
        keyless.extensions["checkin.store"].dispose()


# ---- bundle: If-None-Match ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ('"v1"', 304),
        ('W/"v1"', 304),
        ('"v0", "v1"', 304),
        ('W/"x" ,  "v1" ', 304),
        ("*", 304),
        ('"v2"', 200),
        ('"V1"', 200),
        ('"v01"', 200),
        ('"v1 "', 200),
        ('"v', 200),
        (",,,", 200),
        ("\u00e9\u00e9", 200),
        ('"v1\x00"', 200),
        ('"v0", ' * 2000 + '"v2"', 200),
    ],
)
def test_if_none_match_forms(gate: Gate, client: FlaskClient, header: str, status: int) -> None:
    for method in ("GET", "HEAD"):
        response = client.open(BUNDLE, method=method, headers={**gate.auth, "If-None-Match": header})
        assert response.status_code == status, (method, header, response.status_code)
        assert response.headers["ETag"] == '"v1"'
        if status == 304 or method == "HEAD":
            assert response.data == b""
        else:
            assert response.data == base64.b64decode(gate.enrolment["bundle"])


def test_if_none_match_does_not_bypass_revocation(gate: Gate, client: FlaskClient, store: Store, clock: Clock) -> None:
    stored_devices.revoke_device(store, gate.device_id, clock())
    for header in ('"v1"', "*"):
        refused(client.get(BUNDLE, headers={**gate.auth, "If-None-Match": header}), 401, "device_revoked")


# ---- journal: malformed rows ---------------------------------------------------------------------------

_WRONG_INT = [None, True, False, 1.0, 1.5, "1", -1, 2**63, 2**64, 10**30, [1], {"v": 1}]
_WRONG_TEXT = [None, 1, 1.5, True, [], {}, "x" * 201, "a\x00b", "\x00", "a\ud800b", "\udfff"]
_WRONG_HASH = ["", "A" * 64, "a" * 63, "a" * 65, "g" * 64, " " + "a" * 63, "a" * 63 + "\n", "０" * 64]


def _field_cases() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = []
    for name in ("seq", "wall_ms", "mono_ms"):
        cases += [(name, v) for v in _WRONG_INT]
    cases += [("seq", 0)]
    for name in ("cti", "kid", "verdict", "reason", "direction", "zone", "operator", "screening"):
        cases += [(name, v) for v in _WRONG_TEXT if not (v is None and name in ("operator", "screening"))]
    for name in ("prev_hash", "hash"):
        cases += [(name, v) for v in [*_WRONG_HASH, None, 1]]
    return cases


def test_every_row_field_wrong_in_turn_is_a_400_naming_it(gate: Gate, store: Store) -> None:
    gate.upload(gate.scan(2)[:1])
    before = state(store, gate)
    good = gate.body(gate.journal[1:])
    row = good["rows"][0]
    for name, value in _field_cases():
        body = {**good, "rows": [{**row, name: value}]}
        answer = refused(gate.client.post(JOURNAL, json=body, headers=gate.auth), 400, "invalid_input")
        named = f"rows[0].{name}"
        if value in ("a\x00b", "\x00"):  # NUL and lone surrogates are found after the shape, in all text
            named = "NUL"
        elif value in ("a\ud800b", "\udfff"):
            named = "not valid Unicode"
        assert named in answer["message"], (name, value, answer["message"])
    for extra in ({"device_id": "0" * 16}, {"event_id": EVENT_ID}, {"": 1}, {"seq ": 2}):
        refused(
            gate.client.post(JOURNAL, json={**good, "rows": [{**row, **extra}]}, headers=gate.auth),
            400,
            "invalid_input",
        )
    assert state(store, gate) == before  # no 400 leaves an alert or a row
    assert gate.client.post(JOURNAL, json=good, headers=gate.auth).get_json()["acked_seq"] == 2


@pytest.mark.parametrize(
    "literal",
    ["NaN", "Infinity", "-Infinity", "1e400", "-0.0", "1E0", "1" + "0" * 5000, "0x10", "01", "+1", "true", '"2"'],
)
def test_raw_json_numbers_are_refused_in_seq(gate: Gate, store: Store, literal: str) -> None:
    text = json.dumps(gate.body(gate.scan(1)))
    raw = text.replace('"seq": 1,', f'"seq": {literal},', 1)
    assert raw != text
    response = post_raw(gate, raw.encode())
    refused(response, 400, "invalid_input")
    assert reports.scan_count(store) == 0 and alert_kinds(store, gate) == []


def test_raw_json_oddities_in_the_body(gate: Gate, store: Store) -> None:
    good = json.dumps(gate.body(gate.scan(1)))
    for raw in (
        good.replace('"operator": "', '"operator": "\\ud800', 1),  # a lone surrogate, escaped
        good.replace('"operator": "', '"operator": "\\udfff\\ud800', 1),
        good.replace('"operator": "', '"operator": "\\u0000', 1),
        good.replace('"rows"', '"rows\\u0000"', 1),
        good.replace('"checkpoint": "', '"checkpoint": "\\ud800', 1),
        good.replace('"checkpoint": "', '"checkpoint": "\\u0000', 1),
        good.replace('"checkpoint": "', '"checkpoint": " ', 1),
        good[:-1] + ', "rows": []}',  # a duplicate key: the last wins, and it is empty
        good + "x",
        good.encode("utf-16").decode("latin-1"),
        "\ufeff" + good + "\ufeff",
    ):
        response = post_raw(gate, raw.encode("utf-8", "surrogatepass"))
        refused(response, 400, "invalid_input")
    assert reports.scan_count(store) == 0 and alert_kinds(store, gate) == []


def test_the_body_size_cap_is_a_json_413(gate: Gate, store: Store) -> None:
    body = json.dumps(gate.body(gate.scan(1)))[:-1] + ', "pad": "' + "x" * (33 * 1024 * 1024) + '"}'
    refused(post_raw(gate, body.encode()), 413, "too_large")
    assert reports.scan_count(store) == 0


def test_5001_rows_are_413_even_when_all_are_already_held(gate: Gate, store: Store) -> None:
    rows = gate.scan(5001)
    assert gate.upload(rows[:5000]).status_code == 200
    before = state(store, gate)
    refused(gate.upload(rows), 413, "too_large")
    assert state(store, gate) == before
    assert gate.upload(rows[1:]).get_json() | {"server_time": 0, "server_time_ms": 0} == {
        "acked_seq": 5001, "head_hash": rows[-1].hash, "stored": 1, "server_time": 0, "server_time_ms": 0,
        "alerts": [],
    }  # fmt: skip


# ---- journal: text and numbers the chain allows are stored exactly -----------------------------------------

# Free text of a row (reason, operator, screening; the other fields are screened, see
# test_api_ingest_values.py): every oddity a database or COPY could mangle
_ODD_TEXT = [
    {"reason": "\\N", "operator": "\\.", "screening": "a\tb\nc\rd\\e"},  # COPY's NULL marker, end of data
    {"reason": "\x01\x02\x7f\u2028\u2029\ufeff\uffff", "screening": "\U0001f3ab" * 200},  # 200 astral: the limit
    {"reason": "  admitted  ", "operator": "Nguye\u0302\u0303n", "screening": "é" * 200},  # NFD stays NFD
]


def test_text_the_chain_allows_is_stored_byte_for_byte(gate: Gate, store: Store) -> None:
    rows = [row for odd in _ODD_TEXT for row in gate.scan(1, **odd)]
    answer = gate.upload(rows)
    assert answer.status_code == 200, answer.data
    held = stored_journal.journal_rows(store, gate.device_id)
    assert held == rows and chain.check(held) == []
    # held rows must still match what the gate sends again: no false fork on a replay
    again = gate.upload(rows)
    assert again.status_code == 200 and again.get_json()["stored"] == 0
    assert gate.upload(gate.scan(1)).get_json()["acked_seq"] == 4


def test_the_widest_numbers_are_stored_and_read_back(gate: Gate, store: Store, clock: Clock) -> None:
    top = 2**63 - 1
    rows = gate.scan(1, wall_ms=top, mono_ms=top) + gate.scan(1, wall_ms=0, mono_ms=0)
    answer = gate.upload(rows, wall_ms=clock.ms)
    assert answer.status_code == 200, answer.data
    assert stored_journal.journal_rows(store, gate.device_id) == rows
    assert gate.upload(rows).get_json()["stored"] == 0


def test_the_highest_seq_is_a_gap_with_an_alert(gate: Gate, store: Store) -> None:
    top = replace(gate.scan(1)[0], seq=2**63 - 1, hash="")
    top = replace(top, hash=top.compute_hash())
    body = refused(gate.upload([top]), 409, "gap")
    assert body["acked_seq"] == 0 and body["seq"] == 2**63 - 1
    assert alert_kinds(store, gate) == [("gap", 2**63 - 1)]


def test_operator_and_screening_null_or_absent_mean_empty(gate: Gate, store: Store) -> None:
    rows = gate.scan(2, operator="", screening="")
    body = gate.body(rows)
    body["rows"][0].update(operator=None, screening=None)
    del body["rows"][1]["operator"], body["rows"][1]["screening"]
    assert gate.client.post(JOURNAL, json=body, headers=gate.auth).status_code == 200
    assert stored_journal.journal_rows(store, gate.device_id) == rows


# ---- journal: checkpoints ----------------------------------------------------------------------------------


def test_checkpoints_that_do_not_hold_are_422_and_change_nothing(
    gate: Gate, enrol: Callable[..., Gate], store: Store, clock: Clock, config: Config
) -> None:
    rows = gate.scan(8)
    assert gate.upload(rows[:5]).status_code == 200
    before = state(store, gate)
    batch = rows[3:7]  # overlaps the held rows, ends at seq 7
    last = batch[-1]
    other = enrol("Cổng khác")
    good = {"seq": last.seq, "head": last.hash, "wall_ms": clock.ms}
    cases = {
        "another-enrolled-gate": signed_checkpoint(other.key, good),
        "covers-a-held-row": gate.body(rows[:5])["checkpoint"],
        "covers-a-later-row": gate.body(rows[:8])["checkpoint"],
        "covers-the-row-before": gate.body(rows[:6])["checkpoint"],
        "seq-off-by-one": signed_checkpoint(gate.key, {**good, "seq": last.seq + 1}),
        "head-uppercase": signed_checkpoint(gate.key, {**good, "head": last.hash.upper()}),
        "head-of-prev": signed_checkpoint(gate.key, {**good, "head": last.prev_hash}),
        "wall-negative": signed_checkpoint(gate.key, {**good, "wall_ms": -1}),
        "wall-2**63": signed_checkpoint(gate.key, {**good, "wall_ms": 2**63}),
        "wall-2**64-1": signed_checkpoint(gate.key, {**good, "wall_ms": 2**64 - 1}),
        "wall-bignum": signed_checkpoint(gate.key, {**good, "wall_ms": 2**64}),
        "wall-float": signed_checkpoint(gate.key, {**good, "wall_ms": float(clock.ms)}),
        "seq-bool": signed_checkpoint(gate.key, {**good, "seq": True}),
        "seq-negative": signed_checkpoint(gate.key, {**good, "seq": -last.seq}),
        "seq-text": signed_checkpoint(gate.key, {**good, "seq": str(last.seq)}),
        "head-bytes": signed_checkpoint(gate.key, {**good, "head": bytes.fromhex(last.hash)}),
        "extra-field": signed_checkpoint(gate.key, {**good, "device": gate.device_id}),
        "missing-field": signed_checkpoint(gate.key, {"seq": last.seq, "head": last.hash}),
        "int-keys": signed_checkpoint(gate.key, {1: last.seq, 2: last.hash, 3: clock.ms}),
        "list-payload": signed_checkpoint(gate.key, [last.seq, last.hash, clock.ms]),
        "nested": signed_checkpoint(gate.key, {**good, "wall_ms": [clock.ms]}),
        "not-cbor": signed_checkpoint(gate.key, b"\xff\xff"),
        "trailing-bytes": signed_checkpoint(gate.key, cose.canonical_dumps(good) + b"\x00"),
        "bundle-type": signed_checkpoint(gate.key, good, "CKB1"),
        "no-type": base64.b64encode(
            cose.sign1_eddsa(
                gate.key, cose.canonical_dumps(good), cose.protected_eddsa(cose.kid_of(gate.key.public_key()))
            )
        ).decode(),
        "root-signed-bundle": gate.enrolment["bundle"],
        "empty-sign1": base64.b64encode(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""]))).decode(),
        "zeros": base64.b64encode(bytes(64)).decode(),
    }
    for name, checkpoint in cases.items():
        body = {"rows": [r.to_json() for r in batch], "checkpoint": checkpoint}
        response = gate.client.post(JOURNAL, json=body, headers=gate.auth)
        answer = refused(response, 422, "bad_checkpoint")
        assert answer["acked_seq"] == 5 and answer["head_hash"] == rows[4].hash, name
        assert state(store, gate)[:3] == before[:3], name
    # one open alert for the batch's last seq, however often it was refused
    assert alert_kinds(store, gate) == [("bad_checkpoint", 7)]
    assert gate.upload(batch).get_json()["acked_seq"] == 7


def test_checkpoint_encodings(gate: Gate, store: Store) -> None:
    rows = gate.scan(2)
    good = gate.body(rows)
    raw = base64.b64decode(good["checkpoint"])
    for text in (
        base64.encodebytes(raw).decode(),  # MIME lines
        base64.urlsafe_b64encode(b"\xfb\xff" + raw).decode(),
        good["checkpoint"].rstrip("="),
        " " + good["checkpoint"],
        "A" * 1025,
        "",
        None,
        7,
        [good["checkpoint"]],
    ):
        if text == good["checkpoint"]:
            continue
        refused(gate.client.post(JOURNAL, json={**good, "checkpoint": text}, headers=gate.auth), 400, "invalid_input")
    assert alert_kinds(store, gate) == []
    refused(
        gate.client.post(JOURNAL, json={**good, "checkpoint": "A" * 1024}, headers=gate.auth), 422, "bad_checkpoint"
    )
    assert stored_journal.journal_rows(store, gate.device_id) == []
    assert gate.client.post(JOURNAL, json=good, headers=gate.auth).status_code == 200


def test_a_checkpoint_at_the_top_of_the_time_range_is_skew_not_a_failure(gate: Gate, store: Store) -> None:
    rows = gate.scan(1)
    answer = gate.upload(rows, wall_ms=2**63 - 1)
    assert answer.status_code == 200, answer.data
    assert [a["kind"] for a in answer.get_json()["alerts"]] == ["clock_skew"]
    assert alert_kinds(store, gate) == [("clock_skew", 1)]
    assert stored_journal.journal_rows(store, gate.device_id) == rows


def test_a_checkpoint_from_the_gate_for_an_old_replay_is_fine(gate: Gate, store: Store) -> None:
    rows = gate.scan(9)
    old_body = gate.body(rows[:3])
    assert gate.upload(rows[:3]).status_code == 200
    assert gate.upload(rows[3:]).status_code == 200
    before = state(store, gate)
    answer = gate.client.post(JOURNAL, json=old_body, headers=gate.auth)  # the old batch, old checkpoint
    assert answer.status_code == 200
    assert (answer.get_json()["acked_seq"], answer.get_json()["stored"]) == (9, 0)
    assert answer.get_json()["head_hash"] == rows[-1].hash
    assert state(store, gate) == before


# ---- journal: gaps, forks, replays -----------------------------------------------------------------------


def test_gaps_are_409_with_an_alert_and_change_nothing(gate: Gate, store: Store) -> None:
    rows = gate.scan(12)
    refused(gate.upload(rows[1:3]), 409, "gap")  # nothing held, starts at 2
    assert gate.upload(rows[:4]).status_code == 200
    before = state(store, gate)
    body = refused(gate.upload(rows[5:]), 409, "gap")
    assert (body["acked_seq"], body["head_hash"], body["seq"]) == (4, rows[3].hash, 6)
    assert state(store, gate)[:3] == before[:3]
    assert alert_kinds(store, gate) == [("gap", 2), ("gap", 6)]
    # the refused batch, replayed once the hole is filled, is taken as already held
    assert gate.upload(rows[4:]).get_json()["acked_seq"] == 12
    replay = gate.upload(rows[5:])
    assert replay.status_code == 200 and replay.get_json()["stored"] == 0


def test_forks_at_every_position_are_422_and_change_nothing(gate: Gate, store: Store) -> None:
    rows = gate.scan(6)
    assert gate.upload(rows).status_code == 200
    before = state(store, gate)
    for at in (1, 3, 6):  # another history from seq `at`, as long as what is held and longer
        twin = Gate(gate.client, gate.clock, gate.device_id, gate.token, gate.key, gate.enrolment, list(rows[: at - 1]))
        other = twin.scan(8 - at, verdict="deny", reason="revoked")
        body = refused(twin.upload(other), 422, "fork")
        assert (body["seq"], body["acked_seq"], body["head_hash"]) == (at, 6, rows[-1].hash)
        refused(twin.upload(other[: 7 - at]), 422, "fork")  # only the forked held rows
        assert state(store, gate)[:3] == before[:3]
    assert alert_kinds(store, gate) == [("fork", 1), ("fork", 3), ("fork", 6)]


def test_a_held_row_resent_with_other_content_but_its_held_hash_is_a_broken_chain(gate: Gate, store: Store) -> None:
    rows = gate.scan(5)
    assert gate.upload(rows).status_code == 200
    before = state(store, gate)
    lie = replace(rows[2], verdict="admit", cti="ee" * 16)  # content changed, hash kept
    body = refused(gate.upload([*rows[:2], lie, *rows[3:]]), 422, "broken_chain")
    assert body["seq"] == 3 and "hash_mismatch" in body["message"]
    assert state(store, gate)[:3] == before[:3]
    assert alert_kinds(store, gate) == [("broken_chain", 3)]


def test_a_batch_repeating_a_row_is_a_broken_chain(gate: Gate, store: Store) -> None:
    rows = gate.scan(4)
    refused(gate.upload([rows[0], rows[1], rows[1], rows[2]]), 422, "broken_chain")
    assert stored_journal.journal_rows(store, gate.device_id) == []
    assert gate.upload(rows).get_json()["acked_seq"] == 4
    before = state(store, gate)
    refused(gate.upload([rows[0], rows[1], rows[1], rows[2], rows[3]]), 422, "broken_chain")
    assert state(store, gate)[:3] == before[:3]


def test_held_rows_replayed_out_of_order_are_a_broken_chain_not_a_fork(gate: Gate, store: Store) -> None:
    rows = gate.scan(3)
    assert gate.upload(rows).status_code == 200
    body = refused(gate.upload([rows[2], rows[1]]), 422, "broken_chain")
    assert "not_increasing" in body["message"]
    assert [kind for kind, _seq in alert_kinds(store, gate)] == ["broken_chain"]


def test_replays_of_old_batches_after_newer_ones_change_nothing(gate: Gate, store: Store) -> None:
    rows = gate.scan(30)
    for start in range(0, 30, 10):
        assert gate.upload(rows[start : start + 10]).status_code == 200
    before = state(store, gate)
    for batch in (rows[:10], rows[10:20], rows[:1], rows[29:], rows[5:25], rows):
        answer = gate.upload(batch)
        assert answer.status_code == 200, answer.data
        assert answer.get_json()["acked_seq"] == 30 and answer.get_json()["stored"] == 0
        assert answer.get_json()["head_hash"] == rows[-1].hash
    assert state(store, gate) == before


def test_a_first_row_that_does_not_start_from_genesis_is_a_broken_chain(gate: Gate, store: Store) -> None:
    first = replace(gate.scan(1)[0], prev_hash="11" * 32, hash="")
    first = replace(first, hash=first.compute_hash())
    body = refused(gate.upload([first]), 422, "broken_chain")
    assert body["seq"] == 1 and "broken_link" in body["message"]
    assert alert_kinds(store, gate) == [("broken_chain", 1)]


def test_another_gates_rows_are_stored_only_under_the_uploader(enrol: Callable[..., Gate], store: Store) -> None:
    north, south = enrol("Cổng Bắc"), enrol("Cổng Nam")
    north_rows = north.scan(3)
    assert north.upload(north_rows).status_code == 200
    # south re-signs north's rows (the rows carry no device id): they are south's own statement
    answer = south.client.post(JOURNAL, json=south.body(north_rows), headers=south.auth)
    assert answer.status_code == 200
    assert stored_journal.journal_rows(store, north.device_id) == north_rows
    assert stored_journal.journal_rows(store, south.device_id) == north_rows
    # and north's journal can still grow on its own
    assert north.upload(north.scan(1)).get_json()["acked_seq"] == 4


# ---- revocation ----------------------------------------------------------------------------------------


def test_a_revoked_gate_is_refused_and_keeps_what_it_uploaded(
    gate: Gate, store: Store, runner: Runner, clock: Clock
) -> None:
    rows = gate.scan(6)
    assert gate.upload(rows[:3]).status_code == 200
    refused(gate.upload(rows[4:]), 409, "gap")
    before = state(store, gate)
    result = runner("gate", "revoke", gate.device_id, now=clock.now)
    assert result.exit_code == 0, result.output
    for batch in (rows[:3], rows[3:], rows[4:]):
        body = refused(gate.upload(batch), 401, "device_revoked")
        assert "head_hash" not in body
    refused(gate.client.get(BUNDLE, headers=gate.auth), 401, "device_revoked")
    assert state(store, gate) == before


def test_a_revocation_between_the_token_check_and_the_write_is_refused(gate: Gate, store: Store, clock: Clock) -> None:
    """The API reads the device before the write lock; the store looks again under the lock."""
    rows = gate.scan(3)
    device = stored_devices.device(store, gate.device_id)  # as _device() read it, active
    stored_devices.revoke_device(store, gate.device_id, clock())
    checkpoint = base64.b64decode(gate.body(rows)["checkpoint"])
    with pytest.raises(JournalRefused) as refusal:
        ingest.upload_journal(store, device, rows, checkpoint, clock())
    assert refusal.value.reason.value == "device_revoked"
    assert stored_journal.journal_rows(store, gate.device_id) == [] and alert_kinds(store, gate) == []


def test_revoking_twice_from_the_cli_keeps_the_first_revocation_time(
    gate: Gate, store: Store, runner: Runner, clock: Clock
) -> None:
    assert runner("gate", "revoke", gate.device_id, now=clock.now).exit_code == 0
    first = stored_devices.device(store, gate.device_id).revoked_at
    assert first == clock.now
    clock.advance(hours=1)
    runner("gate", "revoke", gate.device_id, now=clock.now)
    assert stored_devices.device(store, gate.device_id).revoked_at == first


# ---- concurrency through a real server ----------------------------------------------------------------


def _post_all(port: int, bodies: list[dict[str, Any]], token: str) -> list[tuple[int, dict[str, Any]]]:
    answers: list[tuple[int, dict[str, Any]]] = [(0, {})] * len(bodies)
    start = threading.Barrier(len(bodies))

    def send(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        data = json.dumps(bodies[i])
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        start.wait()
        conn.request("POST", JOURNAL, body=data, headers=headers)
        response = conn.getresponse()
        answers[i] = (response.status, json.loads(response.read()))
        conn.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


def test_one_batch_sent_at_once_many_times_is_stored_once(app: Flask, gate: Gate, store: Store) -> None:
    rows = gate.scan(400)
    body = gate.body(rows)
    with waitress_thread(app, threads=8) as port:
        answers = _post_all(port, [body] * 8, gate.token)
    assert all(status == 200 for status, _ in answers), answers
    assert sorted(a["stored"] for _, a in answers) == [0] * 7 + [400]
    assert all(a["acked_seq"] == 400 and a["head_hash"] == rows[-1].hash for _, a in answers)
    assert stored_journal.journal_rows(store, gate.device_id) == rows
    assert alert_kinds(store, gate) == []


def test_overlapping_batches_sent_at_once_lose_and_double_nothing(app: Flask, gate: Gate, store: Store) -> None:
    rows = gate.scan(480)
    bodies = [gate.body(rows[: 60 * n]) for n in range(1, 9)]
    with waitress_thread(app, threads=8) as port:
        answers = _post_all(port, bodies, gate.token)
    assert all(status == 200 for status, _ in answers), answers
    assert sum(a["stored"] for _, a in answers) == 480
    assert stored_journal.journal_rows(store, gate.device_id) == rows
    assert stored_devices.device(store, gate.device_id).acked_seq == 480
    assert alert_kinds(store, gate) == []


def test_a_fork_raced_against_the_true_history_keeps_exactly_one(app: Flask, gate: Gate, store: Store) -> None:
    twin = Gate(gate.client, gate.clock, gate.device_id, gate.token, gate.key, gate.enrolment, sealer=gate.sealer)
    rows = gate.scan(50)
    forged = twin.scan(50, verdict="deny", reason="revoked")  # sealed as well: whichever wins holds together
    bodies = [gate.body(rows), twin.body(forged)] * 3
    with waitress_thread(app, threads=6) as port:
        answers = _post_all(port, bodies, gate.token)
    assert sorted(status for status, _ in answers) == [200, 200, 200, 422, 422, 422], answers
    held = stored_journal.journal_rows(store, gate.device_id)
    assert held in (rows, forged)
    assert sum(a.get("stored", 0) for _, a in answers) == 50
    assert all(a["reason"] == "fork" and a["acked_seq"] == 50 for s, a in answers if s == 422)
    assert alert_kinds(store, gate) == [("fork", 1)]


VALID_KEY_HEX = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()


def test_enrolment_refusals_and_journal_refusals_are_json_through_a_real_server(app: Flask, gate: Gate) -> None:
    with waitress_thread(app, threads=2) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for method, path, data, headers, status in (
            ("POST", JOURNAL, b"{", {"Authorization": f"Bearer {gate.token}"}, 400),
            ("POST", JOURNAL, b"{}", {"Authorization": "Bearer nope"}, 401),
            ("POST", ENROL, b'{"code": "x", "public_key": "' + VALID_KEY_HEX.encode() + b'"}', {}, 403),
            ("GET", BUNDLE + "?token=" + gate.token, None, {}, 401),
        ):
            conn.request(method, path, body=data, headers={"Content-Type": "application/json", **headers})
            response = conn.getresponse()
            payload = response.read()
            assert response.status == status, (path, response.status, payload)
            assert json.loads(payload)["reason"]
        conn.close()
