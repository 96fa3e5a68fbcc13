"""Which bundle version each gate was handed, and when: kept the first time a gate gets a version
(enrolment, or the bundle API), so the audit can say which revocations a gate could know."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin.store.engine import Store
from checkin.store.models import BundlePull, Device, Event


def record_pull(store: Store, device: Device, version: int, signed_at: datetime, now: datetime) -> bool:
    """Keep that `device` was handed bundle `version` (signed at `signed_at`) at `now`; False when it
    was handed that version before (a gate polling the version it holds writes nothing)."""
    held = select(BundlePull.id).where(BundlePull.device_id == device.id, BundlePull.version == version)
    with store.session() as s:
        if s.execute(held.limit(1)).first() is not None:
            return False
    try:
        with store.writing() as s:
            if s.execute(held.limit(1)).first() is not None:
                return False
            s.execute(
                insert(BundlePull).values(
                    event_id=device.event_id, device_id=device.id, version=version, signed_at=signed_at, pulled_at=now
                )
            )
    except IntegrityError:  # the same gate's concurrent request recorded it first (PostgreSQL)
        return False
    return True


def event_pulls(s: Session, event_id: str) -> Sequence[Row[str, int, datetime, datetime]]:
    """Every pull of the event's gates: (device id, version, signed at, pulled at)."""
    return s.execute(
        select(BundlePull.device_id, BundlePull.version, BundlePull.signed_at, BundlePull.pulled_at).where(
            BundlePull.event_id == event_id
        )
    ).all()


def current_bundle(s: Session, event_id: str) -> tuple[int, datetime | None]:
    """The event's current bundle version and when it was signed (None: never signed)."""
    found = s.execute(select(Event.bundle_version, Event.bundle_issued_at).where(Event.id == event_id)).first()
    return (0, None) if found is None else (int(found[0]), found[1])
