"""The gate's local journal (DESIGN section 5): one SQLite file, a hash chain, seals, checkpoints.

Every scan, admitted or not, becomes a row chained with `checkin.core.chain.append` and committed with
`journal_mode=WAL, synchronous=FULL` before its verdict is shown: a verdict on screen is a row on
disk. Every `checkpoint_rows` rows or `checkpoint_ms` of wall time, and at each sync, the gate
signs a checkpoint of the chain's head with its device key. Rows are never deleted; the server's
acknowledged seq only says which rows need not be sent again.

Every row is also sealed with a forward-secure key (`checkin.core.seal`) that the same transaction
replaces by its successor, with SQLite's secure_delete on and the WAL truncated at each checkpoint,
so the key that sealed a row does not stay on the laptop. A journal with no sealing key (never
enrolled) refuses to record anything.

The time floor (the latest of the journalled wall times and the last server time) lives in the
same transaction as the rows, so it can never lag behind them.
"""

from __future__ import annotations

import heapq
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass, fields, replace
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from checkin import files
from checkin.core import chain, seal
from checkin.core.chain import ChainProblem, Checkpoint, JournalRow, ProblemKind
from checkin.core.errors import CheckinError, InputError, Reason, Verdict
from checkin.core.trust import Direction
from scanner import gate
from scanner.gate import Decision, GateState

FILE_NAME = "journal.db"
CHECKPOINT_ROWS = 100
CHECKPOINT_MS = 5 * 60 * 1000
_COLUMNS = [f.name for f in fields(JournalRow)]
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM rows"  # noqa: S608 - fixed column names
_INSERT = f"INSERT INTO rows ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608 - fixed column names
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    seq INTEGER PRIMARY KEY,
    wall_ms INTEGER NOT NULL,
    mono_ms INTEGER NOT NULL,
    cti TEXT NOT NULL,
    kid TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT NOT NULL,
    direction TEXT NOT NULL,
    zone TEXT NOT NULL,
    operator TEXT NOT NULL,
    screening TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    seal TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS sealer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY,
    head TEXT NOT NULL,
    wall_ms INTEGER NOT NULL,
    signed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS screening_details (
    seq INTEGER PRIMARY KEY REFERENCES rows (seq),
    wall_ms INTEGER NOT NULL,
    salt BLOB NOT NULL,
    details TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS peers (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    after_seq INTEGER NOT NULL,
    id INTEGER NOT NULL UNIQUE,
    gate TEXT NOT NULL,
    cti TEXT NOT NULL,
    direction TEXT NOT NULL,
    wall_ms INTEGER NOT NULL,
    zone TEXT NOT NULL
);
"""
_HELD_PEERS = "SELECT id FROM peers WHERE id IN ({})"  # placeholders only
_META_DEFAULTS = {"acked_seq": 0, "time_floor_ms": 0, "server_time_ms": 0, "peer_cursor": 0}


@dataclass(frozen=True)
class Peer:
    """A passage another gate of the event uploaded, as pulled: the service's scan id, the gate,
    the credential id (hex), the direction, that gate's wall time and the zone."""

    id: int
    gate_id: str
    cti: str
    direction: str
    wall_ms: int
    zone: str

    def passage(self) -> gate.Passage:
        """The passage as the gate's decisions count it."""
        return gate.Passage(bytes.fromhex(self.cti), Direction(self.direction), self.wall_ms, self.zone, self.gate_id)


class JournalError(CheckinError):
    """The journal cannot be written or does not hold together."""

    default_reason = Reason.INVALID_INPUT


@dataclass(frozen=True)
class Stored:
    """A committed checkpoint: what it says and its signed bytes."""

    checkpoint: Checkpoint
    signed: bytes


def begin(path: Path) -> bytes:
    """Create a newly enrolled gate's journal with a fresh sealing seed; the seed, to hand over once."""
    seed = seal.new_seed()
    with Journal(path) as journal:
        journal.start_sealing(seed)
    return seed


def _row(values: tuple[object, ...]) -> JournalRow:
    return JournalRow(*values)  # type: ignore[arg-type]  # the columns are the fields, in order


class Journal:
    """One gate's journal file. Use one instance per thread (an SQLite connection is per thread)."""

    def __init__(
        self,
        path: Path,
        device_key: Ed25519PrivateKey | None = None,
        *,
        checkpoint_rows: int = CHECKPOINT_ROWS,
        checkpoint_ms: int = CHECKPOINT_MS,
    ) -> None:
        self.path = path
        self.device_key = device_key
        self.checkpoint_rows = checkpoint_rows
        self.checkpoint_ms = checkpoint_ms
        files.create_private(path)  # SQLite gives the WAL the database file's mode
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA secure_delete=ON")  # an evolved sealing key's old bytes are zeroed
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            columns = {str(c[1]) for c in self._db.execute("PRAGMA table_info(rows)")}
            if "seal" not in columns:  # a journal written before seals existed
                self._db.execute("ALTER TABLE rows ADD COLUMN seal TEXT NOT NULL DEFAULT ''")
            for key, value in _META_DEFAULTS.items():
                self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ---- plumbing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    class _Txn:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            # IMMEDIATE: take the write lock now, so the read of the head and the insert are one step
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(
            self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
        ) -> None:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _transaction(self) -> Journal._Txn:
        return Journal._Txn(self._db)

    def pragma(self, name: str) -> str:
        """The value of a PRAGMA (journal_mode, synchronous, integrity_check...)."""
        value = self._db.execute(f"PRAGMA {name}").fetchone()  # - names come from our code only
        return str(value[0])

    def _meta(self, key: str) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))

    # ---- reading ------------------------------------------------------------------------------

    def head(self) -> JournalRow | None:
        """The last row, or None for an empty journal."""
        found = self._db.execute(f"{_SELECT} ORDER BY seq DESC LIMIT 1").fetchone()
        return None if found is None else _row(found)

    def row(self, seq: int) -> JournalRow | None:
        """The row at `seq`, if there is one."""
        found = self._db.execute(f"{_SELECT} WHERE seq = ?", (seq,)).fetchone()
        return None if found is None else _row(found)

    def last_seq(self) -> int:
        """The seq of the last row (0 when empty)."""
        return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM rows").fetchone()[0])

    def rows(self, after: int = 0, limit: int | None = None) -> list[JournalRow]:
        """Rows with seq above `after`, in seq order, at most `limit` of them."""
        query = f"{_SELECT} WHERE seq > ? ORDER BY seq"
        if limit is None:
            return [_row(r) for r in self._db.execute(query, (after,))]
        return [_row(r) for r in self._db.execute(query + " LIMIT ?", (after, limit))]

    def iter_rows(self, batch: int = 2000) -> Iterator[JournalRow]:
        """Every row in seq order, read in batches."""
        after = 0
        while True:
            chunk = self.rows(after, batch)
            if not chunk:
                return
            yield from chunk
            after = chunk[-1].seq

    def sealing_key(self) -> seal.SealKey | None:
        """The key that will seal the next row (None: this journal was never given a seed)."""
        found = self._db.execute("SELECT seq, key FROM sealer WHERE id = 1").fetchone()
        return None if found is None else seal.SealKey(int(found[0]), bytes(found[1]))

    @property
    def acked_seq(self) -> int:
        """The highest seq the server confirmed it holds, with every row before it."""
        return self._meta("acked_seq")

    def pending(self) -> int:
        """Rows the server has not acknowledged yet."""
        return max(0, self.last_seq() - self.acked_seq)

    @property
    def time_floor_ms(self) -> int:
        """The lowest wall time the gate trusts: its last journalled time or the last server time."""
        return self._meta("time_floor_ms")

    @property
    def server_time_ms(self) -> int:
        """The last time the server told (0: never)."""
        return self._meta("server_time_ms")

    def state(self, zone: str | None, direction: Direction) -> GateState:
        """The gate state this journal implies: who is inside, entries used, the time floor."""
        return self.snapshot(zone, direction)[0]

    def snapshot(self, zone: str | None, direction: Direction) -> tuple[GateState, int]:
        """The gate state with the other gates' passages pulled so far, and the arrival number of the
        last of them (what `peers_after` continues from).

        Each pulled passage is counted after the row that was this journal's last when it arrived,
        as the scan loop counted it then."""
        mark = self.last_peer()
        own: Iterator[tuple[tuple[int, int], gate.Counted]] = (
            ((int(seq), 0), (bytes.fromhex(cti), Direction(way), int(wall_ms)))
            for seq, cti, way, wall_ms in self._db.execute(
                "SELECT seq, cti, direction, wall_ms FROM rows WHERE verdict = ? AND cti != '' ORDER BY seq",
                (Verdict.ADMIT.value,),
            )
        )
        pulled: Iterator[tuple[tuple[int, int], gate.Counted]] = (
            ((int(after_seq), 1), Peer(*fields_).passage())
            for after_seq, *fields_ in self._db.execute(
                "SELECT after_seq, id, gate, cti, direction, wall_ms, zone FROM peers WHERE n <= ?"
                " ORDER BY after_seq, n",
                (mark,),
            )
        )
        merged = (passage for _at, passage in heapq.merge(own, pulled, key=itemgetter(0)))
        state = gate.rebuild(merged, zone=zone, direction=direction, time_floor_ms=self.time_floor_ms)
        return state, mark

    # ---- the other gates' passages (not this gate's scans: kept beside the chain, never in it) ----------

    @property
    def peer_cursor(self) -> int:
        """The service's cursor after the last passage pulled (0: none yet)."""
        return self._meta("peer_cursor")

    def last_peer(self) -> int:
        """The arrival number of the last passage pulled (0: none)."""
        return int(self._db.execute("SELECT COALESCE(MAX(n), 0) FROM peers").fetchone()[0])

    def peer_count(self) -> int:
        """How many passages of other gates this gate holds."""
        return int(self._db.execute("SELECT COUNT(*) FROM peers").fetchone()[0])

    def peers_after(self, n: int) -> tuple[list[gate.Passage], int]:
        """The passages that arrived after arrival number `n`, and the last number read."""
        query = "SELECT n, id, gate, cti, direction, wall_ms, zone FROM peers WHERE n > ? ORDER BY n"
        passages, last = [], n
        for number, *fields_ in self._db.execute(query, (n,)):
            passages.append(Peer(*fields_).passage())
            last = int(number)
        return passages, last

    def take_peers(self, peers: Sequence[Peer], cursor: int) -> int:
        """Keep pulled passages (each once, by the service's id) and the cursor after them, durably
        in one transaction; return how many were new. Nothing is written when nothing is new."""
        ids = [peer.id for peer in peers]
        held = {int(found) for (found,) in self._db.execute(_HELD_PEERS.format(", ".join("?" * len(ids))), ids)}
        peers = [peer for peer in peers if peer.id not in held]
        if not peers and cursor == self.peer_cursor:
            return 0  # the service sends recent passages again until they settle (PostgreSQL)
        with self._transaction() as db:
            before = db.total_changes
            after_seq = self.last_seq()
            db.executemany(
                "INSERT OR IGNORE INTO peers (after_seq, id, gate, cti, direction, wall_ms, zone)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(after_seq, *astuple(peer)) for peer in peers],
            )
            new = db.total_changes - before
            self._set_meta("peer_cursor", cursor)
        return new

    def checkpoints(self) -> list[Stored]:
        """Every checkpoint, oldest first."""
        return [
            Stored(Checkpoint(seq, head, wall_ms), bytes(signed))
            for seq, head, wall_ms, signed in self._db.execute(
                "SELECT seq, head, wall_ms, signed FROM checkpoints ORDER BY seq"
            )
        ]

    # ---- writing ------------------------------------------------------------------------------

    def start_sealing(self, seed: bytes) -> None:
        """Take the enrolment seed as the first sealing key; only for a new, empty journal."""
        first = seal.SealKey.first(seed)
        with self._transaction() as db:
            if self.sealing_key() is not None or self.last_seq():
                raise JournalError("this journal is already sealed: a gate's seed is set once, at enrolment")
            db.execute("INSERT INTO sealer (id, seq, key) VALUES (1, ?, ?)", (first.seq, first.key))

    def append(
        self,
        *,
        wall_ms: int,
        mono_ms: int,
        verdict: str,
        reason: str,
        direction: str,
        zone: str,
        cti: str = "",
        kid: str = "",
        operator: str = "",
        screening: str = "",
        details: Mapping[str, Any] | None = None,
        resets_floor: bool = False,
    ) -> JournalRow:
        """Chain and commit one row; it is on disk (fsynced) when this returns.

        The time floor rises to the row's wall time, or restarts there when `resets_floor` (an
        operator confirmed the clock). A checkpoint is signed in the same transaction when due.
        Screening `details` go beside the row with a fresh salt; the row keeps only their salted digest.
        """
        salt = os.urandom(chain.DETAILS_SALT_SIZE) if details is not None else b""
        if details is not None:
            screening = chain.screening_field(screening, chain.details_digest(salt, details))
        with self._transaction() as db:
            key = self.sealing_key()
            if key is None:
                raise JournalError("this journal has no sealing key: enrol the gate before it records scans")
            row = chain.append(
                self.head(),
                wall_ms=wall_ms,
                mono_ms=mono_ms,
                cti=cti,
                kid=kid,
                verdict=verdict,
                reason=reason,
                direction=direction,
                zone=zone,
                operator=operator,
                screening=screening,
            )
            if row.seq != key.seq:
                raise JournalError(f"the sealing key is for row {key.seq}, the next row is {row.seq}")
            tag, successor = key.seal(row.hash)
            row = replace(row, seal=tag)
            db.execute(_INSERT, astuple(row))
            if details is not None:
                db.execute(
                    "INSERT INTO screening_details (seq, wall_ms, salt, details) VALUES (?, ?, ?, ?)",
                    (row.seq, wall_ms, salt, json.dumps(dict(details), sort_keys=True, ensure_ascii=False)),
                )
            db.execute("UPDATE sealer SET seq = ?, key = ? WHERE id = 1", (successor.seq, successor.key))
            floor = wall_ms if resets_floor else max(self._meta("time_floor_ms"), wall_ms)
            if resets_floor:
                self._set_meta("server_time_ms", 0)
            self._set_meta("time_floor_ms", floor)
            # a periodic checkpoint is skipped, not forced, over rows that do not hold together
            signed = self._checkpoint_due(row) and not self._unsigned_faults(self._last_checkpoint_seq())
            if signed:
                self._sign(row, wall_ms)
        if signed:
            self._forget_old_keys()
        return row

    def record(
        self,
        decision: Decision,
        *,
        wall_ms: int,
        mono_ms: int,
        direction: Direction,
        zone: str | None,
        operator: str = "",
        resets_floor: bool = False,
    ) -> JournalRow:
        """Journal a gate decision (admitted, denied or referred) with what it is about."""
        cred = decision.credential
        return self.append(
            wall_ms=wall_ms,
            mono_ms=mono_ms,
            cti="" if cred is None else cred.id_hex,
            kid="" if decision.kid is None else decision.kid.hex(),
            verdict=decision.verdict.value,
            reason=decision.reason.value,
            direction=direction.value,
            zone=zone or "",
            operator=operator,
            screening=decision.screening,
            details=decision.screening_details,
            resets_floor=resets_floor,
        )

    # ---- screening details and their purge ------------------------------------------------------

    def screening_details(self, seq: int) -> dict[str, Any] | None:
        """The screening details kept beside row `seq`, or None (none taken, or purged)."""
        found = self._db.execute("SELECT details FROM screening_details WHERE seq = ?", (seq,)).fetchone()
        return None if found is None else dict(json.loads(found[0]))

    def details_count(self) -> int:
        """How many rows still have their screening details beside them."""
        return int(self._db.execute("SELECT COUNT(*) FROM screening_details").fetchone()[0])

    def purge_screening(self, before_ms: int) -> int:
        """Delete the screening details (and their salts) of rows older than `before_ms`; return how many.

        The rows, their hashes and seals stay as they are, so the chain and the seals still verify;
        secure_delete zeroes the freed pages and the WAL is cut, so the readings leave the disk.
        """
        with self._transaction() as db:
            count = db.execute("DELETE FROM screening_details WHERE wall_ms < ?", (before_ms,)).rowcount
        self._forget_old_keys()
        return int(count)

    def _details_faults(self) -> list[ChainProblem]:
        problems = []
        query = "SELECT d.seq, d.salt, d.details, r.screening FROM screening_details d LEFT JOIN rows r USING (seq)"
        for seq, salt, details, field in self._db.execute(query):
            _, digest = chain.screening_parts(field or "")
            try:
                held = chain.details_digest(bytes(salt), json.loads(details))
            except (ValueError, TypeError):
                held = ""
            if field is None or held != digest:
                problems.append(
                    ChainProblem(int(seq), ProblemKind.SCREENING_MISMATCH, "the screening details do not match the row")
                )
        return problems

    def _checkpoint_due(self, row: JournalRow) -> bool:
        if self.device_key is None:
            return False
        last = self._db.execute("SELECT seq, wall_ms FROM checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
        if last is None:
            return row.seq >= self.checkpoint_rows
        last_seq, last_wall = int(last[0]), int(last[1])
        return row.seq - last_seq >= self.checkpoint_rows or row.wall_ms - last_wall >= self.checkpoint_ms

    def _sign(self, row: JournalRow, wall_ms: int) -> Stored:
        assert self.device_key is not None
        checkpoint = Checkpoint(seq=row.seq, head=row.hash, wall_ms=wall_ms)
        signed = chain.sign_checkpoint(checkpoint, self.device_key)
        self._db.execute(
            "INSERT OR REPLACE INTO checkpoints (seq, head, wall_ms, signed) VALUES (?, ?, ?, ?)",
            (checkpoint.seq, checkpoint.head, checkpoint.wall_ms, signed),
        )
        return Stored(checkpoint, signed)

    def _forget_old_keys(self) -> None:
        # The WAL still holds the pages of replaced sealing keys until it is checkpointed and cut.
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def checkpoint(self, wall_ms: int, upto: JournalRow | None = None) -> Stored | None:
        """Sign a checkpoint of `upto` (default: the head) now, as at each sync; None when empty.

        Nothing is signed over rows that do not hold together (chain, seal coverage): a rewritten
        journal must not gain the device's signature.
        """
        if self.device_key is None:
            raise JournalError("the journal has no device key to sign checkpoints with")
        with self._transaction():
            row = upto if upto is not None else self.head()
            if row is None:
                return None
            faults = self._unsigned_faults(self._last_checkpoint_seq())
            if faults:
                first = faults[0]
                raise JournalError(f"the journal does not hold together at seq {first.seq} ({first.kind}): not signed")
            stored = self._sign(row, wall_ms)
        self._forget_old_keys()
        return stored

    def acknowledge(self, seq: int, head_hash: str) -> None:
        """Record the server's highest contiguous seq; its hash must be ours (else the chains forked)."""
        with self._transaction():
            if seq > 0:
                mine = self.row(seq)
                if mine is None:
                    raise JournalError(f"the server acknowledged seq {seq}, beyond this journal's head")
                if head_hash and mine.hash != head_hash:
                    raise JournalError(f"the server holds another row at seq {seq}: the chains forked")
            self._set_meta("acked_seq", seq)

    def note_server_time(self, server_ms: int) -> None:
        """Raise the time floor to the time the server told."""
        with self._transaction():
            self._set_meta("server_time_ms", max(self._meta("server_time_ms"), server_ms))
            self._set_meta("time_floor_ms", max(self._meta("time_floor_ms"), server_ms))

    # ---- checking and export -------------------------------------------------------------------

    def _last_checkpoint_seq(self) -> int:
        return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM checkpoints").fetchone()[0])

    def _unsigned_faults(self, after: int = 0) -> list[ChainProblem]:
        """What holds without the seed, from row `after` on: the chain links and every row sealed."""
        start = self.row(after) if after else None
        rows = self.iter_rows() if start is None else iter(self.rows(after))
        problems = chain.check(rows, start)
        key = self.sealing_key()
        if key is None:
            problems.append(ChainProblem(0, ProblemKind.UNSEALED, "the journal has no sealing key"))
            return problems
        unsealed = self._db.execute("SELECT MIN(seq) FROM rows WHERE seq > ? AND seal = ''", (after,)).fetchone()[0]
        if unsealed is not None:
            problems.append(ChainProblem(int(unsealed), ProblemKind.MISSING_SEAL, "a row carries no seal"))
        gap = seal.coverage(self.last_seq(), key.seq)
        if gap is not None:
            detail = f"the sealing key is at row {key.seq}, the journal ends at row {self.last_seq()}"
            problems.append(ChainProblem(gap.seq, gap.kind, detail))
        return problems

    def verify(self, device_public: Ed25519PublicKey | None, seed: bytes | None = None) -> list[ChainProblem]:
        """Every fault: SQLite integrity, the chain, seal coverage, each checkpoint, the meta.

        With the enrolment `seed` (the gate's verification key) every row's seal is checked too,
        which finds a past rewritten by someone who held the laptop's current key.
        """
        problems: list[ChainProblem] = []
        integrity = self.pragma("integrity_check")
        if integrity != "ok":
            problems.append(ChainProblem(0, ProblemKind.INTEGRITY, integrity))
        problems.extend(self._unsigned_faults())
        if seed is not None:
            triples = ((r.seq, r.hash, r.seal) for r in self.iter_rows())
            found, _ = seal.verify(triples, seal.SealKey.first(seed))
            problems.extend(ChainProblem(p.seq, p.kind, "the row's seal does not hold") for p in found)
        problems.extend(self._details_faults())
        last = self.last_seq()
        for stored in self.checkpoints():
            seq = stored.checkpoint.seq
            if device_public is not None:
                try:
                    signed = chain.verify_checkpoint(stored.signed, device_public)
                except InputError as exc:
                    problems.append(ChainProblem(seq, ProblemKind.BAD_CHECKPOINT, exc.detail))
                    continue
                if signed != stored.checkpoint:
                    problems.append(
                        ChainProblem(seq, ProblemKind.BAD_CHECKPOINT, "the signed checkpoint differs from its row")
                    )
            row = self.row(seq)
            if row is None or row.hash != stored.checkpoint.head:
                problems.append(
                    ChainProblem(seq, ProblemKind.CHECKPOINT_MISMATCH, "the checkpoint's head is not the row's hash")
                )
        if self.acked_seq > last:
            problems.append(
                ChainProblem(self.acked_seq, ProblemKind.ACKED_BEYOND_HEAD, f"acked {self.acked_seq}, head {last}")
            )
        return problems

    def export_csv(self, path: Path) -> int:
        """Write every row to a CSV file (0600, spreadsheet-safe, with an ISO wall time column); return the count."""
        rows = ([gate.from_ms(row.wall_ms).isoformat(), *astuple(row)] for row in self.iter_rows())
        return files.write_csv(path, ["wall_time", *_COLUMNS], rows)
