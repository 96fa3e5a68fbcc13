"""Guests and the credentials issued to them: lists, search, adding, editing, recording and
revoking codes. Functions over a `Store`; time is always a parameter."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from checkin.core.credential import Credential, short_code_prefix
from checkin.core.errors import InputError, Reason
from checkin.core.text import fold
from checkin.store import invitations, jobs
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


def search_text(name: str, organisation: str, category: str, email: str) -> str:
    """What search reads of a guest (stored as `Guest.search_text`): the name first, then the
    organisation, category and e-mail, each folded, joined by " | "."""
    return " | ".join((fold(name), fold(organisation), fold(category), email.strip().casefold()))


@dataclass(frozen=True)
class GuestPage:
    """One page of an event's guests (ranked when searched), how many match, and how many of the
    event's guests were never issued a code."""

    views: list[GuestView]
    total: int
    pending: int


# a search word that may be the start of a credential id (hex) or a short code (7K3M-Q9XD)
_MIN_CODE_PREFIX = 4


def code_prefixes(query: str, min_hex: int = _MIN_CODE_PREFIX) -> list[str]:
    """The credential id prefixes a query may name: itself as hex (`min_hex` digits or more), or the
    short code it spells; both when it could be either."""
    typed = query.strip()
    prefixes = []
    if len(typed) >= min_hex and all(ch in "0123456789abcdefABCDEF" for ch in typed):
        prefixes.append(typed.lower())
    with contextlib.suppress(InputError):
        prefixes.append(short_code_prefix(typed))
    return prefixes


def _ranker(words: Sequence[str]) -> Callable[[str], tuple[int, int]]:
    """How well a guest's search text matches: for each word 0 a whole word of the name, 1 the start
    of one, 2 inside the name, 3 elsewhere; the worst and the sum (lower first). Patterns compiled
    once: a search of 5,000 guests ranks every match."""
    patterns = [
        (word, re.compile(rf"(?:^| ){re.escape(word)}(?: |$)"), re.compile(rf"(?:^| ){re.escape(word)}"))
        for word in words
    ]

    def rank(text: str) -> tuple[int, int]:
        name = text.partition(" | ")[0]
        ranks = [
            3 if word not in name else 0 if whole.search(name) else 1 if start.search(name) else 2
            for word, whole, start in patterns
        ]
        return max(ranks), sum(ranks)

    return rank


def guest_page(store: Store, event_id: str, query: str = "", *, offset: int = 0, limit: int | None = None) -> GuestPage:
    """The event's guests in list order, or those `query` matches best first, each with their newest
    credential's state; `offset` and `limit` cut one page.

    `query` matches name, organisation, category or e-mail without regard to case or diacritics
    (against the stored folded text, so SQLite and PostgreSQL agree), or a credential id prefix or
    short code; whole words and starts of words of the name rank first, then code matches' guests.
    """
    words = fold(query).split()
    prefixes = code_prefixes(query) if len(words) == 1 else []
    in_event = Guest.event_id == event_id
    with store.session() as s:
        pending = s.scalar(
            select(func.count())
            .select_from(Guest)
            .where(in_event, ~select(IssuedCredential.cti).where(IssuedCredential.guest_id == Guest.id).exists())
        )
        if words:
            by_code = select(IssuedCredential.guest_id).where(
                IssuedCredential.event_id == event_id,
                or_(false(), *(IssuedCredential.cti.startswith(p, autoescape=True) for p in prefixes)),
            )
            by_text = and_(*(Guest.search_text.contains(word, autoescape=True) for word in words))
            found = s.execute(
                select(Guest.id, Guest.search_text).where(
                    in_event, or_(by_text, Guest.id.in_(by_code)) if prefixes else by_text
                )
            ).all()
            coded = set(s.scalars(by_code)) if prefixes else set()
            rank = _ranker(words)
            ranked = sorted(found, key=lambda r: ((-1, 0) if r.id in coded else rank(r.search_text), r.id))
            total = len(ranked)
            ids = [r.id for r in ranked[offset : None if limit is None else offset + limit]]
        else:
            total = s.scalar(select(func.count()).select_from(Guest).where(in_event)) or 0
            ids = list(s.scalars(select(Guest.id).where(in_event).order_by(Guest.id).offset(offset).limit(limit)))
        rows = _guests_by_id(s, event_id, ids)
        creds = s.execute(
            select(IssuedCredential.guest_id, IssuedCredential.cti, IssuedCredential.status)
            .where(IssuedCredential.event_id == event_id, _among(IssuedCredential.guest_id, ids))
            .order_by(IssuedCredential.issued_at, IssuedCredential.cti)
        ).all()
    state: dict[int, tuple[str, CredentialStatus]] = {}
    for guest_id, cti, status in creds:
        if guest_id is None:
            continue
        current = state.get(guest_id)
        if current is None or current[1] != CredentialStatus.ACTIVE or status == CredentialStatus.ACTIVE:
            state[guest_id] = (cti, CredentialStatus(status))  # newest wins, but an active one is never hidden
    views = []
    for gid in ids:
        found_state = state.get(gid)
        row = rows[gid]
        views.append(GuestView(row, found_state[1], found_state[0]) if found_state else GuestView(row, None, None))
    return GuestPage(views, total, pending or 0)


# more ids than this are fetched by event and picked here: an IN list of thousands costs more
_IN_LIST_MAX = 500


def _among(column: Any, ids: Sequence[int]) -> Any:
    return column.in_(ids) if len(ids) <= _IN_LIST_MAX else column.is_not(None)


def _guests_by_id(s: Session, event_id: str, ids: Sequence[int]) -> dict[int, Guest]:
    rows = s.scalars(select(Guest).where(Guest.event_id == event_id, _among(Guest.id, ids))).all()
    return {row.id: row for row in rows}


def guest_views(store: Store, event_id: str, query: str = "") -> list[GuestView]:
    """The event's guests in list order (best matches first when `query` is given), each with their
    newest credential's state; see `guest_page`."""
    return guest_page(store, event_id, query).views


def pending_guests(store: Store, event_id: str) -> Sequence[Guest]:
    """The event's guests never issued a code, in list order."""
    with store.session() as s:
        return s.scalars(
            select(Guest)
            .where(
                Guest.event_id == event_id,
                ~select(IssuedCredential.cti).where(IssuedCredential.guest_id == Guest.id).exists(),
            )
            .order_by(Guest.id)
        ).all()


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
        "search_text": search_text(row.name, row.organisation, row.category, row.email),
        "created": now,
        "request_key": request_key,
    }


def add_guests(
    store: Store, event_id: str, rows: Sequence[GuestRow], now: datetime, *, actor: str, logged: bool = True
) -> list[int]:
    """Add guests without issuing them a code yet; returns their ids in order. A caller that adds a
    list in parts logs it once itself (`logged=False`)."""
    with store.writing() as s:
        ids = _insert_guests(s, event_id, rows, now)
        if logged and len(rows) == 1:
            record_action(
                s, actor, "guest.create", f"{event_id}/{ids[0]}", unicodedata.normalize("NFC", rows[0].name), now
            )
        elif logged:
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
        guest_row_.search_text = search_text(row.name, row.organisation, row.category, row.email)
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


def replace_active(
    store: Store, guest_id: int, issued: Credential, kid: str, text: str, now: datetime, *, actor: str
) -> bool:
    """Store a guest's new code in place of their active one (revoked as "re-issued"), in one
    transaction; False, and nothing stored, when they hold no active code (a registrar revoked it
    meanwhile: only a registrar gives a code back)."""
    credentials = IssuedCredential.table()
    with store.writing() as s:
        old = (
            s.execute(
                update(credentials)
                .where(credentials.c.guest_id == guest_id, credentials.c.status == CredentialStatus.ACTIVE.value)
                .values(status=CredentialStatus.REVOKED.value, reason="re-issued", revoked_at=now)
                .returning(credentials.c.cti)
            )
            .scalars()
            .all()
        )
        if not old:
            return False
        s.execute(insert(credentials), [credential_values(guest_id, issued, kid, text)])
        s.execute(
            insert(AdminAction.table()),
            [
                *(action_values(actor, "credential.revoke", cti, "re-issued", now) for cti in old),
                action_values(actor, "credential.issue", issued.id_hex, f"guest {guest_id}", now),
            ],
        )
    return True


FIND_CODES = "checkin credential list --event EVENT (or: checkin guest list --event EVENT --search NAME)"


def matching_credentials(s: Session, typed: str, event_id: str | None = None) -> Sequence[IssuedCredential]:
    """The credentials a typed code names: an id or a prefix of at least 8 hex digits, or a short
    code (7K3M-Q9XD); both readings when the text could be either."""
    prefixes = code_prefixes(typed, min_hex=8)
    if not prefixes:
        raise InputError(f"{typed!r} is neither a credential id (8 or more hex digits) nor a short code like 7K3M-Q9XD")
    query = select(IssuedCredential).where(or_(*(IssuedCredential.cti.startswith(p) for p in prefixes)))
    if event_id is not None:
        query = query.where(IssuedCredential.event_id == event_id)
    return s.scalars(query.order_by(IssuedCredential.issued_at, IssuedCredential.cti)).all()


def revoke(store: Store, cti: str, reason: str, now: datetime, *, actor: str | None = None) -> IssuedCredential:
    """Revoke one credential by id (hex, or a unique prefix of at least 8 digits) or short code."""
    with store.writing() as s:
        rows = matching_credentials(s, cti)
        if len(rows) != 1:
            found = "no credential" if not rows else f"{len(rows)} credentials"
            raise InputError(f"{found} matches {cti!r}; find the id or short code with: {FIND_CODES}", Reason.NOT_FOUND)
        row = rows[0]
        row.status, row.reason, row.revoked_at = CredentialStatus.REVOKED.value, reason, now
        if actor is not None:
            record_action(s, actor, "credential.revoke", row.cti, reason, now)
    return row


def event_credentials(
    store: Store, event_id: str, status: CredentialStatus | None = None
) -> Sequence[IssuedCredential]:
    """The event's credentials in the order they were issued, of one status if given."""
    query = select(IssuedCredential).where(IssuedCredential.event_id == event_id)
    if status is not None:
        query = query.where(IssuedCredential.status == status.value)
    with store.session() as s:
        return s.scalars(query.order_by(IssuedCredential.issued_at, IssuedCredential.cti)).all()


def active_holder(store: Store, event_id: str, name: str, organisation: str) -> IssuedCredential | None:
    """An active code of a guest of the event with this name and organisation (folded), if one holds one."""
    with store.session() as s:
        return s.scalars(
            select(IssuedCredential)
            .join(Guest, Guest.id == IssuedCredential.guest_id)
            .where(
                Guest.event_id == event_id,
                Guest.search_text.startswith(f"{fold(name)} | {fold(organisation)} | ", autoescape=True),
                IssuedCredential.status == CredentialStatus.ACTIVE.value,
            )
            .order_by(IssuedCredential.issued_at.desc())
            .limit(1)
        ).first()


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


# ---- removing personal data -------------------------------------------------------------------------

ANONYMISED = "anonymised"  # the revocation reason, worded where shown


def anonymise_guest(store: Store, guest_id: int, now: datetime, *, actor: str | None = None) -> int:
    """Replace a guest's name, organisation and e-mail (the name becomes `#<id>`), revoke their active
    codes and drop the signed texts of all their codes (which carry the name); returns how many codes
    were revoked. The codes' ids stay, so gates and reports still know them as revoked."""
    with store.writing() as s:
        row = s.get(Guest, guest_id, with_for_update=True)
        if row is None:
            raise InputError(f"no guest {guest_id}", Reason.NOT_FOUND)
        row.name, row.organisation, row.email = f"#{guest_id}", "", ""
        active = IssuedCredential.guest_id == guest_id, IssuedCredential.status == CredentialStatus.ACTIVE
        revoked = len(s.scalars(select(IssuedCredential.cti).where(*active)).all())
        s.execute(
            update(IssuedCredential)
            .where(*active)
            .values(status=CredentialStatus.REVOKED.value, reason=ANONYMISED, revoked_at=now)
        )
        s.execute(
            update(IssuedCredential).where(IssuedCredential.guest_id == guest_id).values(name=f"#{guest_id}", text="")
        )
        invitations.revoke_in(s, guest_id, now)  # their link showed the name and the code
        jobs.forget_guest_in(s, row.event_id, guest_id)  # bulk e-mail results named them
        if actor is not None:
            record_action(s, actor, "guest.anonymise", f"{row.event_id}/{guest_id}", f"{revoked} credentials", now)
    return revoked


def remove_guest(store: Store, guest_id: int, now: datetime, *, actor: str | None = None) -> None:
    """Delete a guest who was never issued a code; GUEST_HAS_CODES otherwise (anonymise them instead)."""
    with store.writing() as s:
        row = s.get(Guest, guest_id, with_for_update=True)
        if row is None:
            raise InputError(f"no guest {guest_id}", Reason.NOT_FOUND)
        issued = s.scalar(select(IssuedCredential.cti).where(IssuedCredential.guest_id == guest_id).limit(1))
        if issued is not None:
            raise InputError(f"guest {guest_id} has codes", Reason.GUEST_HAS_CODES)
        s.delete(row)
        if actor is not None:
            record_action(s, actor, "guest.remove", f"{row.event_id}/{guest_id}", "", now)
