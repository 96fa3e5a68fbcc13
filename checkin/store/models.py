"""SQLAlchemy models: events, zones, guests, issued credentials and bundle versions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every model."""


class Event(Base):
    """An event: a day at a venue, with zones and gates."""

    __tablename__ = "events"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    venue: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    bundle_version: Mapped[int] = mapped_column(Integer, default=0)
    bundle_digest: Mapped[str] = mapped_column(String(64), default="")
    zones: Mapped[list[Zone]] = relationship(back_populates="event", order_by="Zone.position")

    @property
    def zone_codes(self) -> tuple[str, ...]:
        """The zone codes in their order."""
        return tuple(z.code for z in self.zones)


class Zone(Base):
    """An area of the venue a ticket may open (hall, vip, press)."""

    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("event_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    event: Mapped[Event] = relationship(back_populates="zones")


class Guest(Base):
    """A person invited to an event."""

    __tablename__ = "guests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(120), default="")
    category: Mapped[str] = mapped_column(String(40), default="")
    zones: Mapped[str] = mapped_column(String(600), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    created: Mapped[datetime] = mapped_column(UtcDateTime)


class IssuedCredential(Base):
    """A credential the service signed: kept to re-send, list and revoke it."""

    __tablename__ = "credentials"
    cti: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    guest_id: Mapped[int | None] = mapped_column(ForeignKey("guests.id", ondelete="SET NULL"), nullable=True)
    kid: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")
    reason: Mapped[str] = mapped_column(Text, default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    text: Mapped[str] = mapped_column(Text)
