"""Journal upload: a gate's batch of rows, checked against what the service holds, then stored.

Everything an upload does happens in one write transaction, under the gate's lock: the rows, their
checkpoint, the check of their forward-secure seals, the batch's ledger entry (store.ledger), the
per-batch analysers (`ANALYSERS`: cross-gate analysis runs there, on the rows just stored) and the
alerts all of these raised. Either all of it is kept or none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from checkin.core import chain
from checkin.core.chain import JournalRow
from checkin.core.errors import Reason
from checkin.services.audit import SEVERITY
from checkin.services.crossgate import DEFAULT_POLICY, AuditPolicy, ScanRow
from checkin.services.crossgate_analysis import find_batch
from checkin.services.findings import Finding, RowRef, Severity
from checkin.store import Device, Store, alerts, counters, journal, ledger
from checkin.store.events import zone_codes
from checkin.store.journal import AlertNote, Ingested, JournalRefused
from checkin.store.seals import check_seals


@dataclass(frozen=True)
class StoredBatch:
    """Rows of one gate just stored (in seq order), for the analysers: `device` is locked."""

    device: Device
    rows: Sequence[JournalRow]
    received_at: datetime
    policy: AuditPolicy = DEFAULT_POLICY


# A per-batch analysis run in the upload's transaction; the findings it returns become alerts.
BatchAnalyser = Callable[[Session, StoredBatch], Iterable[Finding]]


def cross_gate(s: Session, batch: StoredBatch) -> list[Finding]:
    """The cross-gate audit of the credentials the batch names, across the event's gates
    (services.crossgate): double entries, entry limits, revoked codes admitted, repeated tries."""
    scans = [ScanRow.of(batch.device.id, row) for row in batch.rows]
    return find_batch(s, batch.device.event_id, scans, batch.policy)


ANALYSERS: list[BatchAnalyser] = [cross_gate]


def upload_journal(
    store: Store,
    device: Device,
    rows: Sequence[JournalRow],
    checkpoint: bytes,
    now: datetime,
    *,
    policy: AuditPolicy = DEFAULT_POLICY,
    analysers: Sequence[BatchAnalyser] | None = None,
) -> Ingested:
    """Store a batch of an enrolled gate's rows with the checkpoint it signed; JournalRefused (its
    alert kept, `acked_seq` saying where to resume) when the batch does not continue the chain or a
    row holds a value no gate writes (ROW_INVALID); a time out of range or an unknown reason is stored
    and flagged (`chain.row_findings` says which). The rows' seals are checked, the batch's ledger
    entry written and `analysers` (default: `ANALYSERS`) run, in the same transaction."""
    zones = zone_codes(store, device.event_id)
    now_ms = int(now.timestamp() * 1000)
    findings = [found for row in rows for found in chain.row_findings(row, zones, now_ms)]
    # the chain and the checkpoint are verified before the write transaction starts, so gates
    # uploading at once spend their CPU in parallel and hold the write lock only to store
    batch = journal.check_batch(rows, checkpoint, device.public_key, findings)
    key = ledger.ledger_key(store)
    with store.writing() as s:
        outcome = journal.ingest(s, device.id, batch, now)
        if isinstance(outcome, JournalRefused):
            if outcome.reason is not Reason.DEVICE_REVOKED:
                _keep(s, device, AlertNote(outcome.reason, outcome.seq, outcome.detail), now)
        else:
            chosen = ANALYSERS if analysers is None else analysers
            outcome = _after_store(s, key, device.id, outcome, now, chosen, policy)
    if isinstance(outcome, JournalRefused):
        raise outcome
    return outcome


def _after_store(
    s: Session,
    key: bytes,
    device_id: str,
    stored: Ingested,
    now: datetime,
    analysers: Sequence[BatchAnalyser],
    policy: AuditPolicy,
) -> Ingested:
    """Seals, ledger, the dashboard's counters, analysers and alerts for the rows just stored (the
    device is locked)."""
    device = s.get(Device, device_id)  # the locked row journal.ingest loaded
    assert device is not None
    notes = list(stored.alerts)
    new = stored.new_rows
    if new:
        notes.extend(check_seals(s, device, new))
        ledger.append(s, key, device.id, device.event_id, new, now)
    for note in notes:  # the answer names each, even one kept already (a retried batch)
        _keep(s, device, note, now)
    if new and analysers:
        batch = StoredBatch(device, new, now, policy)
        for analyse in analysers:
            for finding in analyse(s, batch):
                alerts.record_finding(s, finding, now)
                notes.append(AlertNote(finding.kind, finding.rows[0].seq if finding.rows else None, finding.detail))
    if new:
        # the dashboard's counters (inside now, per 15 minutes), from the rows in hand; last, as
        # they take the event's lock (PostgreSQL), which the event's other gates wait for until commit
        counters.count_new_in(s.connection(), device.id, new, device.event_id)
    return replace(stored, alerts=tuple(notes))


def _keep(s: Session, device: Device, note: AlertNote, now: datetime) -> bool:
    """Keep what an upload found as an alert; False when it was kept already (a retried batch) or,
    for clock skew, while the gate's last skew alert is still open (one per gate, not per batch)."""
    if note.kind is Reason.CLOCK_SKEW and alerts.open_alert(s, device.id, note.kind):
        return False
    rows = (RowRef(device.id, note.seq),) if note.seq is not None else ()
    finding = Finding(
        note.kind, SEVERITY.get(note.kind, Severity.MEDIUM), device.event_id, note.detail, rows, device.id
    )
    return alerts.record_finding(s, finding, now)
