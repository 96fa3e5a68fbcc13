"""Key rotation as a table of cases, in the manner of python-tuf's tests (DESIGN section 7).

Each case names the issuing keys the gate's bundle holds (with status and validity), which key
signed the ticket and when (its iat), and the reason verify() must give. Times are offsets from
the `now` fixture; the rotation happened ten days before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import cose
from checkin.core.credential import Credential, verify
from checkin.core.errors import CredentialError, Reason
from checkin.core.trust import BundleKey, KeyStatus, TrustBundle

ACTIVE, RETIRED, REVOKED = KeyStatus.ACTIVE, KeyStatus.RETIRED, KeyStatus.REVOKED
OLD_SINCE = timedelta(days=-60)
ROTATION = timedelta(days=-10)
TOLERANCE = timedelta(seconds=300)  # GatePolicy's default clock_tolerance_seconds
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Key:
    """A bundle entry: which private key it is, its status and validity, and optionally a forged kid."""

    name: str
    status: KeyStatus = ACTIVE
    not_before: timedelta = OLD_SINCE
    not_after: timedelta | None = None
    kid_of: str | None = None  # give this entry the kid of another key (a collision)


@dataclass(frozen=True)
class Case:
    keys: tuple[Key, ...]
    signer: str
    iat: timedelta
    expected: Reason


OLD_RETIRED = Key("old", RETIRED, not_after=ROTATION)
NEW = Key("new", ACTIVE, not_before=ROTATION)
FORGED = Key("other", ACTIVE, kid_of="old")

CASES = {
    "old-key-active": Case((Key("old"),), "old", ROTATION - timedelta(days=1), Reason.ADMITTED),
    "old-key-retired-ticket-signed-before-retirement": Case(
        (OLD_RETIRED, NEW), "old", ROTATION - timedelta(days=1), Reason.ADMITTED
    ),
    "old-key-retired-ticket-signed-at-retirement-plus-tolerance": Case(
        (OLD_RETIRED, NEW), "old", ROTATION + TOLERANCE, Reason.ADMITTED
    ),
    "old-key-retired-ticket-signed-after-retirement-plus-tolerance": Case(
        (OLD_RETIRED, NEW), "old", ROTATION + TOLERANCE + SECOND, Reason.KEY_RETIRED
    ),
    "old-key-retired-ticket-signed-today": Case((OLD_RETIRED, NEW), "old", timedelta(0), Reason.KEY_RETIRED),
    "old-key-retired-without-end-date": Case(
        (Key("old", RETIRED), NEW), "old", ROTATION + timedelta(days=5), Reason.ADMITTED
    ),
    "old-key-revoked": Case(
        (Key("old", REVOKED, not_after=ROTATION), NEW), "old", ROTATION - timedelta(days=1), Reason.KEY_REVOKED
    ),
    "old-key-revoked-while-still-in-its-window": Case(
        (Key("old", REVOKED),), "old", ROTATION - timedelta(days=1), Reason.KEY_REVOKED
    ),
    "new-key-after-rotation": Case((OLD_RETIRED, NEW), "new", ROTATION + timedelta(hours=1), Reason.ADMITTED),
    "new-key-ticket-at-its-not-before-minus-tolerance": Case(
        (OLD_RETIRED, NEW), "new", ROTATION - TOLERANCE, Reason.ADMITTED
    ),
    "new-key-ticket-claiming-to-predate-the-key": Case(
        (OLD_RETIRED, NEW), "new", ROTATION - TOLERANCE - SECOND, Reason.KEY_RETIRED
    ),
    "new-key-not-yet-in-the-gate-bundle": Case((Key("old"),), "new", ROTATION + timedelta(hours=1), Reason.UNKNOWN_KEY),
    "shared-kid-forged-entry-first": Case((FORGED, Key("old")), "old", ROTATION, Reason.ADMITTED),
    "shared-kid-forged-entry-last": Case((Key("old"), FORGED), "old", ROTATION, Reason.ADMITTED),
    "shared-kid-only-the-forged-entry": Case((FORGED,), "old", ROTATION, Reason.BAD_SIGNATURE),
    "shared-kid-the-right-entry-is-revoked": Case((FORGED, Key("old", REVOKED)), "old", ROTATION, Reason.KEY_REVOKED),
    "shared-kid-the-right-entry-is-retired": Case(
        (FORGED, OLD_RETIRED), "old", ROTATION + timedelta(days=1), Reason.KEY_RETIRED
    ),
    "bundle-without-the-key": Case((NEW,), "old", ROTATION - timedelta(days=1), Reason.UNKNOWN_KEY),
    "bundle-with-no-keys": Case((), "old", ROTATION - timedelta(days=1), Reason.UNKNOWN_KEY),
}


@pytest.fixture(scope="module")
def private_keys(issuing_key: Ed25519PrivateKey) -> dict[str, Ed25519PrivateKey]:
    return {"old": issuing_key, "new": Ed25519PrivateKey.generate(), "other": Ed25519PrivateKey.generate()}


def entry(key: Key, private_keys: dict[str, Ed25519PrivateKey], now: datetime) -> BundleKey:
    public = private_keys[key.name].public_key()
    kid = cose.kid_of(private_keys[key.kid_of if key.kid_of else key.name].public_key())
    return BundleKey(
        kid=kid,
        public_key=public.public_bytes_raw(),
        not_before=now + key.not_before,
        not_after=None if key.not_after is None else now + key.not_after,
        status=key.status,
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_key_rotation(
    case: Case,
    private_keys: dict[str, Ed25519PrivateKey],
    make_bundle: Callable[..., TrustBundle],
    make_credential: Callable[..., Credential],
    issue: Callable[..., str],
    now: datetime,
) -> None:
    bundle = make_bundle(keys=[entry(k, private_keys, now) for k in case.keys])
    assert bundle.policy.clock_tolerance_seconds == TOLERANCE.total_seconds()
    signer = private_keys[case.signer]
    cred = make_credential(
        issued_at=now + case.iat, not_before=now - timedelta(days=30), expires_at=now + timedelta(days=30)
    )
    text = issue(cred, signer)
    kid = cose.kid_of(signer.public_key())
    if case.expected is Reason.ADMITTED:
        result = verify(text, bundle, now)
        assert result.credential == cred
        assert result.kid == kid
        return
    with pytest.raises(CredentialError) as info:
        verify(text, bundle, now)
    assert info.value.reason is case.expected
    assert info.value.kid == kid
    assert info.value.credential is None  # a key failure leaves nothing of the ticket trusted


def test_forged_entries_are_found_by_kid(
    private_keys: dict[str, Ed25519PrivateKey], make_bundle: Callable[..., TrustBundle], now: datetime
) -> None:
    """The premise of the shared-kid cases: both entries answer to the same kid."""
    bundle = make_bundle(keys=[entry(FORGED, private_keys, now), entry(Key("old"), private_keys, now)])
    old_kid = cose.kid_of(private_keys["old"].public_key())
    found = bundle.keys_for(old_kid)
    assert len(found) == 2
    assert {k.public_key for k in found} == {
        private_keys[name].public_key().public_bytes_raw() for name in ("old", "other")
    }
