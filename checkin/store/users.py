"""Staff users: passwords, roles, lockout.

Time is always a parameter. Passwords are hashed with argon2id (RFC 9106 low-memory profile,
argon2-cffi's defaults); a hash never leaves this module except into the users table.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin.core.errors import InputError, Reason
from checkin.store.actions import record_action
from checkin.store.engine import Store
from checkin.store.models import User

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
