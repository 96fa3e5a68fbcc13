"""Network enrolment and journal upload under attack (security issue, flaws 1 and 2), end to end:
the real service under waitress, the real `checkin-gate` command, a real proxy in between.

- A man in the middle swaps the root key and bundle of the enrolment answer: the gate refuses,
  stores nothing and says why.
- Plain http to another machine, and a code that does not name the root, are refused before any
  request; a typo in the code's root groups is refused by the service without spending the code.
- A thief rewrites a deny into an admit and re-chains the journal: the gate's own sync signs and
  uploads it (the rows hold together without the seed), and the service finds it by the seals.
"""

from __future__ import annotations

import base64
import http.client
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from checkin.core import enrolment, trust
from checkin.keystore import fingerprint
from checkin.store import devices as stored_devices
from checkin.store import journal as stored_journal
from checkin.store import reports
from tests.support.gatekit import EVENT_ID, GATE_NOW, World, forged, json_lines, rechain, run_gate

ENROL_PATH = "/api/v1/devices/enroll"


@contextmanager
def proxy(target_port: int, rewrite: dict[str, str] | None = None) -> Iterator[str]:
    """A threaded HTTP proxy to the service on loopback; with `rewrite`, the fields it swaps in the
    enrolment answer (as an attacker on the path would). Yields its URL."""

    class Forward(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            if rewrite and self.path == ENROL_PATH and answer.status == 200:
                payload = json.dumps({**json.loads(payload), **rewrite}).encode()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            upstream.close()

        do_GET = do_POST = _relay

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def impostor_answer() -> dict[str, str]:
    """Another deployment's root key and a bundle it signed for the same event id."""
    other = World()
    return {"root_public_key": other.root_pem().decode(), "bundle": base64.b64encode(other.signed_bundle()).decode()}


def stored_files(data: Path) -> list[str]:
    return sorted(p.name for p in data.iterdir()) if data.exists() else []


def test_a_man_in_the_middle_swapping_the_root_is_refused_and_nothing_is_stored(service: Any, tmp_path: Path) -> None:
    device_id, code = service.add_gate("Cổng A")
    data = tmp_path / "gate"
    with proxy(service.port, rewrite=impostor_answer()) as url:
        result = run_gate(data, "enroll", "--server", url, "--code", code)
    assert result.returncode != 0
    line = result.stderr.strip().splitlines()[-1]
    assert "root_mismatch" in line or "root key" in line, result.stderr
    assert device_id in result.stderr  # the operator learns which gate to revoke
    assert stored_files(data) == []  # no root, no bundle, no key, no token, no journal

    honest_id, honest_code = service.add_gate("Cổng B")  # the same path, nobody rewriting: enrols
    with proxy(service.port) as url:
        out = json_lines(run_gate(tmp_path / "honest", "enroll", "--server", url, "--code", honest_code))[0]
    assert out["enrolled"] == honest_id
    root = trust.root_key_from_pem(service.keys.root_public_pem())
    assert out["root_fingerprint"] == fingerprint(root)  # what `checkin keys list` shows


def test_plain_http_to_another_machine_is_refused_before_any_request(service: Any, tmp_path: Path) -> None:
    _, code = service.add_gate("Cổng A")
    data = tmp_path / "gate"
    result = run_gate(data, "enroll", "--server", "http://192.0.2.10:8080", "--code", code, timeout=60)
    assert result.returncode != 0
    assert "insecure_transport" in result.stderr and "plain http" in result.stderr
    assert stored_files(data) == []
    allowed = run_gate(data, "enroll", "--server", "http://192.0.2.10:8080", "--code", code, "--insecure-http")
    assert allowed.returncode != 0 and "cannot be reached" in allowed.stderr  # the flag lets it try


def test_a_code_without_the_root_groups_needs_the_fingerprint(service: Any, tmp_path: Path) -> None:
    root = trust.root_key_from_pem(service.keys.root_public_pem())
    _device, bare = stored_devices.create_device(service.store, EVENT_ID, "Cổng A", "hall", "in", service.clock())
    refused = run_gate(tmp_path / "a", "enroll", "--server", service.url, "--code", bare)
    assert refused.returncode != 0 and "--root-fingerprint" in refused.stderr
    wrong = fingerprint(World().root.public_key())
    mismatch = run_gate(tmp_path / "b", "enroll", "--server", service.url, "--code", bare, "--root-fingerprint", wrong)
    assert mismatch.returncode != 0 and "root" in mismatch.stderr and stored_files(tmp_path / "b") == []

    again, bare2 = stored_devices.create_device(service.store, EVENT_ID, "Cổng B", "hall", "in", service.clock())
    args = ("enroll", "--server", service.url, "--code", bare2, "--root-fingerprint", fingerprint(root))
    assert json_lines(run_gate(tmp_path / "c", *args))[0]["enrolled"] == again.id


def test_a_typo_in_the_root_groups_does_not_spend_the_code(service: Any, tmp_path: Path) -> None:
    device_id, code = service.add_gate("Cổng A")
    plain = enrolment.normalise_code(code)
    typo = plain[:-1] + ("2" if plain[-1] != "2" else "3")
    refused = run_gate(tmp_path / "gate", "enroll", "--server", service.url, "--code", typo)
    assert refused.returncode != 0 and "enrolment_invalid" in refused.stderr
    assert (
        json_lines(run_gate(tmp_path / "gate", "enroll", "--server", service.url, "--code", code))[0]["enrolled"]
        == device_id
    )


def _enrolled_gate(service: Any, data: Path, scans: list[str]) -> str:
    device_id, code = service.add_gate("Cổng A - sảnh chính")
    assert json_lines(run_gate(data, "enroll", "--server", service.url, "--code", code))[0]["enrolled"] == device_id
    out = json_lines(run_gate(data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, "--no-sync",
                              stdin="\n".join(scans) + "\n"))  # fmt: skip
    assert len(out) == len(scans)
    return str(device_id)


def alerts_of(service: Any, device_id: str) -> list[tuple[str, int | None]]:
    return [(a.kind, a.seq) for a in reports.alerts(service.store, device_id=device_id)]


def test_an_honest_gate_offline_for_500_scans_gives_no_seal_finding(service: Any, tmp_path: Path) -> None:
    codes = [service.issue(f"Khách {i}") for i in range(450)]
    device_id = _enrolled_gate(service, tmp_path / "gate", codes + codes[:50])
    result = json_lines(run_gate(tmp_path / "gate", "sync", "--now", GATE_NOW))[0]
    assert result["acked_seq"] == 500
    assert alerts_of(service, device_id) == []
    device = stored_devices.device(service.store, device_id)
    assert device.seal_seq == 501 and device.seal_seed  # every row checked, the key moved on


def test_a_deny_turned_into_an_admit_and_rechained_is_found_by_the_service(service: Any, tmp_path: Path) -> None:
    data = tmp_path / "gate"
    codes = [service.issue(f"Khách {i}") for i in range(8)]
    denied = forged(codes[3])
    device_id = _enrolled_gate(service, data, [*codes[:3], denied, *codes[3:]])
    assert json_lines(run_gate(data, "sync", "--now", GATE_NOW))[0]["acked_seq"] == 9
    more = [service.issue(f"Khách muộn {i}") for i in range(6)]
    out = json_lines(run_gate(data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, "--no-sync",
                              stdin="\n".join([*more[:2], forged(more[2]), *more[3:]]) + "\n"))  # fmt: skip
    assert out[2]["reason"] == "bad_signature" and out[2]["seq"] == 12

    with sqlite3.connect(data / "journal.db") as db:  # the thief, after the fact, with plain SQL
        rechain(db, 12, {"verdict": "admit", "reason": "admitted"})
    synced = json_lines(run_gate(data, "sync", "--now", GATE_NOW))[0]  # the gate's own sync signs it
    assert synced["acked_seq"] == 15
    held = stored_journal.journal_rows(service.store, device_id)
    assert held[11].verdict == "admit"  # stored as sent, never silently taken as genuine:
    assert alerts_of(service, device_id) == [("bad_seal", 12)]
    alert = reports.alerts(service.store, device_id=device_id)[0]
    assert device_id in alert.detail and "seq 12 to 15" in alert.detail


def test_sync_does_not_upload_a_journal_that_does_not_hold_and_says_why(service: Any, tmp_path: Path) -> None:
    data = tmp_path / "gate"
    codes = [service.issue(f"Khách {i}") for i in range(6)]
    device_id = _enrolled_gate(service, data, codes)
    with sqlite3.connect(data / "journal.db") as db:  # a row cut out of the middle
        db.execute("DELETE FROM rows WHERE seq = 3")
    result = run_gate(data, "sync", "--now", GATE_NOW)
    assert result.returncode != 0
    assert "does not hold together at seq" in result.stderr and "not signed" in result.stderr
    assert stored_journal.journal_rows(service.store, device_id) == []


def test_an_old_journal_copied_over_a_newer_one_is_found_by_the_service(service: Any, tmp_path: Path) -> None:
    """The thief keeps a copy of the journal (with its sealing key) and later puts it back, to
    erase what happened since. The copy holds together on its own, so the gate alone cannot tell;
    the service already holds the newer rows: the gate's next row takes a seq the service holds
    with another hash, and the upload is refused as a fork naming the gate and the seq."""
    data = tmp_path / "gate"
    codes = [service.issue(f"Khách {i}") for i in range(6)]
    device_id = _enrolled_gate(service, data, codes[:3])
    assert json_lines(run_gate(data, "sync", "--now", GATE_NOW))[0]["acked_seq"] == 3
    saved = tmp_path / "old-journal.db"
    with sqlite3.connect(data / "journal.db") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    saved.write_bytes((data / "journal.db").read_bytes())
    run_gate(data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, "--no-sync", stdin=codes[3] + "\n")
    assert json_lines(run_gate(data, "sync", "--now", GATE_NOW))[0]["acked_seq"] == 4  # the service holds seq 4
    (data / "journal.db").write_bytes(saved.read_bytes())  # the thief puts the old copy back
    for side in ("journal.db-wal", "journal.db-shm"):
        (data / side).unlink(missing_ok=True)
    assert run_gate(data, "journal", "verify").returncode == 0  # consistent on its own: the old key came with it
    run_gate(data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, "--no-sync", stdin=codes[4] + "\n")
    refused = run_gate(data, "sync", "--now", GATE_NOW)
    assert refused.returncode != 0
    assert [r.seq for r in stored_journal.journal_rows(service.store, device_id)] == [1, 2, 3, 4]  # nothing lost
    assert ("fork", 4) in alerts_of(service, device_id)
