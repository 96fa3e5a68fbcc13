"""What the audit engine finds: a kind, a severity, the journal rows that prove it, in words.

Shared by the per-gate integrity checks (`services.audit`), the cross-gate analysis
(`services.crossgate`), the alerts they become (`store.alerts`) and the officer's pages and
report. Pure values: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

from checkin.core.errors import Reason


class Severity(StrEnum):
    """How urgent a finding is, most urgent first in `ORDER`."""

    CRITICAL = "critical"  # the records themselves cannot be trusted (tampering, forgery admitted)
    HIGH = "high"  # someone got in who should not have (double entry, revoked code admitted)
    MEDIUM = "medium"  # needs a look (repeated forged tries, over the entry limit, skew)
    LOW = "low"  # worth knowing (manual look-ups, supervisor overrides, late uploads)


SEVERITY_ORDER = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


class AlertState(StrEnum):
    """Where an officer stands with an alert."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, order=True)
class RowRef:
    """One journal row as the service holds it: the gate (device id) and its seq."""

    device_id: str
    seq: int

    def __str__(self) -> str:
        return f"{self.device_id}#{self.seq}"


@dataclass(frozen=True)
class Finding:
    """One thing the audit found. `rows` prove it (may be empty for a gate-level finding such as a
    silent gate); `detail` says it in English for logs and the CLI, `params` fill the reason's
    translated message on the pages."""

    kind: Reason
    severity: Severity
    event_id: str
    detail: str
    rows: tuple[RowRef, ...] = ()
    device_id: str | None = None
    params: dict[str, str | int] = field(default_factory=dict, compare=False, hash=False)
    # What the finding is about when its rows may grow (the same forged code tried once more): the
    # fingerprint is taken over the kind and this key instead of the rows, so a later try is the
    # same alert, not a second one. "" (the default): the rows are the identity.
    key: str = ""

    @property
    def fingerprint(self) -> str:
        """Stable identity: the same finding found again (a re-analysis, a retried upload) is the
        same alert, never a second one."""
        if self.key:
            text = f"{self.event_id}|{self.kind.value}|key|{self.key}"
        else:
            rows = ",".join(str(r) for r in sorted(self.rows))
            text = f"{self.event_id}|{self.kind.value}|{self.device_id or ''}|{rows}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]
