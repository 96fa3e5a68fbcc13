"""keys/: encrypted PKCS#8 files with mode 0600, keys.json with public facts only, rotation, revocation."""

# ruff: noqa: SIM118 - KeyStore.keys() returns a list of keys, not a dict view

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from checkin.core.errors import KeyStoreError, Reason
from checkin.core.trust import KeyStatus
from checkin.keystore import KeyStore, Role

PASSPHRASE = b"correct horse battery staple"
CREATED = datetime(2022, 3, 20, 2, 0, tzinfo=UTC)
ROTATED = datetime(2022, 3, 22, 2, 0, tzinfo=UTC)
REVOKED = datetime(2022, 3, 23, 2, 0, tzinfo=UTC)

OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_HMAC_SHA256 = "1.2.840.113549.2.9"
OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"


# ---- a few lines of DER, so the test does not trust the writer's own encoder ----------------


def der_read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, next position) of the TLV at `pos`."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    assert pos + length <= len(data), "DER length runs past the end"
    return tag, data[pos : pos + length], pos + length


def der_children(body: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while pos < len(body):
        tag, value, pos = der_read(body, pos)
        out.append((tag, value))
    return out


def oid_text(value: bytes) -> str:
    parts = [value[0] // 40, value[0] % 40]
    number = 0
    for byte in value[1:]:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(number)
            number = 0
    return ".".join(str(p) for p in parts)


def pem_body(pem: bytes, label: str) -> bytes:
    text = pem.decode("ascii")
    head, tail = f"-----BEGIN {label}-----", f"-----END {label}-----"
    assert text.startswith(head), text[:60]
    assert text.rstrip().endswith(tail)
    return base64.b64decode("".join(text.strip().splitlines()[1:-1]))


def pbes2_parameters(pem: bytes) -> dict[str, object]:
    """The PBES2 parameters of an ENCRYPTED PRIVATE KEY, read field by field."""
    tag, top, _end = der_read(pem_body(pem, "ENCRYPTED PRIVATE KEY"))
    assert tag == 0x30
    (alg_tag, algorithm), (ct_tag, ciphertext) = der_children(top)
    assert (alg_tag, ct_tag) == (0x30, 0x04)
    (oid_tag, scheme_oid), (_, params) = der_children(algorithm)
    assert oid_tag == 0x06
    (_, kdf), (_, cipher) = der_children(params)
    (_, kdf_oid), (_, kdf_params) = der_children(kdf)
    kdf_fields = der_children(kdf_params)
    salt_tag, salt = kdf_fields[0]
    rounds_tag, rounds = kdf_fields[1]
    prf = der_children(kdf_fields[-1][1])
    (_, cipher_oid), (_, iv) = der_children(cipher)
    assert (salt_tag, rounds_tag) == (0x04, 0x02)
    return {
        "scheme": oid_text(scheme_oid),
        "kdf": oid_text(kdf_oid),
        "salt": salt,
        "rounds": int.from_bytes(rounds, "big", signed=True),
        "prf": oid_text(prf[0][1]),
        "cipher": oid_text(cipher_oid),
        "iv": iv,
        "ciphertext": ciphertext,
    }


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """One encrypted key store, made with umask 0 so the modes must come from the code."""
    store = KeyStore(tmp_path_factory.mktemp("encrypted") / "keys")
    old = os.umask(0)
    try:
        store.init(PASSPHRASE, CREATED)
    finally:
        os.umask(old)
    return store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, mode(p)) for p in sorted(folder.iterdir())}


def issuing(store: KeyStore) -> list:
    return list(store.issuing_keys())


# ---- init -------------------------------------------------------------------------------------


def test_init_writes_the_expected_files(encrypted: KeyStore) -> None:
    issuing_key = issuing(encrypted)[0]
    names = {p.name for p in encrypted.directory.iterdir()}
    assert names == {"root.key", f"issuing-{issuing_key.kid}.key", "root.pub", "keys.json"}
    assert [k.role for k in encrypted.keys()] == [Role.ROOT, Role.ISSUING]
    assert all(k.status is KeyStatus.ACTIVE and k.created == CREATED.isoformat() for k in encrypted.keys())


def test_private_files_are_0600_even_with_umask_0(encrypted: KeyStore) -> None:
    folder = encrypted.directory
    for name in ("root.key", f"issuing-{issuing(encrypted)[0].kid}.key"):
        assert mode(folder / name) == 0o600, name
    assert mode(folder) == 0o700
    for name in ("root.pub", "keys.json"):
        assert not mode(folder / name) & 0o022, f"{name} is writable by others"


def test_root_pub_is_the_root_public_key_in_pem(encrypted: KeyStore) -> None:
    pem = (encrypted.directory / "root.pub").read_bytes()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    public = serialization.load_pem_public_key(pem)
    assert isinstance(public, Ed25519PublicKey)
    raw = public.public_bytes_raw()
    root = encrypted.root()
    assert raw.hex() == root.public_key
    assert root.kid == hashlib.sha256(raw).digest()[:8].hex()
    assert encrypted.root_public_pem() == pem


def test_private_files_are_encrypted_pkcs8(encrypted: KeyStore) -> None:
    for info in encrypted.keys():
        data = (encrypted.directory / info.file).read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"), info.file
        assert info.encrypted
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(data, password=None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(data, password=b"not the passphrase at all")
        key = serialization.load_pem_private_key(data, password=PASSPHRASE)
        assert isinstance(key, Ed25519PrivateKey)
        assert key.public_key().public_bytes_raw().hex() == info.public_key


def test_kdf_is_pbkdf2_sha256_with_600000_rounds_and_aes256(encrypted: KeyStore) -> None:
    salts = set()
    for info in encrypted.keys():
        params = pbes2_parameters((encrypted.directory / info.file).read_bytes())
        assert params["scheme"] == OID_PBES2
        assert params["kdf"] == OID_PBKDF2
        assert params["rounds"] == 600_000
        assert params["prf"] == OID_HMAC_SHA256
        assert params["cipher"] == OID_AES256_CBC
        assert len(params["salt"]) >= 16
        assert len(params["iv"]) == 16
        salts.add(params["salt"])
    assert len(salts) == 2, "each file needs its own salt"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_reads_the_files(encrypted: KeyStore) -> None:
    info = issuing(encrypted)[0]
    path = encrypted.directory / info.file
    parsed = subprocess.run(
        ["openssl", "asn1parse", "-in", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "PBES2" in parsed
    assert "hmacWithSHA256" in parsed
    assert "aes-256-cbc" in parsed
    assert ":0927C0" in parsed  # 600000
    env = {**os.environ, "TEST_PASSPHRASE": PASSPHRASE.decode()}
    plain = subprocess.run(
        ["openssl", "pkcs8", "-in", str(path), "-passin", "env:TEST_PASSPHRASE"],
        capture_output=True,
        check=True,
        env=env,
    ).stdout
    key = serialization.load_pem_private_key(plain, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    assert key.public_key().public_bytes_raw().hex() == info.public_key


def test_no_file_holds_the_raw_private_keys(encrypted: KeyStore) -> None:
    secrets = []
    for info in encrypted.keys():
        key = encrypted.load_private(info, PASSPHRASE)
        raw = key.private_bytes_raw()
        secrets += [raw, raw.hex().encode(), base64.b64encode(raw), base64.b64encode(raw).rstrip(b"=")]
    for path in encrypted.directory.iterdir():
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, f"{path.name} holds private key material"
        assert PASSPHRASE not in data


def test_keys_json_holds_public_facts_only(encrypted: KeyStore) -> None:
    body = json.loads((encrypted.directory / "keys.json").read_text(encoding="utf-8"))
    allowed = {
        "kid",
        "role",
        "created",
        "status",
        "fingerprint",
        "public_key",
        "file",
        "encrypted",
        "retired",
        "revoked",
    }
    for item in body["keys"]:
        assert set(item) <= allowed
        assert len(bytes.fromhex(item["public_key"])) == 32
        digest = hashlib.sha256(bytes.fromhex(item["public_key"])).hexdigest()
        assert item["fingerprint"].replace(":", "") == digest[: len(item["fingerprint"].replace(":", ""))]
        assert item["kid"] == digest[:16]
    text = (encrypted.directory / "keys.json").read_text(encoding="utf-8").lower()
    assert "private" not in text
    assert "passphrase" not in text


def test_wrong_passphrase_is_named(encrypted: KeyStore) -> None:
    for info in encrypted.keys():
        with pytest.raises(KeyStoreError) as caught:
            encrypted.load_private(info, b"this is not the passphrase")
        assert caught.value.reason is Reason.WRONG_PASSPHRASE
        with pytest.raises(KeyStoreError) as caught:
            encrypted.load_private(info, None)
        assert caught.value.reason is Reason.WRONG_PASSPHRASE


def test_init_twice_refuses_and_changes_nothing(encrypted: KeyStore) -> None:
    before = snapshot(encrypted.directory)
    for passphrase in (PASSPHRASE, None):
        with pytest.raises(KeyStoreError) as caught:
            encrypted.init(passphrase, ROTATED)
        assert caught.value.reason is Reason.KEY_EXISTS
    assert snapshot(encrypted.directory) == before


def test_init_refuses_when_only_root_key_is_left(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "root.key").write_bytes(b"half-made earlier")
    with pytest.raises(KeyStoreError) as caught:
        KeyStore(folder).init(None, CREATED)
    assert caught.value.reason is Reason.KEY_EXISTS
    assert [p.name for p in folder.iterdir()] == ["root.key"]
    assert (folder / "root.key").read_bytes() == b"half-made earlier"


@pytest.mark.parametrize("passphrase", [b"", b"short", b"elevenchars"])
def test_short_passphrase_refused_before_writing(tmp_path: Path, passphrase: bytes) -> None:
    folder = tmp_path / "keys"
    with pytest.raises(KeyStoreError) as caught:
        KeyStore(folder).init(passphrase, CREATED)
    assert caught.value.reason is Reason.INVALID_INPUT
    assert not folder.exists() or not any(folder.iterdir())


def test_twelve_character_passphrase_is_enough(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    store.init(b"twelve chars", CREATED)
    assert store.load_private(store.active_issuing(), b"twelve chars")


def test_no_passphrase_writes_plain_pkcs8_still_0600(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    old = os.umask(0)
    try:
        store.init(None, CREATED)
    finally:
        os.umask(old)
    for info in store.keys():
        path = store.directory / info.file
        assert mode(path) == 0o600
        data = path.read_bytes()
        assert data.startswith(b"-----BEGIN PRIVATE KEY-----")
        assert not info.encrypted
        key = serialization.load_pem_private_key(data, password=None)
        assert isinstance(key, Ed25519PrivateKey)
        assert store.load_private(info, None).public_key().public_bytes_raw().hex() == info.public_key


# ---- rotation and revocation --------------------------------------------------------------------


@pytest.fixture
def plain(tmp_path: Path) -> KeyStore:
    """A fresh unencrypted store: rotation and revocation do not depend on encryption."""
    store = KeyStore(tmp_path / "keys")
    store.init(None, CREATED)
    return store


def test_rotate_retires_the_old_key_and_activates_a_new_one(plain: KeyStore) -> None:
    old = plain.active_issuing()
    old_umask = os.umask(0)
    try:
        new = plain.rotate(None, ROTATED)
    finally:
        os.umask(old_umask)
    assert new.kid != old.kid
    assert mode(plain.directory / new.file) == 0o600
    assert plain.active_issuing().kid == new.kid
    by_kid = {k.kid: k for k in plain.keys()}
    assert by_kid[old.kid].status is KeyStatus.RETIRED
    assert by_kid[old.kid].retired == ROTATED.isoformat()
    assert by_kid[new.kid].status is KeyStatus.ACTIVE
    assert by_kid[new.kid].created == ROTATED.isoformat()
    assert by_kid[plain.root().kid].status is KeyStatus.ACTIVE, "rotation must not touch the root"


def test_retired_key_no_longer_signs(plain: KeyStore) -> None:
    old = plain.active_issuing()
    new = plain.rotate(None, ROTATED)
    with pytest.raises(KeyStoreError) as caught:
        plain.load_private(plain.find(old.kid), None)
    assert caught.value.reason is Reason.NO_SIGNING_KEY
    assert plain.load_private(plain.find(new.kid), None).public_key().public_bytes_raw().hex() == new.public_key


def test_bundle_keys_carry_both_keys_after_rotation(plain: KeyStore) -> None:
    old = plain.active_issuing()
    new = plain.rotate(None, ROTATED)
    keys = {k.kid.hex(): k for k in plain.bundle_keys()}
    assert set(keys) == {old.kid, new.kid}
    assert keys[old.kid].status is KeyStatus.RETIRED
    assert keys[old.kid].not_before == CREATED
    assert keys[old.kid].not_after == ROTATED
    assert keys[new.kid].status is KeyStatus.ACTIVE
    assert keys[new.kid].not_before == ROTATED
    assert keys[new.kid].not_after is None
    assert keys[new.kid].public_key.hex() == new.public_key
    assert plain.root().kid not in keys, "the root key never goes into a bundle as an issuing key"


def test_rotate_refuses_short_passphrase_without_writing(plain: KeyStore) -> None:
    before = snapshot(plain.directory)
    with pytest.raises(KeyStoreError) as caught:
        plain.rotate(b"too short", ROTATED)
    assert caught.value.reason is Reason.INVALID_INPUT
    assert snapshot(plain.directory) == before


def test_revoke_marks_the_key_revoked(plain: KeyStore) -> None:
    old = plain.active_issuing()
    plain.rotate(None, ROTATED)
    revoked = plain.revoke(old.kid[:6], REVOKED)  # a unique prefix is enough
    assert revoked.kid == old.kid
    info = plain.find(old.kid)
    assert info.status is KeyStatus.REVOKED
    assert info.revoked == REVOKED.isoformat()
    with pytest.raises(KeyStoreError) as caught:
        plain.load_private(info, None)
    assert caught.value.reason is Reason.NO_SIGNING_KEY
    statuses = {k.kid.hex(): k.status for k in plain.bundle_keys()}
    assert statuses[old.kid] is KeyStatus.REVOKED, "revoked keys stay in bundles so gates name them"


def test_revoking_the_active_key_leaves_no_signing_key_until_rotation(plain: KeyStore) -> None:
    active = plain.active_issuing()
    plain.revoke(active.kid, REVOKED)
    with pytest.raises(KeyStoreError) as caught:
        plain.active_issuing()
    assert caught.value.reason is Reason.NO_SIGNING_KEY
    new = plain.rotate(None, REVOKED)
    assert plain.active_issuing().kid == new.kid
    assert plain.find(active.kid).status is KeyStatus.REVOKED, "rotation must not un-revoke a key"


def test_root_cannot_be_revoked(plain: KeyStore) -> None:
    before = snapshot(plain.directory)
    with pytest.raises(KeyStoreError):
        plain.revoke(plain.root().kid, REVOKED)
    assert plain.root().status is KeyStatus.ACTIVE
    assert snapshot(plain.directory) == before


@pytest.mark.parametrize("kid", ["", "abc", "ffffffffffffffff"])
def test_revoke_unknown_kid_is_not_found(plain: KeyStore, kid: str) -> None:
    with pytest.raises(KeyStoreError) as caught:
        plain.revoke(kid, REVOKED)
    assert caught.value.reason is Reason.NOT_FOUND


def test_missing_store_says_run_keys_init(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError) as caught:
        KeyStore(tmp_path / "nothing").keys()
    assert caught.value.reason is Reason.NOT_FOUND
