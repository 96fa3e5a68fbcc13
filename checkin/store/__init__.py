"""The service's database: SQLite (WAL) by default, PostgreSQL by URL. All time is a parameter."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from checkin.credential import Credential
from checkin.errors import InputError, Reason
from checkin.store.models import Base, Event, Guest, IssuedCredential, Zone

__all__ = ["Event", "Guest", "IssuedCredential", "NewEvent", "Store", "Zone"]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


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


class Store:
    """Sessions over one database, with the few queries the tools need."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        """Create the tables that do not exist yet."""
        Base.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    # ---- events -----------------------------------------------------------------------------

    def create_event(self, new: NewEvent, now: datetime) -> Event:
        """Create an event with its zones; refuse a duplicate id."""
        if new.end <= new.start:
            raise InputError("the event must end after it starts")
        if not new.zones:
            raise InputError("an event needs at least one zone")
        try:
            with self.session() as s:
                row = Event(
                    id=new.id,
                    name=new.name,
                    venue=new.venue,
                    timezone=new.timezone,
                    start=new.start,
                    end=new.end,
                    created=now,
                )
                row.zones = [Zone(code=code, position=i) for i, code in enumerate(new.zones)]
                s.add(row)
        except IntegrityError:
            raise InputError(f"event {new.id!r} already exists", Reason.ALREADY_EXISTS) from None
        return self.event(new.id)

    def event(self, event_id: str) -> Event:
        """One event with its zones."""
        with self.session() as s:
            row = s.scalars(select(Event).where(Event.id == event_id).options(selectinload(Event.zones))).first()
        if row is None:
            raise InputError(f"no event {event_id!r}; create it with `checkin event create`", Reason.NOT_FOUND)
        return row

    def events(self) -> Sequence[Event]:
        """Every event, newest first."""
        with self.session() as s:
            return s.scalars(select(Event).options(selectinload(Event.zones)).order_by(Event.start.desc())).all()

    # ---- guests and credentials ---------------------------------------------------------------

    def record_issued(self, items: Sequence[tuple[Guest | None, Credential, str, str]]) -> None:
        """Store guests and the credentials issued to them, (guest, credential, kid, text), in bulk."""
        with self.session() as s:
            guests = [g for g, _c, _k, _t in items if g is not None]
            ids: list[int] = []
            if guests:
                rows = [{c.key: getattr(g, c.key) for c in Guest.__table__.columns if c.key != "id"} for g in guests]
                ids = list(s.scalars(insert(Guest).returning(Guest.id, sort_by_parameter_order=True), rows))
            next_id = iter(ids)
            s.execute(
                insert(IssuedCredential),
                [
                    {
                        "cti": credential.id_hex,
                        "event_id": credential.event_id,
                        "guest_id": None if guest is None else next(next_id),
                        "kid": kid,
                        "name": credential.name,
                        "issued_at": credential.issued_at,
                        "not_before": credential.not_before,
                        "expires_at": credential.expires_at,
                        "status": "active",
                        "reason": "",
                        "text": text,
                    }
                    for guest, credential, kid, text in items
                ],
            )

    def revoke(self, cti: str, reason: str, now: datetime) -> IssuedCredential:
        """Revoke one credential by id (hex, or a unique prefix of at least 8 digits)."""
        cti = cti.lower()
        if len(cti) < 8:
            raise InputError("give at least 8 hex digits of the credential id")
        with self.session() as s:
            rows = s.scalars(select(IssuedCredential).where(IssuedCredential.cti.startswith(cti))).all()
            if len(rows) != 1:
                raise InputError(f"no single credential matches {cti!r}", Reason.NOT_FOUND)
            row = rows[0]
            row.status, row.reason, row.revoked_at = "revoked", reason, now
        return row

    def revoked_ids(self, event_id: str) -> frozenset[bytes]:
        """The ids of the event's revoked credentials."""
        with self.session() as s:
            ids = s.scalars(
                select(IssuedCredential.cti).where(
                    IssuedCredential.event_id == event_id, IssuedCredential.status == "revoked"
                )
            ).all()
        return frozenset(bytes.fromhex(c) for c in ids)

    def credential_names(self, event_id: str) -> dict[bytes, str]:
        """Display names by credential id, for bundles whose policy includes them."""
        with self.session() as s:
            rows = s.execute(
                select(IssuedCredential.cti, IssuedCredential.name).where(IssuedCredential.event_id == event_id)
            ).all()
        return {bytes.fromhex(cti): name for cti, name in rows}

    def next_bundle_version(self, event_id: str, content: bytes) -> int:
        """The bundle version for this content: the same as last time, or one more if it changed."""
        digest = hashlib.sha256(content).hexdigest()
        with self.session() as s:
            row = s.get(Event, event_id, with_for_update=True)
            if row is None:
                raise InputError(f"no event {event_id!r}", Reason.NOT_FOUND)
            if row.bundle_digest != digest:
                row.bundle_version += 1
                row.bundle_digest = digest
            return row.bundle_version
