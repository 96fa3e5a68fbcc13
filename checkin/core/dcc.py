"""EU Digital COVID Certificates (HCERT): offline verification and the event's health rules. Pure.

`HC1:` text -> Base45 -> zlib (bounded) -> COSE_Sign1 (CWT tag 61 and COSE tag 18 both optional,
as real certificates vary) -> kid (protected header wins over unprotected) -> every trust-list
certificate with that kid tried -> signature with the algorithm the *key* dictates (EC P-256:
ES256 with raw r||s; RSA: PS256); a header alg that contradicts the key is refused -> the signing
certificate's validity and DCC key usage -> CWT issued-at/expiry at `now` -> the HCERT entry.
`verify` raises at the first failed step (the gate); `inspect` runs every stage and reports each
one (the `checkin-gate dcc` command, the conformance test). `evaluate` applies a HealthPolicy.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from checkin.core import base45, cose
from checkin.core.errors import CheckinError, CredentialError, InputError, Reason, TrustError

if TYPE_CHECKING:  # x509 is loaded when a certificate is read: a bundle without DCCs never needs it
    from cryptography import x509

PREFIX = "HC1:"
MAX_TEXT_LENGTH = 4296  # the most a version 40 QR holds in alphanumeric mode
MAX_COSE_SIZE = 16384  # inflated; real certificates are 300-800 bytes
_CWT_TAG = b"\xd8\x3d"  # CBOR tag 61 (CWT) in two bytes, which some issuers put before tag 18
_PAYLOAD_DEPTH = 8
MIN_RSA_BITS = 2048

CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_HCERT = 1, 4, 6, -260
HCERT_V1 = 1

# DCC extended key usage OIDs (eHealth Network, hcert spec section 5.1.1); the `.0.` spelling was
# published by mistake and is still in certificates, so both are read.
_EKU_ARCS = ("1.3.6.1.4.1.1847.2021.1.", "1.3.6.1.4.1.0.1847.2021.1.")

NAAT = "LP6464-4"
RAPID = "LP217198-3"
NOT_DETECTED = "260415000"


class CertType(StrEnum):
    """What a DCC certifies: its single entry is under `v`, `t` or `r`."""

    VACCINATION = "vaccination"
    TEST = "test"
    RECOVERY = "recovery"


_ENTRY_KEYS = {"v": CertType.VACCINATION, "t": CertType.TEST, "r": CertType.RECOVERY}
_EKU_SUFFIX = {"1": CertType.TEST, "2": CertType.VACCINATION, "3": CertType.RECOVERY}


class DccReason(StrEnum):
    """Outcomes of a DCC check: verification steps first (in order), then the health rules."""

    ACCEPTED = "dcc_accepted"
    MALFORMED = "dcc_malformed"
    TOO_LARGE = "dcc_too_large"
    UNSUPPORTED_ALGORITHM = "dcc_unsupported_algorithm"
    UNKNOWN_KEY = "dcc_unknown_key"
    BAD_SIGNATURE = "dcc_bad_signature"
    CERT_NOT_VALID = "dcc_cert_not_valid"  # the signing certificate is outside its validity at `now`
    WRONG_KEY_USAGE = "dcc_wrong_key_usage"
    NOT_YET_VALID = "dcc_not_yet_valid"  # issued after `now`
    EXPIRED = "dcc_expired"
    # health rules (HealthPolicy)
    TYPE_NOT_ACCEPTED = "dcc_type_not_accepted"
    VACCINATION_INCOMPLETE = "dcc_vaccination_incomplete"
    VACCINATION_TOO_RECENT = "dcc_vaccination_too_recent"
    TEST_TYPE_NOT_ACCEPTED = "dcc_test_type_not_accepted"
    TEST_POSITIVE = "dcc_test_positive"
    TEST_TOO_OLD = "dcc_test_too_old"
    TEST_IN_FUTURE = "dcc_test_in_future"
    RECOVERY_OUT_OF_WINDOW = "dcc_recovery_out_of_window"


# The nearest shared Reason, until the integrator folds DccReason into Reason.
_REASON = {
    DccReason.MALFORMED: Reason.MALFORMED,
    DccReason.TOO_LARGE: Reason.MALFORMED,
    DccReason.UNSUPPORTED_ALGORITHM: Reason.UNSUPPORTED_ALGORITHM,
    DccReason.UNKNOWN_KEY: Reason.UNKNOWN_KEY,
    DccReason.BAD_SIGNATURE: Reason.BAD_SIGNATURE,
    DccReason.NOT_YET_VALID: Reason.NOT_YET_VALID,
    DccReason.EXPIRED: Reason.EXPIRED,
}


class DccError(CredentialError):
    """A DCC failed a verification step: `dcc_reason` names it, `reason` is the nearest Reason."""

    def __init__(self, detail: str, dcc_reason: DccReason = DccReason.MALFORMED) -> None:
        self.dcc_reason = dcc_reason
        super().__init__(detail, _REASON.get(dcc_reason, Reason.SCREENING_FAILED))


# ---- the trust list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """One document signer certificate of the trust list, with what verification needs of it."""

    kid: bytes
    key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey
    alg: int  # dictated by the key: ES256 for P-256, PS256 for RSA
    not_before: datetime
    not_after: datetime
    usages: frozenset[CertType] | None  # None: no DCC key usage, so every type (as the spec says)
    country: str | None

    def valid_at(self, now: datetime) -> bool:
        """True when `now` lies within the certificate's validity."""
        return self.not_before <= now <= self.not_after

    def may_sign(self, kind: CertType) -> bool:
        """True when the certificate's DCC key usage allows this type of certificate."""
        return self.usages is None or kind in self.usages


def kid_of_certificate(der: bytes) -> bytes:
    """The DCC kid: the first 8 bytes of SHA-256 of the DER certificate."""
    return hashlib.sha256(der).digest()[: cose.KID_SIZE]


def _dcc_usage(oid: str) -> CertType | None:
    """The DCC type an extended key usage OID allows, or None for any other OID."""
    arc = next((a for a in _EKU_ARCS if oid.startswith(a)), None)
    return None if arc is None else _EKU_SUFFIX.get(oid[len(arc) :])


def load_signer(data: bytes) -> Signer:
    """A trust-list entry from a PEM or DER X.509 certificate; TrustError when it cannot sign DCCs."""
    from cryptography import x509

    pem = data.lstrip().startswith(b"-----")
    try:
        cert = x509.load_pem_x509_certificate(data) if pem else x509.load_der_x509_certificate(data)
        extensions = cert.extensions  # parsed here, so a certificate DER forbids is refused at load
    except ValueError as exc:
        raise TrustError(f"not a readable X.509 certificate ({exc})") from None
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        alg = cose.ALG_ES256
    elif isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        alg = cose.ALG_PS256
    else:
        raise TrustError("a DCC signer key must be EC P-256 or RSA of 2048 bits or more")
    usages: frozenset[CertType] | None = None
    try:
        eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is not None:
        found = {_dcc_usage(oid.dotted_string) for oid in eku} - {None}
        usages = frozenset(k for k in found if k is not None) or None
    countries = cert.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)
    return Signer(
        kid=kid_of_certificate(cert.public_bytes(Encoding.DER)),
        key=key,
        alg=alg,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        usages=usages,
        country=str(countries[0].value) if countries else None,
    )


def split_certificates(data: bytes) -> tuple[bytes, ...]:
    """The DER certificates of a file's bytes: one DER certificate, or one or more PEM ones."""
    from cryptography import x509

    if not data.lstrip().startswith(b"-----"):
        return (data,)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TrustError(f"not readable PEM certificates ({exc})") from None
    return tuple(cert.public_bytes(Encoding.DER) for cert in certs)


def load_signers(data: bytes) -> tuple[Signer, ...]:
    """Every certificate of a file's bytes: one DER certificate, or one or more PEM ones."""
    return tuple(load_signer(der) for der in split_certificates(data))


@dataclass(frozen=True)
class TrustList:
    """The signing certificates a gate accepts, indexed by kid (a hint: every match is tried)."""

    signers: tuple[Signer, ...]
    by_kid: Mapping[bytes, tuple[Signer, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[bytes, tuple[Signer, ...]] = {}
        for signer in self.signers:
            index[signer.kid] = (*index.get(signer.kid, ()), signer)
        object.__setattr__(self, "by_kid", index)

    @classmethod
    def load(cls, certificates: Iterable[bytes]) -> TrustList:
        """A trust list from PEM or DER certificates."""
        return cls(tuple(load_signer(data) for data in certificates))


# ---- decoding ----------------------------------------------------------------------------------------


def unpack(text: str) -> bytes:
    """The COSE bytes inside an `HC1:` text: prefix, size cap, Base45, bounded zlib inflate."""
    if not text.startswith(PREFIX):
        raise DccError("not an HC1: text")
    if len(text) > MAX_TEXT_LENGTH:
        raise DccError(f"longer than {MAX_TEXT_LENGTH} characters", DccReason.TOO_LARGE)
    try:
        compressed = base45.decode(text[len(PREFIX) :])
    except (ValueError, UnicodeEncodeError) as exc:
        raise DccError(f"invalid Base45 ({exc})") from None
    return inflate(compressed)


def inflate(data: bytes, limit: int = MAX_COSE_SIZE) -> bytes:
    """zlib-inflate at most `limit` bytes: a bomb is refused before it is inflated in full."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise DccError(f"invalid zlib data ({exc})") from None
    if len(out) > limit:
        raise DccError(f"inflates to more than {limit} bytes", DccReason.TOO_LARGE)
    if not inflater.eof or inflater.unused_data:
        raise DccError("truncated zlib data or bytes after its end")
    return out


@dataclass(frozen=True)
class Envelope:
    """The parsed, unverified COSE_Sign1 of a DCC: kid and header alg picked, nothing trusted."""

    sign1: cose.Sign1
    kid: bytes
    alg: int


def open_envelope(data: bytes) -> Envelope:
    """Parse the COSE_Sign1 (tags optional) and pick the kid (protected wins) and the header alg."""
    body = data[len(_CWT_TAG) :] if data.startswith(_CWT_TAG) else data
    try:
        sign1 = cose.decode_sign1(body, max_depth=2, require_tag=False)
    except CheckinError as exc:
        raise DccError(exc.detail) from None
    kid = sign1.header.get(cose.HEADER_KID, sign1.unprotected.get(cose.HEADER_KID))
    if not isinstance(kid, bytes) or not kid:
        raise DccError("no kid in either header")
    # The key decides the algorithm; the header's alg (protected wins, as for the kid) must only
    # agree with it, so an unprotected alg, as some issuers write it, cannot steer anything.
    alg = sign1.header.get(cose.HEADER_ALG, sign1.unprotected.get(cose.HEADER_ALG))
    if type(alg) is not int or alg not in (cose.ALG_ES256, cose.ALG_PS256):
        raise DccError("the header must name ES256 or PS256", DccReason.UNSUPPORTED_ALGORITHM)
    return Envelope(sign1, kid, alg)


def _signature_holds(signer: Signer, sign1: cose.Sign1) -> bool:
    """Verify with the algorithm the key dictates; never the one the header names."""
    signed = sign1.to_be_signed()
    try:
        if isinstance(signer.key, ec.EllipticCurvePublicKey):
            if len(sign1.signature) != 64:
                return False
            r = int.from_bytes(sign1.signature[:32], "big")
            s = int.from_bytes(sign1.signature[32:], "big")
            signer.key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
        else:
            if len(sign1.signature) != (signer.key.key_size + 7) // 8:
                return False
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            signer.key.verify(sign1.signature, signed, pss, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def find_signers(envelope: Envelope, trust: TrustList) -> tuple[Signer, ...]:
    """The trust-list certificates with the kid whose key verifies the signature; DccError if none."""
    candidates = trust.by_kid.get(envelope.kid, ())
    if not candidates:
        raise DccError(f"no certificate with kid {envelope.kid.hex()}", DccReason.UNKNOWN_KEY)
    agreeing = [s for s in candidates if s.alg == envelope.alg]
    if not agreeing:
        raise DccError("the header's alg contradicts the signer's key type", DccReason.UNSUPPORTED_ALGORITHM)
    holding = tuple(s for s in agreeing if _signature_holds(s, envelope.sign1))
    if not holding:
        raise DccError("the signature does not verify", DccReason.BAD_SIGNATURE)
    return holding


# ---- the payload -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hcert:
    """The claims of a DCC. Health data: use it for the rules, never journal it."""

    kind: CertType
    entry: Mapping[str, Any]
    issuer_country: str | None
    issued_at: datetime | None
    expires_at: datetime
    version: str | None


def _epoch(value: Any, what: str) -> datetime:
    if type(value) not in (int, float):
        raise DccError(f"claim {what} is not a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise DccError(f"claim {what} is outside the calendar") from None


def read_claims(payload: bytes) -> Hcert:
    """The CWT claims and the one HCERT entry, with their types checked."""
    try:
        claims = cose.strict_loads(payload, max_depth=_PAYLOAD_DEPTH)
    except CheckinError as exc:
        raise DccError(f"payload: {exc.detail}") from None
    if not isinstance(claims, dict):
        raise DccError("the payload is not a map")
    if CLAIM_EXP not in claims:
        raise DccError("no expiry (claim 4)")
    expires_at = _epoch(claims[CLAIM_EXP], "exp")
    issued_at = _epoch(claims[CLAIM_IAT], "iat") if CLAIM_IAT in claims else None
    issuer = claims.get(CLAIM_ISS)
    if issuer is not None and not isinstance(issuer, str):
        raise DccError("claim iss is not text")
    hcert = claims.get(CLAIM_HCERT)
    body = hcert.get(HCERT_V1) if isinstance(hcert, dict) else None
    if not isinstance(body, dict):
        raise DccError("no HCERT (claim -260, key 1)")
    kinds = [(kind, body[key]) for key, kind in _ENTRY_KEYS.items() if key in body]
    if len(kinds) != 1:
        raise DccError("an HCERT holds exactly one of v, t and r")
    kind, entries = kinds[0]
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        raise DccError(f"the {kind.value} entry must be a list of one map")
    version = body.get("ver")
    return Hcert(
        kind=kind,
        entry=entries[0],
        issuer_country=issuer,
        issued_at=issued_at,
        expires_at=expires_at,
        version=version if isinstance(version, str) else None,
    )


def window_fault(hcert: Hcert, now: datetime) -> DccReason | None:
    """NOT_YET_VALID when issued after `now`, EXPIRED after `exp`, else None.

    `exp` itself is still valid: the EU test data (DK, ES) validate at exactly `exp` and expect a pass.
    """
    if hcert.issued_at is not None and now < hcert.issued_at:
        return DccReason.NOT_YET_VALID
    if now > hcert.expires_at:
        return DccReason.EXPIRED
    return None


def _pick_signer(signers: Sequence[Signer], kind: CertType, now: datetime) -> Signer:
    """A verifying signer valid at `now` whose key usage allows `kind`; DccError naming the fault."""
    valid = [s for s in signers if s.valid_at(now)]
    if not valid:
        raise DccError("the signing certificate is not valid at this time", DccReason.CERT_NOT_VALID)
    for signer in valid:
        if signer.may_sign(kind):
            return signer
    raise DccError(f"the signing certificate may not sign {kind.value} certificates", DccReason.WRONG_KEY_USAGE)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    return now


def verify(text: str, trust: TrustList, now: datetime) -> Hcert:
    """The verified HCERT of an `HC1:` text at `now`; DccError at the first step that fails."""
    now = _aware(now)
    envelope = open_envelope(unpack(text))
    signers = find_signers(envelope, trust)
    hcert = read_claims(envelope.sign1.payload)
    _pick_signer(signers, hcert.kind, now)
    fault = window_fault(hcert, now)
    if fault is not None:
        raise DccError(f"outside its validity ({fault.value})", fault)
    return hcert


# ---- the stage report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inspection:
    """Each stage of one DCC on its own, plus the verdict (the first fault in verification order).

    `hcert`, `window` and `key_usage` are read even when the signature fails (diagnostics and
    conformance); `trusted` says whether anything in them may be relied on.
    """

    reason: DccReason
    detail: str
    signature_valid: bool
    hcert: Hcert | None = None
    window: DccReason | None = None  # None: inside iat..exp
    key_usage_ok: bool | None = None
    cert_valid: bool | None = None
    rule: DccReason | None = None  # with a policy, once verification passed: ACCEPTED or the failed rule

    @property
    def trusted(self) -> bool:
        """True when the signature held, so the claims are the issuer's."""
        return self.signature_valid

    @property
    def accepted(self) -> bool:
        """True when every step passed (and the rules, when a policy was applied)."""
        return self.reason is DccReason.ACCEPTED

    def to_json(self, *, rules: bool = False) -> dict[str, object]:
        """The `checkin-gate dcc` record: verdicts, and the type and country once the signature held;
        never the holder's data. `rules`: add the rule outcome (null when verification failed)."""
        hcert = self.hcert if self.trusted else None
        record: dict[str, object] = {
            "signature": "valid" if self.signature_valid else "invalid",
            "reason": self.reason.value,
            "expired": None if hcert is None else self.window is DccReason.EXPIRED,
            "type": None if hcert is None else hcert.kind.value,
            "issuer_country": None if hcert is None else hcert.issuer_country,
        }
        if rules:
            record["rule"] = None if self.rule is None else self.rule.value
        if self.detail:
            record["detail"] = self.detail
        return record


def inspect(text: str, trust: TrustList, now: datetime, policy: HealthPolicy | None = None) -> Inspection:
    """Run every stage of one DCC at `now` and report each; the rules only when the rest passed."""
    now = _aware(now)
    try:
        envelope = open_envelope(unpack(text))
    except DccError as exc:
        return Inspection(exc.dcc_reason, exc.detail, signature_valid=False)
    try:
        hcert: Hcert | None = read_claims(envelope.sign1.payload)
        payload_error: DccError | None = None
    except DccError as exc:
        hcert, payload_error = None, exc
    window = None if hcert is None else window_fault(hcert, now)
    try:
        signers = find_signers(envelope, trust)
    except DccError as exc:
        return Inspection(exc.dcc_reason, exc.detail, False, hcert, window)
    if payload_error is not None or hcert is None:
        detail = payload_error.detail if payload_error else ""
        return Inspection(DccReason.MALFORMED, detail, True)
    cert_valid = any(s.valid_at(now) for s in signers)
    key_usage_ok = any(s.may_sign(hcert.kind) for s in signers)
    try:
        _pick_signer(signers, hcert.kind, now)
    except DccError as exc:
        return Inspection(exc.dcc_reason, exc.detail, True, hcert, window, key_usage_ok, cert_valid)
    if window is not None:
        return Inspection(window, "", True, hcert, window, key_usage_ok, cert_valid)
    rule = None if policy is None else evaluate(hcert, policy, now) or DccReason.ACCEPTED
    return Inspection(rule or DccReason.ACCEPTED, "", True, hcert, window, key_usage_ok, cert_valid, rule)


# ---- the event's health rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthPolicy:
    """Which certificates an event accepts. Day counts use the calendar date of `now` in its own zone."""

    vaccination: bool = True
    vaccination_min_days: int = 14  # after the last dose of a complete course (dn >= sd)
    naat_test: bool = True
    naat_max_hours: float = 72.0
    rapid_test: bool = True
    rapid_max_hours: float = 24.0
    recovery: bool = True
    recovery_max_days: int = 180  # from the first positive test (fr), and within df..du


def parse_policy(text: str) -> HealthPolicy:
    """A policy from `default` or `name=value,...` overrides (e.g. `naat_max_hours=48,recovery=no`)."""
    policy = HealthPolicy()
    if text.strip() in ("", "default"):
        return policy
    kinds = {f.name: type(getattr(policy, f.name)) for f in fields(HealthPolicy)}
    changes: dict[str, Any] = {}
    for item in text.split(","):
        name, sep, value = (part.strip() for part in item.partition("="))
        if not sep or name not in kinds:
            raise InputError(f"policy: {item.strip()!r} is not name=value with a name among {', '.join(kinds)}")
        changes[name] = _policy_value(name, value, kinds[name])
    return replace(policy, **changes)


def _policy_value(name: str, value: str, kind: type) -> bool | int | float:
    if kind is bool:
        if value.lower() not in ("yes", "no", "true", "false", "1", "0"):
            raise InputError(f"policy: {name} takes yes or no")
        return value.lower() in ("yes", "true", "1")
    try:
        number = kind(value)
    except ValueError:
        raise InputError(f"policy: {name} takes a number") from None
    if not 0 <= number <= 100_000:
        raise InputError(f"policy: {name} must lie between 0 and 100000")
    return number  # type: ignore[no-any-return]


def _date(entry: Mapping[str, Any], key: str) -> date:
    value = entry.get(key)
    if not isinstance(value, str):
        raise DccError(f"{key} is missing or not text")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise DccError(f"{key} is not a date") from None


def _instant(entry: Mapping[str, Any], key: str) -> datetime:
    value = entry.get(key)
    if not isinstance(value, str):
        raise DccError(f"{key} is missing or not text")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DccError(f"{key} is not a date and time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _int(entry: Mapping[str, Any], key: str) -> int:
    value = entry.get(key)
    if type(value) is not int:
        raise DccError(f"{key} is missing or not a whole number")
    return value


def _vaccination(entry: Mapping[str, Any], policy: HealthPolicy, now: datetime) -> DccReason | None:
    dose, series = _int(entry, "dn"), _int(entry, "sd")
    if series < 1 or dose < series:
        return DccReason.VACCINATION_INCOMPLETE
    if (now.date() - _date(entry, "dt")).days < policy.vaccination_min_days:
        return DccReason.VACCINATION_TOO_RECENT
    return None


def _test(entry: Mapping[str, Any], policy: HealthPolicy, now: datetime) -> DccReason | None:
    limits = {NAAT: (policy.naat_test, policy.naat_max_hours), RAPID: (policy.rapid_test, policy.rapid_max_hours)}
    accepted, max_hours = limits.get(str(entry.get("tt")), (False, 0.0))
    if not accepted:
        return DccReason.TEST_TYPE_NOT_ACCEPTED
    if entry.get("tr") != NOT_DETECTED:
        return DccReason.TEST_POSITIVE
    age = now - _instant(entry, "sc")
    if age < timedelta(0):
        return DccReason.TEST_IN_FUTURE
    if age > timedelta(hours=max_hours):
        return DccReason.TEST_TOO_OLD
    return None


def _recovery(entry: Mapping[str, Any], policy: HealthPolicy, now: datetime) -> DccReason | None:
    today = now.date()
    first, start, end = _date(entry, "fr"), _date(entry, "df"), _date(entry, "du")
    if not start <= today <= end or (today - first).days > policy.recovery_max_days:
        return DccReason.RECOVERY_OUT_OF_WINDOW
    return None


def evaluate(hcert: Hcert, policy: HealthPolicy, now: datetime) -> DccReason | None:
    """None when the entry satisfies the policy at `now`, else the rule it fails (DccReason)."""
    now = _aware(now)
    enabled = {CertType.VACCINATION: policy.vaccination, CertType.RECOVERY: policy.recovery}
    if not enabled.get(hcert.kind, policy.naat_test or policy.rapid_test):
        return DccReason.TYPE_NOT_ACCEPTED
    rule = {CertType.VACCINATION: _vaccination, CertType.TEST: _test, CertType.RECOVERY: _recovery}[hcert.kind]
    try:
        return rule(hcert.entry, policy, now)
    except DccError:
        return DccReason.MALFORMED


def check(text: str, trust: TrustList, policy: HealthPolicy, now: datetime) -> DccReason:
    """The gate's one call: ACCEPTED, or the first verification step or rule that failed."""
    try:
        hcert = verify(text, trust, now)
    except DccError as exc:
        return exc.dcc_reason
    return evaluate(hcert, policy, now) or DccReason.ACCEPTED


# ---- issuing: test certificates for tests, benchmarks and rehearsals ---------------------------------------

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _eku_oid(kind: CertType) -> x509.ObjectIdentifier:
    from cryptography import x509

    suffix = next(s for s, k in _EKU_SUFFIX.items() if k is kind)
    return x509.ObjectIdentifier(_EKU_ARCS[0] + suffix)


def signer_certificate(
    key: SigningKey,
    *,
    not_before: datetime,
    not_after: datetime,
    usages: Iterable[CertType] = (),
    country: str = "VN",
) -> bytes:
    """A self-signed document signer certificate (DER) for `key`, with the DCC key usages given."""
    from cryptography import x509

    name = x509.Name(
        [x509.NameAttribute(x509.NameOID.COUNTRY_NAME, country), x509.NameAttribute(x509.NameOID.COMMON_NAME, "DSC")]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    oids = [_eku_oid(kind) for kind in usages]
    if oids:
        builder = builder.add_extension(x509.ExtendedKeyUsage(oids), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


def hcert_claims(
    kind: CertType, entry: Mapping[str, Any], *, country: str, issued_at: datetime, expires_at: datetime
) -> bytes:
    """The CBOR payload of a DCC: CWT claims with one HCERT entry of this kind."""
    key = next(k for k, v in _ENTRY_KEYS.items() if v is kind)
    body = {"ver": "1.3.0", "nam": {"fnt": "NGUYEN", "gnt": "AN"}, "dob": "1990-01-01", key: [dict(entry)]}
    claims = {
        CLAIM_ISS: country,
        CLAIM_IAT: int(issued_at.timestamp()),
        CLAIM_EXP: int(expires_at.timestamp()),
        CLAIM_HCERT: {HCERT_V1: body},
    }
    return cose.canonical_dumps(claims)


def seal(
    payload: bytes,
    key: SigningKey,
    kid: bytes | None,
    *,
    unprotected_kid: bytes | None = None,
    alg: int | None = None,
    tagged: bool = True,
) -> str:
    """Sign a payload as a DCC and pack it as `HC1:` text: `kid` goes in the protected header,
    `unprotected_kid` in the unprotected one; `alg` defaults to the key's. The options let tests
    build what real issuers send, and forgeries."""
    natural = cose.ALG_ES256 if isinstance(key, ec.EllipticCurvePrivateKey) else cose.ALG_PS256
    header: dict[int, Any] = {cose.HEADER_ALG: natural if alg is None else alg}
    if kid is not None:
        header[cose.HEADER_KID] = kid
    unprotected = {} if unprotected_kid is None else {cose.HEADER_KID: unprotected_kid}
    protected = cose.canonical_dumps(header)
    signed = cose.sig_structure(protected, payload)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signed, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = key.sign(signed, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    return pack(cose.encode_sign1(protected, unprotected, payload, signature, tagged=tagged))


def pack(data: bytes) -> str:
    """COSE bytes as `HC1:` text: zlib at the strongest level, Base45, the prefix."""
    return PREFIX + base45.encode(zlib.compress(data, 9))
