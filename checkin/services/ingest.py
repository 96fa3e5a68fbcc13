"""Journal upload: a gate's batch of rows, checked against what the service holds, then stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from checkin.core import chain
from checkin.core.chain import JournalRow
from checkin.store import Device, Store, counters, journal
from checkin.store.events import event
from checkin.store.journal import Ingested
from checkin.store.seals import check_seals


def upload_journal(
    store: Store, device: Device, rows: Sequence[JournalRow], checkpoint: bytes, now: datetime
) -> Ingested:
    """Store a batch of an enrolled gate's rows with the checkpoint it signed; JournalRefused (its
    alert kept, `acked_seq` saying where to resume) when the batch does not continue the chain or a
    row holds a value no gate writes (ROW_INVALID); a time out of range or an unknown reason is stored
    and flagged (`chain.row_findings` says which); then the dashboard's counters take the new rows and
    the rows' forward-secure seals are checked."""
    zones = frozenset(event(store, device.event_id).zone_codes)
    now_ms = int(now.timestamp() * 1000)
    findings = [found for row in rows for found in chain.row_findings(row, zones, now_ms)]
    stored = journal.ingest_journal(store, device, rows, checkpoint, now, findings)
    counters.count_new_rows(store, device.id)  # the dashboard's counters (inside now, per 15 minutes)
    return replace(stored, alerts=stored.alerts + check_seals(store, device.id, now))
