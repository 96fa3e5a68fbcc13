"""CK1 credentials: sign/verify round trips and every refusal named by its reason code."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from checkin.core import base45, cose
from checkin.core.credential import MAX_TEXT_LENGTH, PREFIX, Credential, Verified, verify
from checkin.core.errors import CredentialError, Reason
from checkin.core.trust import TrustBundle

FUZZ = settings(max_examples=200, deadline=None)

# ---- helpers -------------------------------------------------------------------------------


def cose_of(text: str) -> bytes:
    """The COSE_Sign1 bytes inside CK1 text."""
    assert text.startswith(PREFIX)
    return base45.decode(text[len(PREFIX) :])


def ck1(raw: bytes) -> str:
    return PREFIX + base45.encode(raw)


def sign1(
    key: Ed25519PrivateKey,
    payload: bytes,
    *,
    protected: bytes | None = None,
    unprotected: dict[Any, Any] | None = None,
    signature: bytes | None = None,
) -> bytes:
    """A tagged COSE_Sign1 built by hand: a real Ed25519 signature over whatever headers we choose."""
    if protected is None:
        protected = cose.protected_eddsa(cose.kid_of(key.public_key()))
    if signature is None:
        signature = key.sign(cose.sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {} if unprotected is None else unprotected, payload, signature]))


def refusal(text: str, bundle: TrustBundle, now: datetime) -> CredentialError:
    """verify() must raise CredentialError (and nothing else); return it for its reason."""
    with pytest.raises(CredentialError) as info:
        verify(text, bundle, now)
    return info.value


def payload_of(credential: Credential) -> bytes:
    return cose.canonical_dumps(credential.claims())


# ---- round trip ----------------------------------------------------------------------------


def test_valid_ticket_verifies(ticket: str, credential: Credential, bundle: TrustBundle, now: datetime) -> None:
    result = verify(ticket, bundle, now)
    assert isinstance(result, Verified)
    assert result.credential == credential
    assert result.kid == bundle.keys[0].kid


def test_ticket_is_qr_alphanumeric(ticket: str) -> None:
    assert set(ticket) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert len(ticket) <= MAX_TEXT_LENGTH


def test_cose_layout_matches_the_design(ticket: str, issuing_key: Ed25519PrivateKey) -> None:
    raw = cose_of(ticket)
    assert raw[0] == 0xD2  # tag 18
    protected, unprotected, payload, signature = cbor2.loads(raw[1:])
    kid = hashlib.sha256(issuing_key.public_key().public_bytes_raw()).digest()[:8]
    assert cbor2.loads(protected) == {1: -8, 4: kid}
    assert unprotected == {}
    assert len(signature) == 64
    issuing_key.public_key().verify(signature, cbor2.dumps(["Signature1", protected, b"", payload]))


VIETNAMESE = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
    "AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐEÈÉẺẼẸÊỀẾỂỄỆOÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢUÙÚỦŨỤƯỪỨỬỮỰ "
)
viet_text = st.text(alphabet=VIETNAMESE, max_size=30)


@FUZZ
@given(
    name=viet_text.filter(lambda s: s.strip()),
    organisation=viet_text,
    category=st.sampled_from(["", "delegate", "press", "khách mời", "ban tổ chức"]),
    form=st.sampled_from(["NFC", "NFD"]),
    zones=st.lists(st.sampled_from(["hall", "vip", "press"]), unique=True, max_size=3),
    cti=st.binary(min_size=16, max_size=16),
    iat=st.integers(min_value=-59 * 86400, max_value=0),
    nbf=st.integers(min_value=-30 * 86400, max_value=0),
    exp=st.integers(min_value=1, max_value=60 * 86400),
    health=st.none() | st.dictionaries(st.integers(0, 9), st.booleans() | st.integers(-(2**63), 2**63 - 1)),
)
def test_round_trip_of_arbitrary_claims(
    issue: Callable[..., str],
    bundle: TrustBundle,
    now: datetime,
    name: str,
    organisation: str,
    category: str,
    form: str,
    zones: list[str],
    cti: bytes,
    iat: int,
    nbf: int,
    exp: int,
    health: dict[int, Any] | None,
) -> None:
    cred = Credential.create(
        issuer="hd-stttt",
        event_id="cds2022",
        name=unicodedata.normalize(form, name),
        organisation=unicodedata.normalize(form, organisation),
        category=unicodedata.normalize(form, category),
        zones=zones,
        credential_id=cti,
        issued_at=now + timedelta(seconds=iat),
        not_before=now + timedelta(seconds=nbf),
        expires_at=now + timedelta(seconds=exp),
        health=health,
    )
    got = verify(issue(cred), bundle, now).credential
    assert got == cred
    assert got.name == unicodedata.normalize("NFC", name).strip()
    assert got.organisation == unicodedata.normalize("NFC", organisation).strip()
    assert unicodedata.is_normalized("NFC", got.name)
    assert got.zones == tuple(zones)
    assert got.credential_id == cti


def test_nfd_and_nfc_names_give_the_same_ticket_claims(
    make_credential: Callable[..., Credential], issue: Callable[..., str], bundle: TrustBundle, now: datetime
) -> None:
    nfc = "Nguyễn Thị Ánh"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    cti = b"\x01" * 16
    a = verify(issue(make_credential(name=nfc, credential_id=cti)), bundle, now).credential
    b = verify(issue(make_credential(name=nfd, credential_id=cti)), bundle, now).credential
    assert a.name == b.name == nfc
    assert a == b


# ---- tampering -----------------------------------------------------------------------------


def test_every_single_bit_flip_is_refused(ticket: str, bundle: TrustBundle, now: datetime) -> None:
    raw = cose_of(ticket)
    reasons: dict[Reason, int] = {}
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        error = refusal(ck1(bytes(flipped)), bundle, now)
        reasons[error.reason] = reasons.get(error.reason, 0) + 1
    assert set(reasons) <= {
        Reason.MALFORMED,
        Reason.UNSUPPORTED_ALGORITHM,
        Reason.UNKNOWN_KEY,
        Reason.BAD_SIGNATURE,
    }, reasons
    # flips in the payload and the signature are caught by the signature itself
    assert reasons[Reason.BAD_SIGNATURE] >= 64 * 8
    assert reasons[Reason.UNKNOWN_KEY] >= 8 * 8 - 8  # the kid's bits (a few flips break the header first)


def test_key_outside_the_bundle_is_unknown_key(
    credential: Credential, issue: Callable[..., str], bundle: TrustBundle, now: datetime
) -> None:
    stranger = Ed25519PrivateKey.generate()
    error = refusal(issue(credential, stranger), bundle, now)
    assert error.reason is Reason.UNKNOWN_KEY
    assert error.kid == cose.kid_of(stranger.public_key())
    assert error.credential is None  # nothing past a failed step is trusted


def test_foreign_signature_under_our_kid_is_bad_signature(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    stranger = Ed25519PrivateKey.generate()
    protected = cose.protected_eddsa(cose.kid_of(issuing_key.public_key()))
    error = refusal(ck1(sign1(stranger, payload_of(credential), protected=protected)), bundle, now)
    assert error.reason is Reason.BAD_SIGNATURE
    assert error.credential is None


def test_altered_claims_are_bad_signature(
    ticket: str, make_credential: Callable[..., Credential], bundle: TrustBundle, now: datetime
) -> None:
    protected, _, _, signature = cbor2.loads(cose_of(ticket)[1:])
    richer = make_credential(credential_id=bytes(range(16)), zones=("hall", "vip", "press"))
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload_of(richer), signature]))
    assert refusal(ck1(forged), bundle, now).reason is Reason.BAD_SIGNATURE


# ---- algorithm confusion -------------------------------------------------------------------


@pytest.mark.parametrize(
    "alg",
    [
        pytest.param(-7, id="ES256"),
        pytest.param(-37, id="PS256"),
        pytest.param(5, id="HMAC-256"),
        pytest.param(0, id="zero"),
        pytest.param(-9, id="minus-9"),
        pytest.param("EdDSA", id="text-EdDSA"),
        pytest.param(b"\xf8", id="bytes"),
        pytest.param(None, id="null"),
        pytest.param(-8.0, id="float-minus-8"),
    ],
)
def test_other_alg_in_protected_header_is_unsupported_algorithm(
    alg: Any, credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    # the signature is a real Ed25519 one by the bundle's key: only the header's alg is wrong
    protected = cbor2.dumps({1: alg, 4: cose.kid_of(issuing_key.public_key())})
    error = refusal(ck1(sign1(issuing_key, payload_of(credential), protected=protected)), bundle, now)
    assert error.reason is Reason.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize(
    "protected",
    [
        pytest.param(b"", id="empty-bytes"),
        pytest.param(cbor2.dumps({}), id="empty-map"),
        pytest.param(None, id="kid-only"),
    ],
)
def test_missing_alg_is_unsupported_algorithm(
    protected: bytes | None,
    credential: Credential,
    issuing_key: Ed25519PrivateKey,
    bundle: TrustBundle,
    now: datetime,
) -> None:
    if protected is None:
        protected = cbor2.dumps({4: cose.kid_of(issuing_key.public_key())})
    error = refusal(ck1(sign1(issuing_key, payload_of(credential), protected=protected)), bundle, now)
    assert error.reason is Reason.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize(
    ("protected_map", "unprotected"),
    [
        pytest.param({1: -8}, {1: -8}, id="eddsa-in-both"),
        pytest.param({1: -8}, {1: -7}, id="es256-unprotected"),
        pytest.param({}, {1: -8}, id="eddsa-only-unprotected"),
    ],
)
def test_alg_in_unprotected_header_is_unsupported_algorithm(
    protected_map: dict[int, int],
    unprotected: dict[int, int],
    credential: Credential,
    issuing_key: Ed25519PrivateKey,
    bundle: TrustBundle,
    now: datetime,
) -> None:
    protected = cbor2.dumps({**protected_map, 4: cose.kid_of(issuing_key.public_key())})
    raw = sign1(issuing_key, payload_of(credential), protected=protected, unprotected=unprotected)
    assert refusal(ck1(raw), bundle, now).reason is Reason.UNSUPPORTED_ALGORITHM


def test_alg_label_must_be_the_integer_1(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    # CBOR `true` as a label is not the label 1, even though Python says True == 1
    protected = cbor2.dumps({True: -8, 4: cose.kid_of(issuing_key.public_key())})
    error = refusal(ck1(sign1(issuing_key, payload_of(credential), protected=protected)), bundle, now)
    assert error.reason in {Reason.UNSUPPORTED_ALGORITHM, Reason.MALFORMED}


def test_other_fields_in_the_protected_header_are_refused(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    protected = cose.protected_eddsa(cose.kid_of(issuing_key.public_key()), {3: "CKB1"})
    error = refusal(ck1(sign1(issuing_key, payload_of(credential), protected=protected)), bundle, now)
    assert error.reason is Reason.MALFORMED


def test_non_empty_unprotected_header_is_refused(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    raw = sign1(issuing_key, payload_of(credential), unprotected={4: cose.kid_of(issuing_key.public_key())})
    assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED


@pytest.mark.parametrize(
    ("alg", "digest", "expected"),
    [
        pytest.param(5, hashlib.sha256, Reason.UNSUPPORTED_ALGORITHM, id="alg-5-hmac-sha256"),
        pytest.param(-8, hashlib.sha256, Reason.BAD_SIGNATURE, id="alg-eddsa-hmac-sha256-32-bytes"),
        pytest.param(-8, hashlib.sha512, Reason.BAD_SIGNATURE, id="alg-eddsa-hmac-sha512-64-bytes"),
    ],
)
def test_hmac_keyed_with_the_public_key_is_refused(
    alg: int,
    digest: Any,
    expected: Reason,
    credential: Credential,
    issuing_key: Ed25519PrivateKey,
    bundle: TrustBundle,
    now: datetime,
) -> None:
    """The classic confusion: 'sign' with a MAC whose key is the (public) verification key."""
    public = issuing_key.public_key().public_bytes_raw()
    protected = cbor2.dumps({1: alg, 4: cose.kid_of(public)})
    payload = payload_of(credential)
    tag = hmac.new(public, cose.sig_structure(protected, payload), digest).digest()
    error = refusal(ck1(sign1(issuing_key, payload, protected=protected, signature=tag)), bundle, now)
    assert error.reason is expected


# ---- malformed input -----------------------------------------------------------------------


def test_empty_text_is_malformed(bundle: TrustBundle, now: datetime) -> None:
    assert refusal("", bundle, now).reason is Reason.MALFORMED


def test_every_truncation_is_malformed(ticket: str, bundle: TrustBundle, now: datetime) -> None:
    for length in range(len(ticket)):
        error = refusal(ticket[:length], bundle, now)
        assert error.reason is Reason.MALFORMED, (length, error)


@pytest.mark.parametrize(
    "position, char",
    [
        pytest.param(4, "a", id="lowercase"),
        pytest.param(10, "#", id="hash"),
        pytest.param(20, "\n", id="newline"),
        pytest.param(30, "é", id="non-ascii"),
        pytest.param(-1, "\x00", id="nul-at-end"),
        pytest.param(40, "\ud800", id="lone-surrogate"),
    ],
)
def test_non_base45_characters_are_malformed(
    ticket: str, position: int, char: str, bundle: TrustBundle, now: datetime
) -> None:
    text = ticket[:position] + char + ticket[position + 1 :] if position >= 0 else ticket[:-1] + char
    assert refusal(text, bundle, now).reason is Reason.MALFORMED


@pytest.mark.parametrize("suffix", ["\n", " ", "\r\n"], ids=["newline", "space", "crlf"])
def test_trailing_whitespace_is_not_stripped(ticket: str, suffix: str, bundle: TrustBundle, now: datetime) -> None:
    assert refusal(ticket + suffix, bundle, now).reason is Reason.MALFORMED


def test_oversized_text_is_malformed(ticket: str, bundle: TrustBundle, now: datetime) -> None:
    assert refusal(PREFIX + "0" * MAX_TEXT_LENGTH, bundle, now).reason is Reason.MALFORMED
    # a valid code padded with a valid Base45 tail: the length cap comes before decoding
    padded = ticket + "00" * ((MAX_TEXT_LENGTH - len(ticket)) // 2 + 1)
    assert len(padded) > MAX_TEXT_LENGTH
    assert refusal(padded, bundle, now).reason is Reason.MALFORMED
    assert refusal(PREFIX + "Z" * 10**6, bundle, now).reason is Reason.MALFORMED


def test_deeply_nested_cbor_after_tag_18_is_malformed(bundle: TrustBundle, now: datetime) -> None:
    deep = b"\xd2" + b"\x81" * 10_000 + b"\x00"
    with pytest.raises(CredentialError) as info:
        cose.decode_sign1(deep)
    assert info.value.reason is Reason.MALFORMED
    # through verify, as deep as the length cap lets a code be
    depth = (MAX_TEXT_LENGTH - len(PREFIX)) * 2 // 3 - 4
    text = ck1(b"\xd2" + b"\x81" * depth + b"\x00")
    assert len(text) <= MAX_TEXT_LENGTH
    assert refusal(text, bundle, now).reason is Reason.MALFORMED
    maps = ck1(b"\xd2" + b"\xa1\x00" * (depth // 2) + b"\x00")
    assert refusal(maps, bundle, now).reason is Reason.MALFORMED


def test_deeply_nested_signed_payload_is_malformed(
    issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    raw = sign1(issuing_key, b"\x81" * 1000 + b"\x00")
    assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED


def test_trailing_bytes_after_the_cose_structure_are_malformed(ticket: str, bundle: TrustBundle, now: datetime) -> None:
    raw = cose_of(ticket)
    for tail in (b"\x00", b"\xf6", raw):
        assert refusal(ck1(raw + tail), bundle, now).reason is Reason.MALFORMED


def test_indefinite_length_cbor_is_malformed(ticket: str, bundle: TrustBundle, now: datetime) -> None:
    protected, unprotected, payload, signature = cbor2.loads(cose_of(ticket)[1:])
    items = [cbor2.dumps(x) for x in (protected, unprotected, payload, signature)]
    indefinite_array = b"\xd2\x9f" + b"".join(items) + b"\xff"
    assert refusal(ck1(indefinite_array), bundle, now).reason is Reason.MALFORMED
    # the payload as an indefinite byte string of two chunks
    chunked = b"\x5f" + cbor2.dumps(payload[:10]) + cbor2.dumps(payload[10:]) + b"\xff"
    raw = b"\xd2\x84" + items[0] + items[1] + chunked + items[3]
    assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED
    # an indefinite unprotected map
    raw = b"\xd2\x84" + items[0] + b"\xbf\xff" + items[2] + items[3]
    assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED


def test_indefinite_length_signed_payload_is_malformed(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    canonical = payload_of(credential)
    assert canonical[0] == 0xA7  # a map of 7 claims
    raw = sign1(issuing_key, b"\xbf" + canonical[1:] + b"\xff")
    assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED


def test_cbor_tags_inside_are_malformed(ticket: str, bundle: TrustBundle, now: datetime) -> None:
    protected, _, payload, signature = cbor2.loads(cose_of(ticket)[1:])
    for inner in (
        [cbor2.CBORTag(24, protected), {}, payload, signature],  # encoded CBOR data item
        [protected, {}, cbor2.CBORTag(24, payload), signature],
        [protected, {}, payload, cbor2.CBORTag(2, signature)],  # bignum
        [protected, cbor2.CBORTag(18, {}), payload, signature],
    ):
        raw = cbor2.dumps(cbor2.CBORTag(18, inner))
        assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED
    nested = cbor2.dumps(cbor2.CBORTag(18, cbor2.CBORTag(18, [protected, {}, payload, signature])))
    assert refusal(ck1(nested), bundle, now).reason is Reason.MALFORMED


def test_untagged_or_wrongly_tagged_cose_is_malformed(ticket: str, bundle: TrustBundle, now: datetime) -> None:
    raw = cose_of(ticket)
    assert refusal(ck1(raw[1:]), bundle, now).reason is Reason.MALFORMED  # no tag
    assert refusal(ck1(b"\xd8\x12" + raw[1:]), bundle, now).reason is Reason.MALFORMED  # tag 18, long form
    assert refusal(ck1(b"\xd1" + raw[1:]), bundle, now).reason is Reason.MALFORMED  # tag 17: COSE_Mac0


def test_tags_inside_the_signed_payload_are_malformed(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    claims = credential.claims()
    claims[6] = cbor2.CBORTag(1, claims[6])  # iat as a tagged epoch time
    raw = sign1(issuing_key, cose.canonical_dumps(claims))
    assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED


def test_duplicate_keys_in_the_protected_header_are_malformed(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    kid = cose.kid_of(issuing_key.public_key())
    # {1: -8, 4: kid, 1: -8} and {1: -7, 4: kid, 1: -8}: whichever value a parser keeps, refuse both
    for first in (-8, -7):
        protected = b"\xa3" + cbor2.dumps(1) + cbor2.dumps(first) + b"\x04" + cbor2.dumps(kid) + b"\x01\x27"
        raw = sign1(issuing_key, payload_of(credential), protected=protected)
        assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED


def test_duplicate_keys_in_the_unprotected_header_are_malformed(
    ticket: str, bundle: TrustBundle, now: datetime
) -> None:
    protected, _, payload, signature = cbor2.loads(cose_of(ticket)[1:])
    unprotected = b"\xa2\x05\x00\x05\x00"
    raw = b"\xd2\x84" + cbor2.dumps(protected) + unprotected + cbor2.dumps(payload) + cbor2.dumps(signature)
    assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED


def test_duplicate_claims_in_the_signed_payload_are_malformed(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    canonical = payload_of(credential)
    # a second aud: one parser could read cds2022, another some other event
    duplicated = b"\xa8" + canonical[1:] + cbor2.dumps(3) + cbor2.dumps("other-event")
    raw = sign1(issuing_key, duplicated)
    assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED


def test_trailing_bytes_in_the_signed_payload_are_malformed(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    raw = sign1(issuing_key, payload_of(credential) + b"\x00")
    assert refusal(ck1(raw), bundle, now).reason is Reason.MALFORMED


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        pytest.param(1, b"hd-stttt", id="iss-bytes"),
        pytest.param(3, None, id="aud-missing"),
        pytest.param(4, "2022-03-27", id="exp-text"),
        pytest.param(4, 1.5e9, id="exp-float"),
        pytest.param(4, True, id="exp-bool"),
        pytest.param(4, -1, id="exp-negative"),
        pytest.param(6, None, id="iat-missing"),
        pytest.param(7, b"short", id="cti-short"),
        pytest.param(7, "0" * 16, id="cti-text"),
        pytest.param(-70000, None, id="guest-missing"),
        pytest.param(-70000, {1: "A", 4: "hall"}, id="zones-not-a-list"),
        pytest.param(-70000, {1: "A", 4: ["hall", 7]}, id="zone-not-text"),
        pytest.param(-70000, {2: "no name"}, id="name-missing"),
        pytest.param(-70000, {1: "A", 5: [1]}, id="health-not-a-map"),
    ],
)
def test_signed_claims_of_the_wrong_type_are_malformed(
    claim: int, value: Any, credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    claims = credential.claims()
    if value is None:
        del claims[claim]
    else:
        claims[claim] = value
    error = refusal(ck1(sign1(issuing_key, cose.canonical_dumps(claims))), bundle, now)
    assert error.reason is Reason.MALFORMED


@pytest.mark.parametrize("exp", [253402300800, 2**38, 2**40 - 1], ids=["year-10000", "2**38", "2**40-1"])
def test_signed_times_beyond_year_9999_are_malformed(
    exp: int, credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    """A signed but absurd exp must be a CredentialError, not a ValueError out of datetime."""
    claims = credential.claims()
    claims[4] = exp
    error = refusal(ck1(sign1(issuing_key, cose.canonical_dumps(claims))), bundle, now)
    assert error.reason is Reason.MALFORMED


def test_unknown_guest_fields_are_ignored(
    credential: Credential, issuing_key: Ed25519PrivateKey, bundle: TrustBundle, now: datetime
) -> None:
    claims = credential.claims()
    claims[-70000][99] = "from a later version"
    got = verify(ck1(sign1(issuing_key, cose.canonical_dumps(claims))), bundle, now).credential
    assert got == credential


# ---- fuzz ----------------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text_raises_only_credential_error(bundle: TrustBundle, now: datetime, text: str) -> None:
    with pytest.raises(CredentialError):
        verify(text, bundle, now)


@FUZZ
@given(st.text(alphabet=base45.ALPHABET.decode("ascii"), max_size=600))
def test_fuzz_arbitrary_base45_text_raises_only_credential_error(bundle: TrustBundle, now: datetime, body: str) -> None:
    with pytest.raises(CredentialError):
        verify(PREFIX + body, bundle, now)


@FUZZ
@given(st.binary(max_size=1300))
def test_fuzz_arbitrary_bytes_raise_only_credential_error(bundle: TrustBundle, now: datetime, data: bytes) -> None:
    with pytest.raises(CredentialError):
        verify(ck1(data), bundle, now)


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_bytes_after_a_cose_head_raise_only_credential_error(
    bundle: TrustBundle, now: datetime, data: bytes
) -> None:
    # start as tag 18 + an array of four, so the fuzz reaches the header and signature checks
    with pytest.raises(CredentialError):
        verify(ck1(b"\xd2\x84" + data), bundle, now)


@FUZZ
@given(st.data())
def test_fuzz_mutated_ticket_is_never_admitted(ticket: str, bundle: TrustBundle, now: datetime, data: Any) -> None:
    raw = bytearray(cose_of(ticket))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)), min_size=1, max_size=4))
    for index, value in edits:
        raw[index] = value
    cut = data.draw(st.integers(0, 3))
    mutated = bytes(raw[: len(raw) - cut] if cut else raw)
    if mutated == cose_of(ticket):
        return
    with pytest.raises(CredentialError):
        verify(ck1(mutated), bundle, now)


# ---- claims against the bundle and the clock ----------------------------------------------


def test_not_yet_valid_at_the_tolerance_boundary(
    make_credential: Callable[..., Credential], issue: Callable[..., str], bundle: TrustBundle, now: datetime
) -> None:
    tolerance = timedelta(seconds=bundle.policy.clock_tolerance_seconds)
    assert tolerance > timedelta(0)
    cred = make_credential(not_before=now + timedelta(hours=1), expires_at=now + timedelta(hours=8))
    text = issue(cred)
    inside = cred.not_before - tolerance
    assert verify(text, bundle, inside).credential == cred
    error = refusal(text, bundle, inside - timedelta(seconds=1))
    assert error.reason is Reason.NOT_YET_VALID
    assert error.credential == cred
    assert refusal(text, bundle, now).reason is Reason.NOT_YET_VALID


def test_expired_at_the_tolerance_boundary(
    make_credential: Callable[..., Credential], issue: Callable[..., str], bundle: TrustBundle, now: datetime
) -> None:
    tolerance = timedelta(seconds=bundle.policy.clock_tolerance_seconds)
    cred = make_credential(not_before=now - timedelta(hours=8), expires_at=now - timedelta(hours=1))
    text = issue(cred)
    inside = cred.expires_at + tolerance - timedelta(seconds=1)
    assert verify(text, bundle, inside).credential == cred
    error = refusal(text, bundle, cred.expires_at + tolerance)
    assert error.reason is Reason.EXPIRED
    assert error.credential == cred
    assert refusal(text, bundle, now).reason is Reason.EXPIRED


def test_tolerance_comes_from_the_bundle_policy(
    make_credential: Callable[..., Credential], issue: Callable[..., str], bundle: TrustBundle, now: datetime
) -> None:
    cred = make_credential(not_before=now - timedelta(hours=8), expires_at=now - timedelta(seconds=10))
    text = issue(cred)
    assert verify(text, bundle, now).credential == cred  # within the default 300 s
    strict = replace(bundle, policy=replace(bundle.policy, clock_tolerance_seconds=0))
    assert refusal(text, strict, now).reason is Reason.EXPIRED


def test_now_in_any_time_zone_means_the_same_instant(
    make_credential: Callable[..., Credential], issue: Callable[..., str], bundle: TrustBundle, now: datetime
) -> None:
    tolerance = timedelta(seconds=bundle.policy.clock_tolerance_seconds)
    cred = make_credential(not_before=now - timedelta(hours=8), expires_at=now)
    text = issue(cred)
    assert refusal(text, bundle, (now + tolerance).astimezone(UTC)).reason is Reason.EXPIRED
    assert verify(text, bundle, (now + tolerance - timedelta(seconds=1)).astimezone(UTC)).credential == cred


@pytest.mark.parametrize(
    "field, value",
    [pytest.param("event_id", "cds2023", id="other-aud"), pytest.param("issuer", "hd-other", id="other-iss")],
)
def test_wrong_event(
    field: str,
    value: str,
    make_credential: Callable[..., Credential],
    issue: Callable[..., str],
    bundle: TrustBundle,
    now: datetime,
) -> None:
    cred = make_credential(**{field: value})
    error = refusal(issue(cred), bundle, now)
    assert error.reason is Reason.WRONG_EVENT
    assert error.credential == cred


def test_revoked(
    credential: Credential,
    ticket: str,
    make_bundle: Callable[..., TrustBundle],
    now: datetime,
) -> None:
    bundle = make_bundle(revoked={credential.credential_id, b"\xee" * 16})
    error = refusal(ticket, bundle, now)
    assert error.reason is Reason.REVOKED
    assert error.credential == credential
    # another credential's revocation does not touch this one
    assert verify(ticket, make_bundle(revoked={b"\xee" * 16}), now).credential == credential


def test_time_window_is_judged_before_revocation(
    make_credential: Callable[..., Credential],
    issue: Callable[..., str],
    make_bundle: Callable[..., TrustBundle],
    now: datetime,
) -> None:
    # the order of DESIGN section 3: the time window is judged before revocation
    cred = make_credential(not_before=now - timedelta(days=2), expires_at=now - timedelta(days=1))
    error = refusal(issue(cred), make_bundle(revoked={cred.credential_id}), now)
    assert error.reason is Reason.EXPIRED


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.", id="HC1"),
        pytest.param("HC1:", id="HC1-empty"),
        pytest.param("https://example.org/checkin?id=42", id="url"),
        pytest.param("ck1:BB8", id="lowercase-prefix"),
        pytest.param("CK2:BB8", id="other-version"),
        pytest.param("Nguyễn Thị Ánh", id="plain-text"),
    ],
)
def test_unsupported_formats(text: str, bundle: TrustBundle, now: datetime) -> None:
    assert refusal(text, bundle, now).reason is Reason.UNSUPPORTED_FORMAT


def test_credential_create_refuses_naive_times(make_credential: Callable[..., Credential]) -> None:
    from checkin.core.errors import InputError

    with pytest.raises(InputError):
        make_credential(not_before=datetime(2022, 3, 26, 8, 0))
