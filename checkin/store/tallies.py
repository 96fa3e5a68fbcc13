"""What an event report reads from the store, in one read transaction so its numbers agree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkin.store import counters
from checkin.store.engine import Store
from checkin.store.events import event_in
from checkin.store.models import Alert, CheckpointRecord, Device, Event, Guest, IssuedCredential, Scan


@dataclass(frozen=True)
class Tally:
    """How many journal rows of one gate, in one time slot (`slot` = wall_ms // slot_ms), had this
    verdict and direction."""

    device_id: str
    slot: int
    verdict: str
    direction: str
    count: int


@dataclass(frozen=True)
class Presence:
    """Who entered each zone so far, how many people entered at all (once each, whatever the zones),
    and who is inside each zone now: a credential is inside where its latest admitted movement took
    it (store.counters)."""

    entered: dict[str, int]
    people: int
    inside: dict[str, int]


@dataclass(frozen=True)
class EventRecords:
    """The rows of one event a report is made of."""

    event: Event
    guests: int
    codes: dict[str, int]  # credentials by status
    tallies: list[Tally]
    presence: Presence
    devices: Sequence[Device]
    checkpoints: dict[str, int]  # checkpoints held, by device id
    alerts: Sequence[Alert]


def event_records(store: Store, event_id: str, slot_ms: int) -> EventRecords:
    """Read everything a report of `event_id` shows; scans are counted by the database (per gate and
    slot, and who is where), never read row by row."""
    with store.session() as s:
        event = event_in(s, event_id)
        guests = s.scalar(select(func.count()).select_from(Guest).where(Guest.event_id == event_id)) or 0
        codes = {
            status: count
            for status, count in s.execute(
                select(IssuedCredential.status, func.count())
                .where(IssuedCredential.event_id == event_id)
                .group_by(IssuedCredential.status)
            )
        }
        slot = (Scan.wall_ms // slot_ms).label("slot")
        tallies = [
            Tally(device_id, int(slot_value), verdict, direction, count)
            for device_id, slot_value, verdict, direction, count in s.execute(
                select(Scan.device_id, slot, Scan.verdict, Scan.direction, func.count())
                .where(Scan.event_id == event_id)
                .group_by(Scan.device_id, slot, Scan.verdict, Scan.direction)
            )
        ]
        presence = _presence(s, event_id)
        devices = s.scalars(
            select(Device).where(Device.event_id == event_id).order_by(Device.created, Device.name, Device.id)
        ).all()
        checkpoints = {
            device_id: count
            for device_id, count in s.execute(
                select(CheckpointRecord.device_id, func.count())
                .join(Device, Device.id == CheckpointRecord.device_id)
                .where(Device.event_id == event_id)
                .group_by(CheckpointRecord.device_id)
            )
        }
        alerts = s.scalars(select(Alert).where(Alert.event_id == event_id).order_by(Alert.created, Alert.id)).all()
    return EventRecords(event, guests, codes, tallies, presence, devices, checkpoints, alerts)


def _presence(s: Session, event_id: str) -> Presence:
    """Presence as the dashboard's counters keep it (store.counters: one definition for both)."""
    counts = counters.presence_counts_in(s.connection(), event_id)
    total = counts.pop(counters.TOTAL)
    return Presence(
        {zone: c.entered for zone, c in counts.items() if c.entered},
        total.entered,
        {zone: c.inside for zone, c in counts.items() if c.inside},
    )
