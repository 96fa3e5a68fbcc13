"""GET /api/v1/presence: the admitted entries and exits the other gates of a gate's event uploaded
after a cursor; only what a decision needs (no names), never another event's, never to a revoked or
unknown gate. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient

from checkin.core.trust import Direction
from checkin.services import gates
from checkin.store import Store, presence
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store.events import NewEvent
from tests.support.apikit import Clock, Gate

PRESENCE = "/api/v1/presence"
OTHER_EVENT = "hoi-thao-2"
SETTLE = timedelta(milliseconds=presence.PG_SETTLE_MS)


def pull(gate: Gate, after: int | str = 0) -> dict[str, Any]:
    response = gate.client.get(PRESENCE, query_string={"after": str(after)}, headers=gate.auth)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None
    return body


def seen(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(p["gate"], p["cti"], p["direction"]) for p in body["passages"]]


def settled(clock: Clock) -> None:
    """Let rows settle: on PostgreSQL the cursor passes only rows held for `PG_SETTLE_MS`."""
    clock.advance(milliseconds=presence.PG_SETTLE_MS + 1)


def test_a_gate_gets_the_other_gates_admissions_and_exits_and_nothing_else(
    enrol: Callable[..., Gate], clock: Clock
) -> None:
    a, b, exit_gate = enrol("Cổng A"), enrol("Cổng B"), enrol("Cổng ra", direction="out")
    guest, other = f"{1:032x}", f"{2:032x}"
    assert a.upload(a.scan(1, cti=guest)).status_code == 200
    denied = a.scan(1, cti=other, verdict="deny", reason="revoked")  # a denial is nobody's passage
    assert a.upload(denied).status_code == 200
    assert b.upload(b.scan(1, cti=other)).status_code == 200
    assert exit_gate.upload(exit_gate.scan(1, cti=guest, direction="out")).status_code == 200
    settled(clock)

    body = pull(b)
    assert seen(body) == [(a.device_id, guest, "in"), (exit_gate.device_id, guest, "out")]  # not its own
    assert set(body["passages"][0]) == {"id", "gate", "cti", "direction", "wall_ms", "zone"}  # no names
    assert body["passages"][0]["zone"] == "hall"
    assert body["passages"][0]["wall_ms"] == a.journal[0].wall_ms
    assert body["more"] is False and body["next"] >= body["passages"][-1]["id"]
    assert seen(pull(a)) == [(b.device_id, other, "in"), (exit_gate.device_id, guest, "out")]
    assert seen(pull(b, body["next"])) == []  # the cursor moved past everything


def test_the_cursor_moves_past_what_the_gate_cannot_use(enrol: Callable[..., Gate], clock: Clock) -> None:
    """The gate's own rows and denials are never sent, but the cursor moves past them: the next pull
    does not look at them again."""
    a, b = enrol("Cổng A"), enrol("Cổng B")
    assert b.upload(b.scan(5)).status_code == 200
    assert a.upload(a.scan(3, verdict="deny", reason="malformed")).status_code == 200
    settled(clock)
    body = pull(b)
    assert body["passages"] == [] and body["next"] > 0 and body["more"] is False
    assert pull(b, body["next"])["next"] == body["next"]


def test_a_full_page_says_more_and_the_pages_hold_everything_once(
    enrol: Callable[..., Gate], store: Store, clock: Clock
) -> None:
    a, b = enrol("Cổng A"), enrol("Cổng B")
    rows = a.scan(7)
    assert a.upload(rows).status_code == 200
    settled(clock)
    event = stored_devices.device(store, b.device_id).event_id
    cursor, pages, got = 0, 0, []
    while True:
        page = presence.passages_after(store, event, b.device_id, cursor, clock(), limit=3)
        got += [p.cti for p in page.passages]
        cursor, pages = page.cursor, pages + 1
        if not page.more:
            break
    assert got == [row.cti for row in rows] and pages == 3


def test_rows_held_for_less_than_the_settling_time_come_again_on_postgresql(
    enrol: Callable[..., Gate], store: Store, clock: Clock
) -> None:
    """PostgreSQL hands out ids before commit, so two uploads can become visible out of id order: the
    cursor waits until rows have been held `PG_SETTLE_MS`, and the gate gets recent ones again (it keeps
    each once). SQLite has one writer at a time: there the cursor moves at once."""
    a, b = enrol("Cổng A"), enrol("Cổng B")
    assert a.upload(a.scan(2)).status_code == 200
    first = pull(b)
    assert len(first["passages"]) == 2
    again = pull(b, first["next"])
    postgres = store.engine.dialect.name == "postgresql"
    assert len(again["passages"]) == (2 if postgres else 0)
    assert (first["next"] == 0) is postgres
    settled(clock)
    moved = pull(b, again["next"])
    assert pull(b, moved["next"])["passages"] == []


def test_another_events_gates_never_see_these_rows(
    enrol: Callable[..., Gate], client: FlaskClient, store: Store, clock: Clock
) -> None:
    a = enrol("Cổng A")
    assert a.upload(a.scan(3)).status_code == 200
    start = datetime(2022, 4, 2, 1, 0, tzinfo=UTC)
    stored_events.create_event(
        store,
        NewEvent(
            OTHER_EVENT, "Hội thảo An toàn thông tin", start, start + timedelta(hours=4), "Asia/Ho_Chi_Minh", ("hall",)
        ),
        clock(),
    )
    device, code = stored_devices.create_device(store, OTHER_EVENT, "Cổng hội thảo", "hall", Direction.IN, clock())
    key = Ed25519PrivateKey.generate()
    response = client.post(
        "/api/v1/devices/enroll", json={"code": code, "public_key": key.public_key().public_bytes_raw().hex()}
    )
    assert response.status_code == 200, response.json
    stranger = Gate(client, clock, device.id, response.json["token"], key, response.json)  # type: ignore[index]
    settled(clock)
    assert pull(stranger)["passages"] == []
    assert stranger.upload(stranger.scan(2)).status_code == 200
    settled(clock)
    assert {p["gate"] for p in pull(a)["passages"]} == set()  # nor do this event's gates see that one's


def test_an_unknown_or_revoked_gate_is_refused(enrol: Callable[..., Gate], store: Store, clock: Clock) -> None:
    a, b = enrol("Cổng A"), enrol("Cổng B")
    assert a.upload(a.scan(2)).status_code == 200
    nobody = b.client.get(PRESENCE)
    assert nobody.status_code == 401 and nobody.json["reason"] == "unauthorized"  # type: ignore[index]
    wrong = b.client.get(PRESENCE, headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401 and wrong.json["reason"] == "unauthorized"  # type: ignore[index]
    gates.revoke_gate(store, b.device_id, clock(), actor="test")
    revoked = b.client.get(PRESENCE, headers=b.auth)
    assert revoked.status_code == 401 and revoked.json["reason"] == "device_revoked"  # type: ignore[index]
    assert "passages" not in revoked.json  # type: ignore[operator]


def test_a_cursor_that_is_not_a_whole_number_is_refused(gate: Gate) -> None:
    for after in ("-1", "1.5", "abc", "", "+3", " 3", "٣", "1_0", str(2**63), "9" * 40):
        response = gate.client.get(PRESENCE, query_string={"after": after}, headers=gate.auth)
        assert response.status_code == 400, after
        assert response.json["reason"] == "invalid_input"  # type: ignore[index]
    assert pull(gate, 2**63 - 1)["passages"] == []


def test_a_pull_counts_as_hearing_from_the_gate(gate: Gate, store: Store, clock: Clock) -> None:
    clock.advance(minutes=5)
    pull(gate)
    assert stored_devices.device(store, gate.device_id).last_seen == clock()
