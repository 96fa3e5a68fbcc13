"""What the pages and exports read across subjects: counts per event, recent entries, badges, alerts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from checkin.core.chain import plausible_wall_ms
from checkin.store.engine import Store
from checkin.store.models import Alert, CheckpointRecord, CredentialStatus, Device, Guest, IssuedCredential, Scan


@dataclass(frozen=True)
class BadgeRow:
    """What a badge needs: the code and the guest it names."""

    text: str
    name: str
    organisation: str
    category: str
    zones: tuple[str, ...]
    cti: str = ""


def active_badges(store: Store, event_id: str) -> list[BadgeRow]:
    """The event's active credentials with their guests, in guest order, for the badge sheet."""
    with store.session() as s:
        rows = s.execute(
            select(
                IssuedCredential.text,
                IssuedCredential.name,
                Guest.organisation,
                Guest.category,
                Guest.zones,
                IssuedCredential.cti,
            )
            .outerjoin(Guest, Guest.id == IssuedCredential.guest_id)
            .where(IssuedCredential.event_id == event_id, IssuedCredential.status == CredentialStatus.ACTIVE)
            .order_by(Guest.id, IssuedCredential.issued_at)
        ).all()
    return [
        BadgeRow(text, name, org or "", category or "", tuple(z for z in (zones or "").split(",") if z), cti)
        for text, name, org, category, zones, cti in rows
    ]


@dataclass(frozen=True)
class EventCounts:
    """How many guests an event has, and how many codes are active or revoked."""

    guests: int = 0
    active: int = 0
    revoked: int = 0


def event_counts(store: Store) -> dict[str, EventCounts]:
    """Counts for every event, by event id."""
    with store.session() as s:
        guests: dict[str, int] = {
            e: n for e, n in s.execute(select(Guest.event_id, func.count()).group_by(Guest.event_id))
        }
        creds = s.execute(
            select(IssuedCredential.event_id, IssuedCredential.status, func.count()).group_by(
                IssuedCredential.event_id, IssuedCredential.status
            )
        ).all()
    by_status: dict[str, dict[str, int]] = {}
    for event_id, status, count in creds:
        by_status.setdefault(event_id, {})[status] = count
    return {
        e: EventCounts(
            guests.get(e, 0),
            by_status.get(e, {}).get(CredentialStatus.ACTIVE, 0),
            by_status.get(e, {}).get(CredentialStatus.REVOKED, 0),
        )
        for e in set(guests) | set(by_status)
    }


@dataclass(frozen=True)
class EntryView:
    """A scan a gate uploaded, with the gate's and the guest's names, for the event page. `at` is
    None when the row's time is not a plausible clock's (the page shows `wall_ms` as it is)."""

    at: datetime | None
    wall_ms: int
    gate: str
    name: str
    cti: str
    direction: str
    verdict: str
    reason: str


def recent_entries(store: Store, event_id: str, limit: int = 50) -> tuple[list[EntryView], int]:
    """The event's newest uploaded scans (newest first) and how many there are in all."""
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(Scan).where(Scan.event_id == event_id)) or 0
        rows = s.execute(
            select(Scan, Device.name, IssuedCredential.name)
            .join(Device, Device.id == Scan.device_id)
            .outerjoin(IssuedCredential, IssuedCredential.cti == Scan.cti)
            .where(Scan.event_id == event_id)
            .order_by(Scan.wall_ms.desc(), Scan.id.desc())
            .limit(limit)
        ).all()
    return [
        EntryView(
            at=scan_moment(scan.wall_ms, scan.received_at),
            wall_ms=scan.wall_ms,
            gate=gate,
            name=name or "",
            cti=scan.cti,
            direction=scan.direction,
            verdict=scan.verdict,
            reason=scan.reason,
        )
        for scan, gate, name in rows
    ], total


def scan_moment(wall_ms: int, received_at: datetime) -> datetime | None:
    """A stored row's time, or None when a gate's clock (or a hand in the database) put it out of range."""
    if not plausible_wall_ms(wall_ms, int(received_at.timestamp() * 1000)):
        return None
    return datetime.fromtimestamp(wall_ms / 1000, UTC)


def scan_count(store: Store, event_id: str | None = None) -> int:
    """How many journal rows are held (for one event, if given)."""
    query = select(func.count()).select_from(Scan)
    if event_id is not None:
        query = query.where(Scan.event_id == event_id)
    with store.session() as s:
        return int(s.scalar(query) or 0)


def alerts(store: Store, *, event_id: str | None = None, device_id: str | None = None) -> Sequence[Alert]:
    """Alerts, oldest first, optionally for one event or one device."""
    query = select(Alert).order_by(Alert.id)
    if event_id is not None:
        query = query.where(Alert.event_id == event_id)
    if device_id is not None:
        query = query.where(Alert.device_id == device_id)
    with store.session() as s:
        return s.scalars(query).all()


@dataclass(frozen=True)
class InviteeRow:
    """A guest as an invitation e-mail needs them: address, zones and their active code, if any."""

    guest_id: int
    name: str
    email: str
    zones: tuple[str, ...]
    cti: str | None
    text: str | None


def invitees(store: Store, event_id: str) -> list[InviteeRow]:
    """Every guest of the event in guest order, each with their active code (None without one)."""
    active = (
        select(IssuedCredential.guest_id, IssuedCredential.cti, IssuedCredential.text)
        .where(IssuedCredential.event_id == event_id, IssuedCredential.status == CredentialStatus.ACTIVE)
        .subquery()
    )
    with store.session() as s:
        rows = s.execute(
            select(Guest.id, Guest.name, Guest.email, Guest.zones, active.c.cti, active.c.text)
            .outerjoin(active, active.c.guest_id == Guest.id)
            .where(Guest.event_id == event_id)
            .order_by(Guest.id)
        ).all()
    seen: set[int] = set()
    found = []
    for gid, name, email, zones, cti, text in rows:
        if gid in seen:  # two active codes cannot happen (re-issue revokes first); one mail each anyway
            continue
        seen.add(gid)
        found.append(InviteeRow(gid, name, email or "", tuple(z for z in (zones or "").split(",") if z), cti, text))
    return found


# ---- open alerts, as the officer's pages count them ---------------------------------------------------
# The one place that says which alerts are open (their state) and how they are grouped (severity).


def _open_alerts() -> Any:
    return Alert.state == "open"


def _alert_group() -> Any:
    return Alert.severity


def open_alert_counts(store: Store, event_id: str) -> dict[str, int]:
    """How many alerts of the event are open, by severity."""
    group = _alert_group()
    query = select(group, func.count()).where(Alert.event_id == event_id, _open_alerts()).group_by(group)
    with store.session() as s:
        return {str(key): int(count) for key, count in s.execute(query)}


def open_alerts(store: Store, device_id: str, limit: int = 100) -> Sequence[Alert]:
    """A gate's open alerts, newest first."""
    query = select(Alert).where(Alert.device_id == device_id, _open_alerts()).order_by(Alert.id.desc()).limit(limit)
    with store.session() as s:
        return s.scalars(query).all()


def open_alert_count_by_device(store: Store, event_id: str) -> dict[str, int]:
    """How many alerts of the event are open, by gate."""
    query = (
        select(Alert.device_id, func.count())
        .where(Alert.event_id == event_id, Alert.device_id.is_not(None), _open_alerts())
        .group_by(Alert.device_id)
    )
    with store.session() as s:
        return {str(device): int(count) for device, count in s.execute(query)}


def newest_checkpoint(store: Store, device_id: str) -> CheckpointRecord | None:
    """The checkpoint a gate signed most recently, as received."""
    query = select(CheckpointRecord).where(CheckpointRecord.device_id == device_id)
    with store.session() as s:
        return s.scalars(query.order_by(CheckpointRecord.id.desc()).limit(1)).first()
