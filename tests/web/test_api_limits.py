"""Bounded requests (issue 9, flaw 4) and the security headers of API answers (flaw 14), through
`checkin serve` and waitress: a 30 MiB JSON object with millions of keys, sent to the
unauthenticated enrolment endpoint, is refused with a small 413 before it is parsed, and the
server's memory barely moves, for one request and for four at once."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.core import chain
from checkin.web import api
from checkin.web.limits import DEFAULT_BODY
from tests.support.apikit import Gate, served, waitress_thread
from tests.support.world import EVENT_ID

ENROL = "/api/v1/devices/enroll"
MIB = 1024 * 1024


def many_keys(size: int) -> bytes:
    """A JSON object of about `size` bytes with a key every 12 bytes (2.6 million in 30 MiB)."""
    keys = size // 12
    return b"{" + b",".join(b'"k%08x":0' % i for i in range(keys)) + b"}"


def send(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
    """POST `body` on a raw socket, the body from a thread of its own (the server may answer and
    close before it has read it all); the status, the answer's body and the seconds to the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head += [f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    started = time.perf_counter()
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())

    def body_out() -> None:
        try:
            for at in range(0, len(body), MIB):
                sock.sendall(body[at : at + MIB])
        except OSError:  # the server answered and closed: what the test wants
            pass

    sender = threading.Thread(target=body_out, daemon=True)
    sender.start()
    response = http.client.HTTPResponse(sock)
    response.begin()
    answer = response.read()
    elapsed = time.perf_counter() - started
    sock.close()
    sender.join(60)
    return response.status, answer, elapsed


def high_water_kib(pid: int) -> int:
    """The peak resident memory of a process (VmHWM), KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def worker_pid(pid: int, server: str) -> int:
    """The process that runs the app: waitress's own, gunicorn's one worker."""
    if server == "waitress":
        return pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError("gunicorn started no worker")


@pytest.fixture(scope="module")
def hostile() -> bytes:
    return many_keys(30 * MIB)


@pytest.mark.parametrize("server", ["gunicorn", "waitress"])
def test_a_30_mib_json_to_enrolment_is_refused_small_and_fast_with_little_memory(
    config: Config, hostile: bytes, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with served(config, server, "--workers", "1") as (proc, port, _log):
        # warm up: the app answers one small request first, so what it loads once is in the baseline
        status, _answer, _t = send(port, ENROL, b"{}")
        assert status == 400
        pid = worker_pid(proc.pid, server)
        before = high_water_kib(pid)

        status, answer, alone = send(port, ENROL, hostile)
        assert status == 413, answer[:300]
        assert json.loads(answer)["reason"] == "too_large" and len(answer) < 1024
        after_one = high_water_kib(pid)

        results: list[tuple[int, bytes, float]] = []
        threads = [threading.Thread(target=lambda: results.append(send(port, ENROL, hostile))) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        after_four = high_water_kib(pid)

    assert [status for status, _a, _t in results] == [413] * 4
    assert all(len(answer) < 1024 for _s, answer, _t in results)
    # before: 750 MiB for one, 2.6 GiB for four at once
    assert after_one - before < 32 * 1024, (before, after_one)
    assert after_four - before < 32 * 1024, (before, after_four)
    with capsys.disabled():  # the figures, for the report (no timing assertion in tests)
        slowest = max(t for _s, _a, t in results)
        print(
            f"\n{server}: 30 MiB enrolment refused in {alone * 1000:.0f} ms, four at once in {slowest * 1000:.0f} ms;"
            f" peak RSS {before // 1024} -> {after_one // 1024} -> {after_four // 1024} MiB; answer {len(answer)} B"
        )


# ---- every endpoint's own limit, in process behind waitress --------------------------------------------------


@pytest.fixture
def port(app: Flask) -> Iterator[int]:
    with waitress_thread(app, threads=4) as bound:
        yield bound


def test_enrolment_takes_well_under_4_kib(port: int) -> None:
    assert api.ENROL_BODY < 4096
    body = json.dumps({"code": "x" * (api.ENROL_BODY - 20), "public_key": "a"}).encode()
    status, answer, _t = send(port, ENROL, body)
    assert status == 413 and json.loads(answer)["reason"] == "too_large"


def test_a_chunked_body_is_cut_at_the_limit(port: int) -> None:
    """No Content-Length to check: the body is refused as it is read, past the limit."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    chunk = b"x" * 1000
    head = f"POST {ENROL} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    sock.sendall(head.encode() + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 100 + b"0\r\n\r\n")
    response = http.client.HTTPResponse(sock)
    response.begin()
    answer = response.read()
    sock.close()
    assert response.status == 413 and json.loads(answer)["reason"] == "too_large"


def test_a_journal_batch_of_max_batch_honest_rows_fits_and_a_larger_body_does_not(port: int, gate: Gate) -> None:
    gate.scan(chain.MAX_BATCH)
    body = json.dumps(gate.body(gate.journal)).encode()
    assert len(body) < api.JOURNAL_BODY
    status, answer, _t = send(port, "/api/v1/journal", body, gate.auth)
    assert status == 200, answer[:300]
    status, answer, _t = send(port, "/api/v1/journal", b" " * (api.JOURNAL_BODY + 1), gate.auth)
    assert status == 413


def test_the_issuing_api_takes_one_guest(port: int) -> None:
    path = f"/api/v1/events/{EVENT_ID}/credentials"
    status, answer, _t = send(port, path, many_keys(api.ISSUE_BODY + 1), {"Authorization": "Bearer ck_x"})
    assert status == 413 and json.loads(answer)["reason"] == "too_large"


def test_a_page_form_takes_its_own_limit(client: FlaskClient) -> None:
    response = client.post("/admin/login", data={"username": "x" * DEFAULT_BODY, "password": "y"})
    assert response.status_code == 413
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# ---- answers quote little and carry the security headers ----------------------------------------------------


def test_unknown_fields_are_counted_not_listed(client: FlaskClient) -> None:
    body = {"code": "x", "public_key": "y", **{f"k{i:04d}" + "z" * 60: 0 for i in range(20)}}
    response = client.post(ENROL, json=body)
    assert response.status_code == 400
    message = response.json["message"]
    assert "20 unknown field(s)" in message and len(message) < 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/openapi.json", 200),
        ("GET", "/api/v1/bundle", 401),
        ("POST", ENROL, 400),
        ("GET", ENROL, 405),
        ("GET", "/api/v1/nowhere", 404),
        ("POST", f"/api/v1/events/{EVENT_ID}/credentials", 401),
    ],
)
def test_every_api_answer_carries_the_security_headers(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = client.open(path, method=method, data=b"{}" if method == "POST" else None)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_refused_oversize_body_carries_the_security_headers(client: FlaskClient) -> None:
    response = client.post(ENROL, data=b"x" * (api.ENROL_BODY + 1))
    assert response.status_code == 413 and response.headers["X-Content-Type-Options"] == "nosniff"
