"""scanner.gate.decide: verification, zone and bundle freshness turned into a verdict."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import base45, cose
from checkin.core.credential import Credential, sign
from checkin.core.errors import Reason, Verdict
from checkin.core.trust import BundleKey, EventInfo, GatePolicy, KeyStatus, TrustBundle
from scanner.gate import Decision, GateState, decide

NOW = datetime(2022, 3, 26, 9, 0, tzinfo=timezone(timedelta(hours=7)))
GRACE = timedelta(hours=6)
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def issuing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def bundle(issuing_key: Ed25519PrivateKey) -> TrustBundle:
    public = issuing_key.public_key()
    return TrustBundle(
        version=3,
        issued_at=NOW - timedelta(hours=12),
        expires_at=NOW + timedelta(days=1),
        issuer="hd-stttt",
        event=EventInfo(
            id="cds2022",
            name="Chuyển đổi số 2022",
            timezone="Asia/Ho_Chi_Minh",
            start=NOW - timedelta(hours=1),
            end=NOW + timedelta(days=1),
            zones=("hall", "vip", "press"),
        ),
        keys=(
            BundleKey(
                kid=cose.kid_of(public),
                public_key=public.public_bytes_raw(),
                not_before=NOW - timedelta(days=30),
                not_after=None,
                status=KeyStatus.ACTIVE,
            ),
        ),
        policy=GatePolicy(stale_grace_seconds=int(GRACE.total_seconds())),
    )


@pytest.fixture(scope="module")
def credential() -> Credential:
    return Credential.create(
        issuer="hd-stttt",
        event_id="cds2022",
        name="Nguyễn Thị Ánh",
        organisation="Sở Thông tin và Truyền thông",
        category="delegate",
        zones=("hall", "vip"),
        credential_id=bytes(range(16)),
        issued_at=NOW - timedelta(days=1),
        not_before=NOW - timedelta(hours=2),
        expires_at=NOW + timedelta(days=2),
    )


@pytest.fixture(scope="module")
def ticket(credential: Credential, issuing_key: Ed25519PrivateKey) -> str:
    return sign(credential, issuing_key)


@pytest.mark.parametrize("zone", ["hall", "vip", None])
def test_admitted(zone: str | None, ticket: str, credential: Credential, bundle: TrustBundle) -> None:
    decision = decide(ticket, bundle, GateState(zone=zone), NOW)
    assert decision.verdict is Verdict.ADMIT
    assert decision.reason is Reason.ADMITTED
    assert decision.credential == credential
    assert decision.kid == bundle.keys[0].kid
    assert decision.warning == ""


def test_zone_not_allowed(ticket: str, credential: Credential, bundle: TrustBundle) -> None:
    decision = decide(ticket, bundle, GateState(zone="press"), NOW)
    assert decision.verdict is Verdict.DENY
    assert decision.reason is Reason.ZONE_NOT_ALLOWED
    assert decision.credential == credential


def test_stale_bundle_denies_with_the_credential(ticket: str, credential: Credential, bundle: TrustBundle) -> None:
    stale = replace(bundle, expires_at=NOW - GRACE)
    decision = decide(ticket, stale, GateState(zone="hall"), NOW)
    assert decision.verdict is Verdict.DENY
    assert decision.reason is Reason.BUNDLE_STALE
    assert decision.credential == credential  # the journal can name whose code was shown


def test_expired_bundle_within_grace_admits_with_a_warning(
    ticket: str, credential: Credential, bundle: TrustBundle
) -> None:
    for expires_at in (NOW, NOW - GRACE + SECOND):
        expired = replace(bundle, expires_at=expires_at)
        decision = decide(ticket, expired, GateState(zone="hall"), NOW)
        assert decision.verdict is Verdict.ADMIT
        assert decision.reason is Reason.ADMITTED
        assert decision.warning == "bundle_expired"
        assert decision.credential == credential


def test_expired_bundle_warning_also_on_a_denial(ticket: str, bundle: TrustBundle) -> None:
    expired = replace(bundle, expires_at=NOW - SECOND)
    decision = decide(ticket, expired, GateState(zone="press"), NOW)
    assert decision.reason is Reason.ZONE_NOT_ALLOWED
    assert decision.warning == "bundle_expired"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("", Reason.MALFORMED, id="empty"),
        pytest.param("CK1:BB8", Reason.MALFORMED, id="garbled"),
        pytest.param("HC1:NCFOXN%TS3DH", Reason.UNSUPPORTED_FORMAT, id="eu-dcc"),
        pytest.param("https://example.org/ve/42", Reason.UNSUPPORTED_FORMAT, id="url"),
    ],
)
def test_bad_code_denies_with_its_reason(text: str, reason: Reason, bundle: TrustBundle) -> None:
    decision = decide(text, bundle, GateState(zone="hall"), NOW)
    assert decision.verdict is Verdict.DENY
    assert decision.reason is reason
    assert decision.credential is None


def test_bad_signature_denies(ticket: str, bundle: TrustBundle) -> None:
    raw = bytearray(base45.decode(ticket[4:]))
    raw[-1] ^= 0x01  # the last byte of the signature
    decision = decide("CK1:" + base45.encode(bytes(raw)), bundle, GateState(zone="hall"), NOW)
    assert decision.verdict is Verdict.DENY
    assert decision.reason is Reason.BAD_SIGNATURE
    assert decision.credential is None


def test_unknown_key_denies_with_the_kid(credential: Credential, bundle: TrustBundle) -> None:
    stranger = Ed25519PrivateKey.generate()
    decision = decide(sign(credential, stranger), bundle, GateState(), NOW)
    assert decision.verdict is Verdict.DENY
    assert decision.reason is Reason.UNKNOWN_KEY
    assert decision.kid == cose.kid_of(stranger.public_key())
    assert decision.credential is None


def test_revoked_denies_with_the_credential(ticket: str, credential: Credential, bundle: TrustBundle) -> None:
    revoked = replace(bundle, revoked=frozenset({credential.credential_id}))
    decision = decide(ticket, revoked, GateState(zone="hall"), NOW)
    assert decision.verdict is Verdict.DENY
    assert decision.reason is Reason.REVOKED
    assert decision.credential == credential


def test_expired_code_denies_even_with_a_fresh_bundle(ticket: str, credential: Credential, bundle: TrustBundle) -> None:
    later = credential.expires_at + timedelta(hours=1)
    fresh = replace(bundle, expires_at=later + timedelta(days=1))
    decision = decide(ticket, fresh, GateState(zone="hall"), later)
    assert decision.verdict is Verdict.DENY
    assert decision.reason is Reason.EXPIRED


def test_to_json(ticket: str, credential: Credential, bundle: TrustBundle) -> None:
    decision = decide(ticket, bundle, GateState(zone="vip"), NOW)
    body = decision.to_json(ticket)
    assert {"input", "verdict", "reason", "message", "credential"} <= set(body)
    assert body["input"] == ticket
    assert body["verdict"] == "admit"
    assert body["reason"] == "admitted"
    assert body["message"] == "Mời vào"
    assert body["credential"]["id"] == credential.credential_id.hex()
    assert body["credential"]["name"] == "Nguyễn Thị Ánh"
    assert json.loads(json.dumps(body, ensure_ascii=False)) == body


def test_to_json_of_a_denial(bundle: TrustBundle) -> None:
    body = decide("HC1:XYZ", bundle, GateState(), NOW).to_json("HC1:XYZ")
    assert body["verdict"] == "deny"
    assert body["reason"] == "unsupported_format"
    assert body["message"] == Decision(Verdict.DENY, Reason.UNSUPPORTED_FORMAT).message("vi")
    assert body["credential"] is None
    json.dumps(body)
