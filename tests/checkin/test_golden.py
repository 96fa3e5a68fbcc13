"""Golden vectors: fixed keys and claims must give byte-identical CK1 text and CKB1 bundles."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import base45, cose
from checkin.core.credential import PREFIX, Credential, sign, verify
from checkin.core.trust import BundleKey, EventInfo, GatePolicy, KeyStatus, TrustBundle, sign_bundle, verify_bundle

VECTOR_FILE = Path(__file__).resolve().parent.parent / "vectors" / "ck1_golden.json"
t = datetime.fromisoformat


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))
    assert data["description"]
    return data


@pytest.fixture(scope="module")
def root(vector: dict[str, Any]) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector["root_seed"]))


@pytest.fixture(scope="module")
def issuing(vector: dict[str, Any]) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector["issuing_seed"]))


@pytest.fixture(scope="module")
def expected_credential(vector: dict[str, Any]) -> Credential:
    c = vector["credential"]
    return Credential.create(
        issuer=c["issuer"],
        event_id=c["event_id"],
        name=c["name"],
        organisation=c["organisation"],
        category=c["category"],
        zones=c["zones"],
        credential_id=bytes.fromhex(c["credential_id"]),
        issued_at=t(c["issued_at"]),
        not_before=t(c["not_before"]),
        expires_at=t(c["expires_at"]),
    )


@pytest.fixture(scope="module")
def expected_bundle(vector: dict[str, Any], issuing: Ed25519PrivateKey) -> TrustBundle:
    b = vector["bundle"]
    ev = b["event"]
    public = issuing.public_key().public_bytes_raw()
    return TrustBundle(
        version=b["version"],
        issued_at=t(b["issued_at"]),
        expires_at=t(b["expires_at"]),
        issuer=b["issuer"],
        event=EventInfo(
            id=ev["id"],
            name=ev["name"],
            timezone=ev["timezone"],
            start=t(ev["start"]),
            end=t(ev["end"]),
            venue=ev["venue"],
            zones=tuple(ev["zones"]),
        ),
        keys=(
            BundleKey(
                kid=bytes.fromhex(vector["issuing_kid"]),
                public_key=public,
                not_before=t(b["key"]["not_before"]),
                not_after=None if b["key"]["not_after"] is None else t(b["key"]["not_after"]),
                status=KeyStatus(b["key"]["status"]),
            ),
        ),
        revoked=frozenset(bytes.fromhex(r) for r in b["revoked"]),
        policy=GatePolicy(**b["policy"]),
    )


def test_keys_come_from_the_seeds(vector: dict[str, Any], root: Ed25519PrivateKey, issuing: Ed25519PrivateKey) -> None:
    assert root.public_key().public_bytes_raw().hex() == vector["root_public_key"]
    assert issuing.public_key().public_bytes_raw().hex() == vector["issuing_public_key"]
    assert cose.kid_of(issuing.public_key()).hex() == vector["issuing_kid"]


def test_sign_reproduces_the_exact_ck1_text(
    vector: dict[str, Any], expected_credential: Credential, issuing: Ed25519PrivateKey
) -> None:
    assert sign(expected_credential, issuing) == vector["ck1"]


def test_nfd_input_gives_the_same_text(
    vector: dict[str, Any], expected_credential: Credential, issuing: Ed25519PrivateKey
) -> None:
    c = vector["credential"]
    nfd = Credential.create(
        issuer=c["issuer"],
        event_id=c["event_id"],
        name=unicodedata.normalize("NFD", c["name"]),
        organisation=unicodedata.normalize("NFD", c["organisation"]),
        category=c["category"],
        zones=c["zones"],
        credential_id=bytes.fromhex(c["credential_id"]),
        issued_at=t(c["issued_at"]),
        not_before=t(c["not_before"]),
        expires_at=t(c["expires_at"]),
    )
    assert sign(nfd, issuing) == vector["ck1"]


def test_stored_text_has_the_designed_layout(vector: dict[str, Any]) -> None:
    """Decode the stored text with plain cbor2, independently of checkin's own decoder."""
    text = vector["ck1"]
    assert text.startswith(PREFIX)
    raw = base45.decode(text[len(PREFIX) :])
    item = cbor2.loads(raw)
    assert isinstance(item, cbor2.CBORTag)
    assert item.tag == 18
    protected, unprotected, payload, signature = item.value
    assert cbor2.loads(protected) == {1: -8, 4: bytes.fromhex(vector["issuing_kid"])}
    assert unprotected == {}
    assert len(signature) == 64
    c = vector["credential"]
    assert cbor2.loads(payload) == {
        1: c["issuer"],
        3: c["event_id"],
        4: int(t(c["expires_at"]).timestamp()),
        5: int(t(c["not_before"]).timestamp()),
        6: int(t(c["issued_at"]).timestamp()),
        7: bytes.fromhex(c["credential_id"]),
        -70000: {1: c["name"], 2: c["organisation"], 3: c["category"], 4: c["zones"]},
    }


def test_stored_text_verifies_to_the_claims(
    vector: dict[str, Any], expected_credential: Credential, expected_bundle: TrustBundle
) -> None:
    result = verify(vector["ck1"], expected_bundle, t(vector["verify_at"]))
    assert result.credential == expected_credential
    assert result.kid.hex() == vector["issuing_kid"]
    c = vector["credential"]
    got = result.credential
    assert got.name == c["name"] == "Nguyễn Thị Ánh"
    assert got.organisation == c["organisation"]
    assert got.zones == tuple(c["zones"])
    assert got.credential_id.hex() == c["credential_id"]
    assert got.expires_at == t(c["expires_at"])


def test_stored_bundle_verifies(vector: dict[str, Any], root: Ed25519PrivateKey, expected_bundle: TrustBundle) -> None:
    got = verify_bundle(bytes.fromhex(vector["ckb1_hex"]), root.public_key())
    assert got == expected_bundle


def test_sign_bundle_reproduces_the_exact_bytes(
    vector: dict[str, Any], root: Ed25519PrivateKey, expected_bundle: TrustBundle
) -> None:
    assert sign_bundle(expected_bundle, root).hex() == vector["ckb1_hex"]


def test_stored_ticket_verifies_against_the_stored_bundle(
    vector: dict[str, Any], root: Ed25519PrivateKey, expected_credential: Credential
) -> None:
    bundle = verify_bundle(bytes.fromhex(vector["ckb1_hex"]), root.public_key())
    assert verify(vector["ck1"], bundle, t(vector["verify_at"])).credential == expected_credential
