"""The officer's alert desk: list alerts, acknowledge them, resolve them with a note.

States move forward only: open → acknowledged → resolved, or open → resolved. There is no way back:
a resolved alert stays resolved with the note that closed it, and a problem found again is a new
alert. Each move and its note is a line of the activity log, written in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from checkin.core.credential import has_control, tidy_text
from checkin.core.errors import InputError, Reason
from checkin.services.findings import SEVERITY_ORDER, AlertState, Severity
from checkin.store import alerts_view
from checkin.store.alerts_view import AlertPage, AlertQuery
from checkin.store.engine import Store
from checkin.store.models import Alert

NOTE_LIMIT = 1000


@dataclass(frozen=True)
class AlertFilter:
    """What an officer filters the alert list by; empty fields match everything."""

    event_id: str | None = None
    states: frozenset[AlertState] = frozenset()
    kinds: frozenset[str] = frozenset()
    severities: frozenset[Severity] = frozenset()
    device_id: str = ""

    def query(self) -> AlertQuery:
        """The store's query."""
        states = frozenset(s.value for s in self.states)
        severities = frozenset(s.value for s in self.severities)
        return AlertQuery(self.event_id, states, self.kinds, self.device_id, severities)


def alert_page(store: Store, wanted: AlertFilter, *, offset: int = 0, limit: int | None = 50) -> AlertPage:
    """One page of the alerts the filter matches, newest first."""
    return alerts_view.alert_page(store, wanted.query(), offset=offset, limit=limit)


def all_alerts(store: Store, wanted: AlertFilter) -> list[alerts_view.AlertRow]:
    """Every alert the filter matches, oldest first, for exports."""
    return list(alerts_view.alerts_for_export(store, wanted.query()))


def alert(store: Store, alert_id: int) -> Alert | None:
    """One alert, or None."""
    return alerts_view.alert(store, alert_id)


def open_counts(store: Store, event_id: str) -> dict[Severity, int]:
    """The event's open alerts by severity, most urgent first."""
    page = alert_page(store, AlertFilter(event_id, states=frozenset({AlertState.OPEN})), limit=None)
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for row in page.rows:
        known = row.alert.severity in Severity._value2member_map_  # unknown (a newer service's): high
        counts[Severity(row.alert.severity) if known else Severity.HIGH] += 1
    return counts


def clean_note(note: str, *, required: bool) -> str:
    """An officer's note, tidied (NFC, no control characters, trimmed); refused empty when required."""
    text = "\n".join(line.rstrip() for line in tidy_text(note).splitlines())  # lines kept, as typed
    if required and not text:
        raise InputError("", Reason.FIELD_REQUIRED)
    if len(text) > NOTE_LIMIT:
        raise InputError("", Reason.FIELD_TOO_LONG, limit=NOTE_LIMIT)
    if any(has_control(line) for line in text.splitlines()):
        raise InputError("", Reason.CONTROL_CHARACTERS)
    return text


def _move(
    store: Store, alert_id: int, to: AlertState, allowed: frozenset[AlertState], note: str, actor: str, now: datetime
) -> Alert:
    moved = alerts_view.move_state(
        store,
        alert_id,
        allowed_from={state.value for state in allowed},
        to=to.value,
        note=note,
        actor=actor,
        action="alert.acknowledge" if to is AlertState.ACKNOWLEDGED else "alert.resolve",
        now=now,
    )
    if moved is not None:
        return moved
    if alerts_view.alert(store, alert_id) is None:
        raise InputError(f"no alert {alert_id}", Reason.NOT_FOUND)
    raise InputError(f"alert {alert_id}", Reason.ALERT_STATE_CONFLICT)


def acknowledge(store: Store, alert_id: int, note: str, actor: str, now: datetime) -> Alert:
    """An officer has seen an open alert and is on it (the note may say how; it may be empty)."""
    text = clean_note(note, required=False)
    return _move(store, alert_id, AlertState.ACKNOWLEDGED, frozenset({AlertState.OPEN}), text, actor, now)


def resolve(store: Store, alert_id: int, note: str, actor: str, now: datetime) -> Alert:
    """Close an open or acknowledged alert; the note saying what was found and done is required."""
    text = clean_note(note, required=True)
    allowed = frozenset({AlertState.OPEN, AlertState.ACKNOWLEDGED})
    return _move(store, alert_id, AlertState.RESOLVED, allowed, text, actor, now)
