"""The gate and the real service together: network enrolment, working offline, two gates, sync.

The service is checkin.web.create_app over a real SQLite database under waitress on loopback; the
gate is the `checkin-gate` command as a real process. "Offline" is the service stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from checkin.core import chain
from checkin.store import guests as stored_guests
from checkin.store import journal as stored_journal
from checkin.store import reports
from checkin.store.models import Scan
from tests.support.gatekit import GATE_NOW, json_lines, run_gate


def enrol(service: Any, data: Path, name: str) -> str:
    device_id, code = service.add_gate(name)
    out = json_lines(run_gate(data, "enroll", "--server", service.url, "--code", code))
    assert out[0]["enrolled"] == device_id
    return str(device_id)


def scans_of(service: Any, device_id: str) -> list[tuple[str, int, str, str]]:
    with service.store.session() as s:
        rows = s.query(Scan).filter(Scan.device_id == device_id).order_by(Scan.seq).all()
        return [(r.device_id, r.seq, r.cti, r.verdict) for r in rows]


def test_offline_500_scans_arrive_once_in_order(service: Any, tmp_path: Path) -> None:
    data = tmp_path / "gate"
    device_id = enrol(service, data, "Cổng A - sảnh chính")
    codes = [service.issue(f"Khách {i}") for i in range(450)]
    texts = codes + codes[:50]  # 450 admitted, 50 shown again: already inside
    service.stop()  # the network goes away
    out = json_lines(run_gate(data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, stdin="\n".join(texts)))
    assert len(out) == 500
    assert [r["reason"] for r in out].count("admitted") == 450
    assert [r["reason"] for r in out].count("already_inside") == 50
    status = json_lines(run_gate(data, "status", "--now", GATE_NOW))[0]
    assert (status["rows"], status["pending"], status["acked_seq"]) == (500, 500, 0)
    offline = run_gate(data, "sync", "--now", GATE_NOW)
    assert offline.returncode == 1 and "cannot be reached" in offline.stderr

    service.start()  # back, on the same address
    result = json_lines(run_gate(data, "sync", "--now", GATE_NOW))[0]
    assert (result["pushed"], result["acked_seq"], result["pending"]) == (500, 500, 0)
    again = json_lines(run_gate(data, "sync", "--now", GATE_NOW))[0]
    assert again["pushed"] == 0  # nothing is sent twice

    held = stored_journal.journal_rows(service.store, device_id)
    assert [r.seq for r in held] == list(range(1, 501))  # all of them, once, in order
    assert chain.check(held) == []  # the chain holds on the server too
    assert [(r["seq"], r["verdict"]) for r in out] == [(r.seq, r.verdict) for r in held]
    assert len(scans_of(service, device_id)) == 500
    assert json_lines(run_gate(data, "journal", "verify"))[0]["ok"] is True


def test_two_gates_offline_admit_the_same_code(service: Any, tmp_path: Path) -> None:
    a, b = tmp_path / "gate-a", tmp_path / "gate-b"
    id_a, id_b = enrol(service, a, "Cổng A"), enrol(service, b, "Cổng B")
    shared = service.issue("Trần Văn Bình")
    other = service.issue("Lê Thị Cẩm Tú")
    service.stop()
    first = json_lines(
        run_gate(a, "run", "--texts", "-", "--headless", "--now", GATE_NOW, stdin=f"{other}\n{shared}\n")
    )
    second = json_lines(run_gate(b, "run", "--texts", "-", "--headless", "--now", GATE_NOW, stdin=f"{shared}\n"))
    assert [r["reason"] for r in first] == ["admitted", "admitted"]
    assert [r["reason"] for r in second] == ["admitted"]  # gate B cannot know gate A let the code in
    cti = first[1]["credential"]["id"]

    service.start()
    for data in (a, b):
        assert json_lines(run_gate(data, "sync", "--now", GATE_NOW))[0]["pending"] == 0
    assert (id_a, 2, cti, "admit") in scans_of(service, id_a)
    assert (id_b, 1, cti, "admit") in scans_of(service, id_b)
    both = [row for device in (id_a, id_b) for row in scans_of(service, device) if row[2] == cti]
    assert sorted(both) == sorted([(id_a, 2, cti, "admit"), (id_b, 1, cti, "admit")])
    # the audit found it as the journals arrived: one double-entry alert naming both rows
    for data in (a, b):  # a sync that sends nothing new adds none
        run_gate(data, "sync", "--now", GATE_NOW)
    alerts = [alert for alert in reports.alerts(service.store) if alert.kind == "double_entry"]
    assert len(alerts) == 1 and sorted(json.loads(alerts[0].rows)) == sorted([f"{id_a}#2", f"{id_b}#1"])


def test_revocation_reaches_the_gate_by_sync(service: Any, tmp_path: Path) -> None:
    data = tmp_path / "gate"
    enrol(service, data, "Cổng C")
    lost = service.issue("Cao Thị Thảo")
    cti = json_lines(
        run_gate(data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, "--no-sync", stdin="\n")
    )  # nothing scanned yet
    assert cti == []
    stored_guests.revoke(service.store, chain_cti(lost), "badge reported lost", service.clock())
    result = json_lines(run_gate(data, "sync", "--now", GATE_NOW))[0]
    assert result["new_bundle"] is True and result["bundle_version"] >= 2
    out = json_lines(
        run_gate(data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, "--no-sync", stdin=lost + "\n")
    )
    assert (out[0]["verdict"], out[0]["reason"]) == ("deny", "revoked")


def chain_cti(text: str) -> str:
    """The credential id of a CK1 text (read without verifying: the test made it)."""
    from checkin.core import base45, cose
    from checkin.core.credential import CLAIM_CTI

    sign1 = cose.decode_sign1(base45.decode(text[4:]))
    claims = cose.strict_loads(sign1.payload, max_depth=6)
    return bytes(claims[CLAIM_CTI]).hex()


def test_a_revoked_gate_is_told_so_in_one_line(service: Any, tmp_path: Path) -> None:
    """A stolen laptop's gate is revoked on the service: its next sync says `device_revoked`, not a
    generic `invalid_input`, and its journal stays on the laptop untouched."""
    from checkin.services import gates

    data = tmp_path / "gate"
    device_id = enrol(service, data, "Cổng A")
    code = service.issue("An")
    run_gate(data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, "--no-sync", stdin=code + "\n")
    gates.revoke_gate(service.store, device_id, service.clock(), actor="test")
    refused = run_gate(data, "sync", "--now", GATE_NOW)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "[device_revoked]" in lines[0], refused.stderr
    assert json_lines(run_gate(data, "status", "--now", GATE_NOW))[0]["pending"] == 1
