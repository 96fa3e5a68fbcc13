"""Alerts: what the audit found (services.findings.Finding), kept once per fingerprint.

The table is append-only for what an alert says (migration 0011): only an officer's columns change.
This module reads findings through a protocol, so the store stays below the services.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from checkin.core.errors import Reason
from checkin.store.models import Alert


class RowLike(Protocol):
    """A journal row named by its gate and seq (services.findings.RowRef)."""

    @property
    def device_id(self) -> str: ...
    @property
    def seq(self) -> int: ...


class FindingLike(Protocol):
    """What an alert keeps of a finding (services.findings.Finding)."""

    @property
    def kind(self) -> Reason: ...
    @property
    def severity(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def rows(self) -> Sequence[RowLike]: ...
    @property
    def device_id(self) -> str | None: ...
    @property
    def fingerprint(self) -> str: ...


def record_finding(s: Session, finding: FindingLike, now: datetime) -> bool:
    """Keep a finding as an alert in the caller's transaction, once per fingerprint; True if new.

    INSERT ... ON CONFLICT DO NOTHING: two transactions finding the same thing at once keep one."""
    rows = sorted((r.device_id, r.seq) for r in finding.rows)
    first = finding.rows[0] if finding.rows else None  # the row the finding names first: its gate and seq
    values = {
        "event_id": finding.event_id,
        "device_id": finding.device_id or (first.device_id if first else None),
        "kind": finding.kind.value,
        "seq": first.seq if first else None,
        "detail": finding.detail,
        "created": now,
        "acknowledged_by": "",
        "severity": str(finding.severity),
        "rows": json.dumps([f"{device}#{seq}" for device, seq in rows]),
        "fingerprint": finding.fingerprint,
    }
    dialect = s.get_bind().dialect.name
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(Alert).values(values).on_conflict_do_nothing(index_elements=["fingerprint"])
    elif dialect == "sqlite":
        statement = sqlite.insert(Alert).values(values).on_conflict_do_nothing(index_elements=["fingerprint"])
    else:  # pragma: no cover - the service runs on SQLite and PostgreSQL only
        if s.scalar(select(Alert.id).where(Alert.fingerprint == finding.fingerprint)) is not None:
            return False
        statement = Alert.table().insert().values(values)
    return s.execute(statement.returning(Alert.id)).first() is not None


def open_alert(s: Session, device_id: str, kind: Reason) -> bool:
    """True when the gate has an alert of this kind that no officer has dealt with yet."""
    query = select(Alert.id).where(Alert.device_id == device_id, Alert.kind == kind.value, Alert.acknowledged_by == "")
    return s.execute(query.limit(1)).first() is not None
