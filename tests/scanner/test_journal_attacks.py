"""A thief holding the gate laptop (its data folder, its device key, its current sealing key)
rewrites the journal as an attacker would, with plain SQL and the project's own chain code; the
real `checkin-gate journal verify` finds each attack, naming the seq (security issue, flaw 2)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from checkin.core import seal
from scanner.journal import Journal
from tests.support.gatekit import World, forged, json_lines, rechain, run_gate

NOW = "2022-03-26T09:00"


@pytest.fixture
def enrolled(tmp_path: Path) -> tuple[Path, str, World]:
    """A USB-enrolled gate (through the CLI) that recorded 12 scans; its verification key."""
    world = World()
    ckb, pub = world.write_usb(tmp_path / "usb")
    data = tmp_path / "gate"
    shown = json_lines(run_gate(data, "enroll", "--bundle", str(ckb), "--root-key", str(pub), "--zone", "hall"))[0]
    texts = [world.issue(f"Khách {i}") if i % 4 else forged(world.issue()) for i in range(12)]
    run_gate(data, "run", "--texts", "-", "--headless", "--now", NOW, stdin="\n".join(texts) + "\n")
    return data, shown["verification_key"], world


def verify(data: Path, key: str | None) -> tuple[int, str]:
    args = ["journal", "verify"] + (["--verification-key", key] if key else [])
    result = run_gate(data, *args)
    return result.returncode, result.stderr


def test_an_honest_journal_verifies_with_and_without_the_key(enrolled: tuple[Path, str, World]) -> None:
    data, key, _ = enrolled
    assert seal.parse_verification_key(key)  # a well-formed key was shown at enrolment
    assert verify(data, None) == (0, "")
    code, err = verify(data, key)
    assert (code, err) == (0, "")
    assert json_lines(run_gate(data, "journal", "verify", "--verification-key", key))[0]["seals_checked"] is True


def test_a_deny_turned_into_an_admit_and_rechained_is_found_by_the_seals(enrolled: tuple[Path, str, World]) -> None:
    data, key, _ = enrolled
    with sqlite3.connect(data / "journal.db") as db:
        (seq,) = db.execute("SELECT MIN(seq) FROM rows WHERE verdict = 'deny'").fetchone()
        rechain(db, seq, {"verdict": "admit", "reason": "admitted"})
    code, err = verify(data, None)
    assert code == 0  # chain re-made and checkpoints deleted: without the key nothing shows...
    code, err = verify(data, key)
    assert code == 1 and f"seq {seq}: bad_seal" in err  # ...the seals name the first rewritten row


def test_a_truncated_tail_is_found_without_the_key(enrolled: tuple[Path, str, World]) -> None:
    data, _, _ = enrolled
    with sqlite3.connect(data / "journal.db") as db:
        db.execute("DELETE FROM rows WHERE seq > 9")
        db.execute("DELETE FROM checkpoints")
    code, err = verify(data, None)
    assert code == 1 and "seq 10: truncated" in err


def test_a_deleted_row_is_found(enrolled: tuple[Path, str, World]) -> None:
    data, key, _ = enrolled
    with sqlite3.connect(data / "journal.db") as db:
        db.execute("DELETE FROM rows WHERE seq = 5")
    code, err = verify(data, key)
    assert code == 1 and "seq 6: gap" in err and "seq 6: out_of_order" in err


def test_deleting_the_checkpoints_and_the_sealing_key_is_found(enrolled: tuple[Path, str, World]) -> None:
    data, _, _ = enrolled
    with sqlite3.connect(data / "journal.db") as db:
        db.execute("DELETE FROM checkpoints")
        db.execute("DELETE FROM sealer")
    code, err = verify(data, None)
    assert code == 1 and "unsealed" in err


def test_an_old_copy_of_the_journal_verifies_alone_but_cannot_be_extended_past_the_service(
    enrolled: tuple[Path, str, World], tmp_path: Path
) -> None:
    """Copying an old journal over a new one is internally consistent (the old key came with it);
    the service finds it (rows it already holds with other hashes). Here: the old copy's own
    seals are genuine, and the rows it lost are the ones a later verify with the service shows."""
    data, key, world = enrolled
    shutil.copy(data / "journal.db", tmp_path / "old.db")
    run_gate(data, "run", "--texts", "-", "--headless", "--now", NOW, stdin=world.issue("Mới") + "\n")
    shutil.copy(tmp_path / "old.db", data / "journal.db")
    for suffix in ("-wal", "-shm"):
        (data / f"journal.db{suffix}").unlink(missing_ok=True)
    assert verify(data, key)[0] == 0
    with Journal(data / "journal.db") as journal:
        assert journal.last_seq() == 12  # the 13th row is gone from the gate; the service holds it


def test_sync_refuses_to_sign_a_checkpoint_over_rows_that_do_not_hold(enrolled: tuple[Path, str, World]) -> None:
    data, _, _ = enrolled
    with sqlite3.connect(data / "journal.db") as db:
        db.execute("UPDATE rows SET verdict = 'admit' WHERE seq = 1")
    with Journal(data / "journal.db", None) as journal:
        from scanner.datadir import GateData

        journal.device_key = GateData(data).device_key()
        before = len(journal.checkpoints())
        with pytest.raises(Exception, match="does not hold together at seq 1"):
            journal.checkpoint(wall_ms=1)
        assert len(journal.checkpoints()) == before


def test_a_journal_without_a_sealing_key_records_nothing(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal, pytest.raises(Exception, match="no sealing key"):
        journal.append(wall_ms=1, mono_ms=1, verdict="deny", reason="malformed", direction="in", zone="hall")
    with Journal(tmp_path / "j.db") as journal:
        assert journal.last_seq() == 0


def test_the_seed_is_set_once(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal.start_sealing(bytes(32))
        with pytest.raises(Exception, match="already sealed"):
            journal.start_sealing(bytes(range(32)))


def test_the_old_sealing_keys_are_not_left_in_the_files(enrolled: tuple[Path, str, World]) -> None:
    """After a checkpoint the WAL is cut and secure_delete zeroed the replaced key: the seed and
    the keys of past rows appear nowhere in the data folder."""
    data, key, _ = enrolled
    seed = seal.parse_verification_key(key)
    with Journal(data / "journal.db", None) as journal:
        from scanner.datadir import GateData

        journal.device_key = GateData(data).device_key()
        journal.checkpoint(wall_ms=1)
        current = journal.sealing_key()
    assert current is not None and current.seq == 13
    past = seal.SealKey.first(seed)
    blobs = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    for _ in range(12):
        assert past.key not in blobs
        past = past.advance_to(past.seq + 1)
    assert past.key == current.key
