"""The officer's scan search and its exports, through the real pages (Flask test client, an officer).

A few typical filters, each requested RUNS times after a warm-up, a page of results each (and a page
200 pages in, by the keyset cursor the page links to); then the whole event exported as CSV and as
JSON, the body read to its end (the download streams).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from bench.auditparts.event import EVENT, START, Deployment
from bench.auditparts.table import Row, pct, timed, verdict

RUNS, WARMUP = 20, 2
TARGET_MS = 200.0
PAGES_IN = 200


def _get(client: FlaskClient, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data()


def _deep_page(client: FlaskClient) -> str:
    """The link to the page PAGES_IN pages in, followed as the officer would."""
    path = f"/audit/events/{EVENT}/scans"
    for _ in range(PAGES_IN):
        found = re.search(rb'href="([^"]*[?&]after=[^"]*)"', _get(client, path))
        assert found is not None, "no next page"
        path = found.group(1).decode().replace("&amp;", "&")
    return path


def search_times(deployment: Deployment, client: FlaskClient) -> list[Row]:
    """p95 of each typical filter; the table's rows (the worst p95 against the target)."""
    middle = START + (deployment.now - START) / 2  # an hour in the middle of what the event holds
    local = middle.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    hour = {"since": local.strftime("%Y-%m-%dT%H:%M"), "until": (local + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}
    cases = {
        "newest page": {},
        "one gate": {"gate": deployment.devices[7].id},
        "one hour": hour,
        "reason already_inside": {"reason": "already_inside"},
        "zone vip, denied": {"zone": "vip", "verdict": "deny"},
        "name 'nguyen thi anh'": {"name": "nguyen thi anh"},
        "code prefix": {"code": deployment.ctis[42][:10]},
    }
    paths = {name: f"/audit/events/{EVENT}/scans?{urlencode(args)}" for name, args in cases.items()}
    paths[f"page {PAGES_IN + 1} (keyset link)"] = _deep_page(client)
    rows: list[Row] = []
    worst = 0.0
    for name, path in paths.items():
        spent = timed(lambda p=path: _get(client, p), RUNS, WARMUP)  # type: ignore[misc]
        high = pct(spent, 0.95) * 1e3
        worst = max(worst, high)
        rows.append((f"search page: {name}", f"{pct(spent, 0.5) * 1e3:.1f} / {high:.1f} ms", "median / p95", ""))
    rows.append(
        ("search page: worst p95", f"{worst:.1f} ms", "", f"<= {TARGET_MS:.0f} ms: {verdict(worst <= TARGET_MS)}")
    )
    return rows


def export_times(client: FlaskClient) -> list[Row]:
    """The whole event downloaded as CSV and as JSON."""
    rows: list[Row] = []
    for fmt in ("csv", "json"):
        size = 0

        def download(f: str = fmt) -> None:
            nonlocal size
            size = len(_get(client, f"/audit/events/{EVENT}/scans.{f}"))

        (took,) = timed(download, 1)
        rows.append((f"export {fmt.upper()}, every scan", f"{took:.1f} s", f"{size / 1e6:.0f} MB", ""))
    return rows
