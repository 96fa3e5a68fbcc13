"""The supervisor PIN: set at enrolment (or later with `checkin-gate set-pin`), kept only as a hash.

The record is one line, `scrypt$N$r$p$salt$hash` (hex), so the parameters can grow without
breaking older gates. A PIN guards what the window lets a supervisor do (confirm the clock); it is
not a key: whoever holds the laptop's disk holds the folder anyway. The window limits tries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

MIN_DIGITS, MAX_DIGITS = 4, 12
_N, _R, _P = 2**15, 8, 1  # about 0.1 s and 32 MiB on a laptop: cheap once, dear a million times
_MAXMEM = 64 * 1024 * 1024


def pin_problem(pin: str) -> str | None:
    """Why a PIN cannot be used (digits only, 4 to 12 of them), or None."""
    if not (pin.isascii() and pin.isdigit()):
        return "a PIN is digits only"
    if not MIN_DIGITS <= len(pin) <= MAX_DIGITS:
        return f"a PIN has {MIN_DIGITS} to {MAX_DIGITS} digits"
    return None


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def hash_pin(pin: str) -> str:
    """The stored record of a PIN: scrypt with a fresh salt."""
    salt = secrets.token_bytes(16)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${_scrypt(pin, salt, _N, _R, _P).hex()}"


def check_pin(pin: str, record: str) -> bool:
    """True when `pin` is the one `record` was made from; a damaged record matches nothing."""
    try:
        kind, n, r, p, salt, digest = record.strip().split("$")
        if kind != "scrypt" or pin_problem(pin) or int(n) > 2**20 or int(r) > 32 or int(p) > 4:
            return False
        return hmac.compare_digest(_scrypt(pin, bytes.fromhex(salt), int(n), int(r), int(p)), bytes.fromhex(digest))
    except (ValueError, MemoryError):
        return False
