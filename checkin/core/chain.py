"""The gate journal's hash chain and signed checkpoints (DESIGN section 5). Pure: no I/O.

The gate (scanner/journal.py) writes rows with it; the service (journal upload) checks them with
the same code, so the two can never disagree on what a row's hash is.

hash(row) = SHA-256(prev_hash || canonical CBOR of the row's fields); the first row's prev_hash is
32 zero bytes. A checkpoint is a COSE_Sign1 by the gate's device key over {seq, head, wall_ms}.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from checkin.core import cose
from checkin.core.errors import CheckinError, InputError, Reason, Verdict, shown
from checkin.core.trust import Direction

GENESIS = bytes(32)
CHECKPOINT_FORMAT = "CKC1"
MAX_TEXT = 200
MAX_BATCH = 5000  # rows in one upload, the most the service takes
# A row's wall time is plausible from 2000-01-01 UTC to a day past the server's clock (a gate's clock
# may run a little fast; a day covers any time zone mistake). Outside it the clock was wrong or lied.
EARLIEST_WALL_MS = 946_684_800_000
FUTURE_WALL_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class JournalRow:
    """One scan as the gate recorded it. Times: wall clock (UTC ms) and the monotonic clock (ms)."""

    seq: int
    wall_ms: int
    mono_ms: int
    cti: str  # hex, "" when the code never verified far enough to be trusted
    kid: str  # hex, "" when unknown
    verdict: str
    reason: str
    direction: str
    zone: str
    operator: str = ""
    screening: str = ""
    prev_hash: str = GENESIS.hex()
    hash: str = ""
    seal: str = ""  # hex HMAC by the row's forward-secure key (core.seal); outside the hash, like hash

    def content(self) -> dict[str, Any]:
        """The fields the hash covers (all but prev_hash and hash themselves)."""
        # spelt out rather than dataclasses.asdict, which deep-copies and costs half the hash time
        return {
            "seq": self.seq,
            "wall_ms": self.wall_ms,
            "mono_ms": self.mono_ms,
            "cti": self.cti,
            "kid": self.kid,
            "verdict": self.verdict,
            "reason": self.reason,
            "direction": self.direction,
            "zone": self.zone,
            "operator": self.operator,
            "screening": self.screening,
        }

    def compute_hash(self) -> str:
        """SHA-256(prev_hash || canonical row) as hex."""
        content = (self.seq, self.wall_ms, self.mono_ms, self.cti, self.kid, self.verdict, self.reason)
        return row_hash(self.prev_hash, (*content, self.direction, self.zone, self.operator, self.screening))

    def to_json(self) -> dict[str, Any]:
        """The row as the upload API carries it."""
        return asdict(self)


def row_hash(prev_hash: str, content: tuple[Any, ...]) -> str:
    """The hash of a row from its prev_hash and its content in JournalRow order (seq to screening).

    The canonical CBOR of the content map is written as the map's header byte (11 pairs) then the
    pairs in canonical key order, encoded as the items of an array (whose own header is dropped):
    the very bytes of `cose.canonical_dumps(row.content())` (tests check it), three times faster,
    which an audit of a million rows needs."""
    seq, wall_ms, mono_ms, cti, kid, verdict, reason, direction, zone, operator, screening = content
    # keys in canonical order (RFC 8949 section 4.2: shorter first, then bytewise)
    pairs = [
        "cti", cti, "kid", kid, "seq", seq, "zone", zone, "reason", reason, "mono_ms", mono_ms,
        "verdict", verdict, "wall_ms", wall_ms, "operator", operator, "direction", direction, "screening", screening,
    ]  # fmt: skip
    return hashlib.sha256(bytes.fromhex(prev_hash) + b"\xab" + cbor2.dumps(pairs)[1:]).hexdigest()


# ---- screening details beside a row (DESIGN section 5: health details and the chain) --------------

DETAILS_SALT_SIZE = 16  # 128 random bits: with the salt gone, a reading cannot be guessed back from the hash


def details_digest(salt: bytes, details: Mapping[str, Any]) -> str:
    """SHA-256(salt || canonical CBOR of the details) as hex: what the chained row keeps of them."""
    return hashlib.sha256(salt + cose.canonical_dumps(dict(details))).hexdigest()


def screening_field(outcome: str, digest: str) -> str:
    """The row's `screening` value: the outcome, then the details' salted digest."""
    return f"{outcome}:{digest}" if digest else outcome


def screening_parts(value: str) -> tuple[str, str]:
    """A row's `screening` value split into (outcome, digest); the digest is "" when none was kept."""
    outcome, _, digest = value.partition(":")
    return outcome, digest


_INT_FIELDS = {"seq", "wall_ms", "mono_ms"}
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELD_NAMES = [f.name for f in fields(JournalRow)]


def row_from_json(data: Any, where: str = "row") -> JournalRow:
    """A JournalRow from untrusted JSON; InputError names the field."""
    if not isinstance(data, Mapping):
        raise InputError(f"{where} is not an object")
    unknown = set(data) - set(_FIELD_NAMES)
    if unknown:
        first = min(unknown, key=str)
        raise InputError(f"{where} has {len(unknown)} unknown field(s), such as {shown(first, 40)}")
    values: dict[str, Any] = {}
    for name in _FIELD_NAMES:
        value = data.get(name)
        if name in _INT_FIELDS:
            if type(value) is not int or not 0 <= value < 2**63:
                raise InputError(f"{where}.{name} must be a whole number 0 or more")
        elif value is None and name in ("operator", "screening", "seal"):
            value = ""
        elif not isinstance(value, str) or len(value) > MAX_TEXT:
            raise InputError(f"{where}.{name} must be text of at most {MAX_TEXT} characters")
        values[name] = value
    for name in ("prev_hash", "hash"):
        if not _HEX64.fullmatch(values[name]):
            raise InputError(f"{where}.{name} must be 64 lowercase hex digits")
    if values["seal"] and not _HEX64.fullmatch(values["seal"]):
        raise InputError(f"{where}.seal must be empty or 64 lowercase hex digits")
    if values["seq"] < 1:
        raise InputError(f"{where}.seq must start at 1")
    return JournalRow(**values)


_CTI = re.compile(r"[0-9a-f]{32}")
_KID = re.compile(r"[0-9a-f]{16}")
_VERDICTS = frozenset(v.value for v in Verdict)
_DIRECTIONS = frozenset(d.value for d in Direction)
_REASONS = frozenset(r.value for r in Reason)


@dataclass(frozen=True)
class RowFinding:
    """What is wrong with one row's values: ROW_INVALID (no gate writes it: the batch is refused),
    TIME_OUT_OF_RANGE or UNKNOWN_REASON (a broken clock, a newer gate: stored and flagged)."""

    seq: int
    kind: Reason
    detail: str

    @property
    def refuses(self) -> bool:
        """True when the batch holding this row is refused rather than stored and flagged."""
        return self.kind is Reason.ROW_INVALID


def row_findings(row: JournalRow, zones: Collection[str], now_ms: int) -> list[RowFinding]:
    """Every value of a row no honest gate of this event writes (`zones`: the event's; a gate that
    checks no zone writes ""), and a wall time outside [EARLIEST_WALL_MS, now_ms + FUTURE_WALL_MS]."""
    found: list[RowFinding] = []

    def invalid(name: str, value: str, expected: str) -> None:
        found.append(RowFinding(row.seq, Reason.ROW_INVALID, f"seq {row.seq}: {name} {shown(value)} is not {expected}"))

    if row.verdict not in _VERDICTS:
        invalid("verdict", row.verdict, "admit, deny or refer")
    if row.direction not in _DIRECTIONS:
        invalid("direction", row.direction, "in or out")
    if row.zone and row.zone not in zones:
        invalid("zone", row.zone, "one of the event's zones")
    if row.cti and not _CTI.fullmatch(row.cti):
        invalid("cti", row.cti, "empty or 32 lowercase hex digits")
    if row.kid and not _KID.fullmatch(row.kid):
        invalid("kid", row.kid, "empty or 16 lowercase hex digits")
    if row.reason not in _REASONS:
        detail = f"seq {row.seq}: reason {shown(row.reason)} is not known here (a newer gate?)"
        found.append(RowFinding(row.seq, Reason.UNKNOWN_REASON, detail))
    if not EARLIEST_WALL_MS <= row.wall_ms <= now_ms + FUTURE_WALL_MS:
        detail = f"seq {row.seq}: wall_ms {row.wall_ms} is before 2000 or more than a day past the server clock"
        found.append(RowFinding(row.seq, Reason.TIME_OUT_OF_RANGE, detail))
    return found


def plausible_wall_ms(wall_ms: int, received_ms: int) -> bool:
    """True when a stored row's time could be a real clock's (pages show others as the raw number)."""
    return EARLIEST_WALL_MS <= wall_ms <= received_ms + FUTURE_WALL_MS


def append(prev: JournalRow | None, **content: Any) -> JournalRow:
    """The next row after `prev` (None for the first), with seq, prev_hash and hash filled in."""
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = GENESIS.hex() if prev is None else prev.hash
    draft = JournalRow(seq=seq, prev_hash=prev_hash, **content)
    return JournalRow(**{**asdict(draft), "hash": draft.compute_hash()})


class ProblemKind(StrEnum):
    """What is wrong with a journal: its chain, its seals (core.seal), its checkpoints or its file."""

    GAP = "gap"  # seq jumps: rows are missing
    NOT_INCREASING = "not_increasing"
    BROKEN_LINK = "broken_link"  # prev_hash is not the hash of the row before
    HASH_MISMATCH = "hash_mismatch"  # the row's content does not match its hash
    BAD_SEAL = "bad_seal"  # the row was changed (or re-chained) after it was sealed
    MISSING_SEAL = "missing_seal"
    OUT_OF_ORDER = "out_of_order"  # seals checked on rows not in consecutive order
    TRUNCATED = "truncated"  # the sealing key moved past the last row: sealed rows were removed
    UNSEALED = "unsealed"  # the journal has no sealing key at all
    BAD_CHECKPOINT = "bad_checkpoint"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    ACKED_BEYOND_HEAD = "acked_beyond_head"
    INTEGRITY = "integrity"  # SQLite's own integrity check failed
    SCREENING_MISMATCH = "screening_mismatch"  # the details kept beside a row do not match its digest


@dataclass(frozen=True)
class ChainProblem:
    """Something wrong in a run of rows: the seq it was found at and what."""

    seq: int
    kind: ProblemKind
    detail: str


def check(rows: Iterable[JournalRow], prev: JournalRow | None = None) -> list[ChainProblem]:
    """Every problem in a run of rows that follows `prev` (None: the run starts the chain)."""
    problems: list[ChainProblem] = []
    last_seq = 0 if prev is None else prev.seq
    last_hash = GENESIS.hex() if prev is None else prev.hash
    for row in rows:
        if row.seq != last_seq + 1:
            kind = ProblemKind.GAP if row.seq > last_seq + 1 else ProblemKind.NOT_INCREASING
            problems.append(ChainProblem(row.seq, kind, f"seq {row.seq} follows seq {last_seq}"))
        elif row.prev_hash != last_hash:
            problems.append(
                ChainProblem(row.seq, ProblemKind.BROKEN_LINK, "prev_hash is not the hash of the row before")
            )
        if row.compute_hash() != row.hash:
            problems.append(
                ChainProblem(row.seq, ProblemKind.HASH_MISMATCH, "the row's content does not match its hash")
            )
        last_seq, last_hash = row.seq, row.hash
    return problems


@dataclass(frozen=True)
class Checkpoint:
    """A gate's signed statement: at `seq` the chain's head hash was `head`, at wall time `wall_ms`."""

    seq: int
    head: str
    wall_ms: int


def sign_checkpoint(checkpoint: Checkpoint, device_key: Ed25519PrivateKey) -> bytes:
    """A COSE_Sign1 of the checkpoint by the gate's device key."""
    return cose.sign_typed(device_key, cose.canonical_dumps(asdict(checkpoint)), CHECKPOINT_FORMAT)


def verify_checkpoint(data: bytes, device_key: Ed25519PublicKey) -> Checkpoint:
    """Verify a checkpoint against the enrolled device key; InputError when it does not hold."""
    try:
        signed = cose.verify_typed(data, device_key, CHECKPOINT_FORMAT)
    except CheckinError as exc:
        if exc.reason is Reason.BAD_SIGNATURE:
            raise InputError("checkpoint signature does not match the device key") from None
        raise InputError(f"checkpoint is not a CKC1 structure ({exc.detail})") from None
    body = cose.strict_loads(signed, max_depth=1)
    if not isinstance(body, dict) or set(body) != {"seq", "head", "wall_ms"}:
        raise InputError("checkpoint payload has the wrong fields")
    seq, head, wall_ms = body["seq"], body["head"], body["wall_ms"]
    if type(seq) is not int or type(wall_ms) is not int or not isinstance(head, str) or len(head) != 64:
        raise InputError("checkpoint payload has the wrong types")
    return Checkpoint(seq, head, wall_ms)
