"""Guests and the credentials issued to them: lists, search, adding, editing, recording and
revoking codes. Functions over a `Store`; time is always a parameter."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from checkin.core.credential import Credential
from checkin.core.errors import InputError, Reason
from checkin.core.text import fold
from checkin.store.actions import action_values, record_action
from checkin.store.engine import Store
from checkin.store.models import AdminAction, CredentialStatus, Event, Guest, IssuedCredential


@dataclass(frozen=True)
class GuestRow:
    """One guest's details as a list, a form or the API gives them: `line` is where a list had the
    row (0 elsewhere), `guest_id` the stored guest the row was read from, if any."""

    line: int
    name: str
    organisation: str
    category: str
    zones: tuple[str, ...]
    email: str
    guest_id: int | None = None

    def details(self) -> tuple[str, str, str, tuple[str, ...], str]:
        """What the guest is, wherever the row came from: two rows name the same guest when these agree."""
        return self.name, self.organisation, self.category, self.zones, self.email


def guest_key(name: str, organisation: str, email: str) -> tuple[str, str, str]:
    """What makes two rows the same guest: the same name, organisation and e-mail (folded)."""
    return fold(name), fold(organisation), email.strip().casefold()


@dataclass(frozen=True)
class GuestView:
    """A guest with the state of their newest credential, for lists."""

    guest: Guest
    status: CredentialStatus | None  # None: never issued a code
    cti: str | None


def guest(store: Store, guest_id: int) -> Guest:
    """One guest."""
    with store.session() as s:
        row = s.get(Guest, guest_id)
    if row is None:
        raise InputError(f"no guest {guest_id}", Reason.NOT_FOUND)
    return row


def guest_credentials(store: Store, guest_id: int) -> Sequence[IssuedCredential]:
    """A guest's credentials, newest first."""
    with store.session() as s:
        return s.scalars(
            select(IssuedCredential)
            .where(IssuedCredential.guest_id == guest_id)
            .order_by(IssuedCredential.issued_at.desc(), IssuedCredential.cti)
        ).all()


def credential(store: Store, cti: str) -> IssuedCredential:
    """One credential by its full id."""
    with store.session() as s:
        row = s.get(IssuedCredential, cti.lower())
    if row is None:
        raise InputError(f"no credential {cti!r}", Reason.NOT_FOUND)
    return row


def guest_views(store: Store, event_id: str, query: str = "") -> list[GuestView]:
    """The event's guests in list order, each with their newest credential's state.

    `query` matches name, organisation, category or e-mail without regard to case or diacritics;
    it is matched here rather than in SQL so SQLite and PostgreSQL (without unaccent) agree.
    """
    words = fold(query).split()
    with store.session() as s:
        rows = s.scalars(select(Guest).where(Guest.event_id == event_id).order_by(Guest.id)).all()
        creds = s.execute(
            select(IssuedCredential.guest_id, IssuedCredential.cti, IssuedCredential.status)
            .where(IssuedCredential.event_id == event_id, IssuedCredential.guest_id.is_not(None))
            .order_by(IssuedCredential.issued_at, IssuedCredential.cti)
        ).all()
    state: dict[int, tuple[str, CredentialStatus]] = {}
    for guest_id, cti, status in creds:
        if guest_id is None:
            continue
        current = state.get(guest_id)
        if current is None or current[1] != CredentialStatus.ACTIVE or status == CredentialStatus.ACTIVE:
            state[guest_id] = (cti, CredentialStatus(status))  # newest wins, but an active one is never hidden
    out: list[GuestView] = []
    for row in rows:
        if words:
            haystack = fold(f"{row.name} {row.organisation} {row.category} {row.email}")
            if not all(word in haystack for word in words):
                continue
        found = state.get(row.id)
        out.append(GuestView(row, found[1], found[0]) if found else GuestView(row, None, None))
    return out


def existing_guest_keys(store: Store, event_id: str) -> dict[tuple[str, str, str], int]:
    """The event's guests by their identity key, to refuse importing a row twice."""
    with store.session() as s:
        rows = s.execute(
            select(Guest.id, Guest.name, Guest.organisation, Guest.email).where(Guest.event_id == event_id)
        ).all()
    return {guest_key(name, org, email): gid for gid, name, org, email in rows}


def _guest_values(event_id: str, row: GuestRow, now: datetime, request_key: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "name": unicodedata.normalize("NFC", row.name),
        "organisation": unicodedata.normalize("NFC", row.organisation),
        "category": row.category,
        "zones": ",".join(row.zones),
        "email": row.email,
        "created": now,
        "request_key": request_key,
    }


def add_guests(store: Store, event_id: str, rows: Sequence[GuestRow], now: datetime, *, actor: str) -> list[int]:
    """Add guests without issuing them a code yet; returns their ids in order."""
    with store.writing() as s:
        ids = _insert_guests(s, event_id, rows, now)
        if len(rows) == 1:
            record_action(
                s, actor, "guest.create", f"{event_id}/{ids[0]}", unicodedata.normalize("NFC", rows[0].name), now
            )
        else:
            record_action(s, actor, "guest.import", event_id, f"{len(rows)} guests", now)
        return ids


def update_guest(store: Store, guest_id: int, row: GuestRow, now: datetime, *, actor: str) -> Guest:
    """Change a guest's details; their issued code keeps the old ones until it is re-issued."""
    with store.writing() as s:
        guest_row_ = s.get(Guest, guest_id)
        if guest_row_ is None:
            raise InputError(f"no guest {guest_id}", Reason.NOT_FOUND)
        before = guest_row(guest_row_).details()
        guest_row_.name = unicodedata.normalize("NFC", row.name)
        guest_row_.organisation = unicodedata.normalize("NFC", row.organisation)
        guest_row_.category = row.category
        guest_row_.zones = ",".join(row.zones)
        guest_row_.email = row.email
        after = guest_row(guest_row_).details()
        labels = ("name", "organisation", "category", "zones", "email")
        changed = [label for label, a, b in zip(labels, before, after, strict=True) if a != b]
        record_action(s, actor, "guest.update", f"{guest_row_.event_id}/{guest_id}", ", ".join(changed), now)
        return guest_row_


def guest_row(row: Guest) -> GuestRow:
    """A stored guest as the issuing code reads guests."""
    zones = tuple(z for z in row.zones.split(",") if z)
    return GuestRow(0, row.name, row.organisation, row.category, zones, row.email, guest_id=row.id)


# ---- credentials -------------------------------------------------------------------------------


def credential_values(guest_id: int | None, issued: Credential, kid: str, text: str) -> dict[str, Any]:
    """The row of a freshly issued credential, for Core inserts (the ORM doubled the cost of one issue)."""
    return {
        "cti": issued.id_hex,
        "event_id": issued.event_id,
        "guest_id": guest_id,
        "kid": kid,
        "name": issued.name,
        "issued_at": issued.issued_at,
        "not_before": issued.not_before,
        "expires_at": issued.expires_at,
        "status": CredentialStatus.ACTIVE.value,
        "reason": "",
        "text": text,
    }


def record_issued(
    store: Store,
    items: Sequence[tuple[GuestRow | None, Credential, str, str]],
    now: datetime,
    *,
    actor: str | None = None,
    detail: str = "",
) -> None:
    """Store new guests and the credentials issued to them, (guest, credential, kid hex, text), in
    bulk (a credential without a guest too); logged as `actor`'s import when an actor is given."""
    guests = [_guest_values(c.event_id, g, now) for g, c, _k, _t in items if g is not None]
    with store.writing() as s:
        ids = iter(s.scalars(insert(Guest).returning(Guest.id, sort_by_parameter_order=True), guests) if guests else [])
        if items:
            s.execute(
                insert(IssuedCredential),
                [credential_values(None if g is None else next(ids), c, k, t) for g, c, k, t in items],
            )
        if actor is not None and items:
            record_action(s, actor, "guest.import", items[0][1].event_id, detail, now)


def _insert_guests(s: Session, event_id: str, rows: Sequence[GuestRow], now: datetime) -> list[int]:
    values = [_guest_values(event_id, r, now) for r in rows]
    return list(s.scalars(insert(Guest).returning(Guest.id, sort_by_parameter_order=True), values)) if values else []


def record_credentials(
    store: Store,
    items: Iterable[tuple[int, Credential, str, str]],
    now: datetime,
    *,
    actor: str,
    revoke_active: bool = False,
) -> int:
    """Store credentials issued to existing guests, (guest id, credential, kid hex, text).

    With `revoke_active`, each guest's active credentials are revoked in the same transaction
    (a re-issue), so there is never a moment with two valid codes or none recorded.
    """
    items = list(items)
    credentials = IssuedCredential.table()  # Core statements: the ORM's bulk paths cost more than the SQL
    with store.writing() as s:
        actions: list[dict[str, object]] = []
        if revoke_active:
            guest_ids = [gid for gid, _c, _k, _t in items]
            old = s.execute(
                update(credentials)
                .where(credentials.c.guest_id.in_(guest_ids), credentials.c.status == CredentialStatus.ACTIVE.value)
                .values(status=CredentialStatus.REVOKED.value, reason="re-issued", revoked_at=now)
                .returning(credentials.c.cti)
            ).scalars()
            actions += [action_values(actor, "credential.revoke", cti, "re-issued", now) for cti in old]
        if items:
            s.execute(insert(credentials), [credential_values(*item) for item in items])
        if len(items) == 1:
            actions.append(action_values(actor, "credential.issue", items[0][1].id_hex, f"guest {items[0][0]}", now))
        elif items:
            actions.append(
                action_values(actor, "credential.issue", items[0][1].event_id, f"{len(items)} credentials", now)
            )
        if actions:
            s.execute(insert(AdminAction.table()), actions)
    return len(items)


def revoke(store: Store, cti: str, reason: str, now: datetime, *, actor: str | None = None) -> IssuedCredential:
    """Revoke one credential by id (hex, or a unique prefix of at least 8 digits)."""
    cti = cti.lower()
    if len(cti) < 8:
        raise InputError("give at least 8 hex digits of the credential id")
    with store.writing() as s:
        rows = s.scalars(select(IssuedCredential).where(IssuedCredential.cti.startswith(cti))).all()
        if len(rows) != 1:
            raise InputError(f"no single credential matches {cti!r}", Reason.NOT_FOUND)
        row = rows[0]
        row.status, row.reason, row.revoked_at = CredentialStatus.REVOKED.value, reason, now
        if actor is not None:
            record_action(s, actor, "credential.revoke", row.cti, reason, now)
    return row


# ---- issuing to one guest -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueContext:
    """What issuing to one guest needs, read in one transaction: the guest, its event, its state."""

    guest: Guest
    event: Event
    has_active: bool


def issue_context(store: Store, guest_id: int) -> IssueContext | None:
    """The guest, its event (with zones) and whether it holds an active code; None if no such guest."""
    has_active = (
        select(IssuedCredential.cti)
        .where(IssuedCredential.guest_id == guest_id, IssuedCredential.status == CredentialStatus.ACTIVE)
        .exists()
    )
    with store.session() as s:  # one query: the re-issue form asks this on every request
        found = (
            s.execute(
                select(Guest, Event, has_active)
                .join(Event, Event.id == Guest.event_id)
                .where(Guest.id == guest_id)
                .options(joinedload(Event.zones))
            )
            .unique()
            .first()
        )
    if found is None:
        return None
    row, event, active = found
    return IssueContext(row, event, bool(active))


@dataclass(frozen=True)
class Earlier:
    """The guest an earlier request with the same Idempotency-Key added, and their active code now."""

    guest: Guest
    active: IssuedCredential | None


@dataclass(frozen=True)
class NewGuestIssued:
    """What `issue_to_new_guest` did: the guest's id, and `earlier` when nothing was written because
    a request with the same key had stored its guest first."""

    guest_id: int
    earlier: Earlier | None = None


def issue_to_new_guest(
    store: Store,
    guest: GuestRow,
    issued: Credential,
    kid: str,
    text: str,
    now: datetime,
    *,
    actor: str,
    request_key: str | None = None,
) -> NewGuestIssued:
    """Add a guest and the credential issued to them in one transaction. When a guest of the event
    carries `request_key` already, nothing is written and that guest is returned as `earlier`."""
    guests = Guest.table()  # Core statements: the ORM's bulk paths cost a third of this request's time
    try:
        with store.writing() as s:
            guest_id: int = s.execute(
                insert(guests).returning(guests.c.id), _guest_values(issued.event_id, guest, now, request_key)
            ).scalar_one()
            s.execute(insert(IssuedCredential.table()), credential_values(guest_id, issued, kid, text))
            s.execute(
                insert(AdminAction.table()),
                action_values(actor, "credential.issue", issued.id_hex, f"guest {guest_id}", now),
            )
    except IntegrityError:
        earlier = None if request_key is None else guest_for_request(store, issued.event_id, request_key)
        if earlier is None:
            raise
        return NewGuestIssued(earlier.guest.id, earlier)
    return NewGuestIssued(guest_id)


def guest_for_request(store: Store, event_id: str, request_key: str) -> Earlier | None:
    """The guest an earlier API request with this key added, and their newest active credential."""
    with store.session() as s:
        return guest_for_request_in(s, event_id, request_key)


def guest_for_request_in(s: Session, event_id: str, key: str) -> Earlier | None:
    """`guest_for_request` in the caller's transaction."""
    row = s.scalars(select(Guest).where(Guest.event_id == event_id, Guest.request_key == key)).first()
    if row is None:
        return None
    active = s.scalars(
        select(IssuedCredential)
        .where(IssuedCredential.guest_id == row.id, IssuedCredential.status == CredentialStatus.ACTIVE)
        .order_by(IssuedCredential.issued_at.desc())
        .limit(1)
    ).first()
    return Earlier(row, active)
