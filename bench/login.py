"""Login benchmark: what an unknown name, a wrong password, a throttled try and a good login cost
through the real login form (Flask's test client over a real SQLite deployment), so the refusals
can be compared: they must take about the same time (one argon2id verification each, a dummy hash
for unknown names), or the answer's timing would tell which user names exist. Also the cost of a
page with the server-side session (a database lookup per request).

Prints one table: median and p95 in milliseconds, and each against the wrong password's median.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flask.testing import FlaskClient

from checkin.config import load
from checkin.keystore import KeyStore
from checkin.store import Store, throttle, users
from checkin.web import create_app

ROUNDS = 30
NOW = datetime(2022, 3, 26, 1, 0, tzinfo=UTC)
PASSWORD = "plum rain over the old harbour"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _client(app: object, address: str) -> FlaskClient:
    client: FlaskClient = app.test_client()  # type: ignore[attr-defined]
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _post(client: FlaskClient, username: str, password: str) -> int:
    match = _CSRF.search(client.get("/admin/login").text)
    assert match
    data = {"csrf_token": match.group(1), "username": username, "password": password}
    return client.post("/admin/login", data=data).status_code


def _timed(step: Callable[[int], int], expected: int) -> list[float]:
    import time

    times = []
    for i in range(ROUNDS):
        start = time.perf_counter()
        status = step(i)
        times.append((time.perf_counter() - start) * 1000)
        assert status == expected, (status, expected)
    return times


def main() -> None:
    """Measure and print the table."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "config.toml").write_text('[deployment]\nid = "bench"\n', encoding="utf-8")
        cfg = load(str(root / "config.toml"))
        KeyStore(cfg.keys_dir).init(None, NOW)
        store = Store(cfg.database_url)
        store.migrate()
        users.create_user(store, "lan", users.Role.REGISTRAR, PASSWORD, NOW, actor="bench")
        app = create_app(cfg, {"CLOCK": lambda: NOW, "TESTING": True})
        throttled_from = "203.0.113.200"
        for _ in range(throttle.PAIR_FREE + 10):  # this address and name now wait far longer than the run
            throttle.claim(store, throttle.login_budgets(throttled_from, "lan"), NOW)
        logged_in = _client(app, "198.51.100.1")
        _post(logged_in, "lan", PASSWORD)
        rows = {
            # each refusal from its own address, so none of them is throttled by the run itself
            "unknown name": _timed(lambda i: _post(_client(app, f"10.1.0.{i}"), "nobody", "a wrong password"), 401),
            "wrong password": _timed(lambda i: _post(_client(app, f"10.2.0.{i}"), "lan", "a wrong password"), 401),
            "throttled (right password)": _timed(lambda i: _post(_client(app, throttled_from), "lan", PASSWORD), 401),
            "good login": _timed(lambda i: _post(_client(app, f"10.3.0.{i}"), "lan", PASSWORD), 302),
            "page with a DB session": _timed(lambda i: logged_in.get("/admin/events").status_code, 200),
        }
        app.extensions["checkin.store"].dispose()
        store.dispose()
    base = statistics.median(rows["wrong password"])
    print(f"login form, {ROUNDS} requests each (Flask test client, SQLite, argon2id t=3 m=64 MiB)")
    print(f"{'what':30} {'median ms':>10} {'p95 ms':>8} {'vs wrong pw':>12}")
    for name, times in rows.items():
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"{name:30} {statistics.median(times):10.1f} {p95:8.1f} {statistics.median(times) / base:11.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
