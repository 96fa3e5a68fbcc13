"""The officer's alerts as stored: one filtered page of them, and the one write an officer makes,
moving an alert's state forward (with a note) in the same transaction as its activity-log line.

States are the values of `services.findings.AlertState` (the store sits below the services, so they
are written here as text); `services.alertdesk` says which moves are allowed and why not.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from checkin.store.actions import record_action
from checkin.store.engine import Store
from checkin.store.models import Alert, Device

OPEN = "open"  # services.findings.AlertState.OPEN: journal.record_alert writes new alerts open


@dataclass(frozen=True)
class AlertQuery:
    """Which alerts to list: every field left empty matches everything."""

    event_id: str | None = None
    states: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    device_id: str = ""
    severities: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AlertRow:
    """An alert with the name of its gate ("" for an event-wide alert or a gate since removed)."""

    alert: Alert
    gate: str


@dataclass(frozen=True)
class AlertPage:
    """One page of alerts, newest first, and how many match in all."""

    rows: list[AlertRow]
    total: int


def _where(query: AlertQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.event_id is not None:
        conditions.append(Alert.event_id == query.event_id)
    if query.states:
        conditions.append(Alert.state.in_(sorted(query.states)))
    if query.kinds:
        conditions.append(Alert.kind.in_(sorted(query.kinds)))
    if query.severities:
        conditions.append(Alert.severity.in_(sorted(query.severities)))
    if query.device_id:
        conditions.append(Alert.device_id == query.device_id)
    return conditions


def _rows(s: Session, statement: Any) -> list[AlertRow]:
    return [AlertRow(alert, gate or "") for alert, gate in s.execute(statement)]


def alert_page(store: Store, query: AlertQuery, *, offset: int = 0, limit: int | None = 50) -> AlertPage:
    """The alerts `query` matches, newest first, one page of them (every one with `limit` None)."""
    conditions = _where(query)
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(Alert).where(*conditions)) or 0
        statement = (
            select(Alert, Device.name)
            .outerjoin(Device, Device.id == Alert.device_id)
            .where(*conditions)
            .order_by(Alert.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return AlertPage(_rows(s, statement), int(total))


def state_counts(store: Store, event_id: str) -> dict[str, int]:
    """How many of the event's alerts are in each state."""
    with store.session() as s:
        found = s.execute(
            select(Alert.state, func.count()).where(Alert.event_id == event_id).group_by(Alert.state)
        ).all()
    return {state: int(count) for state, count in found}


def alert(store: Store, alert_id: int) -> Alert | None:
    """One alert, or None."""
    with store.session() as s:
        return s.get(Alert, alert_id)


def move_state(
    store: Store,
    alert_id: int,
    *,
    allowed_from: Collection[str],
    to: str,
    note: str,
    actor: str,
    action: str,
    now: datetime,
) -> Alert | None:
    """Move an alert to `to` if it is in one of `allowed_from` now, with its note, and log the move in
    the activity log, in one transaction; None (nothing written) when the alert is elsewhere or absent.

    One conditional UPDATE: two officers acting at once cannot both move it. `acknowledged_by` keeps
    the first person who took the alert out of "open", as the journal's de-duplication reads it.
    """
    with store.writing() as s:
        result = s.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.state.in_(sorted(allowed_from)))
            .values(
                state=to,
                note=note,
                state_by=actor,
                state_at=now,
                acknowledged_by=func.coalesce(func.nullif(Alert.acknowledged_by, ""), actor),
            )
            .returning(Alert.event_id, Alert.kind, Alert.device_id)
            .execution_options(synchronize_session=False)
        ).first()
        if result is None:
            return None
        event_id, kind, device_id = result
        where = f"{event_id}/{device_id}" if device_id else event_id
        record_action(s, actor, action, f"alert {alert_id} ({kind}, {where})", note, now)
        moved = s.get(Alert, alert_id, populate_existing=True)
    return moved


def alerts_for_export(store: Store, query: AlertQuery) -> Sequence[AlertRow]:
    """Every alert `query` matches, oldest first (alerts are few: hundreds, not millions)."""
    conditions = _where(query)
    with store.session() as s:
        return _rows(
            s,
            select(Alert, Device.name)
            .outerjoin(Device, Device.id == Alert.device_id)
            .where(*conditions)
            .order_by(Alert.id),
        )
