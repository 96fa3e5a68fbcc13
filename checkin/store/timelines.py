"""What the cross-gate audit reads per uploaded batch: credentials' timelines across an event's
gates, the tries of codes that never verified, revocations; and (until the alerts store lands) how
its findings are kept as alerts."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from checkin.store.models import Alert, CredentialStatus, IssuedCredential, Scan

_SCANS = Scan.table().c
_CREDENTIALS = IssuedCredential.table().c
# the columns of services.crossgate.ScanRow, in its field order (Core columns: no ORM work per row)
TIMELINE_COLUMNS = (
    _SCANS.device_id,
    _SCANS.seq,
    _SCANS.wall_ms,
    _SCANS.cti,
    _SCANS.kid,
    _SCANS.verdict,
    _SCANS.reason,
    _SCANS.direction,
    _SCANS.zone,
    _SCANS.operator,
)
_CHUNK = 500  # values per IN list, well under SQLite's parameter limit
# Expanding parameters: one cached statement whatever the number of values, compiled once
_TIMELINES = select(*TIMELINE_COLUMNS).where(
    _SCANS.event_id == bindparam("event_id"), _SCANS.cti.in_(bindparam("ctis", expanding=True))
)
_UNTRUSTED = select(*TIMELINE_COLUMNS).where(
    _SCANS.event_id == bindparam("event_id"),
    _SCANS.cti == "",
    _SCANS.device_id.in_(bindparam("devices", expanding=True)),
    _SCANS.kid.in_(bindparam("kids", expanding=True)),
    _SCANS.reason.in_(bindparam("reasons", expanding=True)),
)
_REVOKED = select(_CREDENTIALS.cti, _CREDENTIALS.revoked_at).where(
    _CREDENTIALS.event_id == bindparam("event_id"),
    _CREDENTIALS.cti.in_(bindparam("ctis", expanding=True)),
    _CREDENTIALS.status == CredentialStatus.REVOKED.value,
)


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def timelines(s: Session, event_id: str, ctis: Collection[str]) -> list[Any]:
    """Every row of the event naming one of `ctis` (index scans(event_id, cti)), as TIMELINE_COLUMNS."""
    connection = s.connection()
    rows: list[Any] = []
    for chunk in _chunks(ctis):
        rows.extend(connection.execute(_TIMELINES, {"event_id": event_id, "ctis": chunk}))
    return rows


def untrusted_tries(
    s: Session, event_id: str, codes: Collection[tuple[str, str]], reasons: Collection[str]
) -> list[Any]:
    """The event's rows with no credential id, denied for one of `reasons`, at a (gate, key id) of `codes`."""
    if not codes:
        return []
    params = {
        "event_id": event_id,
        "devices": sorted({device for device, _ in codes}),
        "kids": sorted({kid for _, kid in codes}),
        "reasons": sorted(reasons),
    }
    wanted = set(codes)
    found = s.connection().execute(_UNTRUSTED, params)
    return [row for row in found if (row.device_id, row.kid) in wanted]


def revocations(s: Session, event_id: str, ctis: Collection[str]) -> dict[str, datetime]:
    """When each of `ctis` that the service revoked was revoked."""
    connection = s.connection()
    found: dict[str, datetime] = {}
    for chunk in _chunks(ctis):
        result = connection.execute(_REVOKED, {"event_id": event_id, "ctis": chunk})
        found.update((cti, at) for cti, at in result if at is not None)
    return found


# coordinator: replace with store.alerts.record_finding at merge
def record_once(
    s: Session,
    *,
    event_id: str,
    kind: str,
    device_id: str | None,
    seq: int | None,
    detail: str,
    fingerprint: str,
    now: datetime,
) -> bool:
    """Keep an alert unless one with the same fingerprint is kept already (the `alerts` table has no
    fingerprint column yet, so the detail carries it); False when it was kept before."""
    mark = f"[{fingerprint}]"
    same = select(Alert.id).where(Alert.event_id == event_id, Alert.kind == kind, Alert.detail.endswith(mark))
    if s.execute(same.limit(1)).first() is not None:
        return False
    s.execute(
        insert(Alert).values(
            event_id=event_id, device_id=device_id, kind=kind, seq=seq, detail=f"{detail} {mark}", created=now
        )
    )
    return True
