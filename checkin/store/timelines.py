"""What the cross-gate audit reads per uploaded batch: credentials' timelines across an event's
gates, the tries of codes that never verified, revocations; and (until the alerts store lands) how
its findings are kept as alerts."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.orm import Session

from checkin.store.models import Alert, CredentialStatus, IssuedCredential, Scan

# the columns of services.crossgate.ScanRow, in its field order
TIMELINE_COLUMNS = (
    Scan.device_id,
    Scan.seq,
    Scan.wall_ms,
    Scan.cti,
    Scan.kid,
    Scan.verdict,
    Scan.reason,
    Scan.direction,
    Scan.zone,
    Scan.operator,
)
_CHUNK = 400  # bound parameters per IN list, well under SQLite's limit


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def timelines(s: Session, event_id: str, ctis: Collection[str]) -> list[tuple[Any, ...]]:
    """Every row of the event naming one of `ctis` (index scans(event_id, cti))."""
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunks(ctis):
        query = select(*TIMELINE_COLUMNS).where(Scan.event_id == event_id, Scan.cti.in_(chunk))
        rows.extend(tuple(row) for row in s.execute(query))
    return rows


def untrusted_tries(
    s: Session, event_id: str, codes: Collection[tuple[str, str]], reasons: Collection[str]
) -> list[tuple[Any, ...]]:
    """The event's rows with no credential id, denied for one of `reasons`, at a (gate, key id) of `codes`."""
    if not codes:
        return []
    pairs = [and_(Scan.device_id == device, Scan.kid == kid) for device, kid in sorted(codes)]
    query = select(*TIMELINE_COLUMNS).where(
        Scan.event_id == event_id, Scan.cti == "", Scan.reason.in_(sorted(reasons)), or_(*pairs)
    )
    return [tuple(row) for row in s.execute(query)]


def revocations(s: Session, event_id: str, ctis: Collection[str]) -> dict[str, datetime]:
    """When each of `ctis` that the service revoked was revoked."""
    found: dict[str, datetime] = {}
    for chunk in _chunks(ctis):
        query = select(IssuedCredential.cti, IssuedCredential.revoked_at).where(
            IssuedCredential.event_id == event_id,
            IssuedCredential.cti.in_(chunk),
            IssuedCredential.status == CredentialStatus.REVOKED.value,
        )
        found.update({cti: at for cti, at in s.execute(query) if at is not None})
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
