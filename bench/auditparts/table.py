"""The rows of the audit benchmark's tables and their printing."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

Row = tuple[str, str, str, str]  # measured, value, alternative or limit, target
HEADER: Row = ("measured", "value", "alternative / detail (same run)", "target")


def pct(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    """Median / p95 of seconds, in milliseconds."""
    return f"{statistics.median(values) * 1e3:.1f} / {pct(values, 0.95) * 1e3:.1f} ms"


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def timed(call: Callable[[], Any], times: int, warmup: int = 0) -> list[float]:
    """Seconds of each of `times` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        call()
        spent.append(time.perf_counter() - began)
    return spent


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def show(title: str, rows: list[Row]) -> None:
    """One table, its title above."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    print(f"\n{title}")
    for line in (HEADER, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip(), flush=True)
