"""What the cross-gate analysis adds to the upload of a batch of 500 rows.

Batches of the running event are stored by `upload_journal`, every other one with its analysers
(`services.ingest.ANALYSERS`, the cross-gate analysis: the timelines of the batch's credentials read
across the gates, analysed, findings kept) and the others with `analysers=[]` (the same upload
without them). The two alternate batch by batch, and gate by gate from one round to the next, so a
shared machine's load and the table's growth fall on both alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

from bench.auditparts.event import BATCH, Batch, Deployment
from bench.auditparts.table import Row, ms, verdict

TARGET = 0.20


def analysis_cost(deployment: Deployment, rounds: Iterator[list[Batch]], count: int) -> list[Row]:
    """Upload `count` rounds (20 batches each) with and without the analysers; the rows of the table."""
    runs: dict[bool, list[float]] = {True: [], False: []}
    alerts = 0
    for n in range(count):
        for i, batch in enumerate(next(rounds)):
            analysed = (i + n) % 2 == 0
            began = time.perf_counter()
            alerts += deployment.upload(batch, None if analysed else [])
            runs[analysed].append(time.perf_counter() - began)
    ratio = statistics.median(runs[True]) / statistics.median(runs[False]) - 1
    return [
        (f"upload of a batch of {BATCH}, with the analysis", ms(runs[True]), f"{len(runs[True])} batches", ""),
        (f"upload of a batch of {BATCH}, analysers=[]", ms(runs[False]), f"{len(runs[False])} batches", ""),
        (
            "analysis's added cost per batch (medians)",
            f"{ratio:.0%}",
            f"alerts raised: {alerts} (the generated crowd makes no double entry)",
            f"<= {TARGET:.0%}: {verdict(ratio <= TARGET)}",
        ),
    ]
