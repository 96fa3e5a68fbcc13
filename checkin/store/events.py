"""Events and their zones, and the bundle version each event's content has reached."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from checkin.core.errors import InputError, Reason
from checkin.core.trust import LABEL_LIMIT, Label
from checkin.store.actions import record_action
from checkin.store.engine import Store
from checkin.store.models import Category, CredentialStatus, Device, Event, Guest, IssuedCredential, Zone

EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
RESERVED_EVENT_IDS = ("new",)  # /admin/events/new is the form for a new event
# A plausible event, and its tickets' window around it, stay far from the calendar's edges.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class NewEvent:
    """What it takes to create an event."""

    id: str
    name: str
    start: datetime
    end: datetime
    timezone: str
    zones: tuple[str, ...]
    venue: str = ""
    zone_names: Mapping[str, Label] = field(default_factory=dict)
    category_names: Mapping[str, Label] = field(default_factory=dict)


@dataclass(frozen=True)
class BundleInputs:
    """What a trust bundle is built from, read in one transaction."""

    event: Event
    revoked: frozenset[bytes]
    names: dict[bytes, str]


def _check(new: NewEvent) -> None:
    if not EVENT_ID.fullmatch(new.id) or new.id in RESERVED_EVENT_IDS:
        raise InputError(f"event id {new.id!r}: 1 to 64 letters, digits, '-' or '_', and not {RESERVED_EVENT_IDS}")
    if not (new.start >= EARLIEST_EVENT and new.end <= LATEST_EVENT):
        raise InputError(f"an event takes place between {EARLIEST_EVENT.year} and {LATEST_EVENT.year - 1}")
    if new.end <= new.start:
        raise InputError("the event must end after it starts")
    if not new.zones:
        raise InputError("an event needs at least one zone")
    if set(new.zone_names) - set(new.zones):
        raise InputError(
            f"names given for zones the event does not have: {sorted(set(new.zone_names) - set(new.zones))}"
        )
    for label in (*new.zone_names.values(), *new.category_names.values()):
        if len(label.vi) > LABEL_LIMIT or len(label.en) > LABEL_LIMIT:
            raise InputError(f"a display name has at most {LABEL_LIMIT} characters")


def _set_labels(row: Event, new: NewEvent) -> None:
    """Zones in the new order with their names (kept rows keep their ids), and the categories' names."""
    by_code = {z.code: z for z in row.zones}
    zones = []
    for i, code in enumerate(new.zones):
        zone = by_code.get(code) or Zone(code=code)
        label = new.zone_names.get(code, Label())
        zone.position, zone.name_vi, zone.name_en = i, label.vi, label.en
        zones.append(zone)
    row.zones = zones
    kept = {c.code: c for c in row.categories}  # kept rows keep their ids: no unique clash on flush
    categories = []
    for i, (code, label) in enumerate(new.category_names.items()):
        category = kept.get(code) or Category(code=code)
        category.position, category.name_vi, category.name_en = i, label.vi, label.en
        categories.append(category)
    row.categories = categories


def create_event(store: Store, new: NewEvent, now: datetime, *, actor: str | None = None) -> Event:
    """Create an event with its zones (logged as `actor`'s action when given); refuse a duplicate id."""
    _check(new)
    try:
        with store.writing() as s:
            row = Event(
                id=new.id,
                name=new.name,
                venue=new.venue,
                timezone=new.timezone,
                start=new.start,
                end=new.end,
                created=now,
            )
            _set_labels(row, new)
            s.add(row)
            s.flush()
            if actor is not None:
                record_action(s, actor, "event.create", new.id, f"{new.name}; zones {', '.join(new.zones)}", now)
    except IntegrityError:
        raise InputError(f"event {new.id!r} already exists", Reason.ALREADY_EXISTS) from None
    return event(store, new.id)


def update_event(store: Store, changed: NewEvent, now: datetime, *, actor: str | None = None) -> Event:
    """Change an event's name, venue, times, zones and display names (its id stays); a zone still
    given to a guest or a gate cannot be removed (ZONE_IN_USE). The next bundle carries the change."""
    _check(changed)
    with store.writing() as s:
        row = s.get(Event, changed.id, with_for_update=True)
        if row is None:
            raise InputError(f"no event {changed.id!r}", Reason.NOT_FOUND)
        before = _facts(row)
        for code in (z for z in row.zone_codes if z not in changed.zones):  # in order: one message
            if _zone_in_use(s, row.id, code):
                raise InputError(f"zone {code!r} is in use", Reason.ZONE_IN_USE, zone=code)
        row.name, row.venue, row.timezone = changed.name, changed.venue, changed.timezone
        row.start, row.end = changed.start, changed.end
        _set_labels(row, changed)
        s.flush()
        after = _facts(row)
        fields = [key for key in before if before[key] != after[key]]
        if actor is not None and fields:
            record_action(s, actor, "event.update", row.id, ", ".join(fields), now)
    return event(store, changed.id)


def _facts(row: Event) -> dict[str, object]:
    """What an event edit can change, by the name the action log gives it."""
    return {
        "name": row.name,
        "venue": row.venue,
        "start": row.start,
        "end": row.end,
        "timezone": row.timezone,
        "zones": (row.zone_codes, row.zone_names, row.category_names),
    }


def _zone_in_use(s: Session, event_id: str, code: str) -> bool:
    guests = s.scalars(select(Guest.zones).where(Guest.event_id == event_id, Guest.zones.contains(code))).all()
    if any(code in z.split(",") for z in guests):
        return True
    return s.scalar(select(Device.id).where(Device.event_id == event_id, Device.zone == code).limit(1)) is not None


def event(store: Store, event_id: str) -> Event:
    """One event with its zones."""
    with store.session() as s:
        return event_in(s, event_id)


def zone_codes(store: Store, event_id: str) -> frozenset[str]:
    """The event's zone codes (one small query: an upload checks every row's zone against them)."""
    with store.session() as s:
        return frozenset(s.scalars(select(Zone.code).where(Zone.event_id == event_id)))


def events(store: Store) -> Sequence[Event]:
    """Every event, newest first."""
    with store.session() as s:
        return s.scalars(select(Event).options(selectinload(Event.zones)).order_by(Event.start.desc())).all()


def find_event(s: Session, event_id: str) -> Event | None:
    """One event with its zones and categories, in one query, or None."""
    query = select(Event).where(Event.id == event_id).options(joinedload(Event.zones), joinedload(Event.categories))
    return s.scalars(query).unique().first()


def event_in(s: Session, event_id: str) -> Event:
    """One event with its zones, in the caller's transaction; NOT_FOUND when there is none."""
    row = find_event(s, event_id)
    if row is None:
        raise InputError(f"no event {event_id!r}; create it with `checkin event create`", Reason.NOT_FOUND)
    return row


# ---- what bundles are built from ------------------------------------------------------------------


def revoked_ids(store: Store, event_id: str) -> frozenset[bytes]:
    """The ids of the event's revoked credentials."""
    with store.session() as s:
        return _revoked(s, event_id)


def credential_names(store: Store, event_id: str) -> dict[bytes, str]:
    """Display names by credential id, for bundles whose policy includes them."""
    with store.session() as s:
        return _names(s, event_id)


def bundle_inputs(store: Store, event_id: str, *, names: bool) -> BundleInputs:
    """The event, its revoked ids and (when asked) display names, in one read transaction."""
    with store.session() as s:
        ev = event_in(s, event_id)
        return BundleInputs(ev, _revoked(s, event_id), _names(s, event_id) if names else {})


def bundle_version(
    store: Store, event_id: str, content: bytes, now: datetime, renew_after: timedelta | None = None
) -> tuple[int, datetime]:
    """The bundle version for this content and when that version was signed.

    The version grows by one when the content changed, or, with `renew_after`, when the
    current version was signed longer ago than that (or in the future of `now`): a renewed
    expiry is new bytes, and one version must always mean one byte string.
    """
    digest = hashlib.sha256(content).hexdigest()
    with store.session() as s:
        current = s.execute(
            select(Event.bundle_version, Event.bundle_digest, Event.bundle_issued_at).where(Event.id == event_id)
        ).first()
    if current is None:
        raise InputError(f"no event {event_id!r}", Reason.NOT_FOUND)
    if not _bundle_outdated(current.bundle_digest, current.bundle_issued_at, digest, now, renew_after):
        assert current.bundle_issued_at is not None
        return current.bundle_version, current.bundle_issued_at
    with store.writing() as s:
        row = s.get(Event, event_id, with_for_update=True)
        if row is None:
            raise InputError(f"no event {event_id!r}", Reason.NOT_FOUND)
        if _bundle_outdated(row.bundle_digest, row.bundle_issued_at, digest, now, renew_after):
            row.bundle_version += 1
            row.bundle_digest = digest
            row.bundle_issued_at = now
        assert row.bundle_issued_at is not None
        return row.bundle_version, row.bundle_issued_at


def _revoked(s: Session, event_id: str) -> frozenset[bytes]:
    ids = s.scalars(
        select(IssuedCredential.cti).where(
            IssuedCredential.event_id == event_id, IssuedCredential.status == CredentialStatus.REVOKED
        )
    ).all()
    return frozenset(bytes.fromhex(c) for c in ids)


def _names(s: Session, event_id: str) -> dict[bytes, str]:
    rows = s.execute(
        select(IssuedCredential.cti, IssuedCredential.name).where(IssuedCredential.event_id == event_id)
    ).all()
    return {bytes.fromhex(cti): name for cti, name in rows}


def _bundle_outdated(
    held_digest: str, signed_at: datetime | None, digest: str, now: datetime, renew_after: timedelta | None
) -> bool:
    if held_digest != digest or signed_at is None:
        return True
    if renew_after is None:
        return False
    return not signed_at <= now < signed_at + renew_after
