"""The engine and its sessions: SQLite (WAL) by default, PostgreSQL by URL.

The schema is made and upgraded by the Alembic revisions in `checkin/store/migrations/`
(`Store.migrate()`, run by `checkin db upgrade`), never by `create_all`, so a deployment's
database and the code always agree on which revision they are at; `Store.schema_current()` says
whether they do.

Transactions: `session()` reads, `writing()` writes. On SQLite a write transaction starts with
BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout instead of failing when a read
transaction tries to become a write one (SQLITE_BUSY_SNAPSHOT in WAL mode); on PostgreSQL the
rows a writer depends on are locked with SELECT ... FOR UPDATE.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from checkin import files
from checkin.store.schema import MIGRATIONS, current_revisions, head_revisions


def sha256_hex(text: str) -> str:
    """SHA-256 of a secret as hex: what the store keeps instead of codes and tokens."""
    return hashlib.sha256(text.encode()).hexdigest()


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
    """Sessions over one database; the queries live in the modules of each subject."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            database = self.engine.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                # guest data, code hashes and password hashes: SQLite would create the file and its
                # WAL with the umask's mode (the WAL and shm take the database file's mode)
                files.create_private(Path(database))
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = sessionmaker(self.engine.execution_options(checkin_write=True), expire_on_commit=False)
        self._queue = _WriterQueue(self.engine.url.database) if self.engine.dialect.name == "sqlite" else None

    def migrate(self, revision: str = "heads") -> None:
        """Upgrade the schema to `revision` (the newest by default) with the Alembic migrations."""
        self._alembic("upgrade", revision)

    def downgrade(self, revision: str) -> None:
        """Take the schema back to `revision` ("base": no tables)."""
        self._alembic("downgrade", revision)

    def schema_current(self) -> bool:
        """True when the database is at the newest revision of the migrations (none missing, none unknown)."""
        return current_revisions(self.engine) == head_revisions()

    def _alembic(self, verb: str, revision: str) -> None:
        from alembic import command

        cfg = _alembic_config()
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


def _alembic_config() -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg
