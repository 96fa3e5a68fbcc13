"""CK1 credentials: the signed ticket in a guest's QR code (DESIGN section 3). Pure: no I/O.

`sign` turns a Credential into CK1 text with an issuing key; `verify` takes text, a trust bundle
and `now` and either returns the verified credential or raises CredentialError whose reason
names the first step that failed. Nothing past a failed step is trusted.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from checkin.core import base45, cose
from checkin.core.errors import CredentialError, InputError, Reason

if TYPE_CHECKING:  # annotations only: verifying needs no `cryptography` (PyNaCl does it)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from checkin.core.trust import BundleKey, TrustBundle

PREFIX = "CK1:"
DCC_PREFIX = "HC1:"
MAX_TEXT_LENGTH = 2048  # a version 40-Q alphanumeric QR holds 2,420; ours are about 400
CTI_SIZE = 16

CLAIM_ISS, CLAIM_AUD, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI = 1, 3, 4, 5, 6, 7
CLAIM_GUEST = -70000
GUEST_NAME, GUEST_ORG, GUEST_CATEGORY, GUEST_ZONES, GUEST_HEALTH = 1, 2, 3, 4, 5

# Limits at issue time keep every ticket well inside MAX_TEXT_LENGTH and a scannable QR.
MAX_NAME, MAX_ORG, MAX_CATEGORY, MAX_ZONE, MAX_ZONES, MAX_ID = 100, 120, 40, 32, 16, 64
_PAYLOAD_DEPTH = 6
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime can hold


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise InputError(f"{what} must carry a time zone")
    return moment.astimezone(UTC).replace(microsecond=0)


# Control, format (bidi overrides, zero-width), surrogate, private-use, line and paragraph
# separator characters: nothing a badge or a gate screen should print.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def has_control(text: str) -> bool:
    """True if the text holds a character that no name, organisation or e-mail may hold."""
    return any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in text)


def tidy_text(value: str) -> str:
    """Text as it is kept and signed: NFC (one form for each Vietnamese letter), no edge spaces."""
    return unicodedata.normalize("NFC", value).strip()


def _clean_text(value: str, what: str, limit: int, *, required: bool) -> str:
    text = tidy_text(value)
    if required and not text:
        raise InputError(f"{what} is empty")
    if len(text) > limit:
        raise InputError(f"{what} is longer than {limit} characters")
    if has_control(text):
        raise InputError(f"{what} contains control characters")
    return text


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class Credential:
    """The claims of one ticket. Texts are NFC, times are whole seconds in UTC."""

    issuer: str
    event_id: str
    credential_id: bytes
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    name: str
    organisation: str = ""
    category: str = ""
    zones: tuple[str, ...] = ()
    health: Mapping[Any, Any] | None = None

    @classmethod
    def create(
        cls,
        *,
        issuer: str,
        event_id: str,
        name: str,
        not_before: datetime,
        expires_at: datetime,
        issued_at: datetime,
        organisation: str = "",
        category: str = "",
        zones: tuple[str, ...] | list[str] = (),
        credential_id: bytes | None = None,
        health: Mapping[Any, Any] | None = None,
    ) -> Credential:
        """A new credential from outside input: texts NFC and bounded, times whole UTC seconds.

        Raises InputError naming the field. Verification builds credentials from signed claims
        with the plain constructor instead, since the issuer already cleaned them.
        """
        clean_zones = tuple(dict.fromkeys(_clean_text(z, "zone", MAX_ZONE, required=True) for z in zones))
        if len(clean_zones) > MAX_ZONES:
            raise InputError(f"more than {MAX_ZONES} zones")
        cti = new_credential_id() if credential_id is None else credential_id
        if len(cti) != CTI_SIZE:
            raise InputError(f"credential id must be {CTI_SIZE} bytes")
        start, end = _utc(not_before, "valid from"), _utc(expires_at, "valid until")
        if end <= start:
            raise InputError("the ticket must expire after it becomes valid")
        return cls(
            issuer=_clean_text(issuer, "issuer", MAX_ID, required=True),
            event_id=_clean_text(event_id, "event id", MAX_ID, required=True),
            credential_id=cti,
            issued_at=_utc(issued_at, "issued at"),
            not_before=start,
            expires_at=end,
            name=_clean_text(name, "name", MAX_NAME, required=True),
            organisation=_clean_text(organisation, "organisation", MAX_ORG, required=False),
            category=_clean_text(category, "category", MAX_CATEGORY, required=False),
            zones=clean_zones,
            health=health,
        )

    @property
    def id_hex(self) -> str:
        """The credential id as 32 hex digits, as shown in lists and logs."""
        return self.credential_id.hex()

    def claims(self) -> dict[int, Any]:
        """The CWT claims map of this ticket."""
        guest: dict[int, Any] = {GUEST_NAME: self.name}
        if self.organisation:
            guest[GUEST_ORG] = self.organisation
        if self.category:
            guest[GUEST_CATEGORY] = self.category
        if self.zones:
            guest[GUEST_ZONES] = list(self.zones)
        if self.health is not None:
            guest[GUEST_HEALTH] = dict(self.health)
        return {
            CLAIM_ISS: self.issuer,
            CLAIM_AUD: self.event_id,
            CLAIM_EXP: _epoch(self.expires_at),
            CLAIM_NBF: _epoch(self.not_before),
            CLAIM_IAT: _epoch(self.issued_at),
            CLAIM_CTI: self.credential_id,
            CLAIM_GUEST: guest,
        }

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view, for the CLI, the API and the journal."""
        return {
            "id": self.id_hex,
            "issuer": self.issuer,
            "event": self.event_id,
            "name": self.name,
            "organisation": self.organisation,
            "category": self.category,
            "zones": list(self.zones),
            "issued_at": self.issued_at.isoformat(),
            "not_before": self.not_before.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


# Claim 5 of the guest map, the health declaration: {1: declared at (epoch seconds), 2: passed}.
HEALTH_DECLARED_AT, HEALTH_PASSED = 1, 2


@dataclass(frozen=True)
class Declaration:
    """A health declaration a ticket carries: when the guest answered and whether the answers passed."""

    declared_at: datetime
    passed: bool

    def claim(self) -> dict[int, Any]:
        """The map that goes in claim 5 of the guest claim."""
        return {HEALTH_DECLARED_AT: _epoch(self.declared_at), HEALTH_PASSED: self.passed}


def declaration_of(credential: Credential) -> Declaration | None:
    """The ticket's health declaration, or None when it has none or one of another shape.

    A shape this code does not know is no declaration rather than a bad ticket: the questions are
    then asked at the gate, and tickets issued before declarations existed stay valid.
    """
    health = credential.health
    if health is None:
        return None
    declared, passed = health.get(HEALTH_DECLARED_AT), health.get(HEALTH_PASSED)
    if type(declared) is not int or not 0 <= declared <= _MAX_EPOCH or type(passed) is not bool:
        return None
    return Declaration(datetime.fromtimestamp(declared, UTC), passed)


def new_credential_id() -> bytes:
    """A fresh random 16-byte credential id (cti)."""
    return os.urandom(CTI_SIZE)


# Crockford's Base32: no I, L, O or U, so a typed code is hard to get wrong (DESIGN section 3).
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_LOOKALIKES = str.maketrans("ILO", "110")
SHORT_CODE_BYTES = 5  # 40 bits: eight Base32 symbols


def short_code(cti: bytes) -> str:
    """The first 40 bits of a credential id in Crockford Base32, as two groups of four: 7K3M-Q9XD."""
    if len(cti) < SHORT_CODE_BYTES:
        raise InputError(f"a short code needs at least {SHORT_CODE_BYTES} bytes of credential id")
    value = int.from_bytes(cti[:SHORT_CODE_BYTES], "big")
    symbols = "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(35, -1, -5))
    return f"{symbols[:4]}-{symbols[4:]}"


def parse_short_code(text: str) -> str:
    """A typed short code in its printed form: case, hyphens and spaces ignored, I and L read as 1, O as 0."""
    typed = "".join(text.split()).replace("-", "")
    if typed.isascii():  # checked before upper(): "ı".upper() is "I"
        typed = typed.upper().translate(_CROCKFORD_LOOKALIKES)
    if len(typed) != 8 or any(ch not in _CROCKFORD for ch in typed):
        raise InputError("a short code is eight letters and digits, like 7K3M-Q9XD")
    return f"{typed[:4]}-{typed[4:]}"


_STORED_CTI = re.compile(f"[0-9a-f]{{{CTI_SIZE * 2}}}")


@functools.lru_cache(maxsize=65536)  # an export names each guest's code thousands of times
def stored_short_code(cti_hex: str) -> str:
    """A stored credential id (32 hex digits) as the short code on its badge; a journal row that names
    no such id (a forged or garbled code) shows its first eight characters as they are."""
    if not _STORED_CTI.fullmatch(cti_hex):
        return cti_hex[:8]
    return short_code(bytes.fromhex(cti_hex))


def short_code_prefix(text: str) -> str:
    """The hex digits every credential id a typed short code names begins with (ten: 40 bits)."""
    value = 0
    for ch in parse_short_code(text).replace("-", ""):
        value = value * 32 + _CROCKFORD.index(ch)
    return f"{value:0{SHORT_CODE_BYTES * 2}x}"


def sign(credential: Credential, private_key: Ed25519PrivateKey, kid: bytes | None = None) -> str:
    """Sign a credential with an issuing key and return its CK1 text."""
    key_id = kid if kid is not None else cose.kid_of(private_key.public_key())
    payload = cose.canonical_dumps(credential.claims())
    signed = cose.sign1_eddsa(private_key, payload, cose.protected_eddsa(key_id))
    text = PREFIX + base45.encode(signed)
    if len(text) > MAX_TEXT_LENGTH:
        raise InputError(f"the ticket would be {len(text)} characters, over the limit of {MAX_TEXT_LENGTH}")
    return text


@dataclass(frozen=True)
class Verified:
    """A credential whose signature, audience, time window and revocation status all held."""

    credential: Credential
    kid: bytes


def _fail(reason: Reason, detail: str, **context: Any) -> CredentialError:
    error = CredentialError(detail, reason)
    error.kid = context.get("kid")
    error.credential = context.get("credential")
    return error


def _text_claim(value: Any, what: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise CredentialError(f"claim {what} must be text")
    return value


def _int_claim(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= _MAX_EPOCH:
        raise CredentialError(f"claim {what} must be a whole number of seconds")
    return value


def _credential_from_claims(claims: Any) -> Credential:
    if not isinstance(claims, dict):
        raise CredentialError("the payload is not a claims map")
    guest = claims.get(CLAIM_GUEST)
    if not isinstance(guest, dict):
        raise CredentialError("the guest claim is missing")
    zones = guest.get(GUEST_ZONES, [])
    if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
        raise CredentialError("claim zones must be a list of texts")
    health = guest.get(GUEST_HEALTH)
    if health is not None and not isinstance(health, dict):
        raise CredentialError("claim health must be a map")
    cti = claims.get(CLAIM_CTI)
    if not isinstance(cti, bytes) or len(cti) != CTI_SIZE:
        raise CredentialError("claim cti must be 16 bytes")
    return Credential(
        issuer=_text_claim(claims.get(CLAIM_ISS), "iss"),
        event_id=_text_claim(claims.get(CLAIM_AUD), "aud"),
        credential_id=cti,
        issued_at=datetime.fromtimestamp(_int_claim(claims.get(CLAIM_IAT), "iat"), UTC),
        not_before=datetime.fromtimestamp(_int_claim(claims.get(CLAIM_NBF), "nbf"), UTC),
        expires_at=datetime.fromtimestamp(_int_claim(claims.get(CLAIM_EXP), "exp"), UTC),
        name=_text_claim(guest.get(GUEST_NAME), "name"),
        organisation=_text_claim(guest.get(GUEST_ORG), "organisation", required=False),
        category=_text_claim(guest.get(GUEST_CATEGORY), "category", required=False),
        zones=tuple(zones),
        health=health,
    )


def _check_key(key: BundleKey, credential: Credential, tolerance: timedelta) -> None:
    from checkin.core.trust import KeyStatus  # local: trust imports this module's types for hints only

    if key.status is KeyStatus.REVOKED:
        raise _fail(Reason.KEY_REVOKED, f"key {key.kid.hex()} is revoked", kid=key.kid)
    if credential.issued_at + tolerance < key.not_before:
        raise _fail(Reason.KEY_RETIRED, "the ticket claims to predate its key", kid=key.kid)
    if key.not_after is not None and credential.issued_at > key.not_after + tolerance:
        raise _fail(Reason.KEY_RETIRED, f"key {key.kid.hex()} was retired before this ticket was signed", kid=key.kid)


def verify(text: str, bundle: TrustBundle, now: datetime) -> Verified:
    """Verify CK1 text against a trust bundle at `now`; raise CredentialError naming the failed step."""
    if not text:
        raise CredentialError("empty input")
    if not text.startswith(PREFIX):
        if text.startswith(DCC_PREFIX):
            raise CredentialError("EU health certificates are not accepted here", Reason.UNSUPPORTED_FORMAT)
        if text[: len(PREFIX) - 1] == PREFIX[:-1] or len(text) < len(PREFIX):
            raise CredentialError("truncated code")
        raise CredentialError("not a CK1 code", Reason.UNSUPPORTED_FORMAT)
    if len(text) > MAX_TEXT_LENGTH:
        raise CredentialError(f"longer than {MAX_TEXT_LENGTH} characters")
    try:
        raw = base45.decode(text[len(PREFIX) :])
    except (ValueError, UnicodeEncodeError) as exc:
        raise CredentialError(f"not Base45 ({exc})") from None
    sign1 = cose.decode_sign1(raw)
    kid = cose.require_eddsa_header(sign1, {})
    candidates = bundle.keys_for(kid)
    if not candidates:
        raise _fail(Reason.UNKNOWN_KEY, f"no key {kid.hex()} in the trust bundle", kid=kid)
    key = next((k for k in candidates if cose.verify_eddsa(sign1, k.verifier)), None)
    if key is None:
        raise _fail(Reason.BAD_SIGNATURE, "the signature does not match the key", kid=kid)
    credential = _credential_from_claims(cose.strict_loads(sign1.payload, max_depth=_PAYLOAD_DEPTH))
    tolerance = timedelta(seconds=bundle.policy.clock_tolerance_seconds)
    _check_key(key, credential, tolerance)
    context = {"kid": kid, "credential": credential}
    if credential.issuer != bundle.issuer:
        raise _fail(Reason.WRONG_EVENT, f"issued by {credential.issuer!r}, not {bundle.issuer!r}", **context)
    if credential.event_id != bundle.event.id:
        raise _fail(Reason.WRONG_EVENT, f"for event {credential.event_id!r}, not {bundle.event.id!r}", **context)
    if now + tolerance < credential.not_before:
        raise _fail(Reason.NOT_YET_VALID, f"valid from {credential.not_before.isoformat()}", **context)
    if now - tolerance >= credential.expires_at:
        raise _fail(Reason.EXPIRED, f"expired at {credential.expires_at.isoformat()}", **context)
    if credential.credential_id in bundle.revoked:
        raise _fail(Reason.REVOKED, f"credential {credential.id_hex} is revoked", **context)
    return Verified(credential, kid)
