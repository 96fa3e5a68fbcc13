"""CKB1 trust bundles: what a gate needs to verify offline, signed by the root key. Pure: no I/O.

A bundle names the event, the issuing keys with their status, the revoked credential ids and the
gate policy. Its version grows by one on every change; a gate refuses an older one than it holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.signing import VerifyKey

from checkin.core import cose, dcc
from checkin.core.errors import CheckinError, Reason, TrustError

FORMAT = "CKB1"
MAX_BUNDLE_SIZE = 32 * 1024 * 1024
_BUNDLE_DEPTH = 6


class KeyStatus(StrEnum):
    """An issuing key's life: it signs while active, verifies while retired, fails when revoked."""

    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


class Direction(StrEnum):
    """Which way a gate counts people."""

    IN = "in"
    OUT = "out"


class Freshness(StrEnum):
    """How current a bundle is at a moment: fresh, expired but within grace (warn), or stale (deny)."""

    FRESH = "fresh"
    EXPIRED = "expired"
    STALE = "stale"


@dataclass(frozen=True)
class BundleKey:
    """An issuing public key as the gate knows it."""

    kid: bytes
    public_key: bytes
    not_before: datetime
    not_after: datetime | None
    status: KeyStatus

    @cached_property
    def verifier(self) -> VerifyKey:
        """The verification key, parsed once."""
        return cose.verifier(self.public_key)


@dataclass(frozen=True)
class GateInfo:
    """A gate of the event: where it stands and which way it counts."""

    id: str
    name: str
    zone: str
    direction: Direction = Direction.IN


LABEL_LIMIT = 60  # characters of a zone's or category's display name


@dataclass(frozen=True)
class Label:
    """What an event calls a zone or a category, in Vietnamese and in English."""

    vi: str = ""
    en: str = ""

    def text(self, lang: str) -> str:
        """The name in `lang` ("vi" or "en"), else in the other language; empty when it has none."""
        first, second = (self.vi, self.en) if lang == "vi" else (self.en, self.vi)
        return first or second


def label_of(names: Mapping[str, Label], code: str, lang: str) -> str:
    """A zone's or category's display name in `lang`, or its code when the event gave it none."""
    label = names.get(code)
    return (label.text(lang) if label is not None else "") or code


def bilingual(names: Mapping[str, Label], code: str) -> str:
    """A zone's or category's name in both languages for print (`Hội trường / Main hall`), or its code."""
    label = names.get(code)
    if label is None or not (label.vi or label.en):
        return code
    if label.vi and label.en and label.vi != label.en:
        return f"{label.vi} / {label.en}"
    return label.vi or label.en


@dataclass(frozen=True)
class EventInfo:
    """The event a bundle is for."""

    id: str
    name: str
    timezone: str
    start: datetime
    end: datetime
    venue: str = ""
    zones: tuple[str, ...] = ()
    gates: tuple[GateInfo, ...] = ()
    # display names (optional: a bundle without them reads as before, and an older gate ignores them)
    zone_names: Mapping[str, Label] = field(default_factory=dict)
    category_names: Mapping[str, Label] = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    """One health declaration question: its id, its words in both languages, and the answer that refers."""

    id: str
    vi: str
    en: str
    refer_if_yes: bool = True  # "Do you have a fever?": yes refers; "Do you feel well?": no refers

    def refers(self, yes: bool) -> bool:
        """True when this answer sends the guest to the medical desk."""
        return yes is self.refer_if_yes

    def text(self, lang: str) -> str:
        """The question in `lang` (Vietnamese unless English is asked for)."""
        return self.en if lang == "en" else self.vi


class OnFailure(StrEnum):
    """What a failed screening does: only referral to the medical desk for now (a verdict refer)."""

    REFER = "refer"


@dataclass(frozen=True)
class ScreeningPolicy:
    """The event's health screening at the gate (issue 11). Off unless `enabled`; a bundle without it is off."""

    enabled: bool = False
    temperature_limit: float = 37.5  # a reading at or above it refers (degrees Celsius)
    temperature_min: float = 34.0  # readings outside min..max are typos, asked again
    temperature_max: float = 42.5
    questions: tuple[Question, ...] = ()
    declaration_valid_seconds: int = 24 * 3600
    certificate_required: bool = False  # True: no entry without an accepted EU DCC
    health: dcc.HealthPolicy = field(default_factory=dcc.HealthPolicy)
    dcc_certificates: tuple[bytes, ...] = ()  # DER document signer certificates: the DCC trust list
    on_failure: OnFailure = OnFailure.REFER
    retention_days: int = 14

    def declaration_passes(self, answers: Iterable[tuple[str, bool]]) -> bool:
        """True when no answer refers (the rule of the gate's questions and of the guest's own page).
        An answer to a question the policy does not ask refers: it cannot be judged."""
        questions = {q.id: q for q in self.questions}
        return not any(qid not in questions or questions[qid].refers(yes) for qid, yes in answers)

    @cached_property
    def trust_list(self) -> dcc.TrustList:
        """The DCC trust list, parsed once."""
        return dcc.TrustList.load(self.dcc_certificates)


@dataclass(frozen=True)
class GatePolicy:
    """The rules a gate applies after a code verifies."""

    entries_per_credential: int = 0  # 0: unlimited entries, each after an exit
    reentry_after_exit: bool = True
    clock_tolerance_seconds: int = 300
    stale_grace_seconds: int = 24 * 3600
    screening: ScreeningPolicy = ScreeningPolicy()
    include_names: bool = False


@dataclass(frozen=True)
class TrustBundle:
    """The verified content of a CKB1 bundle."""

    version: int
    issued_at: datetime
    expires_at: datetime
    issuer: str
    event: EventInfo
    keys: tuple[BundleKey, ...]
    revoked: frozenset[bytes] = frozenset()
    policy: GatePolicy = GatePolicy()
    names: Mapping[bytes, str] = field(default_factory=dict)

    @cached_property
    def _by_kid(self) -> dict[bytes, tuple[BundleKey, ...]]:
        table: dict[bytes, list[BundleKey]] = {}
        for key in self.keys:
            table.setdefault(key.kid, []).append(key)
        return {kid: tuple(keys) for kid, keys in table.items()}

    def keys_for(self, kid: bytes) -> tuple[BundleKey, ...]:
        """Every key with this kid: the kid is a hint, so all are tried."""
        return self._by_kid.get(kid, ())

    def freshness(self, now: datetime) -> Freshness:
        """Fresh until expires_at; then expired (warn) for the policy's grace; then stale (deny)."""
        if now < self.expires_at:
            return Freshness.FRESH
        if now < self.expires_at + timedelta(seconds=self.policy.stale_grace_seconds):
            return Freshness.EXPIRED
        return Freshness.STALE


# ---- encoding ------------------------------------------------------------------------------


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _encode(bundle: TrustBundle) -> dict[str, Any]:
    event = bundle.event
    policy = bundle.policy
    return {
        "version": bundle.version,
        "issued_at": _ts(bundle.issued_at),
        "expires_at": _ts(bundle.expires_at),
        "issuer": bundle.issuer,
        "event": {
            "id": event.id,
            "name": event.name,
            "venue": event.venue,
            "timezone": event.timezone,
            "start": _ts(event.start),
            "end": _ts(event.end),
            "zones": list(event.zones),
            "gates": [
                {"id": g.id, "name": g.name, "zone": g.zone, "direction": g.direction.value} for g in event.gates
            ],
            **_labels_field("zone_names", event.zone_names),
            **_labels_field("category_names", event.category_names),
        },
        "keys": [
            {
                "kid": k.kid,
                "public_key": k.public_key,
                "not_before": _ts(k.not_before),
                "not_after": None if k.not_after is None else _ts(k.not_after),
                "status": k.status.value,
            }
            for k in bundle.keys
        ],
        "revoked": sorted(bundle.revoked),
        "policy": {
            "entries_per_credential": policy.entries_per_credential,
            "reentry_after_exit": policy.reentry_after_exit,
            "clock_tolerance_seconds": policy.clock_tolerance_seconds,
            "stale_grace_seconds": policy.stale_grace_seconds,
            "screening": _encode_screening(policy.screening),
            "include_names": policy.include_names,
        },
        "names": dict(sorted(bundle.names.items())) if policy.include_names else {},
    }


def _encode_screening(screening: ScreeningPolicy) -> dict[str, Any]:
    if not screening.enabled:
        return {}  # as bundles before screening existed: an older gate reads the same thing
    return {
        "enabled": True,
        "temperature_limit": screening.temperature_limit,
        "temperature_min": screening.temperature_min,
        "temperature_max": screening.temperature_max,
        "questions": [
            {"id": q.id, "vi": q.vi, "en": q.en, "refer_if_yes": q.refer_if_yes} for q in screening.questions
        ],
        "declaration_valid_seconds": screening.declaration_valid_seconds,
        "certificate_required": screening.certificate_required,
        "health": {f.name: getattr(screening.health, f.name) for f in fields(dcc.HealthPolicy)},
        "dcc_certificates": list(screening.dcc_certificates),
        "on_failure": screening.on_failure.value,
        "retention_days": screening.retention_days,
    }


def _labels_field(key: str, names: Mapping[str, Label]) -> dict[str, Any]:
    # absent when empty, so a bundle without names keeps the bytes (and digest) it had before
    return {key: {code: [label.vi, label.en] for code, label in sorted(names.items())}} if names else {}


def _labels(ev: _Reader, key: str) -> dict[str, Label]:
    found = ev.data.get(key, {})
    if not isinstance(found, dict) or not all(
        isinstance(code, str)
        and isinstance(pair, list)
        and len(pair) == 2
        and all(isinstance(t, str) and len(t) <= LABEL_LIMIT for t in pair)
        for code, pair in found.items()
    ):
        raise TrustError(f"event.{key} must map codes to [Vietnamese, English] names")
    return {code: Label(pair[0], pair[1]) for code, pair in found.items()}


def sign_bundle(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> bytes:
    """Serialise and sign a bundle with the root key: the bytes of a `.ckb` file."""
    return cose.sign_typed(root_key, cose.canonical_dumps(_encode(bundle)), FORMAT)


# ---- decoding ------------------------------------------------------------------------------


class _Reader:
    """Typed access to a decoded map; every failure names the field."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise TrustError(f"{where} is not a map")
        self.data = data
        self.where = where

    def get(self, name: str, kind: type | tuple[type, ...]) -> Any:
        value = self.data.get(name)
        if (kind is int and type(value) is not int) or not isinstance(value, kind):
            raise TrustError(f"{self.where}.{name} is missing or of the wrong type")
        return value

    def time(self, name: str) -> datetime:
        return datetime.fromtimestamp(self.get(name, int), UTC)

    def texts(self, name: str) -> tuple[str, ...]:
        values = self.get(name, list)
        if not all(isinstance(v, str) for v in values):
            raise TrustError(f"{self.where}.{name} must be a list of texts")
        return tuple(values)

    def maps(self, name: str) -> list[_Reader]:
        return [_Reader(item, f"{self.where}.{name}[{i}]") for i, item in enumerate(self.get(name, list))]


def _number(reader: _Reader, name: str) -> float:
    value = reader.data.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise TrustError(f"{reader.where}.{name} is missing or not a number")
    return float(value)


def _decode_screening(raw: Any) -> ScreeningPolicy:
    scr = _Reader(raw, "policy.screening")
    if not scr.data.get("enabled"):
        return ScreeningPolicy()
    health = _Reader(scr.get("health", dict), "policy.screening.health")
    defaults = dcc.HealthPolicy()
    health_values: dict[str, Any] = {}
    for f in fields(dcc.HealthPolicy):
        kind = type(getattr(defaults, f.name))
        health_values[f.name] = health.get(f.name, bool) if kind is bool else kind(_number(health, f.name))
    certificates = scr.get("dcc_certificates", list)
    if not all(isinstance(c, bytes) for c in certificates):
        raise TrustError("policy.screening.dcc_certificates must be DER certificates")
    policy = ScreeningPolicy(
        enabled=True,
        temperature_limit=_number(scr, "temperature_limit"),
        temperature_min=_number(scr, "temperature_min"),
        temperature_max=_number(scr, "temperature_max"),
        questions=tuple(
            Question(q.get("id", str), q.get("vi", str), q.get("en", str), q.get("refer_if_yes", bool))
            for q in scr.maps("questions")
        ),
        declaration_valid_seconds=scr.get("declaration_valid_seconds", int),
        certificate_required=scr.get("certificate_required", bool),
        health=dcc.HealthPolicy(**health_values),
        dcc_certificates=tuple(certificates),
        on_failure=OnFailure(scr.get("on_failure", str)),
        retention_days=scr.get("retention_days", int),
    )
    policy.trust_list  # noqa: B018 - a certificate the gate cannot read is refused with the bundle, not at a guest
    return policy


def _decode(payload: Any) -> TrustBundle:
    top = _Reader(payload, "bundle")
    ev = _Reader(top.get("event", dict), "event")
    pol = _Reader(top.get("policy", dict), "policy")
    keys = []
    for k in top.maps("keys"):
        not_after = k.data.get("not_after")
        if not_after is not None and type(not_after) is not int:
            raise TrustError(f"{k.where}.not_after is of the wrong type")
        public_key = k.get("public_key", bytes)
        if len(public_key) != 32 or cose.kid_of(public_key) != k.get("kid", bytes):
            raise TrustError(f"{k.where} is not an Ed25519 key matching its kid")
        keys.append(
            BundleKey(
                kid=k.get("kid", bytes),
                public_key=public_key,
                not_before=k.time("not_before"),
                not_after=None if not_after is None else datetime.fromtimestamp(not_after, UTC),
                status=KeyStatus(k.get("status", str)),
            )
        )
    revoked = top.get("revoked", list)
    if not all(isinstance(r, bytes) for r in revoked):
        raise TrustError("bundle.revoked must be a list of credential ids")
    names = top.get("names", dict)
    if not all(isinstance(a, bytes) and isinstance(b, str) for a, b in names.items()):
        raise TrustError("bundle.names must map credential ids to texts")
    return TrustBundle(
        version=top.get("version", int),
        issued_at=top.time("issued_at"),
        expires_at=top.time("expires_at"),
        issuer=top.get("issuer", str),
        event=EventInfo(
            id=ev.get("id", str),
            name=ev.get("name", str),
            venue=ev.get("venue", str),
            timezone=ev.get("timezone", str),
            start=ev.time("start"),
            end=ev.time("end"),
            zones=ev.texts("zones"),
            gates=tuple(
                GateInfo(g.get("id", str), g.get("name", str), g.get("zone", str), Direction(g.get("direction", str)))
                for g in ev.maps("gates")
            ),
            zone_names=_labels(ev, "zone_names"),
            category_names=_labels(ev, "category_names"),
        ),
        keys=tuple(keys),
        revoked=frozenset(revoked),
        policy=GatePolicy(
            entries_per_credential=pol.get("entries_per_credential", int),
            reentry_after_exit=pol.get("reentry_after_exit", bool),
            clock_tolerance_seconds=pol.get("clock_tolerance_seconds", int),
            stale_grace_seconds=pol.get("stale_grace_seconds", int),
            screening=_decode_screening(pol.data.get("screening", {})),
            include_names=pol.get("include_names", bool),
        ),
        names=names,
    )


def verify_bundle(data: bytes, root_key: Ed25519PublicKey, *, held_version: int = 0) -> TrustBundle:
    """Verify a `.ckb` against the pinned root key; refuse one older than the version held."""
    if len(data) > MAX_BUNDLE_SIZE:
        raise TrustError(f"the bundle is larger than {MAX_BUNDLE_SIZE} bytes")
    try:
        signed = cose.verify_typed(data, root_key, FORMAT)
    except CheckinError as exc:
        if exc.reason is Reason.BAD_SIGNATURE:
            raise TrustError("the signature does not match the pinned root key", Reason.WRONG_ROOT) from None
        raise TrustError(f"not a CKB1 bundle ({exc.detail or exc.code})") from None
    try:
        payload = cose.strict_loads(signed, max_depth=_BUNDLE_DEPTH)
        bundle = _decode(payload)
    except TrustError:
        raise
    except (CheckinError, ValueError, OverflowError, OSError) as exc:
        raise TrustError(f"the bundle content is invalid ({exc})") from None
    if bundle.version < held_version:
        raise TrustError(
            f"version {bundle.version} is older than version {held_version} already held", Reason.BUNDLE_ROLLBACK
        )
    return bundle


def root_key_from_pem(data: bytes) -> Ed25519PublicKey:
    """Parse a root public key (PEM, SubjectPublicKeyInfo); only Ed25519 is accepted."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise TrustError(f"not a PEM public key ({exc})", Reason.KEY_FILE_INVALID) from None
    if not isinstance(key, Ed25519PublicKey):
        raise TrustError("the root key must be Ed25519", Reason.KEY_FILE_INVALID)
    return key


def content(bundle: TrustBundle) -> bytes:
    """The bundle's content without version and times: what decides whether the version grows."""
    body = _encode(bundle)
    for name in ("version", "issued_at", "expires_at"):
        del body[name]
    return cose.canonical_dumps(body)
