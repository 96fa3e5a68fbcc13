"""The officer's dashboard (and the gate page), through the real Flask page, an officer logged in.

Its figures come from the counters `upload_journal` keeps as rows arrive (`store.counters`); the
event was stored through it, so they are the real ones (checked against a recount from the scans).
"""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select

from bench.auditparts.event import EVENT, Deployment
from bench.auditparts.table import Row, ms, pct, timed, verdict
from checkin.store import Scan, Store, counters

REQUESTS, WARMUP = 30, 3
TARGET_MS = 200.0


def naive_dashboard(store: Store) -> None:
    """The dashboard's figures counted straight from the scans: what the counters spare each request."""
    bucket = (Scan.wall_ms / counters.BUCKET_MS).cast(type_=Scan.wall_ms.type)
    admitted = select(Scan.cti, func.max(Scan.wall_ms)).where(Scan.event_id == EVENT, Scan.verdict == "admit")
    with store.session() as s:
        s.execute(
            select(Scan.device_id, bucket, Scan.verdict, Scan.direction, func.count())
            .where(Scan.event_id == EVENT)
            .group_by(Scan.device_id, bucket, Scan.verdict, Scan.direction)
        ).all()
        latest = admitted.group_by(Scan.cti).subquery()
        s.execute(select(func.count()).select_from(latest)).all()
        s.execute(
            select(Scan.zone, func.count(func.distinct(Scan.cti)))
            .where(Scan.event_id == EVENT, Scan.verdict == "admit", Scan.direction == "in")
            .group_by(Scan.zone)
        ).all()


def page_times(deployment: Deployment, client: FlaskClient) -> list[Row]:
    """Dashboard and gate page, median / p95 of REQUESTS requests after WARMUP untimed; beside the
    dashboard, its figures counted from the scans. The counters kept at ingest must equal a recount."""
    assert counters.stored(deployment.store, EVENT) == counters.recount(deployment.store, EVENT), "counters differ"

    def get(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    dashboard = timed(lambda: get(f"/audit/events/{EVENT}"), REQUESTS, WARMUP)
    gate = timed(lambda: get(f"/audit/events/{EVENT}/gates/{deployment.devices[0].id}"), REQUESTS, WARMUP)
    naive = timed(lambda: naive_dashboard(deployment.store), 3, 1)
    p95 = pct(dashboard, 0.95) * 1e3
    return [
        (
            "dashboard page, med / p95",
            ms(dashboard),
            f"{REQUESTS} requests; its figures counted from the scans instead: {ms(naive)}",
            f"p95 <= {TARGET_MS:.0f} ms: {verdict(p95 <= TARGET_MS)}",
        ),
        ("gate page, med / p95", ms(gate), f"{REQUESTS} requests", ""),
    ]
