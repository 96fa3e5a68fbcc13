"""Key files in keys/: the root key (signs bundles), issuing keys (sign tickets) and the report key
(signs the officer's PDF reports, with a self-signed X.509 certificate a PDF reader shows as signer).

Private keys are written as encrypted PKCS#8 (PBKDF2-HMAC-SHA256, AES-256-CBC) with mode 0600,
created exclusively so an existing key is never overwritten. `keys.json` holds only public facts:
kid, role, created, status, fingerprint. Time is a parameter, never read here.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from checkin import files
from checkin.core import cose, enrolment
from checkin.core.errors import KeyStoreError, Reason
from checkin.core.trust import BundleKey, KeyStatus

INDEX = "keys.json"
ROOT_PRIVATE = "root.key"
ROOT_PUBLIC = "root.pub"
KDF_ROUNDS = 600_000  # OWASP 2023 guidance for PBKDF2-HMAC-SHA256
# The report key is ECDSA P-256: every PDF reader checks it (Ed25519 PDF signatures are ISO 32002,
# which many readers do not know yet). It lives outside keys.json: it signs no ticket and no bundle.
REPORT_PRIVATE = "report.key"
REPORT_CERT = "report.crt"
REPORT_VALIDITY = timedelta(days=3650)  # reports are checked years later, offline, against this certificate
PASSPHRASE_ENV = "CHECKIN_KEY_PASSPHRASE"  # noqa: S105 - the variable name, not a secret
MIN_PASSPHRASE = 12


class Role(StrEnum):
    """What a key may sign: the root signs bundles only, issuing keys sign tickets only."""

    ROOT = "root"
    ISSUING = "issuing"


@dataclass(frozen=True)
class KeyInfo:
    """The public facts of one key, as listed by `checkin keys list`."""

    kid: str
    role: Role
    created: str
    status: KeyStatus
    fingerprint: str
    public_key: str
    file: str
    encrypted: bool
    retired: str | None = None
    revoked: str | None = None

    @property
    def kid_bytes(self) -> bytes:
        """The kid as bytes."""
        return bytes.fromhex(self.kid)

    def bundle_key(self) -> BundleKey:
        """This key as a gate sees it in a trust bundle."""
        return BundleKey(
            kid=self.kid_bytes,
            public_key=bytes.fromhex(self.public_key),
            not_before=datetime.fromisoformat(self.created),
            not_after=datetime.fromisoformat(self.retired) if self.retired else None,
            status=self.status,
        )


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, grouped for reading aloud over the phone (what gates print)."""
    return enrolment.fingerprint(public_key.public_bytes_raw())


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Create a key file that must not exist yet: an existing key is never overwritten."""
    try:
        files.write_new(path, data, mode)
    except FileExistsError:
        raise KeyStoreError(f"{path} already exists; refusing to overwrite a key", Reason.KEY_EXISTS) from None


def _check_passphrase(passphrase: bytes | None) -> None:
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise KeyStoreError(f"the passphrase must have at least {MIN_PASSPHRASE} characters", Reason.INVALID_INPUT)


# DER pieces of PKCS#8 EncryptedPrivateKeyInfo with PBES2 (RFC 8018). Written here because
# `cryptography` encrypts PKCS#8 with a fixed 2,048 PBKDF2 rounds and offers no way to ask for
# more; the result is standard and is read back by `cryptography` (and `openssl pkcs8`).
_OID_PBES2 = bytes.fromhex("06092a864886f70d01050d")
_OID_PBKDF2 = bytes.fromhex("06092a864886f70d01050c")
_OID_HMAC_SHA256 = bytes.fromhex("06082a864886f70d0209")
_OID_AES256_CBC = bytes.fromhex("060960864801650304012a")
_NULL = bytes.fromhex("0500")


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _encrypted_pkcs8(key: PrivateKey, passphrase: bytes) -> bytes:
    """PEM of the key as PKCS#8 encrypted with PBKDF2-HMAC-SHA256 (KDF_ROUNDS) and AES-256-CBC."""
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, iv = os.urandom(16), os.urandom(16)
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=KDF_ROUNDS)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(kdf.derive(passphrase)), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    kdf_params = _der(0x30, _der(0x04, salt) + _der_int(KDF_ROUNDS) + _der(0x30, _OID_HMAC_SHA256 + _NULL))
    scheme = _der(0x30, _OID_AES256_CBC + _der(0x04, iv))
    algorithm = _der(0x30, _OID_PBES2 + _der(0x30, _der(0x30, _OID_PBKDF2 + kdf_params) + scheme))
    der = _der(0x30, algorithm + _der(0x04, ciphertext))
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END ENCRYPTED PRIVATE KEY-----\n"
    ).encode()


def private_pem(key: PrivateKey, passphrase: bytes | None) -> bytes:
    """The key file's bytes: encrypted PKCS#8, or plain PKCS#8 only when no passphrase is given."""
    _check_passphrase(passphrase)
    if passphrase is None:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return _encrypted_pkcs8(key, passphrase)


class KeyStore:
    """The keys/ folder: create, list, load, rotate and revoke keys."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # ---- reading ----------------------------------------------------------------------------

    def exists(self) -> bool:
        """True when keys were initialised here."""
        return (self.directory / INDEX).exists()

    def keys(self) -> list[KeyInfo]:
        """Every key, oldest first."""
        path = self.directory / INDEX
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return [
                KeyInfo(**{**item, "role": Role(item["role"]), "status": KeyStatus(item["status"])})
                for item in raw["keys"]
            ]
        except FileNotFoundError:
            raise KeyStoreError(f"no keys in {self.directory}; run `checkin keys init`", Reason.NOT_FOUND) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"{path} is damaged ({exc})") from None

    def issuing_keys(self) -> Iterator[KeyInfo]:
        """The issuing keys, whatever their status."""
        return (k for k in self.keys() if k.role is Role.ISSUING)

    def find(self, kid: str) -> KeyInfo:
        """One key by its kid (hex); a unique prefix of at least 4 digits is enough."""
        kid = kid.lower()
        matches = [k for k in self.keys() if k.kid.startswith(kid)] if len(kid) >= 4 else []
        if len(matches) != 1:
            raise KeyStoreError(f"no single key matches kid {kid!r}", Reason.NOT_FOUND)
        return matches[0]

    def root(self) -> KeyInfo:
        """The root key's public facts."""
        return next(k for k in self.keys() if k.role is Role.ROOT)

    def root_public_pem(self) -> bytes:
        """The root public key file for gates (PEM)."""
        try:
            return (self.directory / ROOT_PUBLIC).read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"{self.directory / ROOT_PUBLIC} is missing", Reason.NOT_FOUND) from None

    def active_issuing(self) -> KeyInfo:
        """The one issuing key that signs new tickets."""
        active = [k for k in self.issuing_keys() if k.status is KeyStatus.ACTIVE]
        if not active:
            raise KeyStoreError("no active issuing key; run `checkin keys rotate`", Reason.NO_SIGNING_KEY)
        return active[-1]

    def load_private(self, info: KeyInfo, passphrase: bytes | None) -> Ed25519PrivateKey:
        """Decrypt a private key; refuse one that no longer signs (retired or revoked)."""
        if info.role is Role.ISSUING and info.status is not KeyStatus.ACTIVE:
            raise KeyStoreError(f"key {info.kid} is {info.status}; it signs nothing", Reason.NO_SIGNING_KEY)
        path = self.directory / info.file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"{path} is missing", Reason.NOT_FOUND) from None
        if info.encrypted and passphrase is None:
            raise KeyStoreError(
                f"{path} is encrypted: set {PASSPHRASE_ENV} or enter the passphrase", Reason.WRONG_PASSPHRASE
            )
        try:
            key = serialization.load_pem_private_key(data, password=passphrase if info.encrypted else None)
        except (ValueError, TypeError) as exc:
            reason = Reason.WRONG_PASSPHRASE if info.encrypted else Reason.KEY_FILE_INVALID
            raise KeyStoreError(f"cannot open {path} ({exc})", reason) from None
        if not isinstance(key, Ed25519PrivateKey) or key.public_key().public_bytes_raw().hex() != info.public_key:
            raise KeyStoreError(f"{path} does not hold key {info.kid}")
        return key

    def bundle_keys(self) -> tuple[BundleKey, ...]:
        """The issuing keys to put in a trust bundle, revoked ones included so gates name them."""
        return tuple(k.bundle_key() for k in self.issuing_keys())

    # ---- the report key -----------------------------------------------------------------------

    def has_report_key(self) -> bool:
        """True when the report key and its certificate were made here."""
        return (self.directory / REPORT_PRIVATE).exists() and (self.directory / REPORT_CERT).exists()

    def report_certificate(self) -> x509.Certificate:
        """The report key's self-signed certificate: what verifies a report, offline."""
        path = self.directory / REPORT_CERT
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except FileNotFoundError:
            raise KeyStoreError(f"{path} is missing; run `checkin keys report-key`", Reason.NO_SIGNING_KEY) from None
        except ValueError as exc:
            raise KeyStoreError(f"{path} is not a PEM certificate ({exc})", Reason.KEY_FILE_INVALID) from None

    def report_key_encrypted(self) -> bool:
        """True when the report key file is encrypted (it asks for the passphrase)."""
        try:
            return (self.directory / REPORT_PRIVATE).read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
        except FileNotFoundError:
            raise KeyStoreError(
                f"{self.directory / REPORT_PRIVATE} is missing; run `checkin keys report-key`", Reason.NO_SIGNING_KEY
            ) from None

    def load_report_key(self, passphrase: bytes | None) -> ec.EllipticCurvePrivateKey:
        """Decrypt the report key; it must be the key of the report certificate."""
        path = self.directory / REPORT_PRIVATE
        encrypted = self.report_key_encrypted()
        if encrypted and passphrase is None:
            raise KeyStoreError(
                f"{path} is encrypted: set {PASSPHRASE_ENV} or enter the passphrase", Reason.WRONG_PASSPHRASE
            )
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase if encrypted else None)
        except (ValueError, TypeError) as exc:
            reason = Reason.WRONG_PASSPHRASE if encrypted else Reason.KEY_FILE_INVALID
            raise KeyStoreError(f"cannot open {path} ({exc})", reason) from None
        if (
            not isinstance(key, ec.EllipticCurvePrivateKey)
            or key.public_key() != self.report_certificate().public_key()
        ):
            raise KeyStoreError(
                f"{path} does not hold the key of {self.directory / REPORT_CERT}", Reason.KEY_FILE_INVALID
            )
        return key

    def make_report_key(self, passphrase: bytes | None, now: datetime, organisation: str) -> x509.Certificate:
        """Create the report key (P-256, encrypted like the others, mode 0600) and its self-signed
        certificate naming `organisation`'s report service; never overwrites an existing one."""
        _check_passphrase(passphrase)
        if (self.directory / REPORT_PRIVATE).exists():
            raise KeyStoreError(f"{self.directory / REPORT_PRIVATE} already exists", Reason.KEY_EXISTS)
        self.directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = report_certificate(key, now, organisation)
        _write_exclusive(self.directory / REPORT_PRIVATE, private_pem(key, passphrase), 0o600)
        _write_exclusive(self.directory / REPORT_CERT, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        return certificate

    # ---- changing ---------------------------------------------------------------------------

    def _save(self, infos: list[KeyInfo]) -> None:
        body = {"keys": [{**asdict(k), "role": k.role.value, "status": k.status.value} for k in infos]}
        files.write_atomic(self.directory / INDEX, (json.dumps(body, indent=2) + "\n").encode(), 0o644)

    def _new_key(self, role: Role, passphrase: bytes | None, now: datetime) -> KeyInfo:
        key = Ed25519PrivateKey.generate()
        public = key.public_key()
        kid = cose.kid_of(public).hex()
        name = ROOT_PRIVATE if role is Role.ROOT else f"issuing-{kid}.key"
        _write_exclusive(self.directory / name, private_pem(key, passphrase), 0o600)
        if role is Role.ROOT:
            spki = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            _write_exclusive(self.directory / ROOT_PUBLIC, spki, 0o644)
        return KeyInfo(
            kid=kid,
            role=role,
            created=now.isoformat(),
            status=KeyStatus.ACTIVE,
            fingerprint=fingerprint(public),
            public_key=public.public_bytes_raw().hex(),
            file=name,
            encrypted=passphrase is not None,
        )

    def init(self, passphrase: bytes | None, now: datetime) -> list[KeyInfo]:
        """Create the root key and a first issuing key. Refuses when keys already exist."""
        if self.exists() or (self.directory / ROOT_PRIVATE).exists():
            raise KeyStoreError(f"keys already exist in {self.directory}", Reason.KEY_EXISTS)
        _check_passphrase(passphrase)  # refuse a short passphrase before anything is written
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        infos = [self._new_key(Role.ROOT, passphrase, now), self._new_key(Role.ISSUING, passphrase, now)]
        self._save(infos)
        return infos

    def rotate(self, passphrase: bytes | None, now: datetime) -> KeyInfo:
        """Make a new issuing key; the old active one retires: it verifies, it no longer signs."""
        _check_passphrase(passphrase)
        infos = [
            replace(k, status=KeyStatus.RETIRED, retired=now.isoformat())
            if k.role is Role.ISSUING and k.status is KeyStatus.ACTIVE
            else k
            for k in self.keys()
        ]
        new = self._new_key(Role.ISSUING, passphrase, now)
        self._save([*infos, new])
        return new

    def revoke(self, kid: str, now: datetime) -> KeyInfo:
        """Revoke an issuing key: every ticket it signed fails from the next bundle on."""
        target = self.find(kid)
        if target.role is Role.ROOT:
            raise KeyStoreError(
                "the root key cannot be revoked here; re-enrol the gates with a new root", Reason.INVALID_INPUT
            )
        updated = replace(target, status=KeyStatus.REVOKED, revoked=now.isoformat())
        self._save([updated if k.kid == target.kid else k for k in self.keys()])
        return updated


_SERVICE = ": event reports"


def _fit(text: str, limit: int = 64) -> str:
    """`text` cut to `limit` bytes of UTF-8 (an X.509 name attribute holds 64), ending in … when cut."""
    if len(text.encode()) <= limit:
        return text
    while len(text.encode()) > limit - len("…".encode()):
        text = text[:-1]
    return text.rstrip() + "…"


def report_certificate(key: ec.EllipticCurvePrivateKey, now: datetime, organisation: str) -> x509.Certificate:
    """A self-signed certificate for the report key: subject and issuer name the organisation's
    event report service, usable for signing documents only."""
    name = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.COMMON_NAME, _fit(organisation, 64 - len(_SERVICE.encode())) + _SERVICE),
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, _fit(organisation)),
        ]
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,  # non-repudiation: what a PDF reader expects of a document signer
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # a verifier whose clock lags a little
        .not_valid_after(now + REPORT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
