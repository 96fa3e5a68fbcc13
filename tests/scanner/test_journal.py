"""scanner.journal: SQLite settings, the hash chain, checkpoints, acknowledgements, the time floor, export."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import chain
from checkin.core.errors import Reason, Verdict
from checkin.core.trust import Direction
from scanner import gate
from scanner.gate import Decision, GateState
from scanner.journal import Journal, JournalError
from tests.support.gatekit import World, enrol_usb

T0 = 1_648_260_000_000
SEED = bytes(range(32))


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def journal(tmp_path: Path, key: Ed25519PrivateKey) -> Journal:
    with Journal(tmp_path / "journal.db", key, checkpoint_rows=10, checkpoint_ms=60_000) as j:
        j.start_sealing(SEED)
        yield j  # type: ignore[misc]


def add(journal: Journal, n: int, *, start: int = T0, step: int = 1000, cti: str = "") -> list[chain.JournalRow]:
    rows = []
    for i in range(n):
        rows.append(
            journal.append(
                wall_ms=start + i * step,
                mono_ms=i,
                cti=cti or f"{i:032x}",
                kid="00" * 8,
                verdict="admit",
                reason="admitted",
                direction="in",
                zone="hall",
            )
        )
    return rows


def test_sqlite_settings(journal: Journal) -> None:
    assert journal.pragma("journal_mode") == "wal"
    assert journal.pragma("synchronous") == "2"  # FULL


def test_rows_chain_with_checkin_chain(journal: Journal) -> None:
    rows = add(journal, 25)
    assert [r.seq for r in rows] == list(range(1, 26))
    assert rows[0].prev_hash == chain.GENESIS.hex()
    assert chain.check(rows) == []
    assert journal.rows(after=20) == rows[20:]
    assert journal.head() == rows[-1] and journal.last_seq() == 25
    assert list(journal.iter_rows(batch=7)) == rows


def test_checkpoints_every_n_rows_and_every_m_minutes(journal: Journal, key: Ed25519PrivateKey) -> None:
    add(journal, 25)  # 1 s apart: every 10 rows
    assert [c.checkpoint.seq for c in journal.checkpoints()] == [10, 20]
    add_later = journal.append(
        wall_ms=T0 + 25_000 + 60_000, mono_ms=0, verdict="deny", reason="malformed", direction="in", zone="hall"
    )
    assert [c.checkpoint.seq for c in journal.checkpoints()] == [10, 20, add_later.seq]  # a minute passed
    for stored in journal.checkpoints():
        assert chain.verify_checkpoint(stored.signed, key.public_key()) == stored.checkpoint
    assert journal.verify(key.public_key()) == []


def test_checkpoint_at_sync(journal: Journal, key: Ed25519PrivateKey) -> None:
    assert journal.checkpoint(T0) is None
    rows = add(journal, 3)
    stored = journal.checkpoint(T0 + 5000)
    assert stored is not None
    assert stored.checkpoint == chain.Checkpoint(seq=3, head=rows[-1].hash, wall_ms=T0 + 5000)
    partial = journal.checkpoint(T0 + 6000, upto=rows[0])
    assert partial is not None and partial.checkpoint.seq == 1


def test_verify_finds_an_edited_row(journal: Journal, tmp_path: Path, key: Ed25519PrivateKey) -> None:
    add(journal, 12)
    with sqlite3.connect(tmp_path / "journal.db") as db:
        db.execute("UPDATE rows SET verdict = 'admit', reason = 'admitted' WHERE seq = 5")
        db.execute("UPDATE rows SET cti = 'ff' WHERE seq = 7")
    kinds = {(p.seq, p.kind) for p in journal.verify(key.public_key())}
    assert (7, "hash_mismatch") in kinds


def test_verify_finds_a_deleted_row_and_a_foreign_checkpoint(journal: Journal, tmp_path: Path) -> None:
    add(journal, 12)
    with sqlite3.connect(tmp_path / "journal.db") as db:
        db.execute("DELETE FROM rows WHERE seq = 10")
    problems = journal.verify(Ed25519PrivateKey.generate().public_key())
    kinds = {p.kind for p in problems}
    assert {"gap", "bad_checkpoint"} <= kinds


def test_verify_finds_a_checkpoint_over_another_head(journal: Journal, tmp_path: Path, key: Ed25519PrivateKey) -> None:
    add(journal, 10)
    with sqlite3.connect(tmp_path / "journal.db") as db:
        db.execute("UPDATE checkpoints SET head = ? WHERE seq = 10", ("ab" * 32,))
    kinds = {p.kind for p in journal.verify(key.public_key())}
    assert {"bad_checkpoint", "checkpoint_mismatch"} <= kinds


def test_acknowledge(journal: Journal) -> None:
    rows = add(journal, 5)
    assert journal.pending() == 5
    journal.acknowledge(3, rows[2].hash)
    assert journal.acked_seq == 3 and journal.pending() == 2
    with pytest.raises(JournalError, match="forked"):
        journal.acknowledge(4, "00" * 32)
    with pytest.raises(JournalError, match="beyond"):
        journal.acknowledge(9, "")
    assert journal.acked_seq == 3
    journal.acknowledge(1, "")  # the server may say it holds less (409 gap): resend from there
    assert journal.acked_seq == 1
    assert journal.last_seq() == 5  # nothing is ever deleted


def test_time_floor(journal: Journal) -> None:
    assert journal.time_floor_ms == 0
    add(journal, 1, start=T0 + 10_000)
    add(journal, 1, start=T0)  # a row from an earlier clock does not lower the floor
    assert journal.time_floor_ms == T0 + 10_000
    journal.note_server_time(T0 + 50_000)
    assert journal.time_floor_ms == T0 + 50_000 and journal.server_time_ms == T0 + 50_000
    journal.note_server_time(T0)
    assert journal.time_floor_ms == T0 + 50_000
    journal.record(
        gate.clock_acknowledged(), wall_ms=T0 + 1, mono_ms=0, direction=Direction.IN, zone="hall", resets_floor=True
    )
    assert journal.time_floor_ms == T0 + 1 and journal.server_time_ms == 0
    assert journal.head() is not None and journal.head().reason == Reason.CLOCK_ACKNOWLEDGED.value  # type: ignore[union-attr]


def test_state_is_rebuilt_from_rows(tmp_path: Path) -> None:
    world = World()
    a, b = world.credential("A"), world.credential("B")
    path = tmp_path / "j.db"
    with Journal(path) as journal:
        journal.start_sealing(SEED)
        for cred, way, verdict in [
            (a, Direction.IN, Verdict.ADMIT),
            (b, Direction.IN, Verdict.ADMIT),
            (b, Direction.IN, Verdict.DENY),
            (a, Direction.OUT, Verdict.ADMIT),
            (a, Direction.IN, Verdict.ADMIT),
        ]:
            decision = Decision(
                verdict, Reason.ADMITTED if verdict is Verdict.ADMIT else Reason.ALREADY_INSIDE, credential=cred
            )
            journal.record(decision, wall_ms=T0, mono_ms=0, direction=way, zone="hall")
    with Journal(path) as journal:
        state = journal.state("hall", Direction.IN)
    assert state == GateState(
        zone="hall",
        direction=Direction.IN,
        inside=frozenset({a.credential_id, b.credential_id}),
        entries=state.entries,
        time_floor_ms=T0,
    )
    assert dict(state.entries) == {a.credential_id: 2, b.credential_id: 1}


def test_record_writes_what_the_decision_says(journal: Journal) -> None:
    world = World()
    decision = gate.decide(world.issue(), world.bundle(), GateState(zone="hall"), world.now)
    row = journal.record(decision, wall_ms=T0, mono_ms=42, direction=Direction.IN, zone="hall", operator="Lan")
    assert decision.credential is not None and decision.kid is not None
    assert (row.cti, row.kid, row.verdict, row.reason, row.direction, row.zone, row.operator, row.mono_ms) == (
        decision.credential.id_hex,
        decision.kid.hex(),
        "admit",
        "admitted",
        "in",
        "hall",
        "Lan",
        42,
    )
    refused = journal.record(gate.refused_by_staff(decision), wall_ms=T0, mono_ms=43, direction=Direction.IN, zone="")
    assert (refused.cti, refused.verdict, refused.reason) == (row.cti, "deny", "refused_by_staff")


def test_export_csv(journal: Journal, tmp_path: Path) -> None:
    rows = add(journal, 4)
    out = tmp_path / "out.csv"
    assert journal.export_csv(out) == 4
    with out.open(encoding="utf-8") as f:
        read = list(csv.DictReader(f))
    assert [r["hash"] for r in read] == [r.hash for r in rows]
    assert read[0]["wall_time"].startswith("2022-03-26T02:00:00")


def test_device_key_file_is_private(tmp_path: Path) -> None:
    data = enrol_usb(tmp_path / "gate", World())
    assert (data.root.stat().st_mode & 0o777) == 0o700
    assert (data.path("device.key").stat().st_mode & 0o777) == 0o600
    assert (data.path("device.json").stat().st_mode & 0o777) == 0o600
    assert data.device_key().public_key().public_bytes_raw() == data.device_public().public_bytes_raw()


def test_device_key_encrypted_with_a_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHECKIN_GATE_PASSPHRASE", "correct horse battery")
    data = enrol_usb(tmp_path / "gate", World())
    assert b"ENCRYPTED" in data.path("device.key").read_bytes()
    public = data.device_key().public_key().public_bytes_raw()
    monkeypatch.delenv("CHECKIN_GATE_PASSPHRASE")
    with pytest.raises(Exception, match="encrypted"):
        data.device_key()
    monkeypatch.setenv("CHECKIN_GATE_PASSPHRASE", "correct horse battery")
    assert data.device_key().public_key().public_bytes_raw() == public
