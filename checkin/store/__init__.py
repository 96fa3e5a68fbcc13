"""The service's database: SQLite (WAL) by default, PostgreSQL by URL. All time is a parameter.

The schema is made and upgraded by the Alembic revisions in `checkin/store/migrations/`
(`Store.migrate()`), never by `create_all`, so a deployment's database and the code always agree
on which revision they are at.

Transactions: `session()` reads, `writing()` writes. On SQLite a write transaction starts with
BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout instead of failing when a read
transaction tries to become a write one (SQLITE_BUSY_SNAPSHOT in WAL mode); on PostgreSQL the
rows a writer depends on are locked with SELECT ... FOR UPDATE.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from checkin.core.chain import JournalRow
from checkin.core.credential import Credential
from checkin.core.errors import InputError, Reason
from checkin.store import journal
from checkin.store.journal import AlertNote, Ingested, JournalRefused
from checkin.store.models import (
    AdminAction,
    Alert,
    Base,
    CheckpointRecord,
    Device,
    Event,
    Guest,
    IssuedCredential,
    Scan,
    User,
    Zone,
)

__all__ = [
    "EARLIEST_EVENT",
    "EVENT_ID",
    "LATEST_EVENT",
    "RESERVED_EVENT_IDS",
    "AdminAction",
    "Alert",
    "AlertNote",
    "Base",
    "BundleInputs",
    "CheckpointRecord",
    "Device",
    "Event",
    "Guest",
    "Ingested",
    "IssuedCredential",
    "JournalRefused",
    "NewEvent",
    "Scan",
    "Store",
    "User",
    "Zone",
    "credential_values",
    "find_event",
    "sha256_hex",
]

MIGRATIONS = Path(__file__).with_name("migrations")
ENROL_VALIDITY = timedelta(minutes=15)
# Enrolment codes are typed at the gate: 16 characters of an alphabet without 0/O, 1/I/L (80 bits).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16
DIRECTIONS = ("in", "out")
LAST_SEEN_EVERY = timedelta(minutes=1)  # a bundle fetch records last_seen at most this often


def sha256_hex(text: str) -> str:
    """SHA-256 of a secret as hex: what the store keeps instead of codes and tokens."""
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_code(text: str) -> str:
    """An enrolment code as typed (any case, dashes and spaces) in its canonical form."""
    return "".join(c for c in text.upper() if c not in "- \t")


EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
RESERVED_EVENT_IDS = ("new",)  # /admin/events/new is the form for a new event
# A plausible event, and its tickets' window around it, stay far from the calendar's edges.
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT = datetime(2100, 1, 1, tzinfo=UTC)


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off: the "begin" listener below emits
    # BEGIN or BEGIN IMMEDIATE itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("checkin_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


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


@dataclass(frozen=True)
class BundleInputs:
    """What a trust bundle is built from, read in one transaction."""

    event: Event
    revoked: frozenset[bytes]
    names: dict[bytes, str]


class _WriterQueue:
    """SQLite writers wait their turn on a lock the kernel hands over at once.

    SQLite's own busy handler polls with sleeps of 1 to 100 ms, so two server processes writing at
    once lost a third of their throughput to sleeping; a thread lock plus an flock on a file next to
    the database queues them instead. The database's own locking stays the guarantee.
    """

    def __init__(self, database: str | None) -> None:
        self._thread_lock = threading.Lock()
        memory = not database or database == ":memory:"
        self._path = None if memory else f"{database}.writer-lock"
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self._path is None:
            return
        try:
            if self._fd is None or self._pid != os.getpid():
                # a forked worker opens its own: an flock shared through an inherited descriptor
                # would not keep the worker processes apart
                self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        """Close the lock file (a later writer opens it again)."""
        with self._thread_lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


class Store:
    """Sessions over one database, with the queries the tools and the service need."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = sessionmaker(self.engine.execution_options(checkin_write=True), expire_on_commit=False)
        self._queue = _WriterQueue(self.engine.url.database) if self.engine.dialect.name == "sqlite" else None

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (the newest by default) with the Alembic migrations."""
        self._alembic("upgrade", revision)

    def downgrade(self, revision: str) -> None:
        """Take the schema back to `revision` ("base": no tables)."""
        self._alembic("downgrade", revision)

    def _alembic(self, verb: str, revision: str) -> None:
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            getattr(command, verb)(cfg, revision)

    def dispose(self) -> None:
        """Close every pooled connection, and the writers' lock file."""
        self.engine.dispose()
        if self._queue is not None:
            self._queue.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading (committed on success, rolled back on any error)."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session for writing: on SQLite it holds the write lock from its first statement."""
        with self._queue or nullcontext(), self._writers() as session, session.begin():
            yield session

    # ---- events -----------------------------------------------------------------------------

    def create_event(self, new: NewEvent, now: datetime) -> Event:
        """Create an event with its zones; refuse a duplicate id."""
        if not EVENT_ID.fullmatch(new.id) or new.id in RESERVED_EVENT_IDS:
            raise InputError(f"event id {new.id!r}: 1 to 64 letters, digits, '-' or '_', and not {RESERVED_EVENT_IDS}")
        if not (new.start >= EARLIEST_EVENT and new.end <= LATEST_EVENT):
            raise InputError(f"an event takes place between {EARLIEST_EVENT.year} and {LATEST_EVENT.year - 1}")
        if new.end <= new.start:
            raise InputError("the event must end after it starts")
        if not new.zones:
            raise InputError("an event needs at least one zone")
        try:
            with self.writing() as s:
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
            row = _event(s, event_id)
        return row

    def events(self) -> Sequence[Event]:
        """Every event, newest first."""
        with self.session() as s:
            return s.scalars(select(Event).options(selectinload(Event.zones)).order_by(Event.start.desc())).all()

    # ---- guests and credentials ---------------------------------------------------------------

    def record_issued(self, items: Sequence[tuple[Guest | None, Credential, str, str]]) -> None:
        """Store guests and the credentials issued to them, (guest, credential, kid, text), in bulk."""
        with self.writing() as s:
            guests = [g for g, _c, _k, _t in items if g is not None]
            ids: list[int] = []
            if guests:
                rows = [{c.key: getattr(g, c.key) for c in Guest.table().columns if c.key != "id"} for g in guests]
                ids = list(s.scalars(insert(Guest).returning(Guest.id, sort_by_parameter_order=True), rows))
            next_id = iter(ids)
            s.execute(
                insert(IssuedCredential),
                [
                    credential_values(None if guest is None else next(next_id), credential, kid, text)
                    for guest, credential, kid, text in items
                ],
            )

    def revoke(self, cti: str, reason: str, now: datetime) -> IssuedCredential:
        """Revoke one credential by id (hex, or a unique prefix of at least 8 digits)."""
        cti = cti.lower()
        if len(cti) < 8:
            raise InputError("give at least 8 hex digits of the credential id")
        with self.writing() as s:
            rows = s.scalars(select(IssuedCredential).where(IssuedCredential.cti.startswith(cti))).all()
            if len(rows) != 1:
                raise InputError(f"no single credential matches {cti!r}", Reason.NOT_FOUND)
            row = rows[0]
            row.status, row.reason, row.revoked_at = "revoked", reason, now
        return row

    def revoked_ids(self, event_id: str) -> frozenset[bytes]:
        """The ids of the event's revoked credentials."""
        with self.session() as s:
            return _revoked(s, event_id)

    def credential_names(self, event_id: str) -> dict[bytes, str]:
        """Display names by credential id, for bundles whose policy includes them."""
        with self.session() as s:
            return _names(s, event_id)

    # ---- trust bundles --------------------------------------------------------------------------

    def bundle_inputs(self, event_id: str, *, names: bool) -> BundleInputs:
        """The event, its revoked ids and (when asked) display names, in one read transaction."""
        with self.session() as s:
            ev = _event(s, event_id)
            return BundleInputs(ev, _revoked(s, event_id), _names(s, event_id) if names else {})

    def bundle_version(
        self, event_id: str, content: bytes, now: datetime, renew_after: timedelta | None = None
    ) -> tuple[int, datetime]:
        """The bundle version for this content and when that version was signed.

        The version grows by one when the content changed, or, with `renew_after`, when the
        current version was signed longer ago than that (or in the future of `now`): a renewed
        expiry is new bytes, and one version must always mean one byte string.
        """
        digest = hashlib.sha256(content).hexdigest()
        with self.session() as s:
            current = s.execute(
                select(Event.bundle_version, Event.bundle_digest, Event.bundle_issued_at).where(Event.id == event_id)
            ).first()
        if current is None:
            raise InputError(f"no event {event_id!r}", Reason.NOT_FOUND)
        if not _bundle_outdated(current.bundle_digest, current.bundle_issued_at, digest, now, renew_after):
            assert current.bundle_issued_at is not None
            return current.bundle_version, current.bundle_issued_at
        with self.writing() as s:
            row = s.get(Event, event_id, with_for_update=True)
            if row is None:
                raise InputError(f"no event {event_id!r}", Reason.NOT_FOUND)
            if _bundle_outdated(row.bundle_digest, row.bundle_issued_at, digest, now, renew_after):
                row.bundle_version += 1
                row.bundle_digest = digest
                row.bundle_issued_at = now
            assert row.bundle_issued_at is not None
            return row.bundle_version, row.bundle_issued_at

    # ---- gate devices ----------------------------------------------------------------------------

    def create_device(
        self, event_id: str, name: str, zone: str | None, direction: str, now: datetime
    ) -> tuple[Device, str]:
        """Register a gate for an event; return it and its one-time enrolment code (valid 15 minutes)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise InputError("a gate needs a name of 1 to 100 characters")
        if direction not in DIRECTIONS:
            raise InputError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        code = _new_code()
        with self.writing() as s:
            ev = _event(s, event_id)
            zone = zone or ev.zone_codes[0]
            if zone not in ev.zone_codes:
                raise InputError(f"unknown zone {zone!r}; the event has {', '.join(ev.zone_codes)}")
            device = Device(
                id=secrets.token_hex(8),
                event_id=event_id,
                name=name,
                zone=zone,
                direction=direction,
                created=now,
                status="pending",
                enrol_code_hash=sha256_hex(normalise_code(code)),
                enrol_expires=now + ENROL_VALIDITY,
                public_key="",
                token_hash="",
                acked_seq=0,
                head_hash="",
            )
            s.add(device)
        return device, code

    def enrol_device(self, code: str, public_key_hex: str, now: datetime) -> tuple[Device, str]:
        """Use a one-time enrolment code: bind the gate's public key, return the device and its token.

        The code is spent by a single conditional UPDATE, so two gates racing with one code
        cannot both enrol. The token is returned once and only its SHA-256 is kept.
        """
        token = secrets.token_urlsafe(32)
        invalid = InputError("ask an administrator for a new one (checkin gate add)", Reason.ENROLMENT_INVALID)
        code_hash = sha256_hex(normalise_code(code))
        usable = (Device.enrol_code_hash == code_hash, Device.status == "pending", Device.enrol_expires > now)
        with self.writing() as s:
            if s.scalars(select(Device.id).where(*usable)).first() is None:
                raise invalid
            twin = select(Device.id).where(Device.public_key == public_key_hex, Device.status == "active")
            if s.scalars(twin).first() is not None:  # a cloned gate, or one enrolled twice: the code stays unspent
                raise InputError("this public key belongs to an enrolled gate already", Reason.ALREADY_EXISTS)
            result = s.execute(
                update(Device)
                .where(*usable)
                .values(
                    status="active",
                    enrol_code_hash="",
                    enrol_expires=None,
                    public_key=public_key_hex,
                    token_hash=sha256_hex(token),
                    enrolled_at=now,
                    last_seen=now,
                )
                .returning(Device.id)
            )
            device_id = result.scalar_one_or_none()
            if device_id is None:
                raise invalid
            device = s.get(Device, device_id, populate_existing=True)
            assert device is not None
        return device, token

    def device_for_token(self, token: str) -> Device | None:
        """The device a bearer token belongs to (whatever its status), or None."""
        with self.session() as s:
            return s.scalars(select(Device).where(Device.token_hash == sha256_hex(token))).first()

    def device(self, device_id: str) -> Device:
        """One device by id."""
        with self.session() as s:
            row = s.get(Device, device_id)
        if row is None:
            raise InputError(f"no gate {device_id!r}", Reason.NOT_FOUND)
        return row

    def devices(self, event_id: str | None = None) -> Sequence[Device]:
        """Every device (of one event, if given), oldest first."""
        query = select(Device).order_by(Device.created, Device.id)
        if event_id is not None:
            query = query.where(Device.event_id == event_id)
        with self.session() as s:
            return s.scalars(query).all()

    def revoke_device(self, device_id: str, now: datetime) -> Device:
        """Revoke a gate: its token stops working at once and its enrolment code is spent."""
        with self.writing() as s:
            row = s.get(Device, device_id, with_for_update=True)
            if row is None:
                raise InputError(f"no gate {device_id!r}", Reason.NOT_FOUND)
            if row.status == "revoked":  # the first revocation's time is the one that counts
                raise InputError(f"gate {device_id} was revoked already, at {row.revoked_at}", Reason.DEVICE_REVOKED)
            row.status, row.revoked_at = "revoked", now
            row.enrol_code_hash, row.enrol_expires = "", None
        return row

    def seen(self, device: Device, now: datetime) -> None:
        """Record that a device was heard from; written at most once a minute per device."""
        if device.last_seen is not None and device.last_seen <= now < device.last_seen + LAST_SEEN_EVERY:
            return
        with self.writing() as s:
            s.execute(update(Device).where(Device.id == device.id).values(last_seen=now))

    # ---- journal upload --------------------------------------------------------------------------

    def ingest_journal(self, device: Device, rows: Sequence[JournalRow], checkpoint: bytes, now: datetime) -> Ingested:
        """Check and store a batch of a gate's journal rows; JournalRefused (alert kept) when refused.

        The chain and the checkpoint are verified before the write transaction starts, so gates
        uploading at once spend their CPU in parallel and hold the write lock only to store.
        """
        batch = journal.check_batch(rows, checkpoint, device.public_key)
        with self.writing() as s:
            outcome = journal.ingest(s, device.id, batch, now)
        if isinstance(outcome, JournalRefused):
            raise outcome
        return outcome

    def journal_rows(self, device_id: str) -> list[JournalRow]:
        """A device's uploaded journal, in seq order, as the gate chained it."""
        with self.session() as s:
            return journal.held_rows(s, device_id)

    def scan_count(self, event_id: str | None = None) -> int:
        """How many journal rows are held (for one event, if given)."""
        query = select(func.count()).select_from(Scan)
        if event_id is not None:
            query = query.where(Scan.event_id == event_id)
        with self.session() as s:
            return int(s.scalar(query) or 0)

    def alerts(self, *, event_id: str | None = None, device_id: str | None = None) -> Sequence[Alert]:
        """Alerts, oldest first, optionally for one event or one device."""
        query = select(Alert).order_by(Alert.id)
        if event_id is not None:
            query = query.where(Alert.event_id == event_id)
        if device_id is not None:
            query = query.where(Alert.device_id == device_id)
        with self.session() as s:
            return s.scalars(query).all()

    # ---- the admin action log ----------------------------------------------------------------------

    def record_action(self, actor: str, action: str, target: str, detail: str, now: datetime) -> None:
        """Append one entry to the admin action log (the table refuses updates and deletes)."""
        with self.writing() as s:
            s.execute(insert(AdminAction).values(at=now, actor=actor, action=action, target=target, detail=detail))

    def actions(self, limit: int = 100) -> Sequence[AdminAction]:
        """The newest entries of the admin action log, newest first."""
        with self.session() as s:
            return s.scalars(select(AdminAction).order_by(AdminAction.id.desc()).limit(limit)).all()


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
        "status": "active",
        "reason": "",
        "text": text,
    }


def find_event(s: Session, event_id: str) -> Event | None:
    """One event with its zones, in one query, or None."""
    return s.scalars(select(Event).where(Event.id == event_id).options(joinedload(Event.zones))).unique().first()


def _event(s: Session, event_id: str) -> Event:
    row = find_event(s, event_id)
    if row is None:
        raise InputError(f"no event {event_id!r}; create it with `checkin event create`", Reason.NOT_FOUND)
    return row


def _revoked(s: Session, event_id: str) -> frozenset[bytes]:
    ids = s.scalars(
        select(IssuedCredential.cti).where(IssuedCredential.event_id == event_id, IssuedCredential.status == "revoked")
    ).all()
    return frozenset(bytes.fromhex(c) for c in ids)


def _names(s: Session, event_id: str) -> dict[bytes, str]:
    rows = s.execute(
        select(IssuedCredential.cti, IssuedCredential.name).where(IssuedCredential.event_id == event_id)
    ).all()
    return {bytes.fromhex(cti): name for cti, name in rows}


def _bundle_outdated(
    held_digest: str, signed_at: datetime | None, digest: str, now: datetime, renew_after: timedelta | None
) -> bool:
    if held_digest != digest or signed_at is None:
        return True
    if renew_after is None:
        return False
    return not signed_at <= now < signed_at + renew_after
