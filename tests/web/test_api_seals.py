"""The service checks every uploaded row's forward-secure seal against the seed the gate sent at
enrolment (security issue, flaw 2), incrementally; and enrolment codes bind the root key (flaw 1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient

from checkin.core import chain, enrolment
from checkin.keystore import KeyStore
from checkin.store import Store, reports
from checkin.store import devices as stored_devices
from tests.support.apikit import Clock, Gate
from tests.support.world import EVENT_ID

ENROL = "/api/v1/devices/enroll"


def alert_kinds(store: Store, gate: Gate) -> list[tuple[str, int | None]]:
    return [(a.kind, a.seq) for a in reports.alerts(store, device_id=gate.device_id)]


def test_sealed_rows_give_no_alert_and_the_check_moves_on(gate: Gate, store: Store) -> None:
    assert gate.upload(gate.scan(7)).json["alerts"] == []
    assert gate.upload(gate.scan(5)).json["alerts"] == []
    device = stored_devices.device(store, gate.device_id)
    assert (device.seal_seq, alert_kinds(store, gate)) == (13, [])


def test_rows_without_seals_are_stored_and_flagged_once_per_run(gate: Gate, store: Store) -> None:
    rows = gate.scan(6)
    bare = [*rows[:2], *(replace(r, seal="") for r in rows[2:])]
    answer = gate.upload(bare).json
    assert answer["acked_seq"] == 6  # kept: refusing would stop the gate's uploads for good
    assert [(a["kind"], a["seq"]) for a in answer["alerts"]] == [("missing_seal", 3)]
    assert alert_kinds(store, gate) == [("missing_seal", 3)]
    assert "seq 3 to 6 (4 rows)" in reports.alerts(store, device_id=gate.device_id)[0].detail


def test_a_row_rewritten_and_rechained_after_a_good_batch_is_found(gate: Gate, store: Store) -> None:
    first = gate.scan(4)
    assert gate.upload(first).json["alerts"] == []
    # seq 5..8; the thief turns 6 into an admit and re-chains 6..8, keeping the old seals
    later = gate.scan(4, verdict="deny", reason="revoked")
    prev, forged = later[0], [later[0]]
    for row in later[1:]:
        content = {k: v for k, v in row.content().items() if k != "seq"}
        if row.seq == 6:
            content.update(verdict="admit", reason="admitted")
        prev = replace(chain.append(prev, **content), seal=row.seal)
        forged.append(prev)
    answer = gate.upload(forged).json
    assert [(a["kind"], a["seq"]) for a in answer["alerts"]] == [("bad_seal", 6)]
    assert alert_kinds(store, gate) == [("bad_seal", 6)]  # the first batch was not checked again


def test_a_truncated_tail_written_over_with_the_thiefs_key_is_found(gate: Gate, store: Store) -> None:
    assert gate.upload(gate.scan(4)).json["alerts"] == []
    gate.scan(4)  # seq 5..8 sealed, never uploaded: the thief cuts them off...
    del gate.journal[4:]
    rows = gate.scan(3)  # ...and records seq 5..7 again, sealed with the only key left (the one for seq 9)
    answer = gate.upload(rows).json
    assert answer["acked_seq"] == 7
    assert [(a["kind"], a["seq"]) for a in answer["alerts"]] == [("bad_seal", 5)]


def test_a_gate_that_sent_no_seed_is_flagged_once(
    client: FlaskClient, store: Store, clock: Clock, enrol: Callable[..., Gate]
) -> None:
    device, code = stored_devices.create_device(store, EVENT_ID, "Cổng cũ", None, "in", clock())
    key = Ed25519PrivateKey.generate()
    body = client.post(ENROL, json={"code": code, "public_key": key.public_key().public_bytes_raw().hex()}).json
    gate = Gate(client, clock, device.id, body["token"], key, body)
    assert [a["kind"] for a in gate.upload(gate.scan(3)).json["alerts"]] == ["seals_unchecked"]
    assert gate.upload(gate.scan(3)).json["alerts"] == []
    assert alert_kinds(store, gate) == [("seals_unchecked", None)]


def test_a_malformed_seed_is_refused_and_the_code_is_not_spent(client: FlaskClient, store: Store, clock: Clock) -> None:
    _, code = stored_devices.create_device(store, EVENT_ID, "Cổng A", None, "in", clock())
    public = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    for seed in ("ab" * 31, "zz" * 32, 42):
        response = client.post(ENROL, json={"code": code, "public_key": public, "seal_seed": seed})
        assert response.status_code == 400 and response.json["reason"] == "invalid_input"
    assert client.post(ENROL, json={"code": code, "public_key": public, "seal_seed": "ab" * 32}).status_code == 200


def test_codes_from_gate_add_bind_the_root_and_a_typo_there_spends_nothing(
    client: FlaskClient, store: Store, clock: Clock, config: object, runner: Callable[..., object]
) -> None:
    result = runner("gate", "add", "--event", EVENT_ID, "--name", "Cổng A")
    code = result.output.strip().splitlines()[-1]  # type: ignore[attr-defined]
    root = KeyStore(config.keys_dir).root_public_pem()  # type: ignore[attr-defined]
    from checkin.core import trust

    assert enrolment.binds(code, trust.root_key_from_pem(root).public_bytes_raw())
    plain = enrolment.normalise_code(code)
    typo = plain[:-1] + ("2" if plain[-1] != "2" else "3")
    public = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    refused = client.post(ENROL, json={"code": typo, "public_key": public})
    assert refused.status_code == 403 and refused.json["reason"] == "enrolment_invalid"
    assert client.post(ENROL, json={"code": code, "public_key": public}).status_code == 200
