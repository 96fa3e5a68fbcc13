"""Gates: registering one with a one-time enrolment code, enrolment over the network, the bearer
token a gate authenticates with, its bundle, and revoking it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from checkin.core import cose, enrolment, seal, trust
from checkin.core.errors import InputError, Reason
from checkin.core.trust import Direction
from checkin.services.bundles import BundleService, SignedBundle
from checkin.services.guests import text_problem
from checkin.services.problems import FieldsInvalid, Problem
from checkin.store import Device, DeviceStatus, Event, Store, bundle_pulls, presence
from checkin.store import devices as stored

MAX_GATE_NAME = 100


@dataclass(frozen=True)
class NewGate:
    """A registered gate and its one-time enrolment code (shown once, never stored)."""

    device: Device
    code: str


def add_gate(
    store: Store, event: Event, name: str, zone: str, direction: str, now: datetime, *, actor: str, root_pem: bytes
) -> NewGate:
    """Register a gate for one of the event's zones; FieldsInvalid (name, zone, direction) when refused.

    The code carries its binding to the root key `root_pem` (the deployment's root.pub), so the gate
    pins this root and no other."""
    root_raw = trust.root_key_from_pem(root_pem).public_bytes_raw()
    problems: dict[str, Problem] = {}
    name_problem = text_problem(name, MAX_GATE_NAME, required=True)
    if name_problem is not None:
        problems["name"] = name_problem
    if zone not in event.zone_codes:
        problems["zone"] = Problem(Reason.GATE_ZONE_INVALID)
    if direction not in {d.value for d in Direction}:
        problems["direction"] = Problem(Reason.DIRECTION_INVALID)
    if problems:
        raise FieldsInvalid(problems)
    device, secret = stored.create_device(store, event.id, name, zone, Direction(direction), now, actor=actor)
    return NewGate(device, enrolment.bound_code(secret, root_raw))


def revoke_gate(store: Store, device_id: str, now: datetime, *, actor: str) -> Device:
    """Revoke a gate (a stolen laptop): its token stops working at once (DEVICE_REVOKED if it was already)."""
    return stored.revoke_device(store, device_id, now, actor=actor)


def authenticate(store: Store, token: str) -> Device:
    """The enrolled gate a bearer token belongs to: UNAUTHORIZED for an unknown or pending one,
    DEVICE_REVOKED for a revoked one."""
    device = stored.device_for_token(store, token)
    if device is None:
        raise InputError("the device token is not known", Reason.UNAUTHORIZED)
    if device.status == DeviceStatus.REVOKED:
        raise InputError(f"gate {device.id} has been revoked", Reason.DEVICE_REVOKED)
    if device.status != DeviceStatus.ACTIVE:
        raise InputError("the device is not enrolled", Reason.UNAUTHORIZED)
    return device


@dataclass(frozen=True)
class Enrolment:
    """What an enrolled gate receives: its device row, bearer token, the root key to pin and its first bundle."""

    device: Device
    token: str
    root_public_pem: str
    bundle: SignedBundle


def enrol(
    store: Store, bundles: BundleService, code: str, public_key_hex: str, now: datetime, *, seal_seed: bytes = b""
) -> Enrolment:
    """Spend a one-time enrolment code: bind the gate's Ed25519 public key (64 hex digits) and keep
    its journal's sealing seed (32 bytes; none from a client that does not seal)."""
    try:
        raw_key = bytes.fromhex(public_key_hex)
    except ValueError:
        raw_key = b""
    if len(public_key_hex) != 64 or not cose.usable_public_key(raw_key):
        # checked now: a key libsodium refuses would spend the code, then fail every upload
        raise InputError("public_key must be 64 hex digits of a valid Ed25519 public key", Reason.INVALID_INPUT)
    if seal_seed and len(seal_seed) != seal.SEED_BYTES:
        raise InputError(f"seal_seed must be {seal.SEED_BYTES} bytes", Reason.INVALID_INPUT)
    root_pem = bundles.root_public_pem()
    secret, binding = enrolment.split_code(code)
    if binding is not None and not enrolment.binds(code, trust.root_key_from_pem(root_pem.encode()).public_bytes_raw()):
        # checked before the code is spent: a typo in the last groups costs the gate nothing
        raise InputError("the code's last groups do not match this service's root key", Reason.ENROLMENT_INVALID)
    device, token = stored.enrol_device(store, secret, public_key_hex, now, seal_seed=seal_seed)
    signed = bundles.current(device.event_id, now)
    bundle_pulls.record_pull(store, device, signed.version, signed.issued_at or now, now)
    return Enrolment(device, token, root_pem, signed)


def gate_bundle(store: Store, bundles: BundleService, device: Device, now: datetime) -> SignedBundle:
    """The newest signed bundle of the gate's event; the gate counts as seen."""
    signed = bundles.current(device.event_id, now)
    stored.seen(store, device, now)
    # the version this gate holds from now on: the audit names it if the gate admits a code revoked later
    bundle_pulls.record_pull(store, device, signed.version, signed.issued_at or now, now)
    return signed


def peer_passages(store: Store, device: Device, after: int, now: datetime) -> presence.PassagePage:
    """The admitted entries and exits the other gates of the gate's event uploaded after scan id
    `after`; the gate counts as seen."""
    page = presence.passages_after(store, device.event_id, device.id, after, now)
    stored.seen(store, device, now)
    return page
