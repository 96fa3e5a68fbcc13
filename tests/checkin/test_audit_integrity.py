"""The audit of what the service holds (services.audit): journals written by the real gate code
(scanner.journal: chained, sealed, checkpoints signed by the device key), uploaded through
services.ingest, then attacked in the service's database by plain SQL, as someone with the database
and not the service's key folder would (the append-only triggers dropped first). Each attack is
found, naming the gate and the seq; an intact event gives no finding.

Runs on a fresh SQLite file per test and, when CHECKIN_TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from checkin.core import chain, cose
from checkin.core.errors import Reason
from checkin.services import audit, ingest
from checkin.services.audit import GateIntegrity
from checkin.services.findings import Finding, RowRef, Severity
from checkin.store import Alert, Store, ledger
from checkin.store import alerts as stored_alerts
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store.events import NewEvent
from checkin.store.journal import JournalRefused
from scanner import journal as gate_journal
from tests.support.cli import CHECKIN, clean_env, run_cli
from tests.support.scratch import TEST_DATABASE_ENV, empty_tables, postgres_for_tests

NOW = datetime(2022, 3, 26, 2, 0, tzinfo=UTC)  # 09:00 in Hanoi, the event running
EVENT = "cds2022"
MS = int(NOW.timestamp() * 1000)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str | None]:
    with postgres_for_tests() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store holding the event, its ledger key in tmp_path/keys."""
    if request.param == "sqlite":
        (tmp_path / "config.toml").write_text(
            '[deployment]\nid = "hd-stttt"\n\n[paths]\ndatabase = "checkin.db"\n', encoding="utf-8"
        )
        made = Store(f"sqlite:///{tmp_path / 'checkin.db'}", keys_dir=tmp_path / "keys")
    else:
        url = request.getfixturevalue("postgres_url")
        if url is None:
            pytest.skip(f"PostgreSQL runs need {TEST_DATABASE_ENV}")
        made = Store(url, keys_dir=tmp_path / "keys")
        made.migrate()
        empty_tables(url)
        made.downgrade("0010")  # the triggers again, whatever the test before dropped

    made.migrate()
    stored_events.create_event(
        made,
        NewEvent(EVENT, "Chuyển đổi số", NOW - timedelta(hours=1), NOW + timedelta(hours=9), "Asia/Ho_Chi_Minh",
                 ("hall", "vip")),
        NOW - timedelta(days=9),
    )  # fmt: skip
    yield made
    made.dispose()


@dataclass
class Gate:
    """A gate enrolled with the service, keeping its journal with the real gate code."""

    store: Store
    device_id: str
    name: str
    key: Ed25519PrivateKey
    journal: gate_journal.Journal

    def scan(self, count: int, *, start_ms: int | None = None, step_ms: int = 1000) -> list[chain.JournalRow]:
        at = start_ms if start_ms is not None else MS - 600_000 + self.journal.last_seq() * step_ms
        return [
            self.journal.append(
                wall_ms=at + i * step_ms,
                mono_ms=at + i * step_ms,
                verdict="admit" if i % 3 else "deny",
                reason="admitted" if i % 3 else "revoked",
                direction="in",
                zone="hall",
                cti=secrets.token_hex(16),
                kid="ab" * 8,
            )
            for i in range(count)
        ]

    def upload(self, now: datetime = NOW, *, key: Ed25519PrivateKey | None = None) -> list[str]:
        """Send what the service has not acknowledged, as sync does; the kinds of the alerts answered."""
        rows = self.journal.rows(after=self.journal.acked_seq)
        checkpoint = chain.Checkpoint(rows[-1].seq, rows[-1].hash, int(now.timestamp() * 1000))
        signed = chain.sign_checkpoint(checkpoint, key or self.key)
        device = stored_devices.device(self.store, self.device_id)
        result = ingest.upload_journal(self.store, device, rows, signed, now)
        self.journal.acknowledge(result.acked_seq, result.head_hash)
        return [note.kind.value for note in result.alerts]


@pytest.fixture
def gates(store: Store, tmp_path: Path) -> Iterator[list[Gate]]:
    made: list[Gate] = []

    def enrol(name: str) -> Gate:
        added = NOW - timedelta(hours=2) + timedelta(minutes=len(made))  # the audit lists gates in this order
        device, code = stored_devices.create_device(store, EVENT, name, None, "in", added)
        path = tmp_path / f"{device.id}.journal"
        seed = gate_journal.begin(path)
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes_raw().hex()
        stored_devices.enrol_device(store, code, public, NOW - timedelta(hours=2), seal_seed=seed)
        gate = Gate(store, device.id, name, key, gate_journal.Journal(path, key, checkpoint_rows=10_000))
        made.append(gate)
        return gate

    a, b = enrol("Cổng A - sảnh chính"), enrol("Cổng B")
    a.scan(6)
    assert a.upload() == []
    a.scan(6)
    assert a.upload() == []
    b.scan(5)
    assert b.upload() == []
    yield made
    for gate in made:
        gate.journal.close()


def sql(store: Store, *statements: str, **params: object) -> None:
    """Plain SQL, as someone with the database and not the service runs it."""
    with store.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def drop_guards(store: Store) -> None:
    """What an attacker with the database does first: drop the append-only triggers."""
    for table in ("scans", "checkpoints", "ledger", "alerts"):
        if store.engine.dialect.name == "postgresql":
            sql(store, f"DROP TRIGGER {table}_append_only ON {table}")
        else:
            sql(store, f"DROP TRIGGER {table}_no_update", f"DROP TRIGGER {table}_no_delete")


def found(results: list[GateIntegrity], gate: Gate) -> dict[str, list[int]]:
    """The faults found for one gate: kind -> the seqs named, in order."""
    mine = next(r for r in results if r.device_id == gate.device_id)
    named: dict[str, list[int]] = {}
    for finding in mine.faults:
        assert finding.device_id == gate.device_id and gate.name in finding.detail and gate.device_id in finding.detail
        assert all(row.device_id == gate.device_id for row in finding.rows)
        named.setdefault(finding.kind.value, []).extend(row.seq for row in finding.rows)
    return named


def verify(store: Store, now: datetime = NOW) -> list[GateIntegrity]:
    return audit.verify_event(store, EVENT, now)


# ---- an intact event ----------------------------------------------------------------------------------


def test_an_intact_event_gives_no_finding(store: Store, gates: list[Gate]) -> None:
    results = verify(store)
    assert [(r.name, r.rows_held, r.acked_seq, r.last_checkpoint_seq) for r in results] == [
        ("Cổng A - sảnh chính", 12, 12, 12),
        ("Cổng B", 5, 5, 5),
    ]
    assert all(r.chain_ok and r.seals_ok and r.ledger_ok and r.intact for r in results)
    assert [r.findings for r in results] == [(), ()]
    assert audit.verify_all(store, NOW) == results


def test_the_ledger_key_is_private_and_made_once(store: Store, gates: list[Gate]) -> None:
    assert store.keys_dir is not None
    path = store.keys_dir / ledger.KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_bytes()) == 32
    assert ledger.ledger_key(store) == path.read_bytes()


def test_gates_walked_in_parallel_processes_give_the_same_result(store: Store, gates: list[Gate]) -> None:
    a, b = gates
    intact = verify(store)
    assert audit.verify_event(store, EVENT, NOW, workers=2, parallel_from_rows=0) == intact
    drop_guards(store)
    sql(store, "UPDATE scans SET verdict = 'admit' WHERE device_id = :d AND seq = 4", d=a.device_id)
    sql(store, "DELETE FROM scans WHERE device_id = :d AND seq = 2", d=b.device_id)
    tampered = verify(store)
    assert found(tampered, a) == {"row_changed": [4]} and found(tampered, b) == {"row_missing": [2]}
    assert audit.verify_event(store, EVENT, NOW, workers=2, parallel_from_rows=0) == tampered


# ---- plain SQL behind the service ---------------------------------------------------------------------


def test_a_row_edited_in_the_database_is_named(store: Store, gates: list[Gate]) -> None:
    a, b = gates
    drop_guards(store)
    sql(
        store, "UPDATE scans SET verdict = 'admit', reason = 'admitted' WHERE device_id = :d AND seq = 4", d=a.device_id
    )
    results = verify(store)
    assert found(results, a) == {"row_changed": [4]}
    assert found(results, b) == {}


def test_a_row_edited_and_rechained_without_the_seed_is_named(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    drop_guards(store)
    rows = a.journal.rows()
    prev = rows[2]
    for row in rows[3:]:  # the attacker turns seq 4 into an admit and re-chains every later row
        content = {k: v for k, v in row.content().items() if k != "seq"}
        if row.seq == 4:
            content.update(verdict="admit", reason="admitted")
        prev = replace(chain.append(prev, **content), seal=row.seal)
        sql(
            store,
            "UPDATE scans SET verdict = :v, reason = :r, prev_hash = :p, hash = :h WHERE device_id = :d AND seq = :q",
            v=prev.verdict, r=prev.reason, p=prev.prev_hash, h=prev.hash, d=a.device_id, q=prev.seq,
        )  # fmt: skip
    sql(store, "UPDATE devices SET head_hash = :h WHERE id = :d", h=prev.hash, d=a.device_id)
    named = found(verify(store), a)
    assert named["row_changed"][0] == 4 and named["bad_seal"][0] == 4
    assert named["fork"] == [6, 12]  # the checkpoints the gate signed name other heads


def test_a_row_deleted_in_the_database_is_named(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    drop_guards(store)
    sql(store, "DELETE FROM scans WHERE device_id = :d AND seq = 5", d=a.device_id)
    results = verify(store)
    assert found(results, a) == {"row_missing": [5]}
    assert not results[0].chain_ok and results[0].seals_ok is not None


def test_the_tail_cut_off_is_named(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    drop_guards(store)
    sql(store, "DELETE FROM scans WHERE device_id = :d AND seq >= 10", d=a.device_id)
    assert found(verify(store), a) == {"journal_truncated": [10, 12]}


def test_the_tail_cut_with_its_checkpoint_ledger_entry_and_head_is_still_found(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    drop_guards(store)
    sql(
        store,
        "DELETE FROM scans WHERE device_id = :d AND seq >= 7",
        "DELETE FROM checkpoints WHERE device_id = :d AND seq = 12",
        "UPDATE devices SET acked_seq = 6, head_hash = (SELECT hash FROM scans WHERE device_id = :d AND seq = 6) "
        "WHERE id = :d",
        d=a.device_id,
    )
    # the ledger entry still names 7..12, and the checkpoint stored with it
    assert found(verify(store), a) == {"journal_truncated": [7, 12], "checkpoint_missing": [12]}


def test_two_rows_swapped_are_both_named(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    drop_guards(store)
    sql(
        store,
        "UPDATE scans SET seq = -3 WHERE device_id = :d AND seq = 3",
        "UPDATE scans SET seq = 3 WHERE device_id = :d AND seq = 8",
        "UPDATE scans SET seq = 8 WHERE device_id = :d AND seq = -3",
        d=a.device_id,
    )
    named = found(verify(store), a)
    # the rows themselves (content, link, as stored, seal) and the links after them
    assert named == {"row_changed": [3, 4, 8, 9], "bad_seal": [3, 8]}


def test_a_checkpoint_re_signed_with_another_key_is_named(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    drop_guards(store)
    row = a.journal.row(6)
    assert row is not None
    forged = chain.sign_checkpoint(chain.Checkpoint(6, row.hash, MS), Ed25519PrivateKey.generate())
    sql(store, "UPDATE checkpoints SET signed = :s WHERE device_id = :d AND seq = 6", s=forged, d=a.device_id)
    named = found(verify(store), a)
    assert named == {"bad_checkpoint": [6], "checkpoint_missing": [6]}


def test_a_row_inserted_in_the_database_is_named(store: Store, gates: list[Gate]) -> None:
    _, b = gates
    drop_guards(store)
    head = b.journal.head()
    extra = chain.append(head, wall_ms=MS, mono_ms=1, cti="cd" * 16, kid="ab" * 8, verdict="admit",
                         reason="admitted", direction="in", zone="hall")  # fmt: skip
    sql(
        store,
        "INSERT INTO scans (device_id, event_id, seq, wall_ms, mono_ms, cti, kid, verdict, reason, direction, zone, "
        "operator, screening, prev_hash, hash, seal, received_at) SELECT device_id, event_id, 6, wall_ms, mono_ms, "
        ":c, kid, verdict, reason, direction, zone, operator, screening, :p, :h, seal, received_at FROM scans "
        "WHERE device_id = :d AND seq = 5",
        c=extra.cti, p=extra.prev_hash, h=extra.hash, d=b.device_id,
    )  # fmt: skip
    assert found(verify(store), b)["row_added"] == [6]


def test_values_no_row_can_hold_are_named_not_a_crash(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    drop_guards(store)
    sql(store, "UPDATE scans SET hash = 'not hex', seal = 'é' WHERE device_id = :d AND seq = 3", d=a.device_id)
    sql(store, "UPDATE scans SET prev_hash = 'zz' WHERE device_id = :d AND seq = 8", d=a.device_id)
    named = found(verify(store), a)
    assert named["row_changed"] == [3, 4, 8] and named["missing_seal"] == [3]


def test_a_gates_rows_all_deleted_are_named(store: Store, gates: list[Gate]) -> None:
    _, b = gates
    drop_guards(store)
    sql(store, "DELETE FROM scans WHERE device_id = :d", d=b.device_id)
    results = verify(store)
    assert found(results, b) == {"journal_truncated": [1, 5]}
    assert results[1].rows_held == 0 and results[0].intact


def test_a_ledger_entry_removed_or_changed_is_named(store: Store, gates: list[Gate]) -> None:
    a, b = gates
    drop_guards(store)
    sql(store, "DELETE FROM ledger WHERE device_id = :d AND first_seq = 1", d=a.device_id)
    sql(store, "UPDATE ledger SET received_at = received_at WHERE device_id = :d", d=b.device_id)  # a no-op
    sql(store, "UPDATE ledger SET head = :h WHERE device_id = :d", h="00" * 32, d=b.device_id)
    results = verify(store)
    # rows 1..6 in no entry; the entry of 7..12 names a previous one that is gone
    assert found(results, a) == {"ledger_broken": [1, 2, 3, 4, 5, 6, 7]}
    assert found(results, b) == {"ledger_broken": [1]}
    assert not results[0].ledger_ok and results[0].chain_ok and results[0].seals_ok


def test_without_the_ledger_key_no_entry_holds(store: Store, gates: list[Gate], tmp_path: Path) -> None:
    """The entries are keyed: with another key (what an attacker would compute them with) none holds."""
    a, _ = gates
    drop_guards(store)
    sql(store, "UPDATE scans SET operator = 'x' WHERE device_id = :d AND seq = 2", d=a.device_id)
    other = Store(str(store.engine.url.render_as_string(hide_password=False)), keys_dir=tmp_path / "elsewhere")
    try:
        assert found(audit.verify_event(other, EVENT, NOW), a)["ledger_broken"] == [1, 7]  # no entry holds there
    finally:
        other.dispose()


# ---- the records cannot be removed by the application either ------------------------------------------


def test_scans_checkpoints_and_the_ledger_refuse_update_and_delete(store: Store, gates: list[Gate]) -> None:
    for table, column in (("scans", "verdict"), ("checkpoints", "head"), ("ledger", "head")):
        with pytest.raises(DBAPIError, match="append-only"):
            sql(store, f"UPDATE {table} SET {column} = 'x'")
        with pytest.raises(DBAPIError, match="append-only"):
            sql(store, f"DELETE FROM {table}")
    assert [r.intact for r in verify(store)] == [True, True]


def test_alerts_keep_what_they_found_but_take_an_officers_acknowledgement(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    finding = Finding(Reason.ROW_CHANGED, Severity.CRITICAL, EVENT, "test", (RowRef(a.device_id, 3),), a.device_id)
    with store.writing() as s:
        assert stored_alerts.record_finding(s, finding, NOW) is True
        assert stored_alerts.record_finding(s, finding, NOW) is False
    with store.session() as s:
        alert = s.scalars(select(Alert)).one()
    assert (alert.kind, alert.seq, alert.severity, json.loads(alert.rows)) == (
        "row_changed", 3, "critical", [f"{a.device_id}#3"]
    )  # fmt: skip
    sql(store, "UPDATE alerts SET acknowledged_by = 'officer'")
    for column, value in (("detail", "'nothing'"), ("kind", "'gap'"), ("severity", "'low'"), ("rows", "'[]'")):
        with pytest.raises(DBAPIError, match="append-only"):
            sql(store, f"UPDATE alerts SET {column} = {value}")
    with pytest.raises(DBAPIError, match="append-only"):
        sql(store, "DELETE FROM alerts")


def test_a_gate_or_an_event_with_rows_cannot_be_deleted(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    with pytest.raises(DBAPIError):
        sql(store, "DELETE FROM devices WHERE id = :d", d=a.device_id)
    with pytest.raises(DBAPIError):
        sql(store, "DELETE FROM events WHERE id = :e", e=EVENT)
    device, _code = stored_devices.create_device(store, EVENT, "Cổng chưa dùng", None, "in", NOW)
    sql(store, "DELETE FROM devices WHERE id = :d", d=device.id)  # a gate that never uploaded may go
    assert [r.rows_held for r in verify(store)] == [12, 5]


def test_a_revoked_gate_keeps_its_records_and_they_still_verify(store: Store, gates: list[Gate]) -> None:
    a, _ = gates
    stored_devices.revoke_device(store, a.device_id, NOW)
    later = NOW + timedelta(hours=2)
    results = verify(store, later)
    assert (results[0].status, results[0].rows_held, results[0].intact) == ("revoked", 12, True)
    assert [f.kind for f in results[0].findings] == []  # revoked: not "silent"
    assert [f.kind for f in results[1].findings] == [Reason.GATE_SILENT]


# ---- clocks and networks -------------------------------------------------------------------------------


def test_time_running_backwards_late_uploads_and_silence_are_noted(store: Store, gates: list[Gate]) -> None:
    a, b = gates
    a.scan(2, start_ms=MS - 3_600_000)  # the clock jumped back an hour
    assert a.upload() == []
    b.scan(2, start_ms=MS - 2 * 3_600_000)  # two hours offline: uploaded late
    b.upload()
    results = verify(store, NOW + timedelta(minutes=20))
    notes = {r.name: {f.kind.value: [row.seq for row in f.rows] for f in r.findings} for r in results}
    assert notes["Cổng A - sảnh chính"] == {"time_backwards": [12, 13], "late_upload": [13], "gate_silent": []}
    assert notes["Cổng B"]["late_upload"] == [6]
    assert all(r.intact for r in results)  # noted, not integrity faults


def test_rows_written_ahead_of_the_server_clock_are_skew(store: Store, gates: list[Gate]) -> None:
    _, b = gates
    b.scan(1, start_ms=MS + 3_600_000)
    assert "clock_skew" in b.upload()
    findings = verify(store)[1].findings
    assert [(f.kind, [r.seq for r in f.rows]) for f in findings] == [(Reason.CLOCK_SKEW, [6])]


# ---- the gate's side: its own journal tampered with before upload ---------------------------------------


def test_rows_swapped_in_the_gates_journal_are_refused_naming_the_seq(store: Store, gates: list[Gate]) -> None:
    _, b = gates
    rows = b.scan(4)
    swapped = [rows[0], rows[2], rows[1], rows[3]]
    checkpoint = chain.sign_checkpoint(chain.Checkpoint(rows[3].seq, rows[3].hash, MS), b.key)
    with pytest.raises(JournalRefused) as refused:
        ingest.upload_journal(store, stored_devices.device(store, b.device_id), swapped, checkpoint, NOW)
    assert (refused.value.reason, refused.value.seq) == (Reason.BROKEN_CHAIN, 8)
    with store.session() as s:
        kept = s.execute(select(Alert.kind, Alert.seq, Alert.rows).where(Alert.device_id == b.device_id)).all()
    assert kept == [("broken_chain", 8, json.dumps([f"{b.device_id}#8"]))]


def test_a_batch_signed_by_another_key_is_refused_and_kept_as_an_alert(store: Store, gates: list[Gate]) -> None:
    _, b = gates
    b.scan(2)
    with pytest.raises(JournalRefused) as refused:
        b.upload(key=Ed25519PrivateKey.generate())
    assert (refused.value.reason, refused.value.seq) == (Reason.BAD_CHECKPOINT, 7)
    assert [r.intact for r in verify(store)] == [True, True]


# ---- the batch analysers' hook --------------------------------------------------------------------------


def test_analysers_run_in_the_upload_transaction_and_their_findings_are_kept(store: Store, gates: list[Gate]) -> None:
    _, b = gates
    seen: list[tuple[int, ...]] = []

    def analyser(s: object, batch: ingest.StoredBatch) -> list[Finding]:
        seen.append(tuple(r.seq for r in batch.rows))
        rows = tuple(RowRef(batch.device.id, r.seq) for r in batch.rows)
        return [Finding(Reason.ALREADY_INSIDE, Severity.HIGH, batch.device.event_id, "twice", rows, batch.device.id)]

    b.scan(3)
    rows = b.journal.rows(after=5)
    checkpoint = chain.sign_checkpoint(chain.Checkpoint(8, rows[-1].hash, MS), b.key)
    device = stored_devices.device(store, b.device_id)
    result = ingest.upload_journal(store, device, rows, checkpoint, NOW, analysers=[analyser])
    assert seen == [(6, 7, 8)] and [n.kind for n in result.alerts] == [Reason.ALREADY_INSIDE]
    with store.session() as s:
        assert s.scalars(select(Alert.rows).where(Alert.kind == "already_inside")).all() == [
            json.dumps([f"{b.device_id}#{q}" for q in (6, 7, 8)])
        ]


# ---- the command line -----------------------------------------------------------------------------------


def test_audit_verify_exits_0_when_intact_and_1_naming_each_fault(
    store: Store, gates: list[Gate], tmp_path: Path
) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the command reads the SQLite deployment beside its config file")
    a, _ = gates
    args = ("--config", tmp_path / "config.toml", "--now", NOW.isoformat(), "audit", "verify")
    intact = run_cli(CHECKIN, *args, cwd=tmp_path, env=clean_env())
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.splitlines() == [
        "intact: 2 gate(s), 17 rows, chains, seals, checkpoints and ledger verified (every event)"
    ]
    drop_guards(store)
    sql(store, "UPDATE scans SET zone = 'vip' WHERE device_id = :d AND seq = 9", d=a.device_id)
    broken = run_cli(CHECKIN, *args, "--event", EVENT, cwd=tmp_path, env=clean_env())
    assert broken.returncode == 1, broken.stderr
    first, last = broken.stdout.splitlines()
    assert first.startswith(f"critical: row_changed: gate Cổng A - sảnh chính ({a.device_id}): seq 9:")
    assert last == "1 integrity fault(s) in 1 of 2 gate(s) (event cds2022, 17 rows)"
    with store.session() as s:  # kept as an alert for the officers' pages
        assert s.scalars(select(Alert.kind)).all() == ["row_changed"]
    unknown = run_cli(CHECKIN, *args, "--event", "nope", cwd=tmp_path, env=clean_env())
    assert unknown.returncode == 1 and "not_found" in unknown.stderr


# ---- the hash the audit computes is the chain's --------------------------------------------------------

_text = st.text(max_size=30)


@given(
    st.integers(1, 2**63 - 1), st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1),
    _text, _text, _text, _text, _text, _text, _text, _text,
)  # fmt: skip
def test_row_hash_is_the_canonical_cbor_hash(
    seq: int, wall: int, mono: int, cti: str, kid: str, verdict: str, reason: str, d: str, z: str, o: str, sc: str
) -> None:
    row = chain.JournalRow(seq, wall, mono, cti, kid, verdict, reason, d, z, o, sc)
    expected = hashlib.sha256(bytes(32) + cose.canonical_dumps(row.content())).hexdigest()
    assert row.compute_hash() == expected


def test_alerts_kept_before_0011_get_their_own_fingerprint(store: Store) -> None:
    store.downgrade("0010")
    for seq in (1, 2):
        sql(
            store,
            "INSERT INTO alerts (event_id, device_id, kind, seq, detail, created, acknowledged_by) "
            "VALUES (:e, 'gate', 'gap', :q, 'old', :t, '')",
            e=EVENT, q=seq, t=NOW,
        )  # fmt: skip
    store.migrate()
    with store.session() as s:
        kept = s.execute(select(Alert.fingerprint, Alert.severity, Alert.rows).order_by(Alert.id)).all()
    assert [tuple(k) for k in kept] == [("legacy:1", "medium", "[]"), ("legacy:2", "medium", "[]")]
