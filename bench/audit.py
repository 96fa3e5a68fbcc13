"""The officer's desk at scale (issue 10): an event of --scans rows from 20 gates, on SQLite and PostgreSQL.

The event is made by the real gate code (rows chained and sealed, checkpoints signed: see
bench/auditparts/event.py) and stored through the real `services.ingest.upload_journal`, so the
scans, checkpoints, the service's ledger and the dashboard's counters are all real. The preload
uploads with `analysers=[]`: the cross-gate analysis only reads the scans and keeps alerts, and the
generated crowd gives none, so skipping it there changes nothing the measurements read and saves
time; the measured batches then run with and without it. PostgreSQL is vacuumed and analysed every
100,000 rows and after the preload, as autovacuum would have done during a live event. Per database:

- the incremental analysis cost per uploaded batch of 500 (target <= 20 %);
- the full `audit verify` (`services.audit.verify_event`; target: 30 s per 1,000,000 rows);
- the dashboard page and the search page through the real Flask app, an officer logged in
  (target p95 <= 200 ms), and the CSV and JSON exports of every scan.

Then, once, on SQLite: two gates through a real WSGI server, the time from an admission at gate A
to `already_inside` at gate B (target <= 5 s).

PostgreSQL runs in a throw-away schema of $CHECKIN_TEST_DATABASE_URL, when it is set.
Run: python -m bench.audit [--scans 1000000] [--only sqlite|postgresql|sync]. Prints one table per
database, with the load average before and after (others may share the machine).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.auditparts import crossgate, dashboard, integrity, search, sync
from bench.auditparts.event import BATCH, Deployment
from bench.auditparts.table import Row, load_average, show

MEASURED_ROUNDS = 3  # rounds of 20 batches for the analysis cost: 30 batches with it, 30 without
VACUUM_EVERY = 10  # rounds of 20 batches (100,000 rows) between two vacuums of PostgreSQL during the preload


def vacuum(deployment: Deployment) -> None:
    """On PostgreSQL, what autovacuum does to tables that grew and changed this much while the event
    runs (statistics, the visibility map, dead versions of the counters' rows): a load this fast
    outruns autovacuum, and this machine's PostgreSQL runs without it, a live server would not."""
    if deployment.store.engine.dialect.name == "postgresql":
        with deployment.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")


def run(backend: str, database_for: Callable[[Path], str], scans: int) -> None:
    """Preload, then measure on one database; print its table."""
    before = load_average()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        home = Path(tmp)
        deployment = Deployment(home, database_for(home))
        gates = len(deployment.devices)
        preload = max(0, scans // (gates * BATCH) - MEASURED_ROUNDS)
        rounds = deployment.rounds()
        began = time.perf_counter()
        for n in range(preload):
            for batch in next(rounds):
                deployment.upload(batch, analysers=[])
            if n % VACUUM_EVERY == VACUUM_EVERY - 1:
                vacuum(deployment)
        took = time.perf_counter() - began
        vacuum(deployment)
        loaded = preload * gates * BATCH
        rows.append(
            (
                f"preload: {loaded:,} rows generated + uploaded",
                f"{took:.0f} s",
                f"{loaded / max(took, 1e-9):,.0f} rows/s; upload_journal, analysers=[], batches of {BATCH}",
                "",
            )
        )
        rows += crossgate.analysis_cost(deployment, rounds, MEASURED_ROUNDS)
        rows += integrity.verify_time(deployment)
        client = deployment.officer_client()
        rows += dashboard.page_times(deployment, client)
        rows += search.search_times(deployment, client)
        rows += search.export_times(client)
        deployment.store.dispose()
    rows.append(("machine", f"{os.cpu_count()} cores", f"load average before {before}, after {load_average()}", ""))
    show(f"{backend}: {(preload + MEASURED_ROUNDS) * gates * BATCH:,} scans from {gates} gates", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=1_000_000, help="rows of the event (in rounds of 20 x 500)")
    parser.add_argument("--only", choices=("sqlite", "postgresql", "sync"), help="one part only")
    args = parser.parse_args()
    if args.only in (None, "sqlite"):
        run("SQLite", lambda _home: "checkin.db", args.scans)
    if args.only in (None, "postgresql"):
        url = os.environ.get("CHECKIN_TEST_DATABASE_URL")
        if url:
            from tests.support.scratch import scratch_schema  # the test suite's throw-away schemas

            with scratch_schema(url, "bench_audit") as scoped:
                run("PostgreSQL", lambda _home: scoped, args.scans)
        else:
            print("\nPostgreSQL: skipped, CHECKIN_TEST_DATABASE_URL is not set")
    if args.only in (None, "sync"):
        before = load_average()
        rows = sync.admission_to_denial()
        rows.append(("machine", f"{os.cpu_count()} cores", f"load average before {before}, after {load_average()}", ""))
        show("Two gates online (SQLite, real WSGI server)", rows)


if __name__ == "__main__":
    main()
