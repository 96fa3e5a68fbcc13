"""Staff users: passwords (length and strength by zxcvbn), roles, ending their sessions.

Time is always a parameter. Passwords are hashed with argon2id (RFC 9106 low-memory profile,
argon2-cffi's defaults); a hash never leaves this module except into the users table.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin.core.errors import N_, InputError, Reason
from checkin.store import sessions
from checkin.store.actions import record_action
from checkin.store.engine import Store
from checkin.store.models import User

MIN_PASSWORD = 12
MAX_PASSWORD = 256  # argon2 hashes anything, but a megabyte "password" is a denial of service
# zxcvbn's score (0-4): 3 is "safely unguessable: moderate protection from offline slow-hash
# attacks" (about 10^8 guesses or more), which common passwords, keyboard runs and a word plus a
# few digits (password1234) do not reach.
MIN_SCORE = 3
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; a longer password is judged by its first 72
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# no 0/o, 1/l/i: generated secrets are read aloud and typed by hand
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4


class Role(StrEnum):
    """What a person may do: admin everything, registrar guests and codes, officer the audit pages (read only)."""

    ADMIN = "admin"
    REGISTRAR = "registrar"
    OFFICER = "officer"


# ---- passwords ----------------------------------------------------------------------------------


def generate_secret(groups: int = 4, size: int = 5) -> str:
    """A random secret such as `k7mq2-xhd9p-4tzra-8bnwe` (about 99 bits), easy to type."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(size)) for _ in range(groups))


def check_password(password: str, username: str) -> None:
    """Refuse a password that is too short, too long, common or otherwise easy to guess (zxcvbn
    score below MIN_SCORE), or built from the user name."""
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # its dictionaries take a moment to load: only where passwords are set

    if len(password) < MIN_PASSWORD:
        raise InputError(
            N_("the password must have at least %(min)d characters"), Reason.WEAK_PASSWORD, min=MIN_PASSWORD
        )
    if len(password) > MAX_PASSWORD:
        raise InputError(
            N_("the password must have at most %(max)d characters"), Reason.WEAK_PASSWORD, max=MAX_PASSWORD
        )
    easy = len(set(password)) < 5 or username.lower() in password.lower()
    if easy or zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[username])["score"] < MIN_SCORE:
        raise InputError(
            N_("the password is too easy to guess; a few unrelated words make a good one"),
            Reason.WEAK_PASSWORD,
        )


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


def record_login(store: Store, user_id: int, password: str, now: datetime) -> User:
    """A good login: log it, and rehash if the parameters grew since."""
    with store.writing() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise InputError(f"no user {user_id}", Reason.NOT_FOUND)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        record_action(s, user.username, "user.login", user.username, "", now)
        return user


def log_out_everywhere(store: Store, user_id: int, now: datetime, *, actor: str) -> int:
    """End every session of this user at once; how many were live."""
    with store.writing() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise InputError(f"no user {user_id}", Reason.NOT_FOUND)
        ended = sessions.end_all(s, user.id, now)
        record_action(s, actor, "user.logout_all", user.username, f"{ended} sessions", now)
        return ended


def update_user(
    store: Store,
    user_id: int,
    now: datetime,
    *,
    actor: str,
    role: Role | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> User:
    """Change a user's role, active flag or password, and log what changed; disabling a user or
    changing the password ends the user's sessions at once."""
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
        if password is not None:
            check_password(password, user.username)
            changes.append(("user.password", ""))
            user.password_hash = hash_password(password)
        if password is not None or active is False:
            sessions.end_all(s, user.id, now)
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
