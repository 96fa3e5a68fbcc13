"""COSE_Sign1 (RFC 9052) over cbor2: strict decoding and Ed25519 signing, no I/O.

Shared by CK1 tickets, CKB1 trust bundles and the EU DCC verifier. Decoding refuses CBOR tags,
indefinite lengths, duplicate map keys, trailing bytes and nesting deeper than asked, so that a
structure either has exactly one meaning or none.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cbor2
from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import VerifyKey

from checkin.core.errors import CredentialError, Reason

if TYPE_CHECKING:  # annotations only: verifying needs no `cryptography` (PyNaCl does it)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HEADER_ALG = 1
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
ALG_EDDSA = -8
ALG_ES256 = -7
ALG_PS256 = -37
COSE_SIGN1_TAG = 18
_TAG18 = 0xD2  # CBOR major type 6, value 18, in one byte
ED25519_SIGNATURE_SIZE = 64
KID_SIZE = 8


def _reject_tag(decoder: Any) -> Any:
    raise cbor2.CBORDecodeError("CBOR tags are not allowed here")


class _NoTags(dict[int, Any]):
    """A semantic-decoder table that claims every tag, so cbor2 decodes none of them."""

    def __missing__(self, key: int) -> Any:
        return _reject_tag

    def __contains__(self, key: object) -> bool:
        return True

    def get(self, key: int, default: Any = None) -> Any:
        return _reject_tag


_NO_TAGS = _NoTags()


def _tag_hook(decoder: Any, tag: Any) -> Any:
    raise cbor2.CBORDecodeError("CBOR tags are not allowed here")


def strict_loads(data: bytes, *, max_depth: int) -> Any:
    """Decode one CBOR item with no tags, no indefinite lengths, no duplicate keys, nothing after it."""
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            tag_hook=_tag_hook,
            semantic_decoders=_NO_TAGS,
            max_depth=max_depth,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        )
        item = decoder.decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        raise CredentialError(f"invalid CBOR ({exc})") from None
    if stream.tell() != len(data):
        raise CredentialError("bytes after the end of the CBOR item")
    return item


def canonical_dumps(item: Any) -> bytes:
    """Deterministic CBOR (RFC 8949 section 4.2): what we sign is reproducible byte for byte."""
    return cbor2.dumps(item, canonical=True)


def kid_of(public_key: Ed25519PublicKey | bytes) -> bytes:
    """The key id: the first 8 bytes of SHA-256 of the raw 32-byte public key. A hint, never trusted."""
    raw = public_key if isinstance(public_key, bytes) else public_key.public_bytes_raw()
    return hashlib.sha256(raw).digest()[:KID_SIZE]


@dataclass(frozen=True)
class Sign1:
    """A decoded but unverified COSE_Sign1: nothing in it is trusted yet."""

    protected: bytes
    header: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        """The Sig_structure the signature covers."""
        return sig_structure(self.protected, self.payload)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """CBOR ["Signature1", protected, external_aad = h'', payload] (RFC 9052 section 4.4)."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def decode_sign1(data: bytes, *, max_depth: int = 2, require_tag: bool = True) -> Sign1:
    """Parse the COSE_Sign1 shape: tag 18, four items, the right types; headers decoded strictly."""
    if require_tag:
        if not data or data[0] != _TAG18:
            raise CredentialError("not a COSE_Sign1 (tag 18 missing)")
        body = data[1:]
    else:
        body = data[1:] if data[:1] == bytes((_TAG18,)) else data
    item = strict_loads(body, max_depth=max_depth)
    if not isinstance(item, list) or len(item) != 4:
        raise CredentialError("COSE_Sign1 must be an array of four items")
    protected, unprotected, payload, signature = item
    if not isinstance(protected, bytes) or not isinstance(unprotected, dict):
        raise CredentialError("COSE_Sign1 headers have the wrong types")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise CredentialError("COSE_Sign1 payload or signature is not a byte string")
    header = strict_loads(protected, max_depth=1) if protected else {}
    if not isinstance(header, dict):
        raise CredentialError("protected header is not a map")
    return Sign1(protected, header, unprotected, payload, signature)


def protected_eddsa(kid: bytes, extra: Mapping[int, Any] | None = None) -> bytes:
    """The protected header bytes for an Ed25519 signature by the key `kid`."""
    header: dict[int, Any] = {HEADER_ALG: ALG_EDDSA, HEADER_KID: kid}
    if extra:
        header.update(extra)
    return canonical_dumps(header)


def encode_sign1(
    protected: bytes, unprotected: Mapping[Any, Any], payload: bytes, signature: bytes, *, tagged: bool = True
) -> bytes:
    """The CBOR of a COSE_Sign1 from its four parts, with tag 18 unless told otherwise."""
    body = [protected, dict(unprotected), payload, signature]
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, body) if tagged else body)


def sign1_eddsa(private_key: Ed25519PrivateKey, payload: bytes, protected: bytes) -> bytes:
    """Build a tagged COSE_Sign1 signed with Ed25519 over the given protected header."""
    signature = private_key.sign(sig_structure(protected, payload))
    return encode_sign1(protected, {}, payload, signature)


def require_eddsa_header(sign1: Sign1, expected: Mapping[int, Any]) -> bytes:
    """Check the headers carry exactly alg EdDSA, a kid and `expected`; return the kid.

    The algorithm is never taken from the input: anything but -8 in the protected header, or an
    alg in the unprotected header, is refused as unsupported_algorithm.
    """
    alg = sign1.header.get(HEADER_ALG)
    if HEADER_ALG in sign1.unprotected or type(alg) is not int or alg != ALG_EDDSA:
        raise CredentialError("only EdDSA (alg -8) in the protected header is accepted", Reason.UNSUPPORTED_ALGORITHM)
    if sign1.unprotected:
        raise CredentialError("the unprotected header must be empty")
    allowed = {HEADER_ALG, HEADER_KID, *expected}
    if set(sign1.header) != allowed:
        raise CredentialError("unexpected fields in the protected header")
    for label, value in expected.items():
        if sign1.header[label] != value:
            raise CredentialError("unexpected protected header value")
    kid = sign1.header[HEADER_KID]
    if not isinstance(kid, bytes) or len(kid) != KID_SIZE:
        raise CredentialError("kid must be 8 bytes")
    # Python's equality lets 1 == True and -8 == -8.0 pass as labels and values; the byte-exact
    # canonical form does not, so one header has one encoding.
    if sign1.protected != protected_eddsa(kid, expected):
        raise CredentialError("the protected header is not in its canonical form")
    if len(sign1.signature) != ED25519_SIGNATURE_SIZE:
        raise CredentialError("an Ed25519 signature is 64 bytes", Reason.BAD_SIGNATURE)
    return kid


def sign_typed(private_key: Ed25519PrivateKey, payload: bytes, content_type: str) -> bytes:
    """A COSE_Sign1 whose protected header names its content type (bundles, checkpoints), so one
    kind of signed object can never be taken for another."""
    protected = protected_eddsa(kid_of(private_key.public_key()), {HEADER_CONTENT_TYPE: content_type})
    return sign1_eddsa(private_key, payload, protected)


def verify_typed(data: bytes, public_key: Ed25519PublicKey, content_type: str) -> bytes:
    """The payload of a sign_typed structure made by exactly this key; CredentialError otherwise:
    malformed (shape or content type) or bad_signature (another key, or altered)."""
    sign1 = decode_sign1(data)
    kid = require_eddsa_header(sign1, {HEADER_CONTENT_TYPE: content_type})
    if kid != kid_of(public_key) or not verify_eddsa(sign1, verifier(public_key)):
        raise CredentialError("the signature does not match the expected key", Reason.BAD_SIGNATURE)
    return sign1.payload


def verifier(public_key: Ed25519PublicKey | bytes) -> VerifyKey:
    """A verification key for the hot path.

    Verification runs on libsodium (PyNaCl): twice as fast here as OpenSSL's Ed25519 verify, and
    it refuses non-canonical signatures and small-order keys. Keys are made and signed with
    `cryptography`, which also handles the encrypted PKCS#8 files.
    """
    raw = public_key if isinstance(public_key, bytes) else public_key.public_bytes_raw()
    return VerifyKey(raw)


def usable_public_key(raw: bytes) -> bool:
    """True for 32 bytes that libsodium will verify signatures with: a canonical point of the
    curve's main subgroup, not one of small order (which any "signature" could match or none will)."""
    return len(raw) == 32 and bool(crypto_core_ed25519_is_valid_point(raw))


def verify_eddsa(sign1: Sign1, key: VerifyKey) -> bool:
    """True when the Ed25519 signature over the Sig_structure is valid for this key."""
    try:
        key.verify(sign1.to_be_signed(), sign1.signature)
    except (BadSignatureError, NaclValueError):
        return False
    return True
