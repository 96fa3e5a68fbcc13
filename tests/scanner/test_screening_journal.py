"""Screening at the gate through the journal: the chained row keeps the outcome and a salted digest,
the details sit beside it, and the retention purge deletes them without breaking the chain or the
seals (issue 11, item 5). Driven through runner.Gate and the real `checkin-gate` command."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest

from checkin.core import chain
from checkin.core.credential import Declaration
from checkin.core.errors import Reason, Verdict
from checkin.core.trust import Direction, GatePolicy, Question, ScreeningPolicy
from scanner import journal as journal_mod
from scanner import screening
from scanner.datadir import GateData
from scanner.journal import Journal
from scanner.runner import Gate, ScriptedOperator
from tests.support.gatekit import Clock, World, json_lines, run_gate

QUESTIONS = (Question("symptoms", "Có sốt, ho không?", "Fever or cough?"),)
SCREENING = ScreeningPolicy(enabled=True, questions=QUESTIONS, retention_days=14)
GATE_NOW = "2022-03-26T09:00"


@pytest.fixture
def world() -> World:
    return World(policy=GatePolicy(screening=SCREENING))


@pytest.fixture
def enrolled(tmp_path: Path, world: World) -> tuple[GateData, bytes]:
    """A gate data folder and its journal's sealing seed (the verification key's bytes)."""
    from tests.support.gatekit import enrol_usb

    data = enrol_usb(tmp_path / "gate", world)
    data.journal_path.unlink()
    return data, journal_mod.begin(data.journal_path)


@pytest.fixture
def gate(enrolled: tuple[GateData, bytes], world: World) -> Gate:
    data, _ = enrolled
    journal = Journal(data.journal_path, data.device_key())
    return Gate(journal, data.bundle(), zone="hall", direction=Direction.IN, clock=Clock(world.now))


def disk_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_the_row_keeps_the_outcome_and_a_salted_digest_only(gate: Gate, world: World) -> None:
    recorded = gate.scan(world.issue(), entry=screening.Entry("36,9", {"symptoms": False}))
    row = recorded.row
    assert (row.verdict, row.reason) == ("admit", "admitted")
    outcome, digest = chain.screening_parts(row.screening)
    assert outcome == "passed" and len(digest) == 64
    details = gate.journal.screening_details(row.seq)
    assert details == {
        "temperature": "36.9",
        "declaration": "gate",
        "declared_at": None,
        "answers": {"symptoms": False},
        "certificate": None,
    }
    salt = gate.journal._db.execute("SELECT salt FROM screening_details WHERE seq = ?", (row.seq,)).fetchone()[0]
    assert chain.details_digest(bytes(salt), details) == digest
    assert "36.9" not in json.dumps(row.to_json())  # nothing of the reading in what the chain and the upload carry


def test_a_fever_is_referred_with_advice(gate: Gate, world: World) -> None:
    recorded = gate.scan(world.issue(), entry=screening.Entry("38.2"))
    decision = recorded.decision
    assert (decision.verdict, decision.reason, decision.screening) == (
        Verdict.REFER,
        Reason.SCREENING_FAILED,
        "fever",
    )
    assert decision.advice == screening.ADVICE_MEDICAL
    line = recorded.to_json()
    assert (
        line["advice_en"] == screening.ADVICE_MEDICAL and line["advice"] == "Mời khách đến bàn y tế, sau đó quét lại vé"
    )
    assert chain.screening_parts(recorded.row.screening)[0] == "fever"
    # referred is not inside: the guest comes back from the medical desk and is screened again
    again = gate.scan(recorded.text, entry=screening.Entry("37.1", {"symptoms": False}))
    assert again.decision.verdict is Verdict.ADMIT


def test_no_operator_input_refers_as_screening_required(gate: Gate, world: World) -> None:
    decision = gate.scan(world.issue()).decision
    assert (decision.verdict, decision.reason, decision.screening) == (
        Verdict.REFER,
        Reason.SCREENING_REQUIRED,
        "incomplete",
    )


def test_denied_codes_take_no_screening_line(gate: Gate, world: World) -> None:
    from tests.support.gatekit import forged

    script = ScriptedOperator([json.dumps({"temperature": "36.5", "answers": {"symptoms": "no"}})])
    assert gate.scan(forged(world.issue()), entries=script).decision.reason is Reason.BAD_SIGNATURE
    assert script.used == 0
    assert gate.scan(world.issue(), entries=script).decision.verdict is Verdict.ADMIT
    assert script.used == 1


def test_the_window_path_examine_session_finish(gate: Gate, world: World) -> None:
    """What the window does: examine, start a session, feed keys, finish with its result."""
    text = world.issue(health=Declaration(world.now - timedelta(hours=3), True).claim())
    decision = gate.examine(text)
    assert gate.needs_screening(decision) and gate.journal.last_seq() == 0  # nothing journalled yet
    session = gate.start_screening(decision).temperature_typed("3 6 . 6")
    assert session.problem == screening.PROBLEM_NOT_A_READING
    session = session.temperature_typed("36.6")
    assert session.step is screening.Step.DONE  # the ticket's fresh declaration: no questions
    recorded = gate.finish(decision, text, "camera", result=session.result())
    assert (recorded.decision.verdict, recorded.decision.screening) == (Verdict.ADMIT, "passed")
    assert gate.journal.screening_details(recorded.row.seq)["declaration"] == "ticket"  # type: ignore[index]


def test_purge_keeps_the_chain_and_the_seals_and_forgets_the_readings(
    gate: Gate, world: World, enrolled: tuple[GateData, bytes]
) -> None:
    data, seed = enrolled
    clock = gate.clock
    assert isinstance(clock, Clock)
    old = gate.scan(world.issue("Trần Thị Bích"), entry=screening.Entry("37.93"))  # a fever, an hour earlier
    clock.advance(hours=1)
    recent = gate.scan(world.issue("Lê Hoàng Cường"), entry=screening.Entry("36.71", {"symptoms": False}))
    journal = gate.journal
    _, old_digest = chain.screening_parts(old.row.screening)
    salt = bytes(journal._db.execute("SELECT salt FROM screening_details WHERE seq = 1").fetchone()[0])
    candidates = [
        {
            "temperature": f"{t / 100:.2f}",
            "declaration": "none",
            "declared_at": None,
            "answers": {},
            "certificate": None,
        }
        for t in range(3400, 4251)
    ]
    # with the salt the reading is found among every plausible one: the check below can fail
    assert [c["temperature"] for c in candidates if chain.details_digest(salt, c) == old_digest] == ["37.93"]
    assert b"37.93" in disk_bytes(data.journal_path)

    purged = journal.purge_screening(recent.row.wall_ms)  # what is older than the second row
    assert purged == 1
    assert journal.screening_details(old.row.seq) is None
    assert journal.screening_details(recent.row.seq) is not None
    assert journal.verify(data.device_public(), seed) == []
    assert journal.row(1) == old.row  # the row, its hash and seal as they were
    assert journal.state("hall", Direction.IN).entries_of(recent.decision.credential.credential_id) == 1  # type: ignore[union-attr]
    # the salt is gone with the details: no guess of the reading matches the digest any more
    assert not any(chain.details_digest(b"", c) == old_digest for c in candidates)
    assert journal._db.execute("SELECT COUNT(*) FROM screening_details WHERE seq = 1").fetchone()[0] == 0
    journal.close()
    assert b"37.93" not in disk_bytes(data.journal_path)  # secure_delete zeroed it, the WAL was cut
    assert b"36.71" in disk_bytes(data.journal_path)


def test_altered_details_are_found_by_verify(gate: Gate, world: World, enrolled: tuple[GateData, bytes]) -> None:
    data, seed = enrolled
    row = gate.scan(world.issue(), entry=screening.Entry("38.4")).row
    gate.journal._db.execute(
        "UPDATE screening_details SET details = ? WHERE seq = ?",
        (
            json.dumps(
                {"temperature": "36.4", "declaration": "none", "declared_at": None, "answers": {}, "certificate": None}
            ),
            row.seq,
        ),
    )
    problems = gate.journal.verify(data.device_public(), seed)
    assert [(p.seq, p.kind) for p in problems] == [(row.seq, "screening_mismatch")]


# ---- the real command ----------------------------------------------------------------------------------


def test_headless_run_with_a_script_then_purge_by_command_and_at_start(tmp_path: Path, world: World) -> None:
    usb = tmp_path / "usb"
    ckb, pub = world.write_usb(usb, expires_at=world.now + timedelta(days=60))  # a bundle that lasts the test
    data = tmp_path / "gate"
    enrolled = json_lines(run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub), "--zone", "hall"))
    key = enrolled[0]["verification_key"]
    fresh = world.issue("Nguyễn Văn An", health=Declaration(world.now - timedelta(hours=2), True).claim())
    fever = world.issue("Trần Thị Bích")
    typo = world.issue("Lê Hoàng Cường")
    texts = tmp_path / "codes.txt"
    texts.write_text("\n".join([fresh, "CK1:garbage", fever, typo]) + "\n", encoding="utf-8")
    script = tmp_path / "operator.jsonl"
    script.write_text(
        "\n".join(
            json.dumps(line)
            for line in (
                {"temperature": "36,8"},
                {"temperature": "39.1", "answers": {"symptoms": "no"}},
                {"temperature": "73.6", "answers": {"symptoms": "no"}},  # a typo never becomes a fever
            )
        ),
        encoding="utf-8",
    )
    out = json_lines(
        run_gate(data, "run", "--texts", str(texts), "--headless", "--now", GATE_NOW, "--screening-input", str(script))
    )
    assert [(r["verdict"], r["reason"], r["screening"]) for r in out] == [
        ("admit", "admitted", "passed"),
        ("deny", "malformed", ""),
        ("refer", "screening_failed", "fever"),
        ("refer", "screening_required", "incomplete"),
    ]
    export = tmp_path / "journal.csv"
    run_gate(data, "journal", "export", "--csv", str(export))
    with export.open(encoding="utf-8", newline="") as exported:
        rows = list(csv.DictReader(exported))
    assert rows[0]["screening"].startswith("passed:") and rows[2]["screening"].startswith("fever:")
    assert "39.1" not in export.read_text(encoding="utf-8")

    # nothing is old enough yet; then the command purges; verify (seals too) still passes
    assert json_lines(run_gate(data, "journal", "purge", "--older-than", "14", "--now", GATE_NOW)) == [
        {"purged": 0, "kept": 3}
    ]
    later = "2022-04-05T09:00"  # ten days on
    assert json_lines(run_gate(data, "journal", "purge", "--older-than", "7", "--now", later)) == [
        {"purged": 3, "kept": 0}
    ]
    verified = json_lines(run_gate(data, "journal", "verify", "--verification-key", key))[0]
    assert (verified["ok"], verified["seals_checked"], verified["rows"]) == (True, True, 4)
    assert b"39.1" not in disk_bytes(data / "journal.db")

    # at start, `run` purges by the event's retention (14 days)
    texts.write_text(world.issue("Phạm Thu Dung", expires_at=world.now + timedelta(days=60)) + "\n", encoding="utf-8")
    script.write_text(json.dumps({"temperature": "36.6"}), encoding="utf-8")
    json_lines(
        run_gate(data, "run", "--texts", str(texts), "--headless", "--now", later, "--screening-input", str(script))
    )
    with Journal(data / "journal.db") as journal:
        assert journal.details_count() == 1
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    json_lines(run_gate(data, "run", "--texts", str(empty), "--headless", "--now", "2022-04-20T09:00"))
    with Journal(data / "journal.db") as journal:
        assert journal.details_count() == 0


def test_screening_input_is_checked(tmp_path: Path, world: World) -> None:
    ckb, pub = world.write_usb(tmp_path / "usb")
    data = tmp_path / "gate"
    json_lines(run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub), "--zone", "hall"))
    script = tmp_path / "operator.jsonl"
    script.write_text('{"temperature": "36.5"}\n{"temp": 1}\n', encoding="utf-8")
    result = run_gate(data, "run", "--texts", "-", "--headless", "--now", GATE_NOW, "--screening-input", str(script))
    assert result.returncode != 0 and "line 2" in result.stderr and "temp" in result.stderr
