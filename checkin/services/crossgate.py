"""The cross-gate audit of one credential: what its rows at every gate of an event say together.

Pure: rows, revocations, the bundle versions the gates were handed and the policy in; `Finding`s
out. `services.crossgate_analysis` feeds it per uploaded batch (only the credentials in the batch).

What it finds (each gate decides offline, so each can only be fooled across gates):
- double entry: admitted into a zone again with no exit from it between (at another gate, the
  offline double entry, or at the same one), when the policy bars re-entry before an exit;
- more entries into a zone than the policy's entries per credential;
- a revoked code admitted after it was revoked, naming the bundle version that carried the
  revocation and the version the gate held then (a gate on a stale bundle);
- the same forged or revoked code tried again and again (one finding, all its rows);
- manual look-ups and supervisor overrides (low: worth knowing, not wrong).

Order is the rows' wall time, then gate and seq: the same rows give the same findings whatever
order they were uploaded in. Zones are counted apart: a guest may be inside the hall and the VIP
room at once, and an exit from a gate with no zone ("") leaves every zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from checkin.core.chain import JournalRow
from checkin.core.errors import Reason, Verdict
from checkin.core.trust import Direction, GatePolicy
from checkin.services.findings import Finding, RowRef, Severity

DEFAULT_REPEAT_THRESHOLD = 3
# Denials that mean the code was not ours: a changed signature, an unknown or revoked key, another
# algorithm. A gate journals no credential id for them (nothing past the signature is trusted), so
# tries of "the same" code are told apart by gate and key id.
UNTRUSTED = frozenset(
    {
        Reason.BAD_SIGNATURE.value,
        Reason.UNKNOWN_KEY.value,
        Reason.UNSUPPORTED_ALGORITHM.value,
        Reason.KEY_REVOKED.value,
        Reason.KEY_RETIRED.value,
    }
)
MANUAL_PREFIX = "manual"  # scanner.runner.Gate.manual journals operator "manual" or "manual:<name>"

# every kind of finding this analysis makes (the alert list offers them as filters)
KINDS = (
    Reason.DOUBLE_ENTRY,
    Reason.ENTRY_LIMIT_EXCEEDED,
    Reason.REVOKED_ADMITTED,
    Reason.REPEATED_FORGERY,
    Reason.REPEATED_REVOKED,
    Reason.MANUAL_ENTRY,
    Reason.SUPERVISOR_OVERRIDE,
)


class ScanRow(NamedTuple):
    """The fields of a stored journal row this analysis reads, with the gate that wrote it (a tuple:
    a batch's credentials bring thousands of rows back, and a tuple is the cheapest to make)."""

    device_id: str
    seq: int
    wall_ms: int
    cti: str
    kid: str
    verdict: str
    reason: str
    direction: str
    zone: str
    operator: str = ""

    @classmethod
    def of(cls, device_id: str, row: JournalRow) -> ScanRow:
        """A gate's journal row as stored for `device_id`."""
        fields = (row.seq, row.wall_ms, row.cti, row.kid, row.verdict, row.reason, row.direction, row.zone)
        return cls(device_id, *fields, row.operator)

    @property
    def ref(self) -> RowRef:
        """The row as findings name it."""
        return RowRef(self.device_id, self.seq)

    @property
    def admitted(self) -> bool:
        """An admitted passage (in or out)."""
        return self.verdict == _ADMIT

    @property
    def entry(self) -> bool:
        """Admitted coming in."""
        return self.verdict == _ADMIT and self.direction == _IN


_ADMIT, _DENY, _IN = Verdict.ADMIT.value, Verdict.DENY.value, Direction.IN.value
_CLOCK_ACKNOWLEDGED = Reason.CLOCK_ACKNOWLEDGED.value


def _order(row: ScanRow) -> tuple[int, str, int]:
    return (row.wall_ms, row.device_id, row.seq)


@dataclass(frozen=True)
class AuditPolicy:
    """The rules the rows are held to: the gates' entry policy and when tries count as repeated."""

    entries_per_credential: int = 0  # 0: unlimited
    reentry_after_exit: bool = True  # True: no second entry before an exit (anti-passback)
    repeat_threshold: int = DEFAULT_REPEAT_THRESHOLD

    @classmethod
    def of(cls, policy: GatePolicy, repeat_threshold: int = DEFAULT_REPEAT_THRESHOLD) -> AuditPolicy:
        """The audit policy for the gate policy carried in the event's bundles."""
        return cls(policy.entries_per_credential, policy.reentry_after_exit, repeat_threshold)


DEFAULT_POLICY = AuditPolicy()


@dataclass(frozen=True)
class BundlePull:
    """A gate was handed bundle `version` (signed at `signed_ms`) at `pulled_ms` (UTC ms)."""

    device_id: str
    version: int
    signed_ms: int
    pulled_ms: int


@dataclass(frozen=True)
class BundleHistory:
    """What is known of an event's bundle versions: every pull, and the current version."""

    pulls: Sequence[BundlePull] = ()
    current_version: int = 0
    current_signed_ms: int | None = None

    def carrying(self, revoked_ms: int) -> int | None:
        """The first version that carried a revocation made at `revoked_ms` (None: no bundle yet).

        A version is signed from the store's content at that moment, so the first one signed at or
        after the revocation carries it."""
        signed = {p.version: p.signed_ms for p in self.pulls}
        if self.current_signed_ms is not None:
            signed[self.current_version] = self.current_signed_ms
        after = [version for version, at in signed.items() if at >= revoked_ms]
        return min(after) if after else None

    def held(self, device_id: str, at_ms: int) -> int | None:
        """The newest version the gate had been handed by `at_ms` (None: none known, e.g. USB)."""
        versions = [p.version for p in self.pulls if p.device_id == device_id and p.pulled_ms <= at_ms]
        return max(versions) if versions else None


def analyse(
    event_id: str,
    rows: Iterable[ScanRow],
    revoked: Mapping[str, int],
    history: BundleHistory,
    policy: AuditPolicy = DEFAULT_POLICY,
) -> list[Finding]:
    """Every cross-gate finding the rows give: `rows` hold whole timelines of the credentials
    concerned (and the tries of the untrusted codes concerned); `revoked` maps a credential id to
    when it was revoked (UTC ms)."""
    unique = {(row.device_id, row.seq): row for row in rows}
    ordered = sorted(unique.values(), key=_order)
    timelines: dict[str, list[ScanRow]] = defaultdict(list)
    for row in ordered:
        if row.cti:
            timelines[row.cti].append(row)
    findings: list[Finding] = []
    for cti, timeline in timelines.items():
        if policy.reentry_after_exit:
            findings += _double_entries(event_id, cti, timeline)
        if policy.entries_per_credential > 0:
            findings += _over_limit(event_id, cti, timeline, policy.entries_per_credential)
        if cti in revoked:
            findings += _revoked_admissions(event_id, cti, timeline, revoked[cti], history)
    findings += _repeated(event_id, ordered, policy.repeat_threshold)
    return findings + staff_actions(event_id, ordered)


def staff_actions(event_id: str, rows: Iterable[ScanRow]) -> list[Finding]:
    """The manual look-ups and supervisor overrides among `rows` (each a finding of its own row)."""
    return [
        found
        for row in rows
        if (row.operator.startswith(MANUAL_PREFIX) or row.reason == _CLOCK_ACKNOWLEDGED)
        and (found := _staff_action(event_id, row)) is not None
    ]


def _at(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _where(row: ScanRow) -> str:
    return f"gate {row.device_id} seq {row.seq} at {_at(row.wall_ms)}"


def _double_entries(event_id: str, cti: str, timeline: Sequence[ScanRow]) -> list[Finding]:
    """One finding per admission into a zone the credential is inside already, naming the
    admission before it: three entries with no exit give two findings."""
    inside: dict[str, ScanRow] = {}
    found = []
    for row in timeline:
        if not row.admitted:
            continue
        if row.direction != _IN:
            if row.zone:
                inside.pop(row.zone, None)
            else:
                inside.clear()
            continue
        before = inside.get(row.zone)
        if before is not None:
            where = "at the same gate" if before.device_id == row.device_id else "at another gate"
            found.append(
                Finding(
                    Reason.DOUBLE_ENTRY,
                    Severity.HIGH,
                    event_id,
                    f"credential {cti} admitted to zone {row.zone or '-'} at {_where(before)}, then again "
                    f"{where} ({_where(row)}) with no exit between",
                    (before.ref, row.ref),
                    params={"cti": cti, "zone": row.zone},
                )
            )
        inside[row.zone] = row
    return found


def _over_limit(event_id: str, cti: str, timeline: Sequence[ScanRow], limit: int) -> list[Finding]:
    """One finding per entry into a zone past the limit; its key is that entry, so an earlier entry
    uploaded later adds its own finding and leaves this one as it was."""
    entries: dict[str, list[ScanRow]] = defaultdict(list)
    found = []
    for row in timeline:
        if not row.entry:
            continue
        so_far = entries[row.zone]
        so_far.append(row)
        if len(so_far) > limit:
            found.append(
                Finding(
                    Reason.ENTRY_LIMIT_EXCEEDED,
                    Severity.MEDIUM,
                    event_id,
                    f"credential {cti} entered zone {row.zone or '-'} {len(so_far)} times, over the limit of "
                    f"{limit} ({_where(row)})",
                    tuple(r.ref for r in so_far),
                    params={"cti": cti, "zone": row.zone, "entries": len(so_far), "limit": limit},
                    key=f"{cti}|{row.ref}",
                )
            )
    return found


def _revoked_admissions(
    event_id: str, cti: str, timeline: Sequence[ScanRow], revoked_ms: int, history: BundleHistory
) -> list[Finding]:
    """Entries at or after the revocation. A gate that held a bundle carrying it and admitted anyway
    did not apply its own bundle: critical, not a matter of a stale bundle."""
    found = []
    carried = history.carrying(revoked_ms)
    for row in timeline:
        if not row.entry or row.wall_ms < revoked_ms:
            continue
        held = history.held(row.device_id, row.wall_ms)
        ignored = carried is not None and held is not None and held >= carried
        carried_text = f"bundle v{carried}" if carried is not None else "no bundle yet"
        held_text = f"v{held}" if held is not None else "a version the service did not hand out (USB)"
        detail = (
            f"credential {cti}, revoked at {_at(revoked_ms)} (carried by {carried_text}), admitted at "
            f"{_where(row)}; the gate held bundle {held_text}"
        )
        found.append(
            Finding(
                Reason.REVOKED_ADMITTED,
                Severity.CRITICAL if ignored else Severity.HIGH,
                event_id,
                detail + ("; it carried the revocation" if ignored else ""),
                (row.ref,),
                device_id=row.device_id,
                params={"cti": cti, "carried_version": carried or 0, "held_version": held or 0},
            )
        )
    return found


def _repeated(event_id: str, ordered: Sequence[ScanRow], threshold: int) -> list[Finding]:
    """Denied tries of one revoked or untrusted code: one finding per code once it reaches
    `threshold` tries, with every try; keyed on the code so a later try is the same finding."""
    groups: dict[tuple[Reason, str, str], list[ScanRow]] = defaultdict(list)
    for row in ordered:
        if row.verdict != _DENY:
            continue
        if row.reason == Reason.REVOKED.value:
            kind = Reason.REPEATED_REVOKED
        elif row.reason in UNTRUSTED:
            kind = Reason.REPEATED_FORGERY
        else:
            continue
        # a credential id when the gate journalled one (revoked codes: across gates); else the code
        # never verified, and the gate and the key id it claimed are what the rows tell apart
        device = "" if row.cti else row.device_id
        groups[(kind, row.cti or f"kid:{row.kid}", device)].append(row)
    found = []
    for (kind, code, device), tries in groups.items():
        if len(tries) < threshold:
            continue
        gates = sorted({row.device_id for row in tries})
        what = "revoked" if kind is Reason.REPEATED_REVOKED else f"untrusted ({tries[0].reason})"
        found.append(
            Finding(
                kind,
                Severity.MEDIUM,
                event_id,
                f"{what} code {code} tried {len(tries)} times at gate(s) {', '.join(gates)}, "
                f"from {_at(tries[0].wall_ms)} to {_at(tries[-1].wall_ms)}",
                tuple(row.ref for row in tries),
                device_id=device or None,
                params={"code": code, "tries": len(tries)},
                key=f"{code}|{device}",
            )
        )
    return found


def _staff_action(event_id: str, row: ScanRow) -> Finding | None:
    """A manual look-up or a supervisor's override of the clock alarm, as a low finding."""
    if row.operator == MANUAL_PREFIX or row.operator.startswith(MANUAL_PREFIX + ":"):
        staff = row.operator.partition(":")[2] or "unnamed"
        return Finding(
            Reason.MANUAL_ENTRY,
            Severity.LOW,
            event_id,
            f"credential {row.cti or '-'} looked up by hand by {staff}: {row.verdict} ({row.reason}), {_where(row)}",
            (row.ref,),
            device_id=row.device_id,
            params={"cti": row.cti, "verdict": row.verdict, "operator": staff},
        )
    if row.reason == Reason.CLOCK_ACKNOWLEDGED.value:
        return Finding(
            Reason.SUPERVISOR_OVERRIDE,
            Severity.LOW,
            event_id,
            f"a supervisor confirmed the clock and lifted the gate's clock alarm, {_where(row)}",
            (row.ref,),
            device_id=row.device_id,
            params={"operator": row.operator},
        )
    return None
