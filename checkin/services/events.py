"""Events: creating one (logged in the admin action log) and reading them."""

from __future__ import annotations

from datetime import datetime

from checkin.store import Event, Store
from checkin.store import events as stored
from checkin.store.events import NewEvent


def create_event(store: Store, new: NewEvent, now: datetime, *, actor: str | None = None) -> Event:
    """Create an event with its zones (ALREADY_EXISTS for a taken id), logged as `actor`'s when given."""
    return stored.create_event(store, new, now, actor=actor)


def find_event(store: Store, event_id: str) -> Event | None:
    """One event with its zones, or None."""
    with store.session() as s:
        return stored.find_event(s, event_id)
