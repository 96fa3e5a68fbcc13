"""The officer's dashboard (and the gate page), through the real Flask page, an officer logged in.

Its figures come from the counters `upload_journal` keeps as rows arrive (`store.counters`); the
event was stored through it, so they are the real ones.
"""

from __future__ import annotations

from flask.testing import FlaskClient

from bench.auditparts.event import EVENT, Deployment
from bench.auditparts.table import Row, ms, pct, timed, verdict

REQUESTS, WARMUP = 30, 3
TARGET_MS = 200.0


def page_times(deployment: Deployment, client: FlaskClient) -> list[Row]:
    """Dashboard and gate page, median / p95 of REQUESTS requests after WARMUP untimed."""

    def get(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    dashboard = timed(lambda: get(f"/audit/events/{EVENT}"), REQUESTS, WARMUP)
    gate = timed(lambda: get(f"/audit/events/{EVENT}/gates/{deployment.devices[0].id}"), REQUESTS, WARMUP)
    p95 = pct(dashboard, 0.95) * 1e3
    return [
        (
            "dashboard page, med / p95",
            ms(dashboard),
            f"{REQUESTS} requests",
            f"p95 <= {TARGET_MS:.0f} ms: {verdict(p95 <= TARGET_MS)}",
        ),
        ("gate page, med / p95", ms(gate), f"{REQUESTS} requests", ""),
    ]
