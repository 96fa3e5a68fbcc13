"""The service's database, split by subject; every query takes a `Store` and its time as parameters.

- `engine`: `Store` (engine, read and write sessions, the SQLite writer queue, migrations)
- `models`: the tables, and the states their status columns take
- `events`, `guests` (and their credentials), `devices`, `users`, `sessions`, `throttle`, `tokens`, `actions` (the admin
  action log), `jobs` (background work and its results), `journal` (gate uploads), `reports` (counts, entries,
  badges, alerts)
"""

from __future__ import annotations

from checkin.store.engine import Store, sha256_hex
from checkin.store.models import (
    AdminAction,
    Alert,
    ApiToken,
    ApiTokenScope,
    Base,
    CheckpointRecord,
    CredentialStatus,
    Device,
    DeviceStatus,
    Event,
    Guest,
    Invitation,
    IssuedCredential,
    Job,
    JobItem,
    JobState,
    LoginThrottle,
    Scan,
    StaffSession,
    User,
    Zone,
)

__all__ = [
    "AdminAction",
    "Alert",
    "ApiToken",
    "ApiTokenScope",
    "Base",
    "CheckpointRecord",
    "CredentialStatus",
    "Device",
    "DeviceStatus",
    "Event",
    "Guest",
    "Invitation",
    "IssuedCredential",
    "Job",
    "JobItem",
    "JobState",
    "LoginThrottle",
    "Scan",
    "StaffSession",
    "Store",
    "User",
    "Zone",
    "sha256_hex",
]
