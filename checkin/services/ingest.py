"""Journal upload: a gate's batch of rows, checked against what the service holds, then stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from checkin.core import chain
from checkin.core.chain import JournalRow
from checkin.services.crossgate import DEFAULT_POLICY, AuditPolicy
from checkin.services.crossgate_analysis import analyse_upload
from checkin.store import Device, Store, journal
from checkin.store.events import event
from checkin.store.journal import Ingested
from checkin.store.seals import check_seals


def upload_journal(
    store: Store,
    device: Device,
    rows: Sequence[JournalRow],
    checkpoint: bytes,
    now: datetime,
    policy: AuditPolicy = DEFAULT_POLICY,
) -> Ingested:
    """Store a batch of an enrolled gate's rows with the checkpoint it signed; JournalRefused (its
    alert kept, `acked_seq` saying where to resume) when the batch does not continue the chain or a
    row holds a value no gate writes (ROW_INVALID); a time out of range or an unknown reason is stored
    and flagged (`chain.row_findings` says which); then the rows' forward-secure seals are checked,
    and the credentials the batch names are audited across the event's gates (`policy`)."""
    zones = frozenset(event(store, device.event_id).zone_codes)
    now_ms = int(now.timestamp() * 1000)
    findings = [found for row in rows for found in chain.row_findings(row, zones, now_ms)]
    stored = journal.ingest_journal(store, device, rows, checkpoint, now, findings)
    sealed = replace(stored, alerts=stored.alerts + check_seals(store, device.id, now))
    analyse_upload(store, device.event_id, device.id, rows, now, policy)  # cross-gate audit, own transaction for now
    return sealed
