"""Journal upload: idempotent on (device, seq); gaps, forks, broken chains and bad checkpoints are
refused whole and leave an alert; clock skew is an alert on rows that are stored."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient

from checkin.store import Store, reports
from checkin.store import devices as stored_devices
from checkin.store import journal as stored_journal
from tests.support.apikit import Clock, Gate

JOURNAL = "/api/v1/journal"


def refused(response, status: int, reason: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.data
    body = response.json
    assert body["reason"] == reason and body["message"]
    return body


def alert_kinds(store: Store, gate: Gate) -> list[tuple[str, int | None]]:
    return [(a.kind, a.seq) for a in reports.alerts(store, device_id=gate.device_id)]


def test_upload_stores_rows_as_the_gate_chained_them(gate: Gate, store: Store, clock: Clock) -> None:
    rows = gate.scan(25)
    response = gate.upload(rows)
    assert response.status_code == 200, response.json
    assert response.json == {
        "acked_seq": 25,
        "head_hash": rows[-1].hash,
        "stored": 25,
        "server_time": "2022-03-26T01:00:00.000Z",
        "server_time_ms": clock.ms,
        "alerts": [],
    }
    assert stored_journal.journal_rows(store, gate.device_id) == rows
    assert stored_devices.device(store, gate.device_id).acked_seq == 25
    assert reports.alerts(store, device_id=gate.device_id) == []


def test_the_same_batch_twice_is_stored_once(gate: Gate, store: Store) -> None:
    rows = gate.scan(10)
    first, again = gate.upload(rows), gate.upload(rows)
    assert (first.json["stored"], again.json["stored"]) == (10, 0)
    assert again.json["acked_seq"] == 10 and again.json["head_hash"] == rows[-1].hash
    assert reports.scan_count(store) == 10


def test_overlapping_batches_store_only_what_is_new(gate: Gate, store: Store) -> None:
    rows = gate.scan(15)
    assert gate.upload(rows[:10]).json["stored"] == 10
    response = gate.upload(rows[5:])
    assert (response.json["stored"], response.json["acked_seq"]) == (5, 15)
    assert stored_journal.journal_rows(store, gate.device_id) == rows


def test_a_gap_is_409_with_the_acked_seq_and_stores_nothing(gate: Gate, store: Store) -> None:
    rows = gate.scan(20)
    gate.upload(rows[:5])
    body = refused(gate.upload(rows[10:]), 409, "gap")
    assert body["acked_seq"] == 5
    assert reports.scan_count(store) == 5
    assert alert_kinds(store, gate) == [("gap", 11)]
    assert gate.upload(rows[5:]).json["acked_seq"] == 20


def test_a_fork_is_refused_and_leaves_an_alert(gate: Gate, store: Store) -> None:
    rows = gate.scan(10)
    gate.upload(rows)
    other = Gate(gate.client, gate.clock, gate.device_id, gate.token, gate.key, gate.enrolment, list(rows[:6]))
    forked = other.scan(6, verdict="deny", reason="revoked")  # seq 7..12, another history from seq 7
    body = refused(other.upload(forked), 422, "fork")
    assert body["seq"] == 7 and body["acked_seq"] == 10
    assert reports.scan_count(store) == 10
    assert alert_kinds(store, gate) == [("fork", 7)]


def test_a_tampered_row_breaks_the_chain(gate: Gate, store: Store) -> None:
    rows = gate.scan(10)
    tampered = [*rows[:4], replace(rows[4], verdict="admit", reason="admitted", cti="ff" * 16), *rows[5:]]
    body = refused(gate.upload(tampered), 422, "broken_chain")
    assert body["seq"] == 5 and "hash_mismatch" in body["message"]
    assert reports.scan_count(store) == 0
    assert alert_kinds(store, gate) == [("broken_chain", 5)]


def test_a_batch_that_does_not_link_to_the_held_head_is_refused(gate: Gate, store: Store) -> None:
    rows = gate.scan(10)
    gate.upload(rows[:5])
    # seq 6 whose own hash is right but whose prev_hash is not the hash of the held seq 5
    relinked = replace(rows[5], prev_hash="ab" * 32, hash="")
    relinked = replace(relinked, hash=relinked.compute_hash())
    body = refused(gate.upload([relinked]), 422, "broken_chain")
    assert body["seq"] == 6 and "broken_link" in body["message"]
    assert reports.scan_count(store) == 5


def test_a_checkpoint_signed_by_another_key_is_refused(gate: Gate, store: Store) -> None:
    rows = gate.scan(5)
    refused(gate.upload(rows, key=Ed25519PrivateKey.generate()), 422, "bad_checkpoint")
    assert reports.scan_count(store) == 0
    assert alert_kinds(store, gate) == [("bad_checkpoint", 5)]


def test_a_checkpoint_that_does_not_cover_the_batch_is_refused(gate: Gate, store: Store) -> None:
    rows = gate.scan(5)
    body = gate.body(rows[:3])
    body["rows"] = [row.to_json() for row in rows]
    response = gate.client.post(JOURNAL, json=body, headers=gate.auth)
    assert "covers seq 3" in refused(response, 422, "bad_checkpoint")["message"]
    assert reports.scan_count(store) == 0


def test_a_garbled_checkpoint_is_a_bad_checkpoint(gate: Gate, store: Store) -> None:
    body = gate.body(gate.scan(2))
    body["checkpoint"] = base64.b64encode(b"\xd2\x84garbage").decode()
    refused(gate.client.post(JOURNAL, json=body, headers=gate.auth), 422, "bad_checkpoint")


def test_a_refused_batch_sent_again_adds_no_second_alert(gate: Gate, store: Store) -> None:
    rows = gate.scan(3)
    for _ in range(3):
        refused(gate.upload(rows, key=Ed25519PrivateKey.generate()), 422, "bad_checkpoint")
    assert alert_kinds(store, gate) == [("bad_checkpoint", 3)]


def test_clock_skew_is_an_alert_but_the_rows_are_stored(gate: Gate, store: Store, clock: Clock) -> None:
    rows = gate.scan(3, wall_ms=clock.ms + 10 * 60_000)  # the gate's clock is 10 minutes ahead
    response = gate.upload(rows, wall_ms=clock.ms + 10 * 60_000)
    assert response.status_code == 200 and response.json["stored"] == 3
    assert [a["kind"] for a in response.json["alerts"]] == ["clock_skew"]
    assert response.json["alerts"][0]["seq"] == 3
    assert alert_kinds(store, gate) == [("clock_skew", 3)]


def test_a_checkpoint_signed_by_a_slow_clock_is_skew(gate: Gate, store: Store, clock: Clock) -> None:
    response = gate.upload(gate.scan(2), wall_ms=clock.ms - 6 * 60_000)
    assert [a["kind"] for a in response.json["alerts"]] == ["clock_skew"]
    assert "behind" in response.json["alerts"][0]["detail"]


def test_rows_recorded_offline_long_ago_are_not_skew(gate: Gate, clock: Clock) -> None:
    rows = gate.scan(2, wall_ms=clock.ms - 3 * 3_600_000)  # scanned while the network was down
    assert gate.upload(rows).json["alerts"] == []


def test_more_than_5000_rows_is_413(gate: Gate, store: Store) -> None:
    body = refused(gate.upload(gate.scan(5001)), 413, "too_large")
    assert "5000" in body["message"]
    assert reports.scan_count(store) == 0


def test_5000_rows_in_one_batch_are_taken(gate: Gate) -> None:
    assert gate.upload(gate.scan(5000)).json["acked_seq"] == 5000


def _bodies(gate: Gate) -> dict[str, object]:
    good = gate.body(gate.scan(2))
    row = good["rows"][0]  # type: ignore[index]
    return {
        "not-an-object": [good],
        "no-rows": {"checkpoint": good["checkpoint"]},
        "empty-rows": {**good, "rows": []},
        "rows-not-list": {**good, "rows": "many"},
        "no-checkpoint": {"rows": good["rows"]},
        "checkpoint-not-base64": {**good, "checkpoint": "***"},
        "checkpoint-huge": {**good, "checkpoint": "A" * 5000},
        "extra-field": {**good, "note": "x"},
        "row-missing-field": {**good, "rows": [{k: v for k, v in row.items() if k != "hash"}]},
        "row-unknown-field": {**good, "rows": [{**row, "x": 1}]},
        "seq-zero": {**good, "rows": [{**row, "seq": 0}]},
        "seq-float": {**good, "rows": [{**row, "seq": 1.0}]},
        "seq-huge": {**good, "rows": [{**row, "seq": 2**70}]},
        "hash-not-hex": {**good, "rows": [{**row, "hash": "Z" * 64}]},
        "text-too-long": {**good, "rows": [{**row, "zone": "z" * 201}]},
        "nul-in-text": {**good, "rows": [{**row, "operator": "a\x00b"}]},
        "lone-surrogate": {**good, "rows": [{**row, "operator": "a\ud800b"}]},
    }


@pytest.mark.parametrize(
    "case",
    [
        "not-an-object", "no-rows", "empty-rows", "rows-not-list", "no-checkpoint", "checkpoint-not-base64",
        "checkpoint-huge", "extra-field", "row-missing-field", "row-unknown-field", "seq-zero", "seq-float",
        "seq-huge", "hash-not-hex", "text-too-long", "nul-in-text", "lone-surrogate",
    ],
)  # fmt: skip
def test_bad_input_is_400_with_a_reason(gate: Gate, store: Store, case: str) -> None:
    response = gate.client.post(JOURNAL, json=_bodies(gate)[case], headers=gate.auth)
    refused(response, 400, "invalid_input")
    assert reports.scan_count(store) == 0


@pytest.mark.parametrize("body", [b"{", b"\xff", b"[" * 50_000], ids=["truncated", "not-utf8", "deep"])
def test_unparseable_bodies_are_400(gate: Gate, body: bytes) -> None:
    response = gate.client.post(JOURNAL, data=body, headers={**gate.auth, "Content-Type": "application/json"})
    refused(response, 400, "invalid_input")


def test_upload_without_a_token_is_401(client: FlaskClient, enrol: Callable[..., Gate]) -> None:
    gate = enrol()
    body = gate.body(gate.scan(1))
    refused(client.post(JOURNAL, json=body), 401, "unauthorized")
    refused(client.post(JOURNAL, json=body, headers={"Authorization": "Bearer " + "x" * 43}), 401, "unauthorized")


def test_one_gate_cannot_upload_into_another(enrol: Callable[..., Gate], store: Store) -> None:
    north, south = enrol("Cổng Bắc"), enrol("Cổng Nam")
    rows = north.scan(3)
    # south's token with north's rows and north's signature: the checkpoint is not south's
    response = south.client.post(JOURNAL, json=north.body(rows), headers=south.auth)
    refused(response, 422, "bad_checkpoint")
    assert (
        stored_journal.journal_rows(store, north.device_id) == []
        and stored_journal.journal_rows(store, south.device_id) == []
    )


def test_huge_seqs_are_refused_and_kept_in_alerts(gate: Gate, store: Store) -> None:
    """Found by schemathesis on PostgreSQL: a seq beyond 32 bits once broke the alert insert."""
    far = replace(gate.scan(1)[0], seq=2**40, hash="")
    far = replace(far, hash=far.compute_hash())
    assert refused(gate.upload([far]), 409, "gap")["acked_seq"] == 0
    refused(gate.upload([far], key=Ed25519PrivateKey.generate()), 422, "bad_checkpoint")
    assert alert_kinds(store, gate) == [("gap", 2**40), ("bad_checkpoint", 2**40)]
