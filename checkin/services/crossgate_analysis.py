"""The cross-gate audit as journals arrive: per stored batch, only the credentials (and untrusted
codes) the batch names are read back and analysed (`services.crossgate`), never the whole event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from checkin.config import Config
from checkin.core.errors import Reason, Verdict
from checkin.core.trust import Direction
from checkin.services.crossgate import (
    DEFAULT_POLICY,
    UNTRUSTED,
    AuditPolicy,
    BundleHistory,
    BundlePull,
    ScanRow,
    analyse,
    staff_actions,
)
from checkin.services.findings import Finding
from checkin.store import bundle_pulls, timelines

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_ADMIT, _IN = Verdict.ADMIT.value, Direction.IN.value


def audit_policy(cfg: Config) -> AuditPolicy:
    """The entry policy the service's bundles carry ([policy]), as the audit holds rows to it."""
    return AuditPolicy(cfg.policy.entries_per_credential, cfg.policy.reentry_after_exit)


def _ranges(rows: Sequence[ScanRow]) -> dict[str, tuple[int, int]]:
    """Each gate's first and last seq among `rows` (an upload is one gate's run of rows)."""
    spans: dict[str, tuple[int, int]] = {}
    for row in rows:
        low, high = spans.get(row.device_id, (row.seq, row.seq))
        spans[row.device_id] = (min(low, row.seq), max(high, row.seq))
    return spans


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def find_batch(
    s: Session, event_id: str, stored_rows: Sequence[ScanRow], policy: AuditPolicy = DEFAULT_POLICY
) -> list[Finding]:
    """The findings about a stored batch's rows: the timelines of the credentials it names (and the
    tries of the untrusted codes it holds) read back and analysed. Reads only.

    A finding that names none of the batch's rows was found when its rows arrived, so only the ones
    touching the batch are returned."""
    if not stored_rows:
        return []
    # Only a credential the batch admits in, or denies as revoked, can be in a new finding about the
    # batch (an exit or another denial only ends one); of those, the database names the few whose
    # neighbouring passages or entry count can make one, and only their whole timelines are read.
    entered = {row.cti for row in stored_rows if row.cti and row.verdict == _ADMIT and row.direction == _IN}
    suspect = {row.cti for row in stored_rows if row.cti and row.reason == Reason.REVOKED.value}
    passback, limit = policy.reentry_after_exit, policy.entries_per_credential
    revoked_ctis: set[str] = set()
    for device_id, seqs in _ranges(stored_rows).items():
        named = timelines.suspects(s, device_id, *seqs, passback=passback, limit=limit)
        suspect |= entered if named is None else named.timelines
        revoked_ctis |= entered if named is None else named.revoked
    codes = {
        (row.device_id, row.kid)
        for row in stored_rows
        if not row.cti and row.verdict == Verdict.DENY.value and row.reason in UNTRUSTED
    }
    # whole timelines only: a credential's batch rows alone could show two entries whose exit between
    # came from another gate
    read = [ScanRow._make(values) for values in timelines.timelines(s, event_id, suspect)]
    read += [ScanRow._make(values) for values in timelines.untrusted_tries(s, event_id, codes, UNTRUSTED)]
    revoked = {cti: _ms(at) for cti, at in timelines.revocations(s, event_id, revoked_ctis).items()}
    history = BundleHistory()
    if revoked:  # the gates' bundle versions matter only to an admission after a revocation
        pulls = [
            BundlePull(device, version, _ms(signed), _ms(pulled))
            for device, version, signed, pulled in bundle_pulls.event_pulls(s, event_id)
        ]
        version, signed_at = bundle_pulls.current_bundle(s, event_id)
        history = BundleHistory(pulls, version, None if signed_at is None else _ms(signed_at))
    batch = {(row.device_id, row.seq) for row in stored_rows}
    findings = analyse(event_id, read, revoked, history, policy) + staff_actions(event_id, stored_rows)
    return [found for found in findings if any((ref.device_id, ref.seq) in batch for ref in found.rows)]
