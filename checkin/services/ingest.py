"""Journal upload: a gate's batch of rows, checked against what the service holds, then stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from checkin.core.chain import JournalRow
from checkin.store import Device, Store, journal
from checkin.store.journal import Ingested
from checkin.store.seals import check_seals


def upload_journal(
    store: Store, device: Device, rows: Sequence[JournalRow], checkpoint: bytes, now: datetime
) -> Ingested:
    """Store a batch of an enrolled gate's rows with the checkpoint it signed; JournalRefused (its
    alert kept, `acked_seq` saying where to resume) when the batch does not continue the chain."""
    stored = journal.ingest_journal(store, device, rows, checkpoint, now)
    return replace(stored, alerts=stored.alerts + check_seals(store, device.id, now))  # forward-secure seals
