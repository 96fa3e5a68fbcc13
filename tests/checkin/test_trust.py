"""CKB1 trust bundles: signing, rollback, wrong roots, tampering, domain separation, freshness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from checkin.core import base45, cose, dcc, trust
from checkin.core.credential import PREFIX, Credential, verify
from checkin.core.errors import CredentialError, Reason, TrustError
from checkin.core.trust import (
    MAX_BUNDLE_SIZE,
    BundleKey,
    Direction,
    Freshness,
    GateInfo,
    GatePolicy,
    KeyStatus,
    Question,
    ScreeningPolicy,
    TrustBundle,
    sign_bundle,
    verify_bundle,
)


def dcc_certificate(now: datetime) -> bytes:
    """A DER document signer certificate, as a bundle's DCC trust list carries them."""
    key = ec.generate_private_key(ec.SECP256R1())
    return dcc.signer_certificate(key, not_before=now - timedelta(days=365), not_after=now + timedelta(days=365))


def refusal(data: bytes, root: Ed25519PrivateKey, held_version: int = 0) -> TrustError:
    with pytest.raises(TrustError) as info:
        verify_bundle(data, root.public_key(), held_version=held_version)
    return info.value


@pytest.fixture(scope="module")
def full_bundle(
    make_bundle: Callable[..., TrustBundle],
    make_bundle_key: Callable[..., BundleKey],
    issuing_key: Ed25519PrivateKey,
    now: datetime,
) -> TrustBundle:
    """A bundle using every field: gates, two keys (one retired), revocations, screening, names."""
    old = make_bundle_key(
        Ed25519PrivateKey.generate(),
        status=KeyStatus.RETIRED,
        not_before=now - timedelta(days=90),
        not_after=now - timedelta(days=10),
    )
    bundle = make_bundle(
        version=7,
        keys=[old, make_bundle_key(issuing_key, not_before=now - timedelta(days=10))],
        revoked={b"\x01" * 16, b"\x02" * 16},
        policy=GatePolicy(
            entries_per_credential=2,
            reentry_after_exit=False,
            clock_tolerance_seconds=120,
            stale_grace_seconds=3600,
            screening=ScreeningPolicy(
                enabled=True,
                temperature_limit=38.0,
                temperature_min=35.0,
                temperature_max=42.0,
                questions=(Question("cough", "Ho?", "Cough?"), Question("well", "Khỏe?", "Well?", refer_if_yes=False)),
                declaration_valid_seconds=12 * 3600,
                certificate_required=True,
                health=dcc.HealthPolicy(naat_max_hours=48.0, recovery=False),
                dcc_certificates=(dcc_certificate(now),),
                retention_days=7,
            ),
            include_names=True,
        ),
        names={b"\x03" * 16: "Nguyễn Thị Ánh", b"\x04" * 16: "Trần Văn Bình"},
    )
    gates = (GateInfo("g1", "Cổng chính", "hall"), GateInfo("g2", "Lối ra VIP", "vip", Direction.OUT))
    return replace(bundle, event=replace(bundle.event, gates=gates))


# ---- round trip and rollback ---------------------------------------------------------------


def test_round_trip_minimal(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    assert verify_bundle(sign_bundle(bundle, root_key), root_key.public_key()) == bundle


def test_round_trip_every_field(full_bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    got = verify_bundle(sign_bundle(full_bundle, root_key), root_key.public_key())
    assert got == full_bundle
    assert got.event.gates[1].direction is Direction.OUT
    assert got.keys[0].status is KeyStatus.RETIRED
    assert got.names[b"\x03" * 16] == "Nguyễn Thị Ánh"


def test_signing_is_deterministic(full_bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    assert sign_bundle(full_bundle, root_key) == sign_bundle(full_bundle, root_key)


def test_names_are_left_out_unless_the_policy_says_so(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    with_names = replace(bundle, names={b"\x03" * 16: "Nguyễn Thị Ánh"})
    assert not with_names.policy.include_names
    got = verify_bundle(sign_bundle(with_names, root_key), root_key.public_key())
    assert got.names == {}
    assert b"Nguy" not in sign_bundle(with_names, root_key)


def test_protected_header_names_the_format(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    data = sign_bundle(bundle, root_key)
    assert data[0] == 0xD2
    protected = cbor2.loads(cbor2.loads(data[1:])[0])
    assert protected == {1: -8, 3: "CKB1", 4: cose.kid_of(root_key.public_key())}


@pytest.mark.parametrize(("held", "accepted"), [(0, True), (6, True), (7, True), (8, False), (1000, False)])
def test_rollback(held: int, accepted: bool, full_bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    data = sign_bundle(full_bundle, root_key)
    assert full_bundle.version == 7
    if accepted:
        assert verify_bundle(data, root_key.public_key(), held_version=held).version == 7
    else:
        assert refusal(data, root_key, held_version=held).reason is Reason.BUNDLE_ROLLBACK


def test_other_root_is_wrong_root(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    impostor = Ed25519PrivateKey.generate()
    assert refusal(sign_bundle(bundle, impostor), root_key).reason is Reason.WRONG_ROOT


def test_other_root_claiming_our_kid_is_wrong_root(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    impostor = Ed25519PrivateKey.generate()
    payload = cbor2.loads(cbor2.loads(sign_bundle(bundle, impostor)[1:])[2])
    protected = cose.protected_eddsa(cose.kid_of(root_key.public_key()), {cose.HEADER_CONTENT_TYPE: "CKB1"})
    forged = cose.sign1_eddsa(impostor, cose.canonical_dumps(payload), protected)
    assert refusal(forged, root_key).reason is Reason.WRONG_ROOT


def test_wrong_root_comes_before_rollback(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    impostor = Ed25519PrivateKey.generate()
    assert refusal(sign_bundle(bundle, impostor), root_key, held_version=99).reason is Reason.WRONG_ROOT


def test_key_whose_kid_does_not_match_is_refused(
    bundle: TrustBundle, issuing_key: Ed25519PrivateKey, root_key: Ed25519PrivateKey
) -> None:
    good = bundle.keys[0]
    forged = replace(good, public_key=Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    data = sign_bundle(replace(bundle, keys=(good, forged)), root_key)
    assert refusal(data, root_key).reason is Reason.BUNDLE_INVALID


def test_oversized_bundle_is_refused(root_key: Ed25519PrivateKey) -> None:
    assert refusal(b"\xd2" + bytes(MAX_BUNDLE_SIZE), root_key).reason is Reason.BUNDLE_INVALID


# ---- tampering -----------------------------------------------------------------------------


def test_every_single_bit_flip_is_refused(full_bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    data = sign_bundle(full_bundle, root_key)
    reasons: set[Reason] = set()
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        reasons.add(refusal(bytes(flipped), root_key).reason)
    assert reasons == {Reason.BUNDLE_INVALID, Reason.WRONG_ROOT}


def test_every_truncation_is_refused(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    data = sign_bundle(bundle, root_key)
    for length in range(len(data)):
        assert refusal(data[:length], root_key).reason is Reason.BUNDLE_INVALID


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("version", "7", id="version-text"),
        pytest.param("version", True, id="version-bool"),
        pytest.param("expires_at", 2**62, id="expires-beyond-9999"),
        pytest.param("keys", [{"kid": b"x"}], id="key-incomplete"),
        pytest.param("revoked", ["not bytes"], id="revoked-text"),
        pytest.param("event", [], id="event-list"),
        pytest.param("policy", None, id="policy-null"),
    ],
)
def test_root_signed_garbage_is_bundle_invalid(
    field: str, value: object, bundle: TrustBundle, root_key: Ed25519PrivateKey
) -> None:
    """Even under a valid root signature, content of the wrong shape is a TrustError, not a crash."""
    payload = cbor2.loads(cbor2.loads(sign_bundle(bundle, root_key)[1:])[2])
    payload[field] = value
    protected = cose.protected_eddsa(cose.kid_of(root_key.public_key()), {cose.HEADER_CONTENT_TYPE: "CKB1"})
    data = cose.sign1_eddsa(root_key, cose.canonical_dumps(payload), protected)
    assert refusal(data, root_key).reason is Reason.BUNDLE_INVALID


def test_unknown_key_status_is_bundle_invalid(bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    payload = cbor2.loads(cbor2.loads(sign_bundle(bundle, root_key)[1:])[2])
    payload["keys"][0]["status"] = "sleeping"
    protected = cose.protected_eddsa(cose.kid_of(root_key.public_key()), {cose.HEADER_CONTENT_TYPE: "CKB1"})
    data = cose.sign1_eddsa(root_key, cose.canonical_dumps(payload), protected)
    assert refusal(data, root_key).reason is Reason.BUNDLE_INVALID


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=800))
def test_fuzz_arbitrary_bytes_raise_only_trust_error(root_key: Ed25519PrivateKey, data: bytes) -> None:
    with pytest.raises(TrustError):
        verify_bundle(data, root_key.public_key())
    with pytest.raises(TrustError):
        verify_bundle(b"\xd2\x84" + data, root_key.public_key())


# ---- domain separation ---------------------------------------------------------------------


@pytest.mark.parametrize("signer", ["issuing", "root"])
def test_ticket_bytes_are_not_a_bundle(
    signer: str,
    credential: Credential,
    issue: Callable[..., str],
    issuing_key: Ed25519PrivateKey,
    root_key: Ed25519PrivateKey,
) -> None:
    # even a ticket signed by the root key itself is not a bundle
    text = issue(credential, issuing_key if signer == "issuing" else root_key)
    raw = base45.decode(text[len(PREFIX) :])
    assert refusal(raw, root_key).reason is Reason.BUNDLE_INVALID


def test_bundle_bytes_are_not_a_ticket(
    make_bundle: Callable[..., TrustBundle],
    make_bundle_key: Callable[..., BundleKey],
    root_key: Ed25519PrivateKey,
    now: datetime,
) -> None:
    # worst case: a misconfigured bundle that also lists the root key as an issuing key
    bundle = make_bundle(keys=[make_bundle_key(root_key)])
    data = sign_bundle(bundle, root_key)
    text = PREFIX + base45.encode(data)
    with pytest.raises(CredentialError) as info:
        verify(text, bundle, now)
    assert info.value.reason is Reason.MALFORMED


# ---- freshness -----------------------------------------------------------------------------


def test_freshness_boundaries(bundle: TrustBundle) -> None:
    expires = bundle.expires_at
    grace = timedelta(seconds=bundle.policy.stale_grace_seconds)
    second = timedelta(seconds=1)
    assert bundle.freshness(bundle.issued_at) is Freshness.FRESH
    assert bundle.freshness(expires - second) is Freshness.FRESH
    assert bundle.freshness(expires) is Freshness.EXPIRED
    assert bundle.freshness(expires + grace - second) is Freshness.EXPIRED
    assert bundle.freshness(expires + grace) is Freshness.STALE
    assert bundle.freshness(expires + timedelta(days=365)) is Freshness.STALE


def test_freshness_grace_comes_from_the_policy(bundle: TrustBundle) -> None:
    no_grace = replace(bundle, policy=replace(bundle.policy, stale_grace_seconds=0))
    assert no_grace.freshness(bundle.expires_at) is Freshness.STALE
    assert no_grace.freshness(bundle.expires_at - timedelta(seconds=1)) is Freshness.FRESH


# ---- root keys -----------------------------------------------------------------------------


def test_root_key_from_pem_accepts_ed25519(root_key: Ed25519PrivateKey) -> None:
    pem = root_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = trust.root_key_from_pem(pem)
    assert key.public_bytes_raw() == root_key.public_key().public_bytes_raw()


def _ec_pem() -> bytes:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    "make_pem",
    [
        pytest.param(_ec_pem, id="ec-p256"),
        pytest.param(_private_pem, id="ed25519-private-key"),
        pytest.param(lambda: b"", id="empty"),
        pytest.param(lambda: b"not a key at all", id="garbage"),
        pytest.param(lambda: b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", id="broken-pem"),
        pytest.param(lambda: bytes(range(256)), id="binary"),
    ],
)
def test_root_key_from_pem_refuses_others(make_pem: Callable[[], bytes]) -> None:
    with pytest.raises(TrustError) as info:
        trust.root_key_from_pem(make_pem())
    assert info.value.reason is Reason.KEY_FILE_INVALID


# ---- content -------------------------------------------------------------------------------


def test_content_ignores_version_and_times(full_bundle: TrustBundle) -> None:
    later = replace(
        full_bundle,
        version=full_bundle.version + 1,
        issued_at=full_bundle.issued_at + timedelta(days=1),
        expires_at=full_bundle.expires_at + timedelta(days=3),
    )
    assert trust.content(later) == trust.content(full_bundle)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: replace(b, revoked=b.revoked | {b"\x09" * 16}), id="revoked-added"),
        pytest.param(lambda b: replace(b, revoked=frozenset()), id="revoked-cleared"),
        pytest.param(lambda b: replace(b, keys=b.keys[1:]), id="key-removed"),
        pytest.param(
            lambda b: replace(b, keys=(replace(b.keys[0], status=KeyStatus.REVOKED), *b.keys[1:])), id="key-revoked"
        ),
        pytest.param(lambda b: replace(b, policy=replace(b.policy, clock_tolerance_seconds=60)), id="policy"),
        pytest.param(lambda b: replace(b, event=replace(b.event, zones=("hall",))), id="zones"),
        pytest.param(lambda b: replace(b, names={}), id="names"),
    ],
)
def test_content_changes_with_what_a_gate_relies_on(
    change: Callable[[TrustBundle], TrustBundle], full_bundle: TrustBundle
) -> None:
    assert trust.content(change(full_bundle)) != trust.content(full_bundle)


# ---- screening policy: optional, backward compatible, checked ------------------------------------


def signed_payload(body: dict[str, object], root: Ed25519PrivateKey) -> bytes:
    return cose.sign_typed(root, cose.canonical_dumps(body), trust.FORMAT)


@pytest.mark.parametrize("screening", ["absent", {}, {"enabled": False, "temperature_limit": 1}])
def test_a_bundle_without_screening_screens_nothing(
    bundle: TrustBundle, root_key: Ed25519PrivateKey, screening: object
) -> None:
    body = trust._encode(bundle)
    policy = body["policy"]
    assert isinstance(policy, dict)
    if screening == "absent":
        del policy["screening"]
    else:
        policy["screening"] = screening
    got = verify_bundle(signed_payload(body, root_key), root_key.public_key())
    assert got.policy.screening == ScreeningPolicy() and not got.policy.screening.enabled


def test_screening_off_encodes_as_before(bundle: TrustBundle) -> None:
    """A bundle that does not screen carries the empty map older gates and bundles had."""
    assert trust._encode(bundle)["policy"]["screening"] == {}  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature_limit", "37.5"),
        ("temperature_limit", float("nan")),
        ("temperature_max", float("inf")),
        ("temperature_min", True),
        ("questions", [{"id": "q", "vi": "Ho?"}]),
        ("declaration_valid_seconds", 1.5),
        ("dcc_certificates", [b"not a certificate"]),
        ("dcc_certificates", ["text"]),
        ("on_failure", "admit"),
        ("retention_days", None),
    ],
)
def test_hostile_screening_values_are_refused(
    full_bundle: TrustBundle, root_key: Ed25519PrivateKey, name: str, value: object
) -> None:
    body = trust._encode(full_bundle)
    body["policy"]["screening"][name] = value  # type: ignore[index]
    assert refusal(signed_payload(body, root_key), root_key).reason is Reason.BUNDLE_INVALID


def test_screening_trust_list_reads_the_certificates(full_bundle: TrustBundle, root_key: Ed25519PrivateKey) -> None:
    got = verify_bundle(sign_bundle(full_bundle, root_key), root_key.public_key())
    signers = got.policy.screening.trust_list.signers
    carried = full_bundle.policy.screening.dcc_certificates
    assert [s.kid for s in signers] == [dcc.kid_of_certificate(c) for c in carried]
