"""The security officer's dashboard and gate page, read from the counters kept at ingest
(`store.counters`) and a few small tables: nothing here reads the scans themselves, so the pages
cost the same at a thousand scans and at a million."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from checkin.core.errors import Reason
from checkin.services.findings import SEVERITY_ORDER
from checkin.store import Alert, Device, DeviceStatus, Event, Store, counters, reports
from checkin.store import devices as stored_devices
from checkin.store.counters import BUCKET_MS, TOTAL, Bucket, ZoneCount

CHART_BUCKETS = 96  # the chart shows at most a day of 15 minutes, ending at the latest
_MARGIN = timedelta(days=1)  # scans this far before the event's start or after its end are charted
CHAIN_KINDS = frozenset({Reason.JOURNAL_GAP, Reason.JOURNAL_FORK, Reason.BROKEN_CHAIN, Reason.BAD_CHECKPOINT})
SEAL_KINDS = frozenset({Reason.BAD_SEAL, Reason.MISSING_SEAL})


@dataclass(frozen=True)
class Series:
    """One gate's counts per 15 minutes over the chart's window (zeros where it scanned nothing)."""

    device: Device
    entries: tuple[int, ...]
    exits: tuple[int, ...]
    denials: tuple[int, ...]

    @property
    def busy(self) -> list[tuple[int, int, int, int]]:
        """(slot, entries, exits, denials) of each slot with any scan, for the table beside the chart."""
        return [
            (i, *counts)
            for i, counts in enumerate(zip(self.entries, self.exits, self.denials, strict=True))
            if any(counts)
        ]

    @property
    def totals(self) -> tuple[int, int, int]:
        """Entries, exits and denials over the window."""
        return sum(self.entries), sum(self.exits), sum(self.denials)


@dataclass(frozen=True)
class Window:
    """The chart's 15-minute slots: the first slot's start (UTC ms) and how many."""

    first_ms: int
    slots: int

    @property
    def starts(self) -> list[datetime]:
        """Each slot's start."""
        return [datetime.fromtimestamp((self.first_ms + i * BUCKET_MS) / 1000, UTC) for i in range(self.slots)]


@dataclass(frozen=True)
class GateLine:
    """A gate as the dashboard lists it."""

    device: Device
    open_alerts: int


@dataclass(frozen=True)
class ScreeningHour:
    """The health screening at one gate in one hour (local time): how many people were screened
    and how many of them referred to the medical desk. Counts only: no name, no reading."""

    start: datetime  # the hour's start, in the event's time zone
    device: Device
    screened: int
    referred: int


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows of one event."""

    event: Event
    zones: tuple[ZoneCount, ...]  # in the event's zone order, then zones only the scans name
    total: ZoneCount
    alerts: tuple[tuple[str, int], ...]  # (severity or kind, open count), most urgent first
    gates: tuple[GateLine, ...]
    window: Window | None
    series: tuple[Series, ...]
    screening: tuple[ScreeningHour, ...] = ()

    @property
    def open_alerts(self) -> int:
        """Open alerts in all."""
        return sum(n for _, n in self.alerts)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _slot(ms: int) -> int:
    return ms // BUCKET_MS * BUCKET_MS


def presence(store: Store, event: Event) -> tuple[tuple[ZoneCount, ...], ZoneCount]:
    """Inside now and entered so far per zone (the event's zones first, each shown even at zero) and in total."""
    counts = counters.presence_counts(store, event.id)
    total = counts.pop(TOTAL)
    order = list(event.zone_codes) + sorted(z for z in counts if z not in event.zone_codes)
    return tuple(counts.get(z, ZoneCount(z, 0, 0)) for z in order), total


def chart(
    store: Store, event: Event, gates: Sequence[Device], now: datetime
) -> tuple[Window | None, tuple[Series, ...]]:
    """Each gate's 15-minute counts over the latest day with scans around the event (up to now while it runs)."""
    low, high = _slot(_ms(event.start - _MARGIN)), _slot(_ms(event.end + _MARGIN))
    span = counters.bucket_span(store, event.id, low, high)
    if span is None:
        return None, ()
    first, last = span
    if first <= _ms(now) <= high:  # while the event runs, the chart runs up to now
        last = max(last, _slot(_ms(now)))
    first = max(first, last - (CHART_BUCKETS - 1) * BUCKET_MS)
    window = Window(first, (last - first) // BUCKET_MS + 1)
    found: dict[str, dict[int, Bucket]] = {}
    for bucket in counters.buckets(store, event.id, first, last):
        found.setdefault(bucket.device_id, {})[bucket.start_ms] = bucket
    series = []
    for device in gates:
        mine = found.get(device.id, {})
        slots = [mine.get(first + i * BUCKET_MS) for i in range(window.slots)]
        series.append(
            Series(
                device,
                tuple(b.entries if b else 0 for b in slots),
                tuple(b.exits if b else 0 for b in slots),
                tuple(b.denials if b else 0 for b in slots),
            )
        )
    return window, tuple(series)


def _ordered_alerts(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    rank = {s.value: i for i, s in enumerate(SEVERITY_ORDER)}
    return tuple(sorted(counts.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def screening(store: Store, event: Event, gates: Sequence[Device]) -> tuple[ScreeningHour, ...]:
    """The health screening's figures per hour and gate around the event, oldest first (hours with
    none left out), from the 15-minute counters: no scan and no name is read."""
    low, high = _slot(_ms(event.start - _MARGIN)), _slot(_ms(event.end + _MARGIN))
    tz, by_id = ZoneInfo(event.timezone), {d.id: d for d in gates}
    hours: dict[tuple[datetime, str], tuple[int, int]] = {}
    for bucket in counters.buckets(store, event.id, low, high):
        if not bucket.screened or bucket.device_id not in by_id:
            continue
        local = datetime.fromtimestamp(bucket.start_ms / 1000, UTC).astimezone(tz)
        key = (local.replace(minute=0, second=0, microsecond=0), bucket.device_id)
        screened, referred = hours.get(key, (0, 0))
        hours[key] = (screened + bucket.screened, referred + bucket.referred)
    ordered = sorted(hours.items(), key=lambda item: (item[0][0], by_id[item[0][1]].name))
    return tuple(ScreeningHour(start, by_id[device], *counts) for (start, device), counts in ordered)


def dashboard(store: Store, event: Event, now: datetime) -> Dashboard:
    """The event's dashboard as it stands at `now`."""
    zones, total = presence(store, event)
    gates = stored_devices.devices(store, event.id)
    by_device = reports.open_alert_count_by_device(store, event.id)
    window, series = chart(store, event, [d for d in gates if d.status != DeviceStatus.PENDING], now)
    return Dashboard(
        event=event,
        zones=zones,
        total=total,
        alerts=_ordered_alerts(reports.open_alert_counts(store, event.id)),
        gates=tuple(GateLine(d, by_device.get(d.id, 0)) for d in gates),
        window=window,
        series=series,
        screening=screening(store, event, gates),
    )


# ---- one gate -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateReport:
    """What the gate page shows: sync, rows held and missing, clock, chain and seals."""

    device: Device
    last_sync: datetime | None  # when its newest checkpoint arrived
    clock_offset_ms: int | None  # the gate's clock minus the server's, when it signed that checkpoint
    missing: tuple[tuple[int, int], ...]  # seq ranges a refused batch skipped (first, last)
    chain_alerts: tuple[Alert, ...]
    seal_alerts: tuple[Alert, ...]
    other_alerts: tuple[Alert, ...]
    sealed: bool  # the gate sent a sealing seed at enrolment
    seals_checked: int  # rows whose seal the service verified (1..seals_checked)
    window: Window | None
    series: Series | None

    @property
    def chain_intact(self) -> bool:
        """No open chain alert (gap, fork, broken chain, bad checkpoint)."""
        return not self.chain_alerts

    @property
    def seals_intact(self) -> bool:
        """Every held row's seal checked and none failed."""
        return self.sealed and not self.seal_alerts and self.seals_checked >= self.device.acked_seq


def gate_report(store: Store, event: Event, device: Device, now: datetime) -> GateReport:
    """The gate page of one gate of `event`."""
    checkpoint = reports.newest_checkpoint(store, device.id)
    offset = None
    if checkpoint is not None:
        offset = checkpoint.wall_ms - _ms(checkpoint.received_at)
    alerts = reports.open_alerts(store, device.id)
    chain_alerts = tuple(a for a in alerts if a.kind in CHAIN_KINDS)
    seal_alerts = tuple(a for a in alerts if a.kind in SEAL_KINDS)
    others = tuple(a for a in alerts if a.kind not in CHAIN_KINDS | SEAL_KINDS)
    # a refused batch that started past the held rows says which rows the service has not seen
    gaps = sorted({a.seq for a in chain_alerts if a.kind == Reason.JOURNAL_GAP and a.seq is not None})
    missing = ((device.acked_seq + 1, gaps[-1] - 1),) if gaps and gaps[-1] - 1 > device.acked_seq else ()
    window, series = chart(store, event, [device], now)
    return GateReport(
        device=device,
        last_sync=None if checkpoint is None else checkpoint.received_at,
        clock_offset_ms=offset,
        missing=missing,
        chain_alerts=chain_alerts,
        seal_alerts=seal_alerts,
        other_alerts=others,
        sealed=bool(device.seal_seed),
        seals_checked=max(0, device.seal_seq - 1) if device.seal_seed else 0,
        window=window,
        series=series[0] if series else None,
    )
