"""People in the store: staff users (passwords, roles, lockout), guests, and the admin action log.

Functions over a `Store`, kept out of the Store class so the admin pages and `checkin user` can grow
without touching the core queries. Time is always a parameter. Passwords are hashed with argon2id
(RFC 9106 low-memory profile, argon2-cffi's defaults); a hash never leaves this module except into
the users table.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from checkin.core.credential import Credential
from checkin.core.errors import InputError, Reason
from checkin.issuing import GuestRow
from checkin.store import Store, credential_values, find_event, sha256_hex
from checkin.store.models import AdminAction, ApiToken, Device, Event, Guest, IssuedCredential, Scan, User

LOCK_AFTER_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 12
MAX_PASSWORD = 256  # argon2 hashes anything, but a megabyte "password" is a denial of service
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# no 0/o, 1/l/i: generated secrets are read aloud and typed by hand
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4


class Role(StrEnum):
    """What a person may do: admin everything, registrar guests and codes, officer read only."""

    ADMIN = "admin"
    REGISTRAR = "registrar"
    OFFICER = "officer"


# ---- passwords ----------------------------------------------------------------------------------


def generate_secret(groups: int = 4, size: int = 5) -> str:
    """A random secret such as `k7mq2-xhd9p-4tzra-8bnwe` (about 99 bits), easy to type."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(size)) for _ in range(groups))


def check_password(password: str, username: str) -> None:
    """Refuse a password that is too short, too long, or built from the user name."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password must have at least {MIN_PASSWORD} characters", Reason.WEAK_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise InputError(f"the password must have at most {MAX_PASSWORD} characters", Reason.WEAK_PASSWORD)
    if len(set(password)) < 5 or username.lower() in password.lower():
        raise InputError("the password is too easy to guess", Reason.WEAK_PASSWORD)


def hash_password(password: str) -> str:
    """The argon2id hash to store."""
    return _hasher.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    """True when the password matches the stored hash; never raises for a wrong one."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)


def password_stamp(stored_hash: str) -> str:
    """A short digest of the hash, kept in the session so a password change ends old sessions."""
    return hashlib.sha256(stored_hash.encode()).hexdigest()[:16]


_DUMMY_HASH: list[str] = []


def burn_verification(password: str) -> None:
    """Spend as long as a real check, so an unknown user name takes as long as a wrong password."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(_hasher.hash(generate_secret()))
    password_matches(_DUMMY_HASH[0], password)


# ---- the admin action log -----------------------------------------------------------------------


def _action(actor: str, action: str, target: str, detail: str, now: datetime) -> dict[str, object]:
    return {"at": now, "actor": actor, "action": action, "target": target[:200], "detail": detail}


def record_action(session: Session, actor: str, action: str, target: str, detail: str, now: datetime) -> None:
    """Append one line to the admin action log, in the caller's transaction."""
    session.execute(insert(AdminAction.table()), _action(actor, action, target, detail, now))


def actions(store: Store, *, limit: int, offset: int = 0) -> tuple[Sequence[AdminAction], int]:
    """The newest actions first, one page, and how many there are."""
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(AdminAction)) or 0
        rows = s.scalars(select(AdminAction).order_by(AdminAction.id.desc()).limit(limit).offset(offset)).all()
    return rows, total


# ---- users --------------------------------------------------------------------------------------


def normalise_username(name: str) -> str:
    """User names are lower-case ASCII: letters, digits, dot, dash and underscore."""
    clean = name.strip().lower()
    if not _USERNAME.match(clean):
        raise InputError(
            "a user name is 2 to 64 characters: a-z, 0-9, '.', '-' or '_', starting with a letter or digit"
        )
    return clean


def create_user(store: Store, username: str, role: Role, password: str, now: datetime, *, actor: str) -> User:
    """Add a user with an argon2id hash of the password; refuses a taken name or a weak password."""
    name = normalise_username(username)
    check_password(password, name)
    try:
        with store.writing() as s:
            user = User(username=name, password_hash=hash_password(password), role=role.value, created=now)
            s.add(user)
            s.flush()
            record_action(s, actor, "user.create", name, f"role {role.value}", now)
    except IntegrityError:
        raise InputError(f"user {name!r} already exists", Reason.ALREADY_EXISTS) from None
    return user


def user_by_name(store: Store, username: str) -> User | None:
    """A user by name (case-insensitive), or None."""
    with store.session() as s:
        return s.scalars(select(User).where(User.username == username.strip().lower())).first()


def user_by_id(store: Store, user_id: int) -> User | None:
    """A user by id, or None."""
    with store.session() as s:
        return s.get(User, user_id)


def users(store: Store) -> Sequence[User]:
    """Every user, by name."""
    with store.session() as s:
        return s.scalars(select(User).order_by(User.username)).all()


def is_locked(user: User, now: datetime) -> bool:
    """True while a lockout runs."""
    return user.locked_until is not None and now < user.locked_until


def record_failed_login(store: Store, user_id: int, now: datetime) -> User:
    """Count a wrong password; the fifth in a row locks the account for LOCK_FOR."""
    with store.writing() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise InputError(f"no user {user_id}", Reason.NOT_FOUND)
        if user.locked_until is not None and now >= user.locked_until:
            user.failed_logins, user.locked_until = 0, None  # the last lockout ran out: a fresh count
        if not is_locked(user, now):
            user.failed_logins += 1
            if user.failed_logins >= LOCK_AFTER_FAILURES:
                user.locked_until = now + LOCK_FOR
                record_action(s, user.username, "user.locked", user.username, f"{user.failed_logins} failures", now)
        return user


def record_login(store: Store, user_id: int, password: str, now: datetime) -> User:
    """A good login: clear the failure count, and rehash if the parameters grew since."""
    with store.writing() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise InputError(f"no user {user_id}", Reason.NOT_FOUND)
        user.failed_logins, user.locked_until = 0, None
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        record_action(s, user.username, "user.login", user.username, "", now)
        return user


def update_user(
    store: Store,
    user_id: int,
    now: datetime,
    *,
    actor: str,
    role: Role | None = None,
    active: bool | None = None,
    unlock: bool = False,
    password: str | None = None,
) -> User:
    """Change a user's role, active flag, lockout or password, and log what changed."""
    with store.writing() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise InputError(f"no user {user_id}", Reason.NOT_FOUND)
        changes: list[tuple[str, str]] = []
        if role is not None and role.value != user.role:
            changes.append(("user.role", f"{user.role} -> {role.value}"))
            user.role = role.value
        if active is not None and active != user.active:
            changes.append(("user.enable" if active else "user.disable", ""))
            user.active = active
        if unlock and (user.locked_until is not None or user.failed_logins):
            changes.append(("user.unlock", f"after {user.failed_logins} failures"))
            user.failed_logins, user.locked_until = 0, None
        if password is not None:
            check_password(password, user.username)
            changes.append(("user.password", ""))
            user.password_hash = hash_password(password)
        if role is not None or active is not None:
            _keep_an_admin(s)
        for action, detail in changes:
            record_action(s, actor, action, user.username, detail, now)
        return user


def _keep_an_admin(session: Session) -> None:
    session.flush()
    count = session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, User.active.is_(True))
    )
    if not count:
        raise InputError("this would leave no active administrator", Reason.FORBIDDEN)


# ---- guests -------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Text for searching: no diacritics, đ as d, case-folded, single spaces ("Nguyễn" -> "nguyen")."""
    plain = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def guest_key(name: str, organisation: str, email: str) -> tuple[str, str, str]:
    """What makes two rows the same guest: the same name, organisation and e-mail (folded)."""
    return fold(name), fold(organisation), email.strip().casefold()


@dataclass(frozen=True)
class GuestView:
    """A guest with the state of their newest credential, for lists."""

    guest: Guest
    status: str  # "none", "active" or "revoked"
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
    state: dict[int, tuple[str, str]] = {}
    for guest_id, cti, status in creds:
        if guest_id is None:
            continue
        current = state.get(guest_id)
        if current is None or current[1] != "active" or status == "active":
            state[guest_id] = (cti, status)  # newest wins, but an active one is never hidden
    out: list[GuestView] = []
    for row in rows:
        if words:
            haystack = fold(f"{row.name} {row.organisation} {row.category} {row.email}")
            if not all(word in haystack for word in words):
                continue
        found = state.get(row.id)
        out.append(GuestView(row, found[1], found[0]) if found else GuestView(row, "none", None))
    return out


def existing_guest_keys(store: Store, event_id: str) -> dict[tuple[str, str, str], int]:
    """The event's guests by their identity key, to refuse importing a row twice."""
    with store.session() as s:
        rows = s.execute(
            select(Guest.id, Guest.name, Guest.organisation, Guest.email).where(Guest.event_id == event_id)
        ).all()
    return {guest_key(name, org, email): gid for gid, name, org, email in rows}


def add_guests(store: Store, event_id: str, rows: Sequence[GuestRow], now: datetime, *, actor: str) -> list[int]:
    """Add guests without issuing them a code yet; returns their ids in order."""
    with store.writing() as s:
        guests = [
            Guest(
                event_id=event_id,
                name=unicodedata.normalize("NFC", r.name),
                organisation=unicodedata.normalize("NFC", r.organisation),
                category=r.category,
                zones=",".join(r.zones),
                email=r.email,
                created=now,
            )
            for r in rows
        ]
        s.add_all(guests)
        s.flush()
        if len(rows) == 1:
            record_action(s, actor, "guest.create", f"{event_id}/{guests[0].id}", guests[0].name, now)
        else:
            record_action(s, actor, "guest.import", event_id, f"{len(rows)} guests", now)
        return [g.id for g in guests]


def update_guest(store: Store, guest_id: int, row: GuestRow, now: datetime, *, actor: str) -> Guest:
    """Change a guest's details; their issued code keeps the old ones until it is re-issued."""
    with store.writing() as s:
        guest_row = s.get(Guest, guest_id)
        if guest_row is None:
            raise InputError(f"no guest {guest_id}", Reason.NOT_FOUND)
        before = (guest_row.name, guest_row.organisation, guest_row.category, guest_row.zones, guest_row.email)
        guest_row.name = unicodedata.normalize("NFC", row.name)
        guest_row.organisation = unicodedata.normalize("NFC", row.organisation)
        guest_row.category = row.category
        guest_row.zones = ",".join(row.zones)
        guest_row.email = row.email
        after = (guest_row.name, guest_row.organisation, guest_row.category, guest_row.zones, guest_row.email)
        labels = ("name", "organisation", "category", "zones", "email")
        changed = [label for label, a, b in zip(labels, before, after, strict=True) if a != b]
        record_action(s, actor, "guest.update", f"{guest_row.event_id}/{guest_id}", ", ".join(changed), now)
        return guest_row


def guest_row(row: Guest, line: int = 0) -> GuestRow:
    """A stored guest as the issuing code reads guests."""
    return GuestRow(
        line, row.name, row.organisation, row.category, tuple(z for z in row.zones.split(",") if z), row.email
    )


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
                .where(credentials.c.guest_id.in_(guest_ids), credentials.c.status == "active")
                .values(status="revoked", reason="re-issued", revoked_at=now)
                .returning(credentials.c.cti)
            ).scalars()
            actions += [_action(actor, "credential.revoke", cti, "re-issued", now) for cti in old]
        if items:
            s.execute(insert(credentials), [credential_values(*item) for item in items])
        if len(items) == 1:
            actions.append(_action(actor, "credential.issue", items[0][1].id_hex, f"guest {items[0][0]}", now))
        elif items:
            actions.append(_action(actor, "credential.issue", items[0][1].event_id, f"{len(items)} credentials", now))
        if actions:
            s.execute(insert(AdminAction.table()), actions)
    return len(items)


@dataclass(frozen=True)
class BadgeRow:
    """What a badge needs: the code and the guest it names."""

    text: str
    name: str
    organisation: str
    category: str
    zones: tuple[str, ...]


def active_badges(store: Store, event_id: str) -> list[BadgeRow]:
    """The event's active credentials with their guests, in guest order, for the badge sheet."""
    with store.session() as s:
        rows = s.execute(
            select(IssuedCredential.text, IssuedCredential.name, Guest.organisation, Guest.category, Guest.zones)
            .outerjoin(Guest, Guest.id == IssuedCredential.guest_id)
            .where(IssuedCredential.event_id == event_id, IssuedCredential.status == "active")
            .order_by(Guest.id, IssuedCredential.issued_at)
        ).all()
    return [
        BadgeRow(text, name, org or "", category or "", tuple(z for z in (zones or "").split(",") if z))
        for text, name, org, category, zones in rows
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
    ids = set(guests) | set(by_status)
    return {
        e: EventCounts(guests.get(e, 0), by_status.get(e, {}).get("active", 0), by_status.get(e, {}).get("revoked", 0))
        for e in ids
    }


@dataclass(frozen=True)
class EntryView:
    """A scan a gate uploaded, with the gate's and the guest's names, for the event page."""

    at: datetime
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
            at=datetime.fromtimestamp(scan.wall_ms / 1000, UTC),
            gate=gate,
            name=name or "",
            cti=scan.cti,
            direction=scan.direction,
            verdict=scan.verdict,
            reason=scan.reason,
        )
        for scan, gate, name in rows
    ], total


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
        .where(IssuedCredential.guest_id == guest_id, IssuedCredential.status == "active")
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


# ---- API tokens for registration systems ---------------------------------------------------------

TOKEN_ROLES = (Role.REGISTRAR, Role.ADMIN)


def create_api_token(store: Store, name: str, role: Role, now: datetime, *, actor: str) -> tuple[ApiToken, str]:
    """A new API token for a registration system; the secret is returned once and stored as SHA-256."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InputError("a token needs a name of 1 to 64 characters")
    if role not in TOKEN_ROLES:
        raise InputError(f"API tokens may be {' or '.join(TOKEN_ROLES)}, not {role}")
    secret = "ck_" + secrets.token_urlsafe(32)
    try:
        with store.writing() as s:
            row = ApiToken(name=name, role=role.value, token_hash=sha256_hex(secret), created=now, created_by=actor)
            s.add(row)
            s.flush()
            record_action(s, actor, "token.add", name, role.value, now)
    except IntegrityError:
        raise InputError(f"a token named {name!r} exists already", Reason.ALREADY_EXISTS) from None
    return row, secret


@dataclass(frozen=True)
class IssueReads:
    """What the issuing API reads before it signs, in one read: the token, the event (with zones),
    and the guest an earlier request with the same Idempotency-Key added, with their active code."""

    token: ApiToken | None
    event: Event | None
    earlier: tuple[Guest, IssuedCredential | None] | None


def issue_reads(store: Store, secret: str, event_id: str, idempotency_key: str | None) -> IssueReads:
    """The token a secret belongs to, the event and, given a key, the guest of an earlier request."""
    with store.session() as s:
        token = _api_token(s, secret)
        event = find_event(s, event_id)
        earlier = (
            _guest_for_request(s, event_id, request_key(token, idempotency_key))
            if token is not None and event is not None and idempotency_key is not None
            else None
        )
    return IssueReads(token, event, earlier)


def request_key(token: ApiToken, idempotency_key: str) -> str:
    """An Idempotency-Key as stored: scoped to its token, so the keys of two systems never meet."""
    return f"{token.id}:{idempotency_key}"


def _api_token(s: Session, secret: str) -> ApiToken | None:
    return s.scalars(select(ApiToken).where(ApiToken.token_hash == sha256_hex(secret))).first()


def api_tokens(store: Store) -> Sequence[ApiToken]:
    """Every API token, oldest first."""
    with store.session() as s:
        return s.scalars(select(ApiToken).order_by(ApiToken.id)).all()


def revoke_api_token(store: Store, name: str, now: datetime, *, actor: str) -> ApiToken:
    """Revoke a token by name: it fails from the next request on."""
    with store.writing() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if row is None:
            raise InputError(f"no API token named {name!r}", Reason.NOT_FOUND)
        if row.revoked_at is None:
            row.revoked_at = now
            record_action(s, actor, "token.revoke", name, "", now)
    return row


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
) -> int | tuple[Guest, IssuedCredential | None]:
    """Add a guest and the credential issued to them in one transaction; return the guest's id.
    When a guest of the event carries `request_key` already, nothing is written and that guest,
    with their active credential, is returned instead."""
    guests = Guest.table()  # Core statements: the ORM's bulk paths cost a third of this request's time
    try:
        with store.writing() as s:
            guest_id: int = s.execute(
                insert(guests).returning(guests.c.id),
                {
                    "event_id": issued.event_id,
                    "name": guest.name,
                    "organisation": guest.organisation,
                    "category": guest.category,
                    "zones": ",".join(guest.zones),
                    "email": guest.email,
                    "created": now,
                    "request_key": request_key,
                },
            ).scalar_one()
            s.execute(insert(IssuedCredential.table()), credential_values(guest_id, issued, kid, text))
            s.execute(
                insert(AdminAction.table()),
                _action(actor, "credential.issue", issued.id_hex, f"guest {guest_id}", now),
            )
    except IntegrityError:
        earlier = None if request_key is None else guest_for_request(store, issued.event_id, request_key)
        if earlier is None:
            raise
        return earlier
    return guest_id


def guest_for_request(store: Store, event_id: str, request_key: str) -> tuple[Guest, IssuedCredential | None] | None:
    """The guest an earlier API request with this key added, and their newest active credential."""
    with store.session() as s:
        return _guest_for_request(s, event_id, request_key)


def _guest_for_request(s: Session, event_id: str, key: str) -> tuple[Guest, IssuedCredential | None] | None:
    row = s.scalars(select(Guest).where(Guest.event_id == event_id, Guest.request_key == key)).first()
    if row is None:
        return None
    active = s.scalars(
        select(IssuedCredential)
        .where(IssuedCredential.guest_id == row.id, IssuedCredential.status == "active")
        .order_by(IssuedCredential.issued_at.desc())
        .limit(1)
    ).first()
    return row, active
