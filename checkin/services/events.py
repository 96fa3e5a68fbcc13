"""Events: creating one, logged in the admin action log."""

from __future__ import annotations

from datetime import datetime

from checkin.store import Event, Store
from checkin.store import events as stored
from checkin.store.events import NewEvent


def create_event(store: Store, new: NewEvent, now: datetime, *, actor: str | None = None) -> Event:
    """Create an event with its zones (ALREADY_EXISTS for a taken id), logged as `actor`'s when given."""
    return stored.create_event(store, new, now, actor=actor)
