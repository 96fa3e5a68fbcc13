"""EU DCC verification and health rules with certificates we sign ourselves (real keys, real X.509).

The EU test data is checked in test_dcc_conformance.py; here are the attacks and edges it lacks:
algorithm confusion, kid placement, kid collisions, bombs, hostile sizes, the rule windows.
"""

from __future__ import annotations

import dataclasses
import tracemalloc
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from checkin.core import base45, cose, dcc
from checkin.core.dcc import CertType, DccError, DccReason, HealthPolicy
from checkin.core.errors import InputError, Reason, TrustError

NOW = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)
VACCINATION = {"tg": "840539006", "mp": "EU/1/20/1528", "dn": 2, "sd": 2, "dt": "2021-08-01", "co": "VN"}
TEST = {"tg": "840539006", "tt": dcc.NAAT, "sc": "2021-08-31T08:00:00Z", "tr": dcc.NOT_DETECTED, "co": "VN"}
RECOVERY = {"tg": "840539006", "fr": "2021-06-01", "df": "2021-06-12", "du": "2021-11-28", "co": "VN"}
ENTRIES = {CertType.VACCINATION: VACCINATION, CertType.TEST: TEST, CertType.RECOVERY: RECOVERY}


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(key: dcc.SigningKey, usages: tuple[CertType, ...] = (), **when: datetime) -> bytes:
    window = {"not_before": NOW - timedelta(days=365), "not_after": NOW + timedelta(days=365), **when}
    return dcc.signer_certificate(key, usages=usages, **window)


def payload(kind: CertType = CertType.VACCINATION, entry: dict[str, Any] | None = None, **times: datetime) -> bytes:
    window = {"issued_at": NOW - timedelta(days=1), "expires_at": NOW + timedelta(days=30), **times}
    return dcc.hcert_claims(kind, ENTRIES[kind] if entry is None else entry, country="VN", **window)


def issue(key: dcc.SigningKey, der: bytes, body: bytes | None = None, **options: Any) -> str:
    return dcc.seal(payload() if body is None else body, key, dcc.kid_of_certificate(der), **options)


def refusal(text: str, trust: dcc.TrustList, now: datetime = NOW) -> DccReason:
    with pytest.raises(DccError) as caught:
        dcc.verify(text, trust, now)
    return caught.value.dcc_reason


# ---- signatures, keys and headers ----------------------------------------------------------------


@pytest.mark.parametrize("key_name", ["ec_key", "rsa_key"])
def test_a_certificate_we_sign_verifies_es256_and_ps256(key_name: str, request: pytest.FixtureRequest) -> None:
    key = request.getfixturevalue(key_name)
    der = certificate(key)
    hcert = dcc.verify(issue(key, der), dcc.TrustList.load([der]), NOW)
    assert hcert.kind is CertType.VACCINATION
    assert hcert.issuer_country == "VN"
    assert hcert.entry["dn"] == 2
    assert dcc.check(issue(key, der), dcc.TrustList.load([der]), HealthPolicy(), NOW) is DccReason.ACCEPTED


def test_the_trust_list_reads_pem_too(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    pem = x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)
    signer = dcc.load_signer(pem)
    assert signer.kid == dcc.kid_of_certificate(der)
    assert signer.alg == cose.ALG_ES256
    assert dcc.verify(issue(ec_key, der), dcc.TrustList((signer,)), NOW).kind is CertType.VACCINATION


def test_header_es256_with_an_rsa_key_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    """Algorithm confusion: the header may not choose; the key's type decides, and they must agree."""
    der = certificate(rsa_key)
    text = issue(rsa_key, der, alg=cose.ALG_ES256)
    assert refusal(text, dcc.TrustList.load([der])) is DccReason.UNSUPPORTED_ALGORITHM


def test_header_ps256_with_an_ec_key_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    text = issue(ec_key, der, alg=cose.ALG_PS256)
    assert refusal(text, dcc.TrustList.load([der])) is DccReason.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize("alg", [cose.ALG_EDDSA, -35, -257, 0])
def test_other_algorithms_are_refused_before_any_key_is_looked_up(alg: int, ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    assert refusal(issue(ec_key, der, alg=alg), dcc.TrustList.load([der])) is DccReason.UNSUPPORTED_ALGORITHM


def test_kid_in_the_unprotected_header_only_verifies(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    kid = dcc.kid_of_certificate(der)
    text = dcc.seal(payload(), ec_key, None, unprotected_kid=kid)
    assert dcc.verify(text, dcc.TrustList.load([der]), NOW).kind is CertType.VACCINATION


def test_the_protected_kid_wins_over_the_unprotected(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    kid = dcc.kid_of_certificate(der)
    trust = dcc.TrustList.load([der])
    # a right protected kid and a wrong unprotected one: the protected is used
    assert dcc.verify(dcc.seal(payload(), ec_key, kid, unprotected_kid=b"\0" * 8), trust, NOW)
    # a wrong protected kid is not rescued by a right unprotected one
    text = dcc.seal(payload(), ec_key, b"\0" * 8, unprotected_kid=kid)
    assert refusal(text, trust) is DccReason.UNKNOWN_KEY


def test_no_kid_at_all_is_malformed(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    assert refusal(dcc.seal(payload(), ec_key, None), dcc.TrustList.load([der])) is DccReason.MALFORMED


def test_every_certificate_with_the_kid_is_tried(ec_key: ec.EllipticCurvePrivateKey) -> None:
    """A kid is a hint: a colliding certificate (another key, same kid) does not hide the right one."""
    der = certificate(ec_key)
    right = dcc.load_signer(der)
    other = dataclasses.replace(dcc.load_signer(certificate(ec.generate_private_key(ec.SECP256R1()))), kid=right.kid)
    text = issue(ec_key, der)
    for order in ((other, right), (right, other)):
        assert dcc.verify(text, dcc.TrustList(order), NOW).kind is CertType.VACCINATION
    assert refusal(text, dcc.TrustList((other,))) is DccReason.BAD_SIGNATURE


def test_an_unknown_kid_is_unknown_key(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    other = certificate(ec.generate_private_key(ec.SECP256R1()))
    assert refusal(issue(ec_key, der), dcc.TrustList.load([other])) is DccReason.UNKNOWN_KEY


@pytest.mark.parametrize("key_name", ["ec_key", "rsa_key"])
def test_an_altered_payload_is_a_bad_signature(key_name: str, request: pytest.FixtureRequest) -> None:
    key = request.getfixturevalue(key_name)
    der = certificate(key)
    sign1 = cose.decode_sign1(dcc.unpack(issue(key, der)))
    forged = payload(entry={**VACCINATION, "dn": 3, "sd": 3})
    text = dcc.pack(cose.encode_sign1(sign1.protected, sign1.unprotected, forged, sign1.signature))
    assert refusal(text, dcc.TrustList.load([der])) is DccReason.BAD_SIGNATURE
    inspection = dcc.inspect(text, dcc.TrustList.load([der]), NOW)
    assert not inspection.signature_valid and not inspection.trusted
    assert inspection.to_json()["signature"] == "invalid"


@pytest.mark.parametrize("cut", [1, 32, 63])
def test_a_short_signature_is_a_bad_signature(cut: int, ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    sign1 = cose.decode_sign1(dcc.unpack(issue(ec_key, der)))
    text = dcc.pack(cose.encode_sign1(sign1.protected, {}, sign1.payload, sign1.signature[:cut]))
    assert refusal(text, dcc.TrustList.load([der])) is DccReason.BAD_SIGNATURE


def test_untagged_and_cwt_tagged_structures_verify(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    trust = dcc.TrustList.load([der])
    assert dcc.verify(issue(ec_key, der, tagged=False), trust, NOW)
    tagged = dcc.unpack(issue(ec_key, der))
    assert dcc.verify(dcc.pack(b"\xd8\x3d" + tagged), trust, NOW)  # tag 61 (CWT) before tag 18


def test_unsupported_signer_keys_are_refused_when_the_trust_list_is_loaded() -> None:
    p384 = dcc.signer_certificate(
        ec.generate_private_key(ec.SECP384R1()), not_before=NOW, not_after=NOW + timedelta(days=1)
    )
    rsa1024 = dcc.signer_certificate(
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
    )
    for der in (p384, rsa1024, b"not a certificate"):
        with pytest.raises(TrustError):
            dcc.TrustList.load([der])


# ---- the signing certificate: validity and key usage ------------------------------------------------


def test_an_expired_signing_certificate_is_refused_after_the_signature(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key, not_after=NOW - timedelta(seconds=1))
    text = issue(ec_key, der)
    assert refusal(text, dcc.TrustList.load([der])) is DccReason.CERT_NOT_VALID
    inspection = dcc.inspect(text, dcc.TrustList.load([der]), NOW)
    assert inspection.signature_valid and inspection.cert_valid is False
    # at its last second the certificate still holds
    assert dcc.verify(text, dcc.TrustList.load([der]), NOW - timedelta(seconds=1))


def test_a_not_yet_valid_signing_certificate_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key, not_before=NOW + timedelta(seconds=1))
    assert refusal(issue(ec_key, der), dcc.TrustList.load([der])) is DccReason.CERT_NOT_VALID


@pytest.mark.parametrize(
    ("usages", "kind", "allowed"),
    [
        ((), CertType.VACCINATION, True),  # no DCC key usage: any type (EU spec)
        ((CertType.VACCINATION,), CertType.VACCINATION, True),
        ((CertType.TEST,), CertType.VACCINATION, False),
        ((CertType.RECOVERY,), CertType.TEST, False),
        ((CertType.TEST, CertType.RECOVERY), CertType.RECOVERY, True),
        ((CertType.VACCINATION,), CertType.RECOVERY, False),
    ],
)
def test_key_usage(
    usages: tuple[CertType, ...], kind: CertType, allowed: bool, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    der = certificate(ec_key, usages)
    text = issue(ec_key, der, payload(kind))
    trust = dcc.TrustList.load([der])
    if allowed:
        assert dcc.verify(text, trust, NOW).kind is kind
    else:
        assert refusal(text, trust) is DccReason.WRONG_KEY_USAGE
        assert dcc.inspect(text, trust, NOW).key_usage_ok is False


# ---- CWT time window ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        (timedelta(seconds=-1), None),
        (timedelta(0), None),  # at exp exactly: still valid, as the EU test data expect
        (timedelta(seconds=1), DccReason.EXPIRED),
    ],
)
def test_expiry_at_the_given_time(shift: timedelta, expected: DccReason | None, ec_key: Any) -> None:
    der = certificate(ec_key)
    text = issue(ec_key, der, payload(expires_at=NOW))
    at = NOW + shift
    if expected is None:
        assert dcc.verify(text, dcc.TrustList.load([der]), at)
    else:
        assert refusal(text, dcc.TrustList.load([der]), at) is expected
        assert dcc.inspect(text, dcc.TrustList.load([der]), at).to_json()["expired"] is True


def test_issued_after_now_is_not_yet_valid(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    text = issue(ec_key, der, payload(issued_at=NOW + timedelta(seconds=1)))
    assert refusal(text, dcc.TrustList.load([der])) is DccReason.NOT_YET_VALID
    with pytest.raises(DccError) as caught:
        dcc.verify(text, dcc.TrustList.load([der]), NOW)
    assert caught.value.reason is Reason.NOT_YET_VALID  # the nearest shared Reason


def test_a_naive_now_is_a_programming_error(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    with pytest.raises(ValueError, match="time zone"):
        dcc.verify(issue(ec_key, der), dcc.TrustList.load([der]), NOW.replace(tzinfo=None))


# ---- hostile input: sizes, bombs, garbage ----------------------------------------------------------------


def test_a_zlib_bomb_is_refused_before_it_is_inflated() -> None:
    bomb = zlib.compress(b"\0" * 50_000_000, 9)  # 50 MB in about 49 KB
    tracemalloc.start()
    try:
        with pytest.raises(DccError) as caught:
            dcc.inflate(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.dcc_reason is DccReason.TOO_LARGE
    # the cap, a copy of the unread input and the exception: nowhere near the 50 MB
    assert peak < len(bomb) + 4 * dcc.MAX_COSE_SIZE


def test_a_bomb_that_fits_in_a_qr_code_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    text = dcc.pack(b"\0" * 2_000_000)
    assert len(text) <= dcc.MAX_TEXT_LENGTH  # it fits a QR code...
    der = certificate(ec_key)
    assert refusal(text, dcc.TrustList.load([der])) is DccReason.TOO_LARGE  # ...and is not inflated


def test_a_text_longer_than_any_qr_code_is_refused_unread() -> None:
    text = dcc.PREFIX + "0" * dcc.MAX_TEXT_LENGTH
    assert refusal(text, dcc.TrustList(())) is DccReason.TOO_LARGE


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda good: good.replace("HC1:", "HC2:"), DccReason.MALFORMED),
        (lambda good: good[4:], DccReason.MALFORMED),
        (lambda good: good + "a", DccReason.MALFORMED),  # outside the Base45 alphabet
        (lambda good: good[:-1], DccReason.MALFORMED),  # Base45 length
        (lambda good: good[:-3], DccReason.MALFORMED),  # zlib truncated
        (lambda good: good + base45.encode(b"xx"), DccReason.MALFORMED),  # bytes after the zlib stream
        (lambda good: dcc.PREFIX + base45.encode(dcc.unpack(good)), DccReason.MALFORMED),  # not compressed
        (lambda good: dcc.pack(dcc.unpack(good)[:-1]), DccReason.MALFORMED),  # COSE truncated
        (lambda good: dcc.pack(b"\xd9\x03\xf2" + dcc.unpack(good)[1:]), DccReason.MALFORMED),  # another tag
    ],
)
def test_damaged_texts_are_malformed(
    make: Callable[[str], str], reason: DccReason, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    der = certificate(ec_key)
    good = issue(ec_key, der)
    assert refusal(make(good), dcc.TrustList.load([der])) is reason


@pytest.mark.parametrize(
    "body",
    [
        {dcc.CLAIM_EXP: 2_000_000_000},  # no HCERT
        {dcc.CLAIM_HCERT: {1: {"v": [VACCINATION]}}},  # no expiry
        {dcc.CLAIM_EXP: "soon", dcc.CLAIM_HCERT: {1: {"v": [VACCINATION]}}},
        {dcc.CLAIM_EXP: 2_000_000_000, dcc.CLAIM_HCERT: {1: {"v": [VACCINATION], "t": [TEST]}}},
        {dcc.CLAIM_EXP: 2_000_000_000, dcc.CLAIM_HCERT: {1: {"v": [VACCINATION, VACCINATION]}}},
        {dcc.CLAIM_EXP: 2_000_000_000, dcc.CLAIM_HCERT: {1: {"v": []}}},
        {dcc.CLAIM_EXP: 10**30, dcc.CLAIM_HCERT: {1: {"v": [VACCINATION]}}},
        [1, 2, 3],
    ],
)
def test_signed_but_malformed_claims(body: Any, ec_key: ec.EllipticCurvePrivateKey) -> None:
    """The issuer's own signature does not make a malformed payload acceptable."""
    der = certificate(ec_key)
    text = issue(ec_key, der, cose.canonical_dumps(body))
    assert refusal(text, dcc.TrustList.load([der])) is DccReason.MALFORMED
    inspection = dcc.inspect(text, dcc.TrustList.load([der]), NOW)
    assert inspection.signature_valid and inspection.reason is DccReason.MALFORMED


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_cose_bytes_give_a_dcc_error_and_nothing_else(data: bytes) -> None:
    for text in (dcc.pack(data), dcc.pack(b"\xd2" + data)):
        with pytest.raises(DccError):
            dcc.verify(text, dcc.TrustList(()), NOW)
        assert not dcc.inspect(text, dcc.TrustList(()), NOW).accepted


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_dcc_error_and_nothing_else(text: str) -> None:
    with pytest.raises(DccError):
        dcc.verify(dcc.PREFIX + text, dcc.TrustList(()), NOW)


# ---- the health rules, at the edges of each window ------------------------------------------------------------


def _hcert(kind: CertType, **changes: Any) -> dcc.Hcert:
    return dcc.Hcert(kind, {**ENTRIES[kind], **changes}, "VN", NOW, NOW + timedelta(days=30), "1.3.0")


DAY = timedelta(days=1)
RULES = [
    # vaccination: complete (dn >= sd) and 14 days since the last dose
    ("vaccinated 14 days ago", _hcert(CertType.VACCINATION, dt="2021-08-18"), None),
    ("vaccinated 13 days ago", _hcert(CertType.VACCINATION, dt="2021-08-19"), DccReason.VACCINATION_TOO_RECENT),
    ("booster 3/2", _hcert(CertType.VACCINATION, dn=3, sd=2, dt="2021-08-18"), None),
    ("dose 1 of 2", _hcert(CertType.VACCINATION, dn=1, sd=2, dt="2021-06-01"), DccReason.VACCINATION_INCOMPLETE),
    ("series 0", _hcert(CertType.VACCINATION, dn=0, sd=0), DccReason.VACCINATION_INCOMPLETE),
    ("dn as text", _hcert(CertType.VACCINATION, dn="2"), DccReason.MALFORMED),
    ("dt not a date", _hcert(CertType.VACCINATION, dt="yesterday"), DccReason.MALFORMED),
    # NAAT (PCR) test: negative, sampled at most 72 h ago
    ("NAAT 72 h old", _hcert(CertType.TEST, sc="2021-08-29T08:00:00Z"), None),
    ("NAAT 72 h 1 s old", _hcert(CertType.TEST, sc="2021-08-29T07:59:59Z"), DccReason.TEST_TOO_OLD),
    ("NAAT in another zone", _hcert(CertType.TEST, sc="2021-08-29T15:00:00+07:00"), None),
    ("NAAT positive", _hcert(CertType.TEST, tr="260373001"), DccReason.TEST_POSITIVE),
    ("NAAT sampled later", _hcert(CertType.TEST, sc="2021-09-01T08:00:01Z"), DccReason.TEST_IN_FUTURE),
    # rapid antigen test: negative, at most 24 h
    ("rapid 24 h old", _hcert(CertType.TEST, tt=dcc.RAPID, sc="2021-08-31T08:00:00Z"), None),
    ("rapid 24 h 1 s old", _hcert(CertType.TEST, tt=dcc.RAPID, sc="2021-08-31T07:59:59Z"), DccReason.TEST_TOO_OLD),
    ("unknown test type", _hcert(CertType.TEST, tt="LP0000-0"), DccReason.TEST_TYPE_NOT_ACCEPTED),
    ("no sample time", _hcert(CertType.TEST, sc=None), DccReason.MALFORMED),
    # recovery: at most 180 days from the first positive test, within df..du
    ("recovered 180 days", _hcert(CertType.RECOVERY, fr="2021-03-05", df="2021-03-16"), None),
    (
        "recovered 181 days",
        _hcert(CertType.RECOVERY, fr="2021-03-04", df="2021-03-16"),
        DccReason.RECOVERY_OUT_OF_WINDOW,
    ),
    ("before df", _hcert(CertType.RECOVERY, df="2021-09-02"), DccReason.RECOVERY_OUT_OF_WINDOW),
    ("on df", _hcert(CertType.RECOVERY, df="2021-09-01"), None),
    ("on du", _hcert(CertType.RECOVERY, du="2021-09-01"), None),
    ("after du", _hcert(CertType.RECOVERY, du="2021-08-31"), DccReason.RECOVERY_OUT_OF_WINDOW),
]


@pytest.mark.parametrize(("hcert", "expected"), [(h, e) for _, h, e in RULES], ids=[name for name, _, _ in RULES])
def test_default_rules_at_the_edges(hcert: dcc.Hcert, expected: DccReason | None) -> None:
    assert dcc.evaluate(hcert, HealthPolicy(), NOW) is expected


@pytest.mark.parametrize(
    ("policy", "hcert", "expected"),
    [
        (HealthPolicy(vaccination=False), _hcert(CertType.VACCINATION, dt="2021-01-01"), DccReason.TYPE_NOT_ACCEPTED),
        (HealthPolicy(recovery=False), _hcert(CertType.RECOVERY), DccReason.TYPE_NOT_ACCEPTED),
        (HealthPolicy(naat_test=False, rapid_test=False), _hcert(CertType.TEST), DccReason.TYPE_NOT_ACCEPTED),
        (HealthPolicy(rapid_test=False), _hcert(CertType.TEST, tt=dcc.RAPID), DccReason.TEST_TYPE_NOT_ACCEPTED),
        (HealthPolicy(naat_test=False), _hcert(CertType.TEST), DccReason.TEST_TYPE_NOT_ACCEPTED),
        (HealthPolicy(naat_max_hours=48), _hcert(CertType.TEST, sc="2021-08-30T07:59:59Z"), DccReason.TEST_TOO_OLD),
        (HealthPolicy(naat_max_hours=48), _hcert(CertType.TEST, sc="2021-08-30T08:00:00Z"), None),
        (HealthPolicy(vaccination_min_days=0), _hcert(CertType.VACCINATION, dt="2021-09-01"), None),
        (HealthPolicy(recovery_max_days=90), _hcert(CertType.RECOVERY), DccReason.RECOVERY_OUT_OF_WINDOW),
    ],
)
def test_each_rule_is_configurable(policy: HealthPolicy, hcert: dcc.Hcert, expected: DccReason | None) -> None:
    assert dcc.evaluate(hcert, policy, NOW) is expected


def test_days_count_in_the_zone_of_now() -> None:
    """14 days after a dose given on 18 August: 1 September in Hanoi even while UTC is still on 31 August."""
    hcert = _hcert(CertType.VACCINATION, dt="2021-08-18")
    late_utc = datetime(2021, 8, 31, 20, 0, tzinfo=UTC)
    assert dcc.evaluate(hcert, HealthPolicy(), late_utc) is DccReason.VACCINATION_TOO_RECENT
    hanoi = late_utc.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert dcc.evaluate(hcert, HealthPolicy(), hanoi) is None


def test_the_rules_run_only_on_a_verified_certificate(ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = certificate(ec_key)
    trust = dcc.TrustList.load([der])
    fresh = issue(ec_key, der, payload(CertType.TEST))
    stale = issue(ec_key, der, payload(CertType.TEST, {**TEST, "sc": "2021-08-25T08:00:00Z"}))
    assert dcc.check(fresh, trust, HealthPolicy(), NOW) is DccReason.ACCEPTED
    assert dcc.check(stale, trust, HealthPolicy(), NOW) is DccReason.TEST_TOO_OLD
    inspection = dcc.inspect(stale, trust, NOW, HealthPolicy())
    assert inspection.to_json(rules=True) == {
        "signature": "valid",
        "reason": "dcc_test_too_old",
        "expired": False,
        "type": "test",
        "issuer_country": "VN",
        "rule": "dcc_test_too_old",
    }
    other = dcc.TrustList.load([certificate(ec.generate_private_key(ec.SECP256R1()))])
    assert dcc.check(fresh, other, HealthPolicy(), NOW) is DccReason.UNKNOWN_KEY
    assert dcc.inspect(fresh, other, NOW, HealthPolicy()).rule is None
    assert dcc.inspect(fresh, trust, NOW, HealthPolicy()).rule is DccReason.ACCEPTED
    assert dcc.inspect(fresh, trust, NOW).rule is None  # no policy, no rule outcome
    refused = dcc.inspect(fresh, other, NOW, HealthPolicy()).to_json(rules=True)
    assert refused["rule"] is None and refused["type"] is None  # nothing unverified is shown


def _with_eku(key: ec.EllipticCurvePrivateKey, *oids: str) -> bytes:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "DSC")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in oids]), critical=False)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


@pytest.mark.parametrize(
    ("oids", "usages"),
    [
        (("1.3.6.1.4.1.0.1847.2021.1.1",), {CertType.TEST}),  # the misprinted arc, still in certificates
        (("1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.1847.2021.1.3"), {CertType.VACCINATION, CertType.RECOVERY}),
        (("1.3.6.1.5.5.7.3.2",), None),  # no DCC usage at all: any type
        (("1.2.3.4.5.6.7.8.9.10.111.13",), None),  # as long as a DCC OID, ending in 3: not recovery
        (("1.3.6.1.4.1.1847.2021.1.4",), None),  # an unassigned DCC arc value
    ],
)
def test_key_usage_oids_are_read_exactly(
    oids: tuple[str, ...], usages: set[CertType] | None, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    signer = dcc.load_signer(_with_eku(ec_key, *oids))
    assert signer.usages == (None if usages is None else frozenset(usages))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default", HealthPolicy()),
        ("", HealthPolicy()),
        ("naat_max_hours=48.5, recovery=no", HealthPolicy(naat_max_hours=48.5, recovery=False)),
        ("vaccination_min_days=21,rapid_test=false", HealthPolicy(vaccination_min_days=21, rapid_test=False)),
    ],
)
def test_policy_text(text: str, expected: HealthPolicy) -> None:
    assert dcc.parse_policy(text) == expected


@pytest.mark.parametrize(
    "text",
    ["naat_max_hours", "colour=red", "recovery=maybe", "vaccination_min_days=2.5", "naat_max_hours=nan",
     "naat_max_hours=-1", "recovery_max_days=1e9", "rapid_max_hours=inf"],
)  # fmt: skip
def test_bad_policy_text_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError):
        dcc.parse_policy(text)
