"""What an event report reads from the store, in one read transaction so its numbers agree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

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
    and who is inside each zone now: a credential is inside the zone of its latest admission (by the
    gate's time) when that admission was an entry."""

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
    """Presence counted by the database: a window over each credential's admissions finds its latest."""
    admitted = (Scan.event_id == event_id, Scan.verdict == "admit", Scan.cti != "")
    entries = (*admitted, Scan.direction == "in")
    entered = select(Scan.zone, func.count(distinct(Scan.cti))).where(*entries).group_by(Scan.zone)
    people = select(func.count(distinct(Scan.cti))).where(*entries)
    latest = func.row_number().over(partition_by=Scan.cti, order_by=(Scan.wall_ms.desc(), Scan.id.desc()))
    ranked = select(Scan.zone, Scan.direction, latest.label("n")).where(*admitted).subquery()
    inside = (
        select(ranked.c.zone, func.count()).where(ranked.c.n == 1, ranked.c.direction == "in").group_by(ranked.c.zone)
    )
    return Presence(
        {zone: count for zone, count in s.execute(entered)},
        s.scalar(people) or 0,
        {zone: count for zone, count in s.execute(inside)},
    )
