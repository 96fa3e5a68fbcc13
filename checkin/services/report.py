"""The event report: what an officer hands over, as one value made from the store.

`event_report(store, event_id, now)` assembles an `EventReport` (counts, who is inside per zone, the
15-minute chart per gate, the alerts with their state and notes, every gate's integrity); the signed
PDF (`checkin.reportpdf`) draws it, and pages or exports may show the same value. Times are in the
event's time zone (Asia/Ho_Chi_Minh for every event so far).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from checkin.core.errors import Reason
from checkin.services import audit
from checkin.services.findings import AlertState, Severity
from checkin.store import Alert, Device, Store
from checkin.store.models import CredentialStatus
from checkin.store.tallies import EventRecords, Tally, event_records

SLOT = timedelta(minutes=15)
CHART_MARGIN = timedelta(hours=6)  # rows further than this outside the event are counted, not charted


@dataclass(frozen=True)
class EventFacts:
    """The event as the report's heading names it; times in its time zone."""

    id: str
    name: str
    venue: str
    timezone: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Counts:
    """The event's totals. `entered` and `inside` count people (credentials), the rest journal rows."""

    guests: int
    codes_issued: int
    codes_revoked: int
    entered: int
    inside: int
    entries: int
    exits: int
    denials: int
    referrals: int


@dataclass(frozen=True)
class ZoneCount:
    """One zone: its code, its names, who entered it so far and who is inside now."""

    code: str
    name_vi: str
    name_en: str
    entered: int
    inside: int

    def name(self, lang: str) -> str:
        """The zone's name in `lang`, else the other language's, else its code."""
        first, second = (self.name_vi, self.name_en) if lang == "vi" else (self.name_en, self.name_vi)
        return first or second or self.code


@dataclass(frozen=True)
class SlotCount:
    """What one gate recorded in one 15-minute slot."""

    entries: int = 0
    exits: int = 0
    denials: int = 0


@dataclass(frozen=True)
class GateSeries:
    """One gate's row of the chart: a SlotCount per slot of `Chart.starts`."""

    device_id: str
    name: str
    slots: tuple[SlotCount, ...]


@dataclass(frozen=True)
class Chart:
    """Entries, exits and denials per 15 minutes per gate; `starts` are the slots' starts (local time)."""

    starts: tuple[datetime, ...]
    gates: tuple[GateSeries, ...]
    step: timedelta = SLOT


@dataclass(frozen=True)
class AlertLine:
    """One alert as the report lists it."""

    id: int
    created: datetime
    gate: str
    seq: int | None
    kind: str
    severity: Severity
    state: AlertState
    note: str
    detail: str


@dataclass(frozen=True)
class GateIntegrity:
    """One gate's records: how many rows the service holds, how far their seals were checked, the
    checkpoints held, and the integrity faults found (reason codes; none when intact)."""

    device_id: str
    name: str
    zone: str
    direction: str
    status: str
    rows_held: int
    seals_checked: int
    checkpoints: int
    last_seen: datetime | None
    faults: tuple[str, ...]

    @property
    def intact(self) -> bool:
        """True when nothing is wrong and every held row's seal was checked."""
        return not self.faults and self.seals_checked >= self.rows_held


@dataclass(frozen=True)
class EventReport:
    """Everything the report shows, at `generated_at`."""

    event: EventFacts
    generated_at: datetime
    counts: Counts
    zones: tuple[ZoneCount, ...]
    chart: Chart
    alerts: tuple[AlertLine, ...]
    gates: tuple[GateIntegrity, ...]


def event_report(store: Store, event_id: str, now: datetime, *, workers: int = 1) -> EventReport:
    """The report of one event as it stands at `now`."""
    records = event_records(store, event_id, int(SLOT.total_seconds() * 1000))
    ev = records.event
    tz = ZoneInfo(ev.timezone)
    facts = EventFacts(ev.id, ev.name, ev.venue, ev.timezone, ev.start.astimezone(tz), ev.end.astimezone(tz))
    names = {d.id: d.name for d in records.devices}
    presence = records.presence
    entered, inside = presence.entered, presence.inside
    zones = tuple(
        ZoneCount(code, *_zone_names(records, code), entered.get(code, 0), inside.get(code, 0))
        for code in (*ev.zone_codes, *sorted((set(entered) | set(inside)) - set(ev.zone_codes)))
    )
    rows = Counter[str]()
    for tally in records.tallies:
        rows[_column(tally)] += tally.count
    counts = Counts(
        guests=records.guests,
        codes_issued=sum(records.codes.values()),
        codes_revoked=records.codes.get(CredentialStatus.REVOKED, 0),
        entered=presence.people,
        inside=sum(inside.values()),
        entries=rows["entries"],
        exits=rows["exits"],
        denials=rows["denials"],
        referrals=rows["referrals"],
    )
    alerts = tuple(_alert_line(a, names, tz) for a in records.alerts)
    return EventReport(
        event=facts,
        generated_at=now.astimezone(tz),
        counts=counts,
        zones=zones,
        chart=_chart(records, names, tz),
        alerts=alerts,
        gates=_gate_integrity(store, records, now, tz, workers),
    )


# ---- the parts ------------------------------------------------------------------------------------


def _zone_names(records: EventRecords, code: str) -> tuple[str, str]:
    zone = next((z for z in records.event.zones if z.code == code), None)
    return (zone.name_vi, zone.name_en) if zone is not None else ("", "")


def _column(tally: Tally) -> str:
    """Which count a tally adds to: entries, exits, denials or referrals."""
    if tally.verdict == "admit":
        return "entries" if tally.direction == "in" else "exits"
    return "referrals" if tally.verdict == "refer" else "denials"


def _chart(records: EventRecords, names: dict[str, str], tz: ZoneInfo) -> Chart:
    slot_ms = int(SLOT.total_seconds() * 1000)
    ev = records.event
    low = int((ev.start - CHART_MARGIN).timestamp() * 1000) // slot_ms
    high = int((ev.end + CHART_MARGIN).timestamp() * 1000) // slot_ms
    shown = [t for t in records.tallies if low <= t.slot <= high and _column(t) != "referrals"]
    if not shown:
        return Chart((), ())
    first, last = min(t.slot for t in shown), max(t.slot for t in shown)
    cells: dict[str, list[Counter[str]]] = {}
    for tally in shown:
        series = cells.setdefault(tally.device_id, [Counter() for _ in range(last - first + 1)])
        series[tally.slot - first][_column(tally)] += tally.count
    order = [d.id for d in records.devices if d.id in cells]
    gates = tuple(
        GateSeries(
            device_id,
            names.get(device_id, device_id),
            tuple(SlotCount(c["entries"], c["exits"], c["denials"]) for c in cells[device_id]),
        )
        for device_id in order
    )
    starts = tuple(datetime.fromtimestamp(slot * slot_ms / 1000, UTC).astimezone(tz) for slot in range(first, last + 1))
    return Chart(starts, gates)


def _alert_state(alert: Alert) -> tuple[AlertState, str]:
    """Where an officer stands with an alert, and their note (an unknown state, a newer service's: open)."""
    known = alert.state in AlertState._value2member_map_
    return (AlertState(alert.state) if known else AlertState.OPEN), alert.note


def _alert_line(alert: Alert, names: dict[str, str], tz: ZoneInfo) -> AlertLine:
    state, note = _alert_state(alert)
    severity = Severity(alert.severity) if alert.severity in Severity._value2member_map_ else Severity.HIGH
    gate = names.get(alert.device_id, alert.device_id) if alert.device_id else ""
    return AlertLine(
        id=alert.id,
        created=alert.created.astimezone(tz),
        gate=gate,
        seq=alert.seq,
        kind=alert.kind,
        severity=severity,
        state=state,
        note=note,
        detail=alert.detail,
    )


def _gate_integrity(
    store: Store, records: EventRecords, now: datetime, tz: ZoneInfo, workers: int
) -> tuple[GateIntegrity, ...]:
    """Every gate's integrity as the audit finds it now (services.audit.verify_event: chains, seals,
    checkpoints and the ledger re-verified end to end), with what ingest keeps (rows, seals checked)."""
    gates = audit.verify_event(store, records.event.id, now, workers=workers)
    faults = {gate.device_id: {f.kind.value for f in gate.faults} for gate in gates}
    for gate in gates:  # a gate that gave no sealing seed: its rows could be rewritten unseen, said in the report
        if gate.seals_ok is None:
            faults[gate.device_id].add(Reason.SEALS_UNCHECKED.value)
    return tuple(_gate(d, records.checkpoints.get(d.id, 0), faults.get(d.id, set()), tz) for d in records.devices)


def _gate(device: Device, checkpoints: int, faults: Sequence[str] | set[str], tz: ZoneInfo) -> GateIntegrity:
    return GateIntegrity(
        device_id=device.id,
        name=device.name,
        zone=device.zone,
        direction=device.direction,
        status=device.status,
        rows_held=device.acked_seq,
        seals_checked=device.seal_seq - 1 if device.seal_seed else 0,
        checkpoints=checkpoints,
        last_seen=device.last_seen.astimezone(tz) if device.last_seen else None,
        faults=tuple(sorted(faults)),
    )
