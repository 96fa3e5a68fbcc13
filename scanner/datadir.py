"""The gate's data folder: enrolment facts, device key, token, pinned root key, bundle, journal.

```
gate-data/            (--data DIR, or $CHECKIN_GATE_DATA, or ./gate-data), mode 0700
  gate.toml           optional settings: [gate] (banner hold, checkpoints, batches, sync interval)
                      and [camera] (resolution, frame rate, focus)
  device.json         device id, event, name, zone, direction, server URL
  device.key          the device's Ed25519 key (PKCS#8; encrypted with $CHECKIN_GATE_PASSPHRASE), 0600
  token               the bearer token for the service's API, 0600
  root.pub            the root public key pinned at enrolment
  ca.pem              optional: the private CA that vouches for the service's https (--ca-file)
  bundle.ckb          the newest verified trust bundle
  journal.db          the journal (SQLite, WAL)
  supervisor.pin      the supervisor PIN's scrypt hash (scanner/pin.py), 0600
```
Files are replaced atomically (write a sibling, fsync, rename), so a crash leaves the old or
the new file, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from checkin import files
from checkin.core import trust
from checkin.core.errors import ConfigError, KeyStoreError, Reason, TrustError
from checkin.core.trust import Direction, TrustBundle
from scanner import pin as pin_mod
from scanner.settings import Settings
from scanner.settings import load as load_settings

DATA_ENV = "CHECKIN_GATE_DATA"
PASSPHRASE_ENV = "CHECKIN_GATE_PASSPHRASE"  # noqa: S105 - the variable name, not a secret
DEFAULT_DIR = "gate-data"
SETTINGS_FILE = "gate.toml"
DEVICE_FILE = "device.json"
KEY_FILE = "device.key"
TOKEN_FILE = "token"  # noqa: S105 - a file name
ROOT_FILE = "root.pub"
BUNDLE_FILE = "bundle.ckb"
JOURNAL_FILE = "journal.db"
CA_FILE = "ca.pem"
PIN_FILE = "supervisor.pin"


@dataclass(frozen=True)
class Device:
    """What enrolment told the gate about itself."""

    device_id: str
    event_id: str
    name: str
    zone: str
    direction: str
    server: str = ""  # empty: enrolled from a USB bundle, no network sync
    enrolled_at: str = ""
    insecure_http: bool = False  # the operator allowed plain http to another machine (--insecure-http)


def resolve(path: str | Path | None) -> Path:
    """The data folder: the option, else $CHECKIN_GATE_DATA, else ./gate-data."""
    if path:
        return Path(path)
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DIR)


class GateData:
    """Typed access to one gate's data folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        """A file of the folder."""
        return self.root / name

    @property
    def journal_path(self) -> Path:
        """Where the journal lives."""
        return self.root / JOURNAL_FILE

    def create(self) -> None:
        """Make the folder, readable by its owner only."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def enrolled(self) -> bool:
        """True once device.json, the key, the root key and a bundle are all here."""
        return all(self.path(n).exists() for n in (DEVICE_FILE, KEY_FILE, ROOT_FILE, BUNDLE_FILE))

    def require_enrolled(self) -> None:
        """Raise a clear error when the gate was never enrolled into this folder."""
        if not self.enrolled():
            raise ConfigError(
                f"{self.root}: no enrolled gate here; run `checkin-gate enroll` first (or give --data)",
                Reason.NOT_FOUND,
            )

    # ---- settings and device facts ----------------------------------------------------------

    def settings(self) -> Settings:
        """gate.toml's settings, or the defaults when there is no such file."""
        return load_settings(self.path(SETTINGS_FILE))

    def device(self) -> Device:
        """The enrolment facts."""
        path = self.path(DEVICE_FILE)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Device(**data)
        except FileNotFoundError:
            self.require_enrolled()
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path} is damaged ({exc})") from None

    def save_device(self, device: Device) -> None:
        """Write the enrolment facts."""
        body = json.dumps(asdict(device), indent=2, ensure_ascii=False) + "\n"
        files.write_atomic(self.path(DEVICE_FILE), body.encode(), 0o600)

    def direction(self) -> Direction:
        """The direction this gate was enrolled for."""
        return Direction(self.device().direction)

    # ---- secrets -------------------------------------------------------------------------------

    def new_device_key(self) -> Ed25519PrivateKey:
        """Generate the device key and store it."""
        key = Ed25519PrivateKey.generate()
        self.save_device_key(key)
        return key

    def save_device_key(self, key: Ed25519PrivateKey) -> None:
        """Store the device key: PKCS#8, 0600, encrypted when $CHECKIN_GATE_PASSPHRASE is set."""
        passphrase = os.environ.get(PASSPHRASE_ENV)
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
        )
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        files.write_atomic(self.path(KEY_FILE), pem, 0o600)

    def device_key(self) -> Ed25519PrivateKey:
        """The device key that signs checkpoints."""
        path = self.path(KEY_FILE)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"{path} is missing; enrol the gate first", Reason.NOT_FOUND) from None
        passphrase = os.environ.get(PASSPHRASE_ENV)
        encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
        if encrypted and not passphrase:
            raise KeyStoreError(f"{path} is encrypted: set {PASSPHRASE_ENV}", Reason.WRONG_PASSPHRASE)
        try:
            key = serialization.load_pem_private_key(
                data, password=passphrase.encode() if encrypted and passphrase else None
            )
        except (ValueError, TypeError) as exc:
            reason = Reason.WRONG_PASSPHRASE if encrypted else Reason.KEY_FILE_INVALID
            raise KeyStoreError(f"cannot open {path} ({exc})", reason) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyStoreError(f"{path} is not an Ed25519 key")
        return key

    def device_public(self) -> Ed25519PublicKey:
        """The public half of the device key."""
        return self.device_key().public_key()

    def token(self) -> str:
        """The bearer token for the API ('' for a USB-enrolled gate)."""
        try:
            return self.path(TOKEN_FILE).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return ""

    def save_token(self, token: str) -> None:
        """Store the bearer token, 0600."""
        files.write_atomic(self.path(TOKEN_FILE), token.encode("ascii"), 0o600)

    def has_pin(self) -> bool:
        """True once a supervisor PIN was set."""
        return self.path(PIN_FILE).exists()

    def save_pin(self, pin: str) -> None:
        """Set (or change) the supervisor PIN: only its hash is written, 0600."""
        problem = pin_mod.pin_problem(pin)
        if problem:
            raise ConfigError(problem)
        files.write_atomic(self.path(PIN_FILE), (pin_mod.hash_pin(pin) + "\n").encode("ascii"), 0o600)

    def check_pin(self, pin: str) -> bool:
        """True when `pin` is the supervisor PIN; False when it is not or none was set."""
        try:
            record = self.path(PIN_FILE).read_text(encoding="ascii")
        except (FileNotFoundError, UnicodeDecodeError):
            return False
        return pin_mod.check_pin(pin, record)

    # ---- trust -----------------------------------------------------------------------------------

    def root_key(self) -> Ed25519PublicKey:
        """The root key pinned at enrolment."""
        path = self.path(ROOT_FILE)
        try:
            return trust.root_key_from_pem(path.read_bytes())
        except FileNotFoundError:
            raise TrustError(f"{path} is missing; enrol the gate first", Reason.NOT_FOUND) from None

    def save_root(self, pem: bytes) -> None:
        """Pin the root key (once: a gate never changes its root, it is re-enrolled)."""
        trust.root_key_from_pem(pem)
        files.write_atomic(self.path(ROOT_FILE), pem, 0o644)

    def bundle_bytes(self) -> bytes:
        """The stored bundle's bytes."""
        path = self.path(BUNDLE_FILE)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise TrustError(f"{path} is missing; enrol the gate first", Reason.NOT_FOUND) from None

    def bundle(self) -> TrustBundle:
        """The stored bundle, verified again with the pinned root key."""
        return trust.verify_bundle(self.bundle_bytes(), self.root_key())

    def install_bundle(self, data: bytes, held_version: int | None = None, event_id: str | None = None) -> TrustBundle:
        """Verify a bundle with the pinned root key, refuse an older one or another event's, then store it.

        A gate is bound to one event (`event_id`, else the enrolled device's, else the held bundle's):
        another event's bundle would admit its codes and make this event's next bundle look like a rollback.
        """
        if event_id is None and self.path(DEVICE_FILE).exists():
            event_id = self.device().event_id
        if (held_version is None or event_id is None) and self.path(BUNDLE_FILE).exists():
            held = self.bundle()
            held_version = held.version if held_version is None else held_version
            event_id = event_id or held.event.id
        bundle = trust.verify_bundle(data, self.root_key(), held_version=held_version or 0)
        if event_id is not None and bundle.event.id != event_id:
            raise TrustError(
                f"the bundle is for event {bundle.event.id!r}; this gate is enrolled for event {event_id!r} "
                "(enrol it again, into another --data folder, to serve another event)",
                Reason.WRONG_EVENT,
            )
        files.write_atomic(self.path(BUNDLE_FILE), data, 0o644)
        return bundle

    def ca_file(self) -> Path | None:
        """The private CA given at enrolment (--ca-file), or None for the system's list."""
        path = self.path(CA_FILE)
        return path if path.exists() else None

    def save_ca(self, pem: bytes) -> None:
        """Keep the private CA that vouches for the service's certificate."""
        files.write_atomic(self.path(CA_FILE), pem, 0o644)
