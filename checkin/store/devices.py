"""Gate devices: created with a one-time enrolment code, enrolled with their key, revoked."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update

from checkin.core import enrolment
from checkin.core.errors import InputError, Reason
from checkin.core.trust import Direction
from checkin.store.actions import record_action
from checkin.store.engine import Store, sha256_hex
from checkin.store.events import event_in
from checkin.store.models import Device, DeviceStatus

ENROL_VALIDITY = timedelta(minutes=15)
# Enrolment codes are typed at the gate (checkin.core.enrolment): the secret is 16 characters of an
# alphabet without 0/O, 1/I/L (about 79 bits); the service hands it out with its root-key binding.
CODE_ALPHABET = enrolment.CODE_ALPHABET
CODE_LENGTH = enrolment.SECRET_LENGTH
LAST_SEEN_EVERY = timedelta(minutes=1)  # a bundle fetch records last_seen at most this often
normalise_code = enrolment.normalise_code


def create_device(
    store: Store,
    event_id: str,
    name: str,
    zone: str | None,
    direction: Direction,
    now: datetime,
    *,
    actor: str | None = None,
) -> tuple[Device, str]:
    """Register a gate for an event; return it and its one-time enrolment code (valid 15 minutes)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InputError("a gate needs a name of 1 to 100 characters")
    try:
        direction = Direction(direction)
    except ValueError:
        raise InputError(f"direction must be one of {', '.join(Direction)}, not {direction!r}") from None
    code = enrolment.new_secret()
    with store.writing() as s:
        ev = event_in(s, event_id)
        zone = zone or ev.zone_codes[0]
        if zone not in ev.zone_codes:
            raise InputError(f"unknown zone {zone!r}; the event has {', '.join(ev.zone_codes)}")
        device = Device(
            id=secrets.token_hex(8),
            event_id=event_id,
            name=name,
            zone=zone,
            direction=direction.value,
            created=now,
            status=DeviceStatus.PENDING.value,
            enrol_code_hash=sha256_hex(normalise_code(code)),
            enrol_expires=now + ENROL_VALIDITY,
            public_key="",
            token_hash="",
            acked_seq=0,
            head_hash="",
        )
        s.add(device)
        if actor is not None:
            record_action(s, actor, "gate.create", f"{event_id}/{device.id}", f"{name} ({zone}, {direction})", now)
    return device, code


def enrol_device(
    store: Store, code: str, public_key_hex: str, now: datetime, *, seal_seed: bytes = b""
) -> tuple[Device, str]:
    """Use a one-time enrolment code: bind the gate's public key (and keep its sealing seed), return
    the device and its token.

    The code is spent by a single conditional UPDATE, so two gates racing with one code
    cannot both enrol. The token is returned once and only its SHA-256 is kept.
    """
    token = secrets.token_urlsafe(32)
    invalid = InputError("ask an administrator for a new one (checkin gate add)", Reason.ENROLMENT_INVALID)
    code_hash = sha256_hex(enrolment.split_code(code)[0])  # the secret part (services.gates checks the binding)
    usable = (Device.enrol_code_hash == code_hash, Device.status == DeviceStatus.PENDING, Device.enrol_expires > now)
    with store.writing() as s:
        if s.scalars(select(Device.id).where(*usable)).first() is None:
            raise invalid
        twin = select(Device.id).where(Device.public_key == public_key_hex, Device.status == DeviceStatus.ACTIVE)
        if s.scalars(twin).first() is not None:  # a cloned gate, or one enrolled twice: the code stays unspent
            raise InputError("this public key belongs to an enrolled gate already", Reason.ALREADY_EXISTS)
        result = s.execute(
            update(Device)
            .where(*usable)
            .values(
                status=DeviceStatus.ACTIVE.value,
                enrol_code_hash="",
                enrol_expires=None,
                public_key=public_key_hex,
                token_hash=sha256_hex(token),
                enrolled_at=now,
                last_seen=now,
                seal_seed=seal_seed.hex(),
                seal_seq=1,
                seal_key=seal_seed.hex(),
            )
            .returning(Device.id)
        )
        device_id = result.scalar_one_or_none()
        if device_id is None:
            raise invalid
        device = s.get(Device, device_id, populate_existing=True)
        assert device is not None
    return device, token


def device_for_token(store: Store, token: str) -> Device | None:
    """The device a bearer token belongs to (whatever its status), or None."""
    with store.session() as s:
        return s.scalars(select(Device).where(Device.token_hash == sha256_hex(token))).first()


def device(store: Store, device_id: str) -> Device:
    """One device by id."""
    with store.session() as s:
        row = s.get(Device, device_id)
    if row is None:
        raise InputError(f"no gate {device_id!r}", Reason.NOT_FOUND)
    return row


def devices(store: Store, event_id: str | None = None) -> Sequence[Device]:
    """Every device (of one event, if given), oldest first."""
    query = select(Device).order_by(Device.created, Device.id)
    if event_id is not None:
        query = query.where(Device.event_id == event_id)
    with store.session() as s:
        return s.scalars(query).all()


def revoke_device(store: Store, device_id: str, now: datetime, *, actor: str | None = None) -> Device:
    """Revoke a gate: its token stops working at once and its enrolment code is spent."""
    with store.writing() as s:
        row = s.get(Device, device_id, with_for_update=True)
        if row is None:
            raise InputError(f"no gate {device_id!r}", Reason.NOT_FOUND)
        if row.status == DeviceStatus.REVOKED:  # the first revocation's time is the one that counts
            raise InputError(f"gate {device_id} was revoked already, at {row.revoked_at}", Reason.DEVICE_REVOKED)
        row.status, row.revoked_at = DeviceStatus.REVOKED.value, now
        row.enrol_code_hash, row.enrol_expires = "", None
        if actor is not None:
            record_action(s, actor, "gate.revoke", f"{row.event_id}/{row.id}", row.name, now)
    return row


def seen(store: Store, device: Device, now: datetime) -> None:
    """Record that a device was heard from; written at most once a minute per device."""
    if device.last_seen is not None and device.last_seen <= now < device.last_seen + LAST_SEEN_EVERY:
        return
    with store.writing() as s:
        s.execute(update(Device).where(Device.id == device.id).values(last_seen=now))
