"""The API behind real WSGI servers: ten gates uploading at once lose nothing; `checkin serve`
starts under gunicorn and waitress; `checkin gate add/list/revoke` drive enrolment."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core import chain
from checkin.store import Store, reports
from checkin.store import actions as stored_actions
from checkin.store import devices as stored_devices
from checkin.store import journal as stored_journal
from tests.support.apikit import Clock, Gate, Runner, waitress_thread
from tests.support.server import free_port, wait_for_line
from tests.support.world import EVENT_ID

GATES, ROWS_PER_GATE, BATCH = 10, 2000, 250


def post(conn: http.client.HTTPConnection, path: str, body: object, token: str = "") -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_ten_gates_uploading_at_once_lose_nothing(
    app: Flask, store: Store, enrol: Callable[..., Gate], clock: Clock
) -> None:
    gates = [enrol(f"Cổng {i}") for i in range(GATES)]
    for gate in gates:
        gate.scan(ROWS_PER_GATE)
    results: dict[str, list[tuple[int, int]]] = {}
    failures: dict[str, str] = {}

    def upload(port: int, gate: Gate) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        answers: list[tuple[int, int]] = []
        try:
            for start in range(0, ROWS_PER_GATE, BATCH):
                body = gate.body(gate.journal[start : start + BATCH])
                status, answer = post(conn, "/api/v1/journal", body, gate.token)
                answers.append((status, answer.get("acked_seq", -1)))
        except Exception as exc:  # shown by the assertion below, with the answers before it
            answers.append((-1, -1))
            failures[gate.device_id] = repr(exc)
        finally:
            conn.close()
            results[gate.device_id] = answers

    with waitress_thread(app, threads=GATES + 2) as port:
        threads = [threading.Thread(target=upload, args=(port, gate)) for gate in gates]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)

    expected = [(200, seq) for seq in range(BATCH, ROWS_PER_GATE + 1, BATCH)]
    assert failures == {}
    assert all(results[gate.device_id] == expected for gate in gates), results
    assert reports.scan_count(store, EVENT_ID) == GATES * ROWS_PER_GATE
    for gate in gates:
        held = stored_journal.journal_rows(store, gate.device_id)
        assert held == gate.journal
        assert chain.check(held) == []
    assert reports.alerts(store, event_id=EVENT_ID) == []


# ---- checkin serve ----------------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["gunicorn", "waitress"])
def test_checkin_serve_runs_the_api_under_a_production_server(
    config: Config, store_for: Callable[[Config], Store], server: str
) -> None:
    port = free_port()
    cli = str(Path(sys.executable).with_name("checkin"))
    env = {k: v for k, v in os.environ.items() if k != "CHECKIN_KEY_PASSPHRASE"}
    args = [cli, "--config", str(config.root / "config.toml"), "serve", "--port", str(port), "--server", server]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        log = wait_for_line(proc, b"listening on", 60)
        store = store_for(config)
        # the served app reads the machine's clock: the code must be valid now
        _device, code = stored_devices.create_device(store, EVENT_ID, "Cổng A", None, "in", datetime.now(UTC))
        key = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status, body = post(conn, "/api/v1/devices/enroll", {"code": code, "public_key": key})
        assert status == 200, body
        conn.request("GET", "/api/v1/bundle", headers={"Authorization": f"Bearer {body['token']}"})
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "application/cose"
        assert response.read()
        conn.close()
        store.dispose()
        assert b"Traceback" not in log and body["token"].encode() not in log
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture
def store_for() -> Callable[[Config], Store]:
    return lambda config: Store(config.database_url)


# ---- checkin gate ---------------------------------------------------------------------------------


def test_gate_add_prints_the_code_last_and_the_gate_enrols_with_it(
    runner: Runner, client: FlaskClient, clock: Clock
) -> None:
    result = runner("gate", "add", "--event", EVENT_ID, "--name", "Cổng VIP", "--zone", "vip", now=clock.now)
    assert result.exit_code == 0, result.output
    code = result.stdout.strip().splitlines()[-1]
    assert "valid until 2022-03-26T01:15:00+00:00" in result.stderr
    assert code not in result.stderr
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    response = client.post("/api/v1/devices/enroll", json={"code": code, "public_key": key})
    assert response.status_code == 200
    assert (response.json["zone"], response.json["direction"]) == ("vip", "in")

    listed = runner("gate", "list")
    assert response.json["device_id"] in listed.stdout and "active" in listed.stdout

    revoked = runner("gate", "revoke", response.json["device_id"], now=clock.now)
    assert revoked.exit_code == 0, revoked.output
    answer = client.get("/api/v1/bundle", headers={"Authorization": f"Bearer {response.json['token']}"})
    assert answer.status_code == 401 and answer.json["reason"] == "device_revoked"


def test_gate_add_and_revoke_are_in_the_admin_log(runner: Runner, store: Store, clock: Clock) -> None:
    result = runner("gate", "add", "--event", EVENT_ID, "--name", "Cổng Ra", "--direction", "out", now=clock.now)
    device_id = result.stdout.split()[1].rstrip(":")
    runner("gate", "revoke", device_id, now=clock.now)
    actions = [(a.action, a.target) for a in stored_actions.actions(store)]
    assert actions == [("gate.revoke", f"{EVENT_ID}/{device_id}"), ("gate.create", f"{EVENT_ID}/{device_id}")]


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (("--event", "nope", "--name", "A"), "not_found"),
        (("--event", EVENT_ID, "--name", "A", "--zone", "backstage"), "invalid_input"),
        (("--event", EVENT_ID, "--name", " "), "invalid_input"),
    ],
)
def test_gate_add_refuses_what_cannot_be(runner: Runner, args: tuple[str, ...], word: str) -> None:
    result = runner("gate", "add", *args)
    assert result.exit_code != 0
    assert getattr(result.exception, "code", None) == word
