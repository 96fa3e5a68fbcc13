"""Two gates online share who is inside through the real service (create_app under waitress): a code
admitted at gate A is `already_inside` at gate B after one sync, an exit lets it in again, and
offline each gate still decides alone. The gates are the `checkin-gate` command as real processes
(each run starts from the journal file: what was pulled survives a restart), and, for the
background thread, the scan loop and its Syncer in this process with the default settings.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from checkin.core.errors import Reason
from checkin.core.trust import Direction
from scanner.datadir import GateData
from scanner.journal import Journal
from scanner.runner import Gate, shifted_clock
from scanner.sync import Syncer
from tests.e2e.test_gate_service import enrol
from tests.support.gatekit import FIXED, GATE_NOW, json_lines, run_gate


def scan(data: Path, *texts: str, direction: str = "in", minute: int = 0) -> list[str]:
    """Show codes at a gate that does not sync while it runs, `minute` minutes after GATE_NOW (each
    process's clock starts at --now); the reasons."""
    now = (datetime.fromisoformat(GATE_NOW) + timedelta(minutes=minute)).isoformat()
    stdin = "".join(f"{text}\n" for text in texts)
    out = run_gate(
        data, "run", "--texts", "-", "--headless", "--now", now, "--no-sync", "--direction", direction, stdin=stdin
    )
    return [line["reason"] for line in json_lines(out)]


def sync(data: Path) -> dict[str, Any]:
    return json_lines(run_gate(data, "sync", "--now", GATE_NOW))[0]


def status(data: Path) -> dict[str, Any]:
    return json_lines(run_gate(data, "status", "--now", GATE_NOW))[0]


def test_admitted_at_a_is_already_inside_at_b_after_one_sync_and_an_exit_lets_it_in(
    service: Any, tmp_path: Path
) -> None:
    a, b = tmp_path / "gate-a", tmp_path / "gate-b"
    enrol(service, a, "Cổng A - sảnh chính")
    enrol(service, b, "Cổng B - cửa hông")
    code, other = service.issue("Phạm Thị Hồng Nhung"), service.issue("Đỗ Quang Vinh")
    assert scan(a, code) == ["admitted"]
    assert sync(a)["pending"] == 0
    assert sync(b)["peers"] == 1
    assert scan(b, code, other) == ["already_inside", "admitted"]  # a new process: read from the journal
    assert status(b)["peer_passages"] == 1 and status(b)["inside"] == 2

    assert scan(a, code, direction="out", minute=1) == ["admitted"]  # the guest leaves through gate A
    sync(a)
    assert sync(b)["peers"] == 1
    assert scan(b, code, minute=2) == ["admitted"]  # and comes back in through gate B
    sync(b)
    assert sync(a)["peers"] == 2  # B's own admissions, not A's: "other" and the return
    assert scan(a, code, other, minute=3) == ["already_inside", "already_inside"]


def test_offline_gates_still_admit_alone(service: Any, tmp_path: Path) -> None:
    """Offline nothing changes: both gates admit the same code (the audit finds the double entry);
    once both have synced, each knows the other's admission for the next time."""
    a, b = tmp_path / "gate-a", tmp_path / "gate-b"
    enrol(service, a, "Cổng A")
    enrol(service, b, "Cổng B")
    code = service.issue("Trần Văn Bình")
    service.stop()
    assert scan(a, code) == ["admitted"]
    assert scan(b, code) == ["admitted"]
    service.start()
    for data in (a, b, a):
        sync(data)
    assert (status(a)["peer_passages"], status(b)["peer_passages"]) == (1, 1)
    assert scan(a, code, direction="out", minute=1) == ["admitted"]
    assert scan(b, code, minute=2) == ["already_inside"]  # B's own entry still stands: A's exit is not synced yet


def test_the_background_thread_shares_an_admission_without_being_asked(service: Any, tmp_path: Path) -> None:
    """The scan loop with its Syncer thread, default settings: an admission at A pokes A's thread to
    push it, B's thread pulls it on its next short round, and B's next decision says already_inside."""
    gates = []
    for name in ("Cổng A", "Cổng B"):
        data = GateData(tmp_path / name)
        enrol(service, data.root, name)
        clock = shifted_clock(FIXED)
        journal = Journal(data.journal_path, data.device_key())
        loop = Gate(journal, data.bundle(), zone="hall", direction=Direction.IN, clock=clock)
        syncer = Syncer(data, clock=clock, on_bundle=loop.set_bundle)
        loop.on_commit = syncer.on_commit
        gates.append((loop, syncer, journal))
    (at_a, _, _), (at_b, sync_b, _) = gates
    code = service.issue("Lê Thị Cẩm Tú")
    try:
        for _loop, syncer, _journal in gates:
            syncer.start()
        assert at_a.scan(code).decision.reason is Reason.ADMITTED
        pause = threading.Event()
        for _ in range(200):  # at most 10 s; the default short round is 2 s
            if at_b.examine(code).reason is Reason.ALREADY_INSIDE:
                break
            pause.wait(0.05)
        assert at_b.examine(code).reason is Reason.ALREADY_INSIDE
        assert sync_b.board.get().presence_ms > 0
    finally:
        for _loop, syncer, journal in gates:
            syncer.stop()
            journal.close()
