"""Enrolment codes that name the root key a gate must pin (DESIGN section 4). Pure: no I/O.

A code is 16 secret characters (about 79 bits) and then a 12-character binding: the first
characters of HMAC-SHA-256(secret, raw root public key) in the same alphabet. The service checks
the binding before it spends the code (a typo costs nothing); the gate checks the root key of
the answer against it before it stores anything. The binding is keyed by the secret rather than
a plain prefix of the key's hash, so nobody can grind a look-alike root key ahead of time: a man
in the middle who sees the secret has only the code's 15 minutes for about 2^59 key pairs.

`fingerprint` is the root key's 128-bit SHA-256 fingerprint as `checkin keys list` shows it, for
`checkin-gate enroll --root-fingerprint` and for the gate to print what it pinned.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from checkin.core.errors import InputError

# Typed at the gate: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SECRET_LENGTH = 16
BINDING_LENGTH = 12
_BINDING_CONTEXT = b"CKE1 root binding"


def normalise_code(text: str) -> str:
    """A code as typed (any case, dashes and spaces) in its canonical form."""
    return "".join(c for c in text.upper() if c not in "- \t")


def grouped(text: str) -> str:
    """A code in groups of four for reading and typing."""
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def new_secret() -> str:
    """A fresh secret part of an enrolment code, grouped."""
    return grouped("".join(secrets.choice(CODE_ALPHABET) for _ in range(SECRET_LENGTH)))


def binding(secret: str, root_raw: bytes) -> str:
    """The characters that bind a code's secret to one root public key (raw 32 bytes)."""
    digest = hmac.digest(normalise_code(secret).encode("ascii"), _BINDING_CONTEXT + root_raw, "sha256")
    number = int.from_bytes(digest, "big")
    out = []
    for _ in range(BINDING_LENGTH):
        number, index = divmod(number, len(CODE_ALPHABET))
        out.append(CODE_ALPHABET[index])
    return "".join(out)


def bound_code(secret: str, root_raw: bytes) -> str:
    """The whole code a gate is given: the secret, then its binding to the root key, grouped."""
    plain = normalise_code(secret)
    return grouped(plain + binding(plain, root_raw))


def split_code(text: str) -> tuple[str, str | None]:
    """(secret, binding) of a typed code; binding None for a bare secret (then the gate needs a fingerprint)."""
    plain = normalise_code(text)
    if len(plain) == SECRET_LENGTH + BINDING_LENGTH:
        return plain[:SECRET_LENGTH], plain[SECRET_LENGTH:]
    return plain, None


def binds(text: str, root_raw: bytes) -> bool:
    """True when a code carries a binding and it names this root key."""
    secret, given = split_code(text)
    return given is not None and hmac.compare_digest(given, binding(secret, root_raw))


def fingerprint(root_raw: bytes) -> str:
    """SHA-256 of a raw public key, 128 bits in groups of four hex digits (as `checkin keys list` shows)."""
    digest = hashlib.sha256(root_raw).hexdigest()
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def parse_fingerprint(text: str) -> str:
    """A typed fingerprint in the form `fingerprint` writes; InputError when it is not 32 hex digits."""
    compact = "".join(c for c in text.lower() if c not in ": -\t")
    if len(compact) != 32 or any(c not in "0123456789abcdef" for c in compact):
        raise InputError("a root fingerprint is 32 hex digits, as `checkin keys list` shows it (abcd:ef01:...)")
    return ":".join(compact[i : i + 4] for i in range(0, 32, 4))
