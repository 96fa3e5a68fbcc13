"""Ingest trusts nothing a gate sends (issue 9, flaw 3): every value of a row is checked, through
the real WSGI server; a value no gate writes refuses the batch with an alert, a time out of range
or an unknown reason is stored as chained and flagged; and no stored value, however hostile (put
in the database by hand), breaks a page that shows scans."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from checkin.core import chain
from checkin.store import Store, counters, reports
from checkin.store import journal as stored_journal
from checkin.store.models import Scan
from tests.support.apikit import Clock, Gate, waitress_thread
from tests.support.world import EVENT_ID


@pytest.fixture
def port(app: Flask) -> Iterator[int]:
    with waitress_thread(app, threads=2) as bound:
        yield bound


def upload(port: int, gate: Gate, rows: list[chain.JournalRow]) -> tuple[int, dict[str, Any]]:
    """POST a batch to the served app, as the gate's sync does."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", **gate.auth}
        conn.request("POST", "/api/v1/journal", body=json.dumps(gate.body(rows)), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_a_row_from_far_in_the_future_is_kept_flagged_and_the_event_page_still_loads(
    port: int, gate: Gate, store: Store, login_as: Callable[[str | None], FlaskClient]
) -> None:
    gate.scan(2)
    gate.scan(1, wall_ms=2**62)
    gate.scan(1)
    status, body = upload(port, gate, gate.journal)

    assert status == 200 and body["acked_seq"] == 4
    kinds = {note["kind"]: note for note in body["alerts"]}
    assert kinds["time_out_of_range"]["seq"] == 3
    assert stored_journal.journal_rows(store, gate.device_id) == gate.journal  # the evidence, as chained
    page = login_as("registrar").get(f"/admin/events/{EVENT_ID}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert str(2**62) in text and "thời gian ngoài khoảng hợp lý" in text


def test_a_row_from_before_2000_is_kept_and_flagged(port: int, gate: Gate, store: Store) -> None:
    gate.scan(1, wall_ms=0)
    status, body = upload(port, gate, gate.journal)
    assert status == 200
    assert [note["kind"] for note in body["alerts"]] == ["time_out_of_range"]
    assert [a.kind for a in reports.alerts(store, device_id=gate.device_id)] == ["time_out_of_range"]


def test_a_day_ahead_is_plausible_a_day_and_a_second_is_not(port: int, gate: Gate, clock: Clock) -> None:
    gate.scan(1, wall_ms=clock.ms + chain.FUTURE_WALL_MS)
    status, body = upload(port, gate, gate.journal)
    assert status == 200 and "time_out_of_range" not in [n["kind"] for n in body["alerts"]]
    gate.scan(1, wall_ms=clock.ms + chain.FUTURE_WALL_MS + 1000)
    status, body = upload(port, gate, gate.journal[1:])
    assert status == 200 and "time_out_of_range" in [n["kind"] for n in body["alerts"]]


def test_a_reason_from_a_newer_gate_is_kept_and_flagged(port: int, gate: Gate, store: Store) -> None:
    gate.scan(3, cti="", kid="", verdict="deny", reason="face_mismatch")
    status, body = upload(port, gate, gate.journal)
    assert status == 200 and body["stored"] == 3
    (note,) = body["alerts"]
    assert note["kind"] == "unknown_reason" and note["seq"] == 1 and "3 rows" in note["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("verdict", "admit!"),
        ("verdict", "ADMIT"),
        ("direction", "sideways"),
        ("zone", "backstage"),
        ("cti", "zz" * 16),
        ("cti", "AB" * 16),
        ("cti", "ab" * 15),
        ("cti", "'; DROP TABLE scans; --"),
        ("kid", "1a2b3c4d5e6f708"),
        ("kid", "x" * 200),
    ],
)
def test_a_value_no_gate_writes_refuses_the_batch_with_an_alert(
    port: int, gate: Gate, store: Store, field: str, value: str
) -> None:
    gate.scan(2)
    gate.scan(1, **{field: value})
    status, body = upload(port, gate, gate.journal)

    assert status == 422 and body["reason"] == "row_invalid"
    assert body["seq"] == 3 and body["acked_seq"] == 0
    assert f"seq 3: {field}" in body["message"] and len(body["message"]) < 300
    assert stored_journal.journal_rows(store, gate.device_id) == []
    assert [(a.kind, a.seq) for a in reports.alerts(store, device_id=gate.device_id)] == [("row_invalid", 3)]


def test_every_honest_value_passes(port: int, gate: Gate, store: Store) -> None:
    for zone in ("hall", "vip", "press", ""):  # "" is a gate that checks no zone
        for direction, verdict, reason in (("in", "admit", "admitted"), ("out", "refer", "clock_suspect")):
            gate.scan(1, zone=zone, direction=direction, verdict=verdict, reason=reason)
    gate.scan(1, cti="", kid="", verdict="deny", reason="malformed")
    status, body = upload(port, gate, gate.journal)
    assert (status, body["alerts"]) == (200, [])


def test_rows_held_before_are_not_judged_again(port: int, gate: Gate, store: Store) -> None:
    """A resent batch whose first rows are held is judged on its new rows only."""
    gate.scan(2)
    assert upload(port, gate, gate.journal)[0] == 200
    gate.scan(1, direction="sideways")
    status, body = upload(port, gate, gate.journal)
    assert status == 422 and body["seq"] == 3 and body["acked_seq"] == 2


def test_unknown_row_fields_are_counted_not_echoed(port: int, gate: Gate) -> None:
    gate.scan(1)
    body = gate.body(gate.journal)
    body["rows"][0].update({f"field_{i:05d}_" + "x" * 50: 0 for i in range(2000)})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/api/v1/journal", body=json.dumps(body), headers=gate.auth)
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 400 and "2000 unknown field(s)" in answer["message"]
    assert len(answer["message"]) < 300


# ---- hostile values put in the database by hand ----------------------------------------------------

HOSTILE_TIMES = [-(2**63), -1, 0, 2**53 + 1, 2**62, 2**63 - 1]


def test_pages_that_show_scans_render_any_stored_value(
    gate: Gate, store: Store, clock: Clock, login_as: Callable[[str | None], FlaskClient]
) -> None:
    """Whatever a column holds (a restored backup, a hand in the database, a bug of another
    version), the pages show it as it is and never answer 500."""
    hostile = "<script>alert(1)</script>\u202e" + "é" * 150
    values = [
        {
            "device_id": gate.device_id,
            "event_id": EVENT_ID,
            "seq": seq,
            "wall_ms": wall_ms,
            "mono_ms": 2**63 - 1,
            "cti": hostile[:200],
            "kid": hostile[:200],
            "verdict": hostile[:200],
            "reason": hostile[:200],
            "direction": hostile[:200],
            "zone": hostile[:200],
            "operator": hostile[:200],
            "screening": hostile[:200],
            "prev_hash": "0" * 64,
            "hash": "f" * 64,
            "seal": "",
            "received_at": clock(),
        }
        for seq, wall_ms in enumerate(HOSTILE_TIMES, start=1)
    ]
    with store.writing() as s:
        s.execute(insert(Scan.table()), values)

    counters.rebuild(store)  # the officer's counters, recounted from what the table now holds
    officer = login_as("officer")
    for path in ("/audit/", f"/audit/events/{EVENT_ID}", f"/audit/events/{EVENT_ID}/gates/{gate.device_id}"):
        response = officer.get(path)
        assert response.status_code == 200, path
        assert "<script>alert(1)" not in response.get_data(as_text=True), path
    registrar = login_as("registrar")
    for path in ("/admin/events", f"/admin/events/{EVENT_ID}", "/admin/log"):
        response = registrar.get(path)
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        assert "<script>alert(1)" not in text, path
    page = registrar.get(f"/admin/events/{EVENT_ID}").get_data(as_text=True)
    for wall_ms in HOSTILE_TIMES:
        assert f">{wall_ms}<" in page  # shown as the raw number
