"""Forward-secure sealing of the gate journal (DESIGN section 5). Pure: no I/O.

After systemd-journald's Forward Secure Sealing and Schneier and Kelsey's secure audit logs: the
gate seals row n with key k_n, then replaces k_n by k_{n+1} = HMAC(k_n, "evolve") and forgets it.
k_1 is the seed made at enrolment; the service keeps the seed (and a USB-enrolled gate shows it
once as a verification key to record). Whoever takes the laptop after row n holds k_{n+1} only:
they cannot make a valid seal for row n or any row before it, so a rewritten, re-chained, deleted
or truncated past is found by anyone holding the seed. The key's position also counts the rows
sealed, so a journal shorter than its key is found even without the seed.

HMAC-SHA-256 rather than a forward-secure signature: verifying 1,000,000 rows is two million
HMACs (about 2 s), where per-row Ed25519 epochs would take minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from checkin.core.chain import ProblemKind
from checkin.core.errors import InputError

SEED_BYTES = 32
_EVOLVE = b"CKS1 evolve"
_SEAL = b"CKS1 seal"
_CHECK_BYTES = 3  # 35 bytes with the seed: 56 base32 characters, 7 groups of 8


def new_seed() -> bytes:
    """A fresh random seed for a gate's first sealing key."""
    return secrets.token_bytes(SEED_BYTES)


def evolve(key: bytes) -> bytes:
    """The next sealing key; the old one cannot be computed back from it."""
    return hmac.digest(key, _EVOLVE, "sha256")


def tag(key: bytes, seq: int, row_hash: str) -> str:
    """The seal of row `seq` whose chain hash is `row_hash`, under that row's key, as hex."""
    return hmac.digest(key, _SEAL + seq.to_bytes(8, "big") + bytes.fromhex(row_hash), "sha256").hex()


@dataclass(frozen=True)
class SealKey:
    """The key that seals row `seq` (the next row to be written)."""

    seq: int
    key: bytes

    @classmethod
    def first(cls, seed: bytes) -> SealKey:
        """The key for row 1."""
        if len(seed) != SEED_BYTES:
            raise InputError(f"a sealing seed is {SEED_BYTES} bytes")
        return cls(1, seed)

    def seal(self, row_hash: str) -> tuple[str, SealKey]:
        """The seal of row `self.seq` and the key for the row after it."""
        return tag(self.key, self.seq, row_hash), SealKey(self.seq + 1, evolve(self.key))

    def advance_to(self, seq: int) -> SealKey:
        """The key for row `seq` (a verifier skipping rows it already checked)."""
        if seq < self.seq:
            raise InputError("a sealing key cannot go back")
        key = self.key
        for _ in range(seq - self.seq):
            key = evolve(key)
        return SealKey(seq, key)


@dataclass(frozen=True)
class SealProblem:
    """One problem, at the seq where it was found."""

    seq: int
    kind: ProblemKind


def verify(rows: Iterable[tuple[int, str, str]], start: SealKey) -> tuple[list[SealProblem], SealKey]:
    """Check (seq, hash, seal) rows that follow `start`; the problems and the key after the last row.

    Rows must come in seq order from `start.seq`; a gap is reported once and checking goes on at
    the row after it, so one deleted row does not hide a later rewrite.
    """
    problems: list[SealProblem] = []
    seq, key = start.seq, start.key  # plain values in the loop: a million rows take two million HMACs
    for row_seq, row_hash, row_seal in rows:
        if row_seq != seq:
            problems.append(SealProblem(row_seq, ProblemKind.OUT_OF_ORDER))
            if row_seq < seq:
                continue
            seq, key = row_seq, SealKey(seq, key).advance_to(row_seq).key
        expected = tag(key, seq, row_hash)
        seq, key = seq + 1, evolve(key)
        if not row_seal:
            problems.append(SealProblem(row_seq, ProblemKind.MISSING_SEAL))
        elif not hmac.compare_digest(expected, row_seal):
            problems.append(SealProblem(row_seq, ProblemKind.BAD_SEAL))
    return problems, SealKey(seq, key)


def coverage(last_seq: int, key_seq: int) -> SealProblem | None:
    """Without the seed: the sealing key must sit right after the last row (nothing cut off)."""
    if key_seq > last_seq + 1:
        return SealProblem(last_seq + 1, ProblemKind.TRUNCATED)
    if key_seq < last_seq + 1:
        return SealProblem(key_seq, ProblemKind.MISSING_SEAL)
    return None


def verification_key(seed: bytes) -> str:
    """The seed as a person copies it: base32 in groups of eight, with a checksum."""
    check = hashlib.sha256(seed).digest()[:_CHECK_BYTES]
    text = base64.b32encode(seed + check).decode("ascii")
    return "-".join(text[i : i + 8] for i in range(0, len(text), 8))


def parse_verification_key(text: str) -> bytes:
    """The seed from a typed verification key; InputError for a typo (the checksum catches it)."""
    compact = "".join(text.split()).replace("-", "").upper()
    if len(compact) != (SEED_BYTES + _CHECK_BYTES) * 8 // 5:
        raise InputError("a verification key is 56 letters and digits in groups of eight")
    try:
        raw = base64.b32decode(compact)
    except ValueError:
        raise InputError("a verification key uses the letters A-Z and the digits 2-7 only") from None
    seed, check = raw[:SEED_BYTES], raw[SEED_BYTES:]
    if not hmac.compare_digest(hashlib.sha256(seed).digest()[:_CHECK_BYTES], check):
        raise InputError("the verification key has a typo: its checksum does not match")
    return seed
