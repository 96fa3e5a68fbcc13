"""SQLAlchemy models: events, zones, guests, issued credentials and bundle versions, and the
states their status columns take."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from checkin.core.trust import LABEL_LIMIT, Label


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


_TEXT = 200  # checkin.core.chain.MAX_TEXT; not imported so the models stay free of the chain module


class CredentialStatus(StrEnum):
    """An issued credential is active until it is revoked (re-issuing revokes the old one)."""

    ACTIVE = "active"
    REVOKED = "revoked"


class DeviceStatus(StrEnum):
    """A gate is pending until it spends its enrolment code, then active until revoked."""

    PENDING = "pending"
    ACTIVE = "active"
    REVOKED = "revoked"


class Base(DeclarativeBase):
    """Base of every model."""

    @classmethod
    def table(cls) -> Table:
        """The model's table, for Core statements where the ORM's per-row work costs too much."""
        return cast(Table, cls.__table__)


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
    # when the current version was signed: one version is one byte string (ETag "v<version>")
    bundle_issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    zones: Mapped[list[Zone]] = relationship(back_populates="event", order_by="Zone.position")
    # loaded with every event (one small query): pages, badges and bundles word zones and categories
    categories: Mapped[list[Category]] = relationship(
        back_populates="event", order_by="Category.position", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def zone_codes(self) -> tuple[str, ...]:
        """The zone codes in their order."""
        return tuple(z.code for z in self.zones)

    @property
    def zone_names(self) -> dict[str, Label]:
        """The zones that have display names, by code."""
        return {z.code: Label(z.name_vi, z.name_en) for z in self.zones if z.name_vi or z.name_en}

    @property
    def category_names(self) -> dict[str, Label]:
        """The categories that have display names, by code."""
        return {c.code: Label(c.name_vi, c.name_en) for c in self.categories if c.name_vi or c.name_en}


class Zone(Base):
    """An area of the venue a ticket may open (hall, vip, press)."""

    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("event_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name_vi: Mapped[str] = mapped_column(String(LABEL_LIMIT), default="", server_default="")
    name_en: Mapped[str] = mapped_column(String(LABEL_LIMIT), default="", server_default="")
    event: Mapped[Event] = relationship(back_populates="zones")


class Category(Base):
    """A kind of guest (delegate, press) and what the event calls it in Vietnamese and English."""

    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("event_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name_vi: Mapped[str] = mapped_column(String(LABEL_LIMIT), default="", server_default="")
    name_en: Mapped[str] = mapped_column(String(LABEL_LIMIT), default="", server_default="")
    event: Mapped[Event] = relationship(back_populates="categories")


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
    # name, organisation, category and e-mail folded for search (store.guests.search_text)
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    # "<api token id>:<Idempotency-Key>" of the API request that added the guest: a retried
    # request finds its guest instead of adding a second one with a second valid code
    request_key: Mapped[str | None] = mapped_column(String(120), nullable=True)

    __table_args__ = (Index("ix_guests_request_key", "event_id", "request_key", unique=True),)


class Invitation(Base):
    """A guest's link to their own page (/declare/<token>): the token is kept as its SHA-256 only.
    A guest has at most one live invitation; sending a new one revokes the earlier ones."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guest_id: Mapped[int] = mapped_column(ForeignKey("guests.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex, never the token
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class IssuedCredential(Base):
    """A credential the service signed: kept to re-send, list and revoke it."""

    __tablename__ = "credentials"
    cti: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    guest_id: Mapped[int | None] = mapped_column(
        ForeignKey("guests.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kid: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default=CredentialStatus.ACTIVE.value)
    reason: Mapped[str] = mapped_column(Text, default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    text: Mapped[str] = mapped_column(Text)


class Device(Base):
    """A gate: created by an admin with a one-time enrolment code, then enrolled with its key."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    zone: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8), default="in")
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default=DeviceStatus.PENDING.value)
    enrol_code_hash: Mapped[str] = mapped_column(String(64), default="", index=True)  # SHA-256, never the code
    enrol_expires: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    public_key: Mapped[str] = mapped_column(String(64), default="")  # raw Ed25519, hex
    token_hash: Mapped[str] = mapped_column(String(64), default="", index=True)  # SHA-256 of the bearer token
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acked_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # highest contiguous seq held
    head_hash: Mapped[str] = mapped_column(String(64), default="")  # hash of the row at acked_seq
    # Forward-secure seals (checkin.core.seal): the seed the gate sent at enrolment ("" : none) and
    # where incremental verification stands: the key (hex) that sealed row seal_seq, the next to check.
    seal_seed: Mapped[str] = mapped_column(String(64), default="", server_default="")
    seal_seq: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    seal_key: Mapped[str] = mapped_column(String(64), default="", server_default="")


UNTRUSTED_ROW = text("cti = ''")  # a row whose code never verified (no credential id)
TIMELINE_INDEX = ("event_id", "cti", "wall_ms", "device_id", "seq", "verdict", "reason", "direction", "zone")


class Scan(Base):
    """A journal row uploaded by a gate, exactly as the gate chained it.

    Text columns are as wide as the chain allows (checkin.core.chain.MAX_TEXT): a row the gate signed
    into its chain must be storable whatever it says, or the gate could never upload past it.
    """

    __tablename__ = "scans"
    # (device_id, seq): a gate's rows in seq order (upload, audit); (event_id, id): an event's rows in
    # upload order, which gates pull other gates' passages by. One credential's timeline across the
    # event's gates, read by the cross-gate audit for every credential of every uploaded batch: the
    # index covers what it reads (store.timelines), so a credential's rows are one index range, not a
    # table lookup per row; (event, "", device) also finds a gate's tries of codes that never verified.
    # The officer's search: newest first per event, and per gate (store.scan_search).
    __table_args__ = (
        UniqueConstraint("device_id", "seq"),
        Index("ix_scans_event_cursor", "event_id", "id"),
        Index("ix_scans_event_cti", *TIMELINE_INDEX),
        Index("ix_scans_event_time", "event_id", "wall_ms", "id"),
        Index("ix_scans_event_device_time", "event_id", "device_id", "wall_ms", "id"),
        # the tries of codes that never verified (no credential id), by the key id they claimed
        Index(
            "ix_scans_untrusted",
            "event_id",
            "kid",
            "device_id",
            postgresql_where=UNTRUSTED_ROW,
            sqlite_where=UNTRUSTED_ROW,
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # no cascade: a gate (or its event) with rows cannot be deleted; scans are append-only (0014)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    wall_ms: Mapped[int] = mapped_column(BigInteger)
    mono_ms: Mapped[int] = mapped_column(BigInteger)
    cti: Mapped[str] = mapped_column(String(_TEXT), index=True)
    kid: Mapped[str] = mapped_column(String(_TEXT))
    verdict: Mapped[str] = mapped_column(String(_TEXT))
    reason: Mapped[str] = mapped_column(String(_TEXT))
    direction: Mapped[str] = mapped_column(String(_TEXT))
    zone: Mapped[str] = mapped_column(String(_TEXT))
    operator: Mapped[str] = mapped_column(String(200), default="")
    screening: Mapped[str] = mapped_column(String(200), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(String(64), default="", server_default="")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CheckpointRecord(Base):
    """A checkpoint a gate signed with its device key, and whether it held."""

    __tablename__ = "checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[str] = mapped_column(String(64))
    wall_ms: Mapped[int] = mapped_column(BigInteger)
    signed: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Alert(Base):
    """Something an officer must look at: a gap, a fork, a bad checkpoint, clock skew, a duplicate."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("fingerprint", name="uq_alerts_fingerprint"),
        Index("ix_alerts_event_state", "event_id", "state", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    device_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    # who first acknowledged or resolved it ("" while open): store.journal de-duplicates open alerts by it
    acknowledged_by: Mapped[str] = mapped_column(String(64), default="")
    # services.findings.Severity; the rows that prove it as a JSON list of "device#seq"; the
    # finding's fingerprint, unique: the same finding found again is this alert, not a second one
    severity: Mapped[str] = mapped_column(String(16), default="medium", server_default="medium")
    rows: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    fingerprint: Mapped[str] = mapped_column(String(64))
    # services.findings.AlertState; moved forward only (store.alerts_view), each move in the activity log
    state: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    state_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    state_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class LedgerEntry(Base):
    """One stored batch of a gate's rows, as the service stored it (store.ledger): chained per gate
    and keyed with the ledger key, which is kept out of the database."""

    __tablename__ = "ledger"
    __table_args__ = (UniqueConstraint("device_id", "first_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    event_id: Mapped[str] = mapped_column(String(64), index=True)  # ix_ledger_event_id
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[str] = mapped_column(String(64))  # the hash of the batch's last row
    digests: Mapped[bytes] = mapped_column(LargeBinary)  # 8 bytes per row: SHA-256 of the row as stored
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    prev: Mapped[str] = mapped_column(String(64))  # the gate's previous entry's mac ("" for its first)
    mac: Mapped[str] = mapped_column(String(64), unique=True)


class BundlePull(Base):
    """A bundle version a gate was handed (enrolment, or a pull over the API), first time only: which
    revocations each gate could know at a given moment (the cross-gate audit names the version).

    Append-only history: no foreign key, so a gate removed later keeps its record."""

    __tablename__ = "bundle_pulls"
    __table_args__ = (UniqueConstraint("device_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    device_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)  # when the service signed this version
    pulled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Presence(Base):
    """Who is inside, kept at ingest (checkin.store.counters): per event and credential, one row for
    the whole event (zone "") holding the latest admitted movement by wall time, and one row per zone
    entered. Only the latest movement decides where a person is, so the order rows arrive in does not
    matter."""

    __tablename__ = "presence"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cti: Mapped[str] = mapped_column(String(_TEXT), primary_key=True)
    zone: Mapped[str] = mapped_column(String(_TEXT), primary_key=True)  # "": the whole event
    entries: Mapped[int] = mapped_column(Integer)  # admitted entries (direction in)
    first_in_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: never entered
    # the latest admitted movement (wall time, gate, seq: a total order whatever the upload order)
    last_ms: Mapped[int] = mapped_column(BigInteger)
    last_device: Mapped[str] = mapped_column(String(32))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_zone: Mapped[str] = mapped_column(String(_TEXT))
    inside: Mapped[bool] = mapped_column(Boolean)  # the latest movement was an entry


class PresenceTotal(Base):
    """The presence rows of an event added up per zone (zone "": the whole event): inside now and
    entered so far, what the dashboard shows, changed by each counted batch's difference."""

    __tablename__ = "presence_totals"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    zone: Mapped[str] = mapped_column(String(_TEXT), primary_key=True)
    inside: Mapped[int] = mapped_column(Integer)
    entered: Mapped[int] = mapped_column(Integer)


class ScanBucket(Base):
    """Entries, exits and denials (every verdict but admit) per gate and 15 minutes of wall time, and
    the health screening's figures: rows screened, and of them referred (counts, never who)."""

    __tablename__ = "scan_buckets"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # start, UTC ms
    entries: Mapped[int] = mapped_column(Integer)
    exits: Mapped[int] = mapped_column(Integer)
    denials: Mapped[int] = mapped_column(Integer)
    screened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    referred: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CounterMark(Base):
    """Up to which seq a gate's stored rows are in the counters: counting resumes after it, so a
    retried or interrupted count never counts a row twice or misses one."""

    __tablename__ = "counter_marks"
    device_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class User(Base):
    """A person who logs in: admin, registrar or officer."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    role: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StaffSession(Base):
    """A login: the cookie holds only its random id, kept here as a SHA-256, so ending it here ends
    it everywhere at once (logout, a password change, a disabled user, "log out everywhere")."""

    __tablename__ = "staff_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    expires: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class LoginThrottle(Base):
    """Login attempts counted per key (an address, or an address and a user name), shared by every
    worker and instance; the key is a SHA-256, so the table holds neither addresses nor names."""

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    wait_until: Mapped[datetime] = mapped_column(UtcDateTime)


class AdminAction(Base):
    """Append-only log of what people did in the service (who, what, to what, when)."""

    __tablename__ = "admin_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class ApiToken(Base):
    """A bearer token for a registration system that issues codes through the API (no gate, no person)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # registrar or admin
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256, never the token
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ApiTokenScope(Base):
    """What an API token may issue: one row per event, category or zone it names. A token with no
    event row issues nothing; with no category (zone) rows, any of its events' categories (zones)."""

    __tablename__ = "api_token_scopes"
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # event, category or zone
    value: Mapped[str] = mapped_column(String(64), primary_key=True)


class JobState(StrEnum):
    """A background job waits (queued), runs, then ends done or failed (an error, or a restart)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    """Long work for one event run in the service's worker thread (an import, a bulk e-mail): its
    input, its progress and how it ended. The id is long and random, but it is not a capability:
    the pages still check the role and the event."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)  # items with a result
    problems: Mapped[int] = mapped_column(Integer, default=0)  # of them, items that did not succeed
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    started: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # why a failed job stopped (a Reason code and its English detail); a summary for a done one
    reason: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what was asked (file name, issue now…)
    # the work itself (an uploaded file): kept, so a job a restart interrupted can be looked at or run again
    # deferred: lists of jobs never read it; store.jobs.job_input does
    input: Mapped[bytes] = mapped_column(LargeBinary, default=b"", deferred=True)


class JobItem(Base):
    """The result of one item of a job (a row of a guest list, a guest's e-mail), in the order done."""

    __tablename__ = "job_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(String(64))  # a line number, a guest id: what a resumed job skips
    label: Mapped[str] = mapped_column(String(200), default="")  # the guest's name, as shown
    outcome: Mapped[str] = mapped_column(String(16))  # per kind: added, issued, refused; sent, skipped, failed
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(String(64), default="")
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what the reason's message names
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)
