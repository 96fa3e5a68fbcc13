"""Trust bundles for gates, built from the store and the key files: one code for `checkin bundle
export` (a file for USB enrolment) and the service's `GET /api/v1/bundle`.

The version grows whenever the content changes (trust.content: event, keys, revocations, policy,
names). The service also renews a version once half its validity has passed, so that one version
is always one byte string: gates compare versions (ETag "v<version>"), never bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.config import Config
from checkin.core import dcc, trust
from checkin.core.errors import ConfigError, TrustError
from checkin.keystore import KeyStore
from checkin.store import Store
from checkin.store import events as stored_events


def policy_of(cfg: Config) -> trust.GatePolicy:
    """The gate policy the configuration asks for."""
    return trust.GatePolicy(
        entries_per_credential=cfg.policy.entries_per_credential,
        reentry_after_exit=cfg.policy.reentry_after_exit,
        clock_tolerance_seconds=cfg.policy.clock_tolerance_seconds,
        stale_grace_seconds=cfg.policy.stale_grace_hours * 3600,
        screening=screening_of(cfg),
        include_names=cfg.bundle.include_names,
    )


def screening_of(cfg: Config) -> trust.ScreeningPolicy:
    """The screening policy of [screening], with the DCC trust list read from its certificate files."""
    scr = cfg.screening
    if not scr.enabled:
        return trust.ScreeningPolicy()
    certificates: list[bytes] = []
    for name in scr.dcc_trust_list:
        path = cfg.root / name
        try:
            found = dcc.split_certificates(path.read_bytes())
            for der in found:
                dcc.load_signer(der)  # refused here, with its file named, rather than at a gate
        except OSError as exc:
            raise ConfigError(f"{cfg.source}: screening.dcc_trust_list: {path} cannot be read ({exc})") from None
        except TrustError as exc:
            raise ConfigError(f"{cfg.source}: screening.dcc_trust_list: {path}: {exc.detail}") from None
        certificates.extend(found)
    return trust.ScreeningPolicy(
        enabled=True,
        temperature_limit=scr.temperature_limit,
        temperature_min=scr.temperature_min,
        temperature_max=scr.temperature_max,
        questions=tuple(trust.Question(q.id, q.vi, q.en, q.refer_if == "yes") for q in scr.questions),
        declaration_valid_seconds=scr.declaration_valid_hours * 3600,
        certificate_required=scr.certificate_required,
        health=dcc.HealthPolicy(
            vaccination=scr.vaccination,
            vaccination_min_days=scr.vaccination_min_days,
            naat_test=scr.naat_test,
            naat_max_hours=float(scr.naat_max_hours),
            rapid_test=scr.rapid_test,
            rapid_max_hours=float(scr.rapid_max_hours),
            recovery=scr.recovery,
            recovery_max_days=scr.recovery_max_days,
        ),
        dcc_certificates=tuple(dict.fromkeys(certificates)),
        on_failure=trust.OnFailure(scr.on_failure),
        retention_days=scr.retention_days,
    )


def build_bundle(
    cfg: Config, store: Store, event_id: str, now: datetime, *, renew_after: timedelta | None = None
) -> trust.TrustBundle:
    """The event's current trust bundle, its version bumped if anything changed.

    Without `renew_after` (the CLI) the bundle is issued now. With it (the service) the bundle
    keeps the time its version was first signed, and a version older than `renew_after` is
    renewed as the next version.
    """
    policy = policy_of(cfg)
    inputs = stored_events.bundle_inputs(store, event_id, names=policy.include_names)
    ev = inputs.event
    draft = trust.TrustBundle(
        version=0,
        issued_at=now,
        expires_at=now,
        issuer=cfg.deployment.id,
        event=trust.EventInfo(
            id=ev.id,
            name=ev.name,
            venue=ev.venue,
            timezone=ev.timezone,
            start=ev.start,
            end=ev.end,
            zones=ev.zone_codes,
            zone_names=ev.zone_names,
            category_names=ev.category_names,
        ),
        keys=KeyStore(cfg.keys_dir).bundle_keys(),
        revoked=inputs.revoked,
        policy=policy,
        names=inputs.names,
    )
    version, signed_at = stored_events.bundle_version(store, ev.id, trust.content(draft), now, renew_after)
    issued_at = now if renew_after is None else signed_at
    validity = timedelta(hours=cfg.bundle.validity_hours)
    return replace(draft, version=version, issued_at=issued_at, expires_at=issued_at + validity)


def load_root_key(cfg: Config, passphrase: bytes | None) -> Ed25519PrivateKey:
    """The root private key (the passphrase is only used when the key file is encrypted)."""
    keys = KeyStore(cfg.keys_dir)
    root = keys.root()
    return keys.load_private(root, passphrase if root.encrypted else None)


@dataclass(frozen=True)
class SignedBundle:
    """A bundle and its signed CKB1 bytes."""

    event_id: str
    version: int
    data: bytes
    issued_at: datetime | None = None  # when this version was signed (None: not known)


class BundleService:
    """Builds, signs and caches the bundles the API serves; holds the root key in memory only.

    Signed bytes are cached per (event, version): a version always stands for the same bytes,
    so a cached copy is never stale, and the cache only saves the signing and encoding.
    """

    CACHE_SIZE = 64

    def __init__(self, cfg: Config, store: Store, root_key: Ed25519PrivateKey) -> None:
        self._cfg = cfg
        self._store = store
        self._root_key = root_key
        self._renew_after = timedelta(hours=cfg.bundle.validity_hours) / 2
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key, whatever logs the object
        return f"BundleService({self._cfg.source!r})"

    def root_public_pem(self) -> str:
        """The root public key as PEM text (SubjectPublicKeyInfo), as gates pin it."""
        spki = self._root_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return spki.decode()

    def current(self, event_id: str, now: datetime) -> SignedBundle:
        """The event's current signed bundle."""
        bundle = build_bundle(self._cfg, self._store, event_id, now, renew_after=self._renew_after)
        key = (event_id, bundle.version)
        with self._lock:
            data = self._cache.get(key)
            if data is not None:
                self._cache.move_to_end(key)
                return SignedBundle(event_id, bundle.version, data, bundle.issued_at)
        data = trust.sign_bundle(bundle, self._root_key)
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        return SignedBundle(event_id, bundle.version, data, bundle.issued_at)
