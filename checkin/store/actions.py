"""The admin action log: append-only (the table refuses updates and deletes), newest first to read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from checkin.store.engine import Store
from checkin.store.models import AdminAction


def action_values(actor: str, action: str, target: str, detail: str, now: datetime) -> dict[str, object]:
    """One log line as a row for a Core insert (several go in one statement)."""
    return {"at": now, "actor": actor, "action": action, "target": target[:200], "detail": detail}


def record_action(session: Session, actor: str, action: str, target: str, detail: str, now: datetime) -> None:
    """Append one line to the admin action log, in the caller's transaction."""
    session.execute(insert(AdminAction.table()), action_values(actor, action, target, detail, now))


def log_action(store: Store, actor: str, action: str, target: str, detail: str, now: datetime) -> None:
    """Append one line to the admin action log in a transaction of its own."""
    with store.writing() as s:
        record_action(s, actor, action, target, detail, now)


def actions(store: Store, *, limit: int = 100, offset: int = 0) -> Sequence[AdminAction]:
    """The newest actions first, one page."""
    with store.session() as s:
        return s.scalars(select(AdminAction).order_by(AdminAction.id.desc()).limit(limit).offset(offset)).all()


def action_count(store: Store) -> int:
    """How many lines the log holds."""
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(AdminAction)) or 0)
