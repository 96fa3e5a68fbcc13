"""The gate's decision: text, bundle, gate state and `now` in; a verdict out. Pure: no I/O.

DESIGN section 3's order: format, signature, claims, audience, time, revocation (all in
`checkin.core.credential.verify`), then the bundle's freshness, then the gate policy (zone, direction,
anti-passback, entries per credential), then screening (`screen`, which needs what the operator
typed: the runner and the window call it after `decide`). Before all of it stands the gate's own
clock: below its time floor nothing is admitted until an operator acknowledges.

The state (who is inside, entries counted, the time floor) is a frozen value that the journal
rebuilds from its rows and from the passages the other gates of the event uploaded (pulled while
online); `decide` never changes it, the runner applies a decision with `after` and the other gates'
passages with `with_peers`. Entries count wherever and whenever they happened. Whether a person is
inside follows their latest passage: another gate's counts only if its wall time is not before the
latest one known, while a passage here is the latest by definition (it is happening now), whatever
the clocks say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from checkin.core import credential
from checkin.core.credential import Credential
from checkin.core.errors import CredentialError, Reason, Verdict, verdict_for
from checkin.core.trust import Direction, Freshness, TrustBundle
from checkin.i18n import gettext, message
from scanner import screening

# Failures that depend on the gate's clock: under a suspect clock they become clock_suspect.
_CLOCK_DEPENDENT = frozenset({Reason.NOT_YET_VALID, Reason.EXPIRED})
_EMPTY: Mapping[bytes, int] = MappingProxyType({})


def to_ms(moment: datetime) -> int:
    """A datetime as whole milliseconds since the Unix epoch (UTC)."""
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Milliseconds since the Unix epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class Passage:
    """An admitted entry or exit at another gate of the event, as the service passed it on."""

    cti: bytes
    direction: Direction
    wall_ms: int  # that gate's clock
    zone: str
    gate: str = ""


@dataclass(frozen=True)
class GateState:
    """Where the gate stands, which way it counts, who is inside and the lowest time it trusts.

    `inside` holds the credential ids whose latest passage (here, or at another gate of the zone
    while online) was an entry; `entries` counts admitted entries per credential id; `time_floor_ms`
    is the latest of the last journalled wall time and the last server time (0: no floor yet).
    `latest_ms` (when each credential's latest passage happened) and `local_ms` (the latest of this
    gate's passages) only order the other gates' passages with this gate's: they are not compared.
    A passage here counts as no earlier than anything known before it.
    """

    zone: str | None = None
    direction: Direction = Direction.IN
    inside: frozenset[bytes] = frozenset()
    entries: Mapping[bytes, int] = field(default_factory=lambda: _EMPTY)
    time_floor_ms: int = 0
    latest_ms: Mapping[bytes, int] = field(default_factory=lambda: _EMPTY, compare=False)
    local_ms: int = field(default=0, compare=False)

    def entries_of(self, cti: bytes) -> int:
        """How many times this credential was admitted to enter."""
        return self.entries.get(cti, 0)

    def after(self, decision: Decision, wall_ms: int | None = None) -> GateState:
        """The state once `decision` was journalled (at `wall_ms`, which raises the time floor)."""
        floor = self.time_floor_ms if wall_ms is None else max(self.time_floor_ms, wall_ms)
        cti = decision.credential.credential_id if decision.credential is not None else None
        if decision.verdict is not Verdict.ADMIT or cti is None:
            return replace(self, time_floor_ms=floor) if floor != self.time_floor_ms else self
        # this gate's passages keep their order even when its clock was set back
        local = self.local_ms if wall_ms is None else max(self.local_ms, wall_ms)
        inside, entries, latest = set(self.inside), dict(self.entries), dict(self.latest_ms)
        count(inside, entries, latest, cti, self.direction, local, here=True)
        return replace(
            self,
            inside=frozenset(inside),
            entries=MappingProxyType(entries),
            latest_ms=MappingProxyType(latest),
            local_ms=local,
            time_floor_ms=floor,
        )

    def with_peers(self, passages: Iterable[Passage]) -> GateState:
        """The state once the other gates' `passages` are known; those of another zone do not count here."""
        mine = [p for p in passages if self.zone is None or p.zone == self.zone]
        if not mine:
            return self
        inside, entries, latest = set(self.inside), dict(self.entries), dict(self.latest_ms)
        for passage in mine:
            count(inside, entries, latest, passage.cti, passage.direction, passage.wall_ms, here=False)
        return replace(
            self, inside=frozenset(inside), entries=MappingProxyType(entries), latest_ms=MappingProxyType(latest)
        )

    def acknowledged(self, wall_ms: int) -> GateState:
        """The state once an operator confirmed the clock: the floor restarts at the confirmed time."""
        return replace(self, time_floor_ms=wall_ms)


def count(
    inside: set[bytes],
    entries: dict[bytes, int],
    latest: dict[bytes, int],
    cti: bytes,
    way: Direction,
    at_ms: int,
    *,
    here: bool,
) -> None:
    """Apply one admitted passage at `at_ms`, at this gate (`here`) or another, to mutable tallies: the
    single rule `after`, `with_peers` and the journal share. An entry counts whenever it happened;
    inside or not follows the latest passage (on a tie, the one applied last), so the other gates'
    passages may arrive in any order; one here is later than anything known when it happens."""
    if way is Direction.IN:
        entries[cti] = entries.get(cti, 0) + 1
    if here:
        at_ms = max(at_ms, latest.get(cti, at_ms))
    elif cti in latest and at_ms < latest[cti]:
        return
    latest[cti] = at_ms
    if way is Direction.IN:
        inside.add(cti)
    else:
        inside.discard(cti)


Counted = tuple[bytes, Direction] | tuple[bytes, Direction, int] | Passage


def rebuild(passages: Iterable[Counted], *, zone: str | None, direction: Direction, time_floor_ms: int) -> GateState:
    """A state from the admitted passages in the order the gate learnt of them: this gate's own as
    (credential id, direction, and wall ms when known), the other gates' as `Passage`s (those of
    another zone do not count)."""
    inside: set[bytes] = set()
    entries: dict[bytes, int] = {}
    latest: dict[bytes, int] = {}
    local = 0
    for passage in passages:
        if isinstance(passage, Passage):
            if zone is None or passage.zone == zone:
                count(inside, entries, latest, passage.cti, passage.direction, passage.wall_ms, here=False)
            continue
        if len(passage) == 3:
            local = max(local, passage[2])
        count(inside, entries, latest, passage[0], passage[1], local, here=True)
    return GateState(
        zone, direction, frozenset(inside), MappingProxyType(entries), time_floor_ms, MappingProxyType(latest), local
    )


@dataclass(frozen=True)
class Decision:
    """A verdict with its reason and, once the signature held, the credential it is about."""

    verdict: Verdict
    reason: Reason
    detail: str = ""
    credential: Credential | None = None
    kid: bytes | None = None
    warning: str = ""
    screening: str = ""  # the screening outcome (scanner.screening.Outcome), "" when none ran
    advice: str = ""  # msgid: what the operator does next (a screening referral)
    screening_details: Mapping[str, Any] | None = None  # kept beside the journal row, purged later

    def message(self, lang: str = "vi") -> str:
        """The reason in words, in Vietnamese or English."""
        return message(self.reason, lang)

    def to_json(self, text: str) -> dict[str, Any]:
        """The JSON line the CLI prints for this decision."""
        return {
            "input": text,
            "verdict": self.verdict.value,
            "reason": self.reason.value,
            "message": self.message("vi"),
            "message_en": self.message("en"),
            "detail": self.detail,
            "warning": self.warning,
            "screening": self.screening,
            "advice": gettext("vi", self.advice),
            "advice_en": self.advice,
            "credential": None if self.credential is None else self.credential.to_json(),
        }


def _decision(reason: Reason, detail: str = "", **fields: Any) -> Decision:
    return Decision(verdict_for(reason), reason, detail, **fields)


def clock_suspect(bundle: TrustBundle, state: GateState, now: datetime) -> bool:
    """True when `now` is below the time floor by more than the policy's clock tolerance.

    A step back within the tolerance gains nothing the ticket checks do not already allow, and
    it absorbs the small corrections a time service makes.
    """
    tolerance_ms = bundle.policy.clock_tolerance_seconds * 1000
    return state.time_floor_ms > 0 and to_ms(now) < state.time_floor_ms - tolerance_ms


def decide(text: str, bundle: TrustBundle, state: GateState, now: datetime) -> Decision:
    """Verify a scanned text and apply the clock, bundle freshness, zone, direction and entry policy."""
    freshness = bundle.freshness(now)
    warning = "bundle_expired" if freshness is Freshness.EXPIRED else ""
    suspect = clock_suspect(bundle, state, now)
    try:
        verified = credential.verify(text, bundle, now)
    except CredentialError as error:
        context: dict[str, Any] = {"credential": error.credential, "kid": error.kid, "warning": warning}
        if suspect and error.reason in _CLOCK_DEPENDENT:
            return _suspect(state, now, **context)
        return _decision(error.reason, error.detail, **context)
    if suspect:
        return _suspect(state, now, credential=verified.credential, kid=verified.kid, warning=warning)
    return admit_by_policy(verified.credential, verified.kid, bundle, state, now, warning=warning)


def _suspect(state: GateState, now: datetime, **context: Any) -> Decision:
    floor = from_ms(state.time_floor_ms).isoformat()
    detail = f"the clock says {now.astimezone(UTC).isoformat()}, below the last known time {floor}"
    return _decision(Reason.CLOCK_SUSPECT, detail, **context)


def admit_by_policy(
    cred: Credential,
    kid: bytes | None,
    bundle: TrustBundle,
    state: GateState,
    now: datetime,
    *,
    warning: str = "",
) -> Decision:
    """The steps after a credential verified: bundle freshness, zone, direction, entries, screening."""
    context: dict[str, Any] = {"credential": cred, "kid": kid, "warning": warning}
    if bundle.freshness(now) is Freshness.STALE:
        # the code itself verified, but revocations newer than this bundle may be missing
        detail = f"bundle v{bundle.version} expired at {bundle.expires_at.isoformat()}; sync the gate"
        return _decision(Reason.BUNDLE_STALE, detail, **{**context, "warning": ""})
    if state.direction is Direction.OUT:
        # a way out is never barred by zone, passback or entry limits: the person is leaving
        return _decision(Reason.ADMITTED, "exit", **context)
    if state.zone is not None and state.zone not in cred.zones:
        detail = f"zone {state.zone!r} is not among {', '.join(cred.zones) or 'none'}"
        return _decision(Reason.ZONE_NOT_ALLOWED, detail, **context)
    cti = cred.credential_id
    policy = bundle.policy
    if policy.reentry_after_exit and cti in state.inside:
        return _decision(Reason.ALREADY_INSIDE, "entered before and has not exited", **context)
    used = state.entries_of(cti)
    if policy.entries_per_credential and used >= policy.entries_per_credential:
        detail = f"{used} of {policy.entries_per_credential} entries used"
        return _decision(Reason.ENTRY_LIMIT_REACHED, detail, **context)
    return _decision(Reason.ADMITTED, **context)


def needs_screening(decision: Decision, bundle: TrustBundle, state: GateState) -> bool:
    """True when an admission waits on health screening: the event screens and the guest is coming in."""
    return (
        bundle.policy.screening.enabled
        and decision.verdict is Verdict.ADMIT
        and decision.credential is not None
        and state.direction is Direction.IN
    )


def screened(decision: Decision, result: screening.Result) -> Decision:
    """An admission once screening ran: still admitted, or referred with the reason and advice."""
    if result.reason is None:
        return replace(decision, screening=result.outcome.value, screening_details=result.details)
    return replace(
        decision,
        verdict=verdict_for(result.reason),
        reason=result.reason,
        detail=f"screening: {result.outcome.value}",
        screening=result.outcome.value,
        advice=result.advice,
        screening_details=result.details,
    )


def screen(
    decision: Decision, bundle: TrustBundle, state: GateState, now: datetime, entry: screening.Entry | None
) -> Decision:
    """Apply the event's screening to a decision with what the operator gave (None: nothing yet)."""
    if not needs_screening(decision, bundle, state):
        return decision
    assert decision.credential is not None  # needs_screening checked it
    tolerance = timedelta(seconds=bundle.policy.clock_tolerance_seconds)
    result = screening.assess(decision.credential, bundle.policy.screening, event_time(bundle, now), entry, tolerance)
    return screened(decision, result)


def event_time(bundle: TrustBundle, now: datetime) -> datetime:
    """`now` in the event's time zone: a certificate's days are counted on the calendar where it is shown."""
    try:
        return now.astimezone(ZoneInfo(bundle.event.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return now


def decide_manual(
    cti: bytes,
    bundle: TrustBundle,
    state: GateState,
    now: datetime,
    known: Credential | None,
) -> Decision:
    """A decision for a damaged badge looked up by staff: no signature to check, only the id.

    `known` is the credential as it verified earlier on this gate, if it did; without it only the
    bundle's revocation list and names speak for the id, so the zone cannot be checked.
    """
    if clock_suspect(bundle, state, now):
        return _suspect(state, now, credential=known)
    if cti in bundle.revoked:
        return _decision(Reason.REVOKED, f"credential {cti.hex()} is revoked", credential=known)
    if known is not None:
        if now < known.not_before:
            return _decision(Reason.NOT_YET_VALID, f"valid from {known.not_before.isoformat()}", credential=known)
        if now >= known.expires_at:
            return _decision(Reason.EXPIRED, f"expired at {known.expires_at.isoformat()}", credential=known)
        return admit_by_policy(known, None, bundle, state, now)
    name = bundle.names.get(cti, "")
    placeholder = Credential(
        issuer=bundle.issuer,
        event_id=bundle.event.id,
        credential_id=cti,
        issued_at=bundle.issued_at,
        not_before=bundle.event.start,
        expires_at=bundle.event.end,
        name=name or cti.hex()[:8],
        zones=() if state.zone is None else (state.zone,),
    )
    return admit_by_policy(placeholder, None, bundle, state, now)


def refused_by_staff(shown: Decision | None) -> Decision:
    """The decision a staff refusal journals: deny, refused_by_staff, about the person last shown."""
    cred = None if shown is None else shown.credential
    kid = None if shown is None else shown.kid
    return Decision(Verdict.DENY, Reason.REFUSED_BY_STAFF, "refused by staff", credential=cred, kid=kid)


def clock_acknowledged() -> Decision:
    """The decision an operator's clock confirmation journals (verdict refer: it admits no one)."""
    return Decision(Verdict.REFER, Reason.CLOCK_ACKNOWLEDGED, "the operator confirmed the clock")
