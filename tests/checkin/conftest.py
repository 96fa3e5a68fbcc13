"""Fixtures for the pure credential core: a fixed clock, real Ed25519 keys, one trust bundle.

Everything here is immutable, so the fixtures are session-scoped (which also keeps hypothesis
happy). Time is never read from the machine: tests pass `now` to verify().
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import cose
from checkin.core.credential import Credential, sign
from checkin.core.trust import BundleKey, EventInfo, GatePolicy, KeyStatus, TrustBundle
from tests.support import world
from tests.support.world import EVENT_ID, HANOI, ISSUER, NOW, ZONES

KEY_NOT_BEFORE = NOW - timedelta(days=60)


@pytest.fixture(scope="session")
def now() -> datetime:
    """2022-03-26 09:00 in Hanoi: the moment every verification happens unless a test says otherwise."""
    return NOW


@pytest.fixture(scope="session")
def root_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def issuing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def bundle_key(
    private: Ed25519PrivateKey,
    *,
    status: KeyStatus = KeyStatus.ACTIVE,
    not_before: datetime = KEY_NOT_BEFORE,
    not_after: datetime | None = None,
    kid: bytes | None = None,
) -> BundleKey:
    """The bundle entry of an issuing key; `kid` can be forced to forge a kid collision."""
    public = private.public_key()
    return BundleKey(
        kid=cose.kid_of(public) if kid is None else kid,
        public_key=public.public_bytes_raw(),
        not_before=not_before,
        not_after=not_after,
        status=status,
    )


@pytest.fixture(scope="session")
def make_bundle_key() -> Callable[..., BundleKey]:
    return bundle_key


@pytest.fixture(scope="session")
def make_bundle(now: datetime, issuing_key: Ed25519PrivateKey) -> Callable[..., TrustBundle]:
    """A factory of trust bundles for cds2022; by default the issuing key is the one ACTIVE key."""

    def make(
        *,
        keys: Iterable[BundleKey] | None = None,
        revoked: Iterable[bytes] = (),
        version: int = 1,
        issued_at: datetime | None = None,
        expires_at: datetime | None = None,
        policy: GatePolicy | None = None,
        names: dict[bytes, str] | None = None,
    ) -> TrustBundle:
        return TrustBundle(
            version=version,
            issued_at=now - timedelta(hours=12) if issued_at is None else issued_at,
            expires_at=now + timedelta(days=2) if expires_at is None else expires_at,
            issuer=ISSUER,
            event=EventInfo(
                id=EVENT_ID,
                name="Chuyển đổi số 2022",
                timezone="Asia/Ho_Chi_Minh",
                start=datetime(2022, 3, 26, 8, 0, tzinfo=HANOI),
                end=datetime(2022, 3, 27, 17, 0, tzinfo=HANOI),
                venue="Trung tâm Hội nghị Quốc gia",
                zones=ZONES,
            ),
            keys=tuple(keys) if keys is not None else (bundle_key(issuing_key),),
            revoked=frozenset(revoked),
            policy=GatePolicy() if policy is None else policy,
            names={} if names is None else names,
        )

    return make


@pytest.fixture(scope="session")
def bundle(make_bundle: Callable[..., TrustBundle]) -> TrustBundle:
    return make_bundle()


@pytest.fixture(scope="session")
def make_credential(now: datetime) -> Callable[..., Credential]:
    """Credential.create with plausible defaults valid at `now`; keyword arguments override them."""

    def make(**overrides: Any) -> Credential:
        return world.credential(now, **overrides)

    return make


@pytest.fixture(scope="session")
def issue(issuing_key: Ed25519PrivateKey) -> Callable[..., str]:
    """Sign a credential (with the issuing key unless another is given) and return its CK1 text."""

    def sign_with(credential: Credential, key: Ed25519PrivateKey | None = None) -> str:
        return sign(credential, issuing_key if key is None else key)

    return sign_with


@pytest.fixture(scope="session")
def credential(make_credential: Callable[..., Credential]) -> Credential:
    return make_credential(credential_id=bytes(range(16)))


@pytest.fixture(scope="session")
def ticket(credential: Credential, issue: Callable[..., str]) -> str:
    """A valid CK1 text for `credential`, signed by the bundle's active key."""
    return issue(credential)
