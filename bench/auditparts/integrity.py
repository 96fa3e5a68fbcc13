"""The full `audit verify` of the event: `services.audit.verify_event` over every gate's rows."""

from __future__ import annotations

import os
import time

from bench.auditparts.event import EVENT, Deployment
from bench.auditparts.table import Row, verdict
from checkin.services import audit

TARGET_S_PER_MILLION = 30.0


def verify_time(deployment: Deployment) -> list[Row]:
    """Time the full verify (chains, seals, checkpoints, ledger, times) of all gates; it must find nothing."""
    began, began_cpu = time.perf_counter(), time.process_time()
    workers = os.cpu_count() or 1  # as `checkin audit verify` runs it
    gates = audit.verify_event(deployment.store, EVENT, deployment.now, workers=workers)
    took, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    rows = sum(g.rows_held for g in gates)
    faults = [f.detail for g in gates for f in g.findings]
    assert not faults, faults[:5]
    limit = TARGET_S_PER_MILLION * rows / 1_000_000
    return [
        (
            f"full verify_event, {len(gates)} gates, {rows:,} rows",
            f"{took:.1f} s",
            f"{workers} processes; {cpu:.1f} CPU s in this one; {rows / took:,.0f} rows/s; no finding",
            f"<= {limit:.1f} s (30 s per 1,000,000): {verdict(took <= limit)}",
        )
    ]
