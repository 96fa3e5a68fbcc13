"""Staff sessions kept by the service: the browser holds a random id, the database its SHA-256,
the user, when it started, was last seen and expires, and when it was ended. Ending a row here
ends the session for every copy of the cookie at once. Time is always a parameter.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from checkin.store.engine import Store, sha256_hex
from checkin.store.models import StaffSession, User

MAX_AGE = timedelta(hours=12)
IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen is written at most this often
KEEP_ENDED = timedelta(days=1)  # ended and expired rows are deleted after this


@dataclass(frozen=True)
class LiveSession:
    """A session that is still good, and the user behind it."""

    id: int
    user_id: int
    username: str
    role: str


def start(store: Store, user_id: int, now: datetime) -> str:
    """Open a session for this user; the returned secret goes into the cookie and nowhere else."""
    secret = secrets.token_urlsafe(32)
    with store.writing() as s:
        s.execute(delete(StaffSession).where(StaffSession.expires < now - KEEP_ENDED))
        s.add(
            StaffSession(
                token_hash=sha256_hex(secret), user_id=user_id, created=now, last_seen=now, expires=now + MAX_AGE
            )
        )
    return secret


def find(store: Store, secret: str, now: datetime) -> LiveSession | None:
    """The live session this secret opens, or None: unknown, ended, past its age or idle limit, or
    its user disabled. Marks it seen (at most once a minute)."""
    if not secret or len(secret) > 100:
        return None
    digest = sha256_hex(secret)
    with store.session() as s:
        found = s.execute(
            select(StaffSession, User)
            .join(User, User.id == StaffSession.user_id)
            .where(StaffSession.token_hash == digest)
        ).first()
    if found is None:
        return None
    row, user = found
    if row.revoked is not None or now >= row.expires or now - row.last_seen >= IDLE or not user.active:
        return None
    if now - row.last_seen >= TOUCH_EVERY:
        with store.writing() as s:
            s.execute(update(StaffSession).where(StaffSession.id == row.id).values(last_seen=now))
    return LiveSession(row.id, user.id, user.username, user.role)


def end(store: Store, session_id: int, now: datetime) -> None:
    """End one session (logout)."""
    with store.writing() as s:
        s.execute(
            update(StaffSession)
            .where(StaffSession.id == session_id, StaffSession.revoked.is_(None))
            .values(revoked=now)
        )


def end_all(session: Session, user_id: int, now: datetime) -> int:
    """End every live session of a user inside the caller's transaction; how many were live."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked.is_(None), StaffSession.expires > now)
        .values(revoked=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_count(store: Store, user_id: int, now: datetime) -> int:
    """How many sessions of this user are live (not ended, not past their limits)."""
    with store.session() as s:
        rows = s.scalars(
            select(StaffSession).where(
                StaffSession.user_id == user_id, StaffSession.revoked.is_(None), StaffSession.expires > now
            )
        ).all()
    return sum(1 for row in rows if now - row.last_seen < IDLE)
