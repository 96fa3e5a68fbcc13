"""The dashboard's 15-minute chart, drawn on the server as SVG: no script, no charting library.

This module only does the geometry (where each line's points and each tick go); the template
`audit/_chart.html` writes the SVG, so every text in it is escaped like the rest of the page. Each
line differs by its dash pattern as well as its colour, and a table beside the chart holds the same
numbers for screen readers and for anyone who cannot tell the lines apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 24, 12, 30  # room for the axis labels


@dataclass(frozen=True)
class Line:
    """One series: its key (entries, exits, denials) and its points as SVG writes them."""

    key: str
    points: str
    dots: tuple[tuple[float, float], ...]  # drawn where there are too few points for a line


@dataclass(frozen=True)
class Tick:
    """A label on an axis, at a position in the chart's coordinates."""

    at: float
    text: str


@dataclass(frozen=True)
class Chart:
    """A chart's geometry in a WIDTH x HEIGHT box."""

    lines: tuple[Line, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    top: int  # the value at the top of the plot
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    plot_top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def _nice_top(value: int) -> int:
    """The smallest of 1, 2, 4, 6, 8 × 10^n (from 4 up) at or above `value`: round numbers on the axis,
    and an even top, so the middle tick is a whole number too."""
    top = 4
    step = 1
    while True:
        for factor in (1, 2, 4, 6, 8):
            if step * factor >= max(value, top):
                return step * factor
        step *= 10


def _label_every(slots: int) -> int:
    """How many 15-minute slots between time labels: hourly, or less often on a long chart."""
    for every in (4, 8, 16, 24):
        if slots / every <= 8:
            return every
    return 48


@dataclass(frozen=True)
class TimeAxis:
    """The time axis of every chart over one window, worked out once for all of them: x ticks at
    round hours (or at both ends of a chart shorter than an hour)."""

    slots: int
    ticks: tuple[tuple[int, str], ...]  # (slot index, HH:MM in the event's zone)


def time_axis(starts: list[datetime], timezone: str) -> TimeAxis:
    """The axis for slots starting at `starts`, labelled in `timezone`."""
    zone = ZoneInfo(timezone)
    local = [start.astimezone(zone) for start in starts]
    every = _label_every(len(starts))
    ticks = tuple((i, t.strftime("%H:%M")) for i, t in enumerate(local) if t.minute == 0 and (t.hour * 4) % every == 0)
    if not ticks and local:  # a chart shorter than an hour: its first and last slot
        ticks = tuple((i, local[i].strftime("%H:%M")) for i in sorted({0, len(local) - 1}))
    return TimeAxis(len(starts), ticks)


def line_chart(series: dict[str, tuple[int, ...]], axis: TimeAxis) -> Chart:
    """The geometry of lines for `series` (key -> one value per slot of `axis`)."""
    slots = axis.slots
    top = _nice_top(max((max(values, default=0) for values in series.values()), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / (slots - 1) if slots > 1 else 0.0
    first_x = LEFT if slots > 1 else LEFT + plot_w / 2
    scale = plot_h / top

    lines = []
    for key, values in series.items():
        points = [(round(first_x + i * step, 1), round(TOP + plot_h - v * scale, 1)) for i, v in enumerate(values)]
        lines.append(Line(key, " ".join(f"{px},{py}" for px, py in points), tuple(points) if slots == 1 else ()))
    y_ticks = tuple(Tick(round(TOP + plot_h - v * scale, 1), str(v)) for v in (0, top // 2, top))
    x_ticks = tuple(Tick(round(first_x + i * step, 1), text) for i, text in axis.ticks)
    return Chart(tuple(lines), y_ticks, x_ticks, top)
