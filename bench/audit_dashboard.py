"""Officer's dashboard benchmark: the dashboard over an event of about 1,000,000 scans from 20 gates.

Rows are chained by checkin.core.chain (as gates chain them) and stored in bulk the way ingest stores
them; the counters are then rebuilt from the scans (`store.counters.rebuild`, what the migration
does). Measured on SQLite and, when CHECKIN_TEST_DATABASE_URL is set, PostgreSQL:

- the dashboard page (GET /audit/events/<id>, logged in as an officer, Flask test client): median
  and p95 of 30 requests after 3 untimed; beside it the same numbers counted straight from the scans
  (one GROUP BY per figure, what the dashboard would cost without the counters);
- the gate page and the officers' events list;
- what the counters add to ingest: a batch of 500 rows stored by `journal.ingest_journal`, then
  counted by `counters.count_new_rows` (the two halves of `services.ingest.upload_journal`);
- the full rebuild of the counters from the scans.

Run: `python -m bench.audit_dashboard [--scans N] [--only sqlite|postgresql]`. Prints one table.
Target: dashboard p95 <= 200 ms.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from checkin.config import load
from checkin.core import chain
from checkin.core.chain import JournalRow
from checkin.keystore import KeyStore
from checkin.store import Device, Scan, Store, counters, sessions, users
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store import journal as stored_journal
from checkin.store.events import NewEvent
from checkin.store.models import User

EVENT = "cds-hd-2022"
START = datetime(2022, 3, 26, 0, 30, tzinfo=UTC)  # 07:30 in Hanoi
NOW = START + timedelta(hours=8)  # the page is looked at during the event
GATES = 20
GUESTS = 100_000
REQUESTS, WARMUP = 30, 3
TARGET_MS = 200.0
BATCH = 500
ROWS: list[tuple[str, ...]] = []


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(*cells: str) -> None:
    ROWS.append(cells)


def gate_plan(index: int) -> tuple[str, str]:
    """(zone, direction) of gate `index`: 8 hall entrances, 2 VIP, 2 press, 8 exits."""
    if index < 8:
        return "hall", "in"
    if index < 10:
        return "vip", "in"
    if index < 12:
        return "press", "in"
    return "hall", "out"


def journal_of(rng: random.Random, zone: str, direction: str, count: int, ctis: list[str]) -> list[JournalRow]:
    """A gate's journal of `count` rows over the event's day, chained by checkin.core.chain."""
    first, span = int((START - timedelta(minutes=30)).timestamp() * 1000), 10 * 3600 * 1000
    times = sorted(first + rng.randrange(span) for _ in range(count))
    rows: list[JournalRow] = []
    prev: JournalRow | None = None
    for i, wall in enumerate(times):
        denied = direction == "in" and rng.random() < 0.08
        prev = chain.append(
            prev,
            wall_ms=wall,
            mono_ms=1_000 + i * 10,
            cti=rng.choice(ctis),
            kid="1a2b3c4d5e6f7081",
            verdict="deny" if denied else "admit",
            reason="already_inside" if denied else "admitted",
            direction=direction,
            zone=zone,
            operator="",
        )
        rows.append(prev)
    return rows


class Deployment:
    """A config, keys, the event, 20 enrolled gates and an officer, over one database."""

    def __init__(self, home: Path, database: str) -> None:
        path = home / "config.toml"
        path.write_text(f'[deployment]\nid = "bench"\n\n[paths]\ndatabase = "{database}"\n', encoding="utf-8")
        self.config = load(str(path))
        KeyStore(self.config.keys_dir).init(None, START - timedelta(days=30))
        self.store = Store(self.config.database_url)
        self.store.migrate()
        stored_events.create_event(
            self.store,
            NewEvent(
                EVENT,
                "Ngày Chuyển đổi số 2022",
                START,
                START + timedelta(hours=10),
                "Asia/Ho_Chi_Minh",
                ("hall", "vip", "press"),
            ),
            START - timedelta(days=1),
        )
        self.gates: list[tuple[Device, Ed25519PrivateKey]] = []
        for i in range(GATES):
            zone, direction = gate_plan(i)
            _, code = stored_devices.create_device(self.store, EVENT, f"Cổng {i + 1:02d}", zone, direction, START)
            key = Ed25519PrivateKey.generate()
            device, _ = stored_devices.enrol_device(self.store, code, key.public_key().public_bytes_raw().hex(), START)
            self.gates.append((device, key))
        with self.store.writing() as s:
            officer = User(
                username="officer",
                password_hash=users.hash_password("bench officer 2022"),
                role="officer",
                created=START,
            )
            s.add(officer)
            s.flush()
            self.officer = officer.id

    def load(self, per_gate: int, rng: random.Random) -> tuple[float, float]:
        """Chain and store `per_gate` rows for each gate in bulk; (chaining s, storing s)."""
        ctis = [rng.randbytes(16).hex() for _ in range(GUESTS)]
        chained = stored = 0.0
        for device, _key in self.gates:
            zone, direction = device.zone, device.direction
            t0 = time.perf_counter()
            rows = journal_of(rng, zone, direction, per_gate, ctis)
            t1 = time.perf_counter()
            with self.store.writing() as s:
                for at in range(0, len(rows), 5000):
                    stored_journal._store_rows(s, device, rows[at : at + 5000], NOW)  # ingest's own bulk insert
                s.execute(
                    update(Device)
                    .where(Device.id == device.id)
                    .values(acked_seq=rows[-1].seq, head_hash=rows[-1].hash, last_seen=NOW)
                )
            chained, stored = chained + t1 - t0, stored + time.perf_counter() - t1
            self.heads = getattr(self, "heads", {})
            self.heads[device.id] = rows[-1]
        return chained, stored


def timed(call: Callable[[], Any], times: int, warmup: int = 0) -> list[float]:
    for _ in range(warmup):
        call()
    spent = []
    for _ in range(times):
        t0 = time.perf_counter()
        call()
        spent.append(time.perf_counter() - t0)
    return spent


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.1f} / {pct(values, 0.95) * 1e3:.1f} ms"


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


def bench_backend(backend: str, database_for: Callable[[Path], str], scans: int) -> None:
    from checkin.web import create_app

    rng = random.Random(2022)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        deployment = Deployment(home, database_for(home))
        store = deployment.store
        chained, stored = deployment.load(scans // GATES, rng)
        row(f"{backend}: {scans:,} rows chained / stored in bulk", f"{chained:.1f} s / {stored:.1f} s", "", "", "")
        t0 = time.perf_counter()
        counters.rebuild(store)
        rebuild = time.perf_counter() - t0
        row(f"{backend}: counters rebuilt from the scans", f"{rebuild:.1f} s", "", "", "as the migration does")
        assert counters.presence_counts(store, EVENT)[counters.TOTAL].entered > 0

        # ingest: a batch of 500 more rows for one gate, stored, then counted (upload_journal's two halves)
        device, key = deployment.gates[0]
        prev = deployment.heads[device.id]
        store_ms, count_ms = [], []
        for _ in range(10):
            rows = []
            for _ in range(BATCH):
                prev = chain.append(
                    prev,
                    wall_ms=prev.wall_ms + 1000,
                    mono_ms=prev.mono_ms + 1000,
                    cti=rng.randbytes(16).hex(),
                    kid="1a2b3c4d5e6f7081",
                    verdict="admit",
                    reason="admitted",
                    direction="in",
                    zone="hall",
                )
                rows.append(prev)
            signed = chain.sign_checkpoint(chain.Checkpoint(prev.seq, prev.hash, int(NOW.timestamp() * 1000)), key)
            fresh = stored_devices.device(store, device.id)
            t0 = time.perf_counter()
            stored_journal.ingest_journal(store, fresh, rows, signed, NOW)
            t1 = time.perf_counter()
            assert counters.count_new_rows(store, device.id) == BATCH
            store_ms.append(t1 - t0)
            count_ms.append(time.perf_counter() - t1)
        share = statistics.median(count_ms) / statistics.median(store_ms)
        row(
            f"{backend}: counters per batch of {BATCH}, med / p95",
            ms(count_ms),
            f"storing the batch {ms(store_ms)}",
            f"{share:.2f}",
            "",
        )
        assert counters.stored(store, EVENT) == counters.recount(store, EVENT), "counters differ from the scans"

        app = create_app(deployment.config, {"CLOCK": lambda: NOW, "TESTING": True})
        client = app.test_client()
        with client.session_transaction() as session:
            session["sid"] = sessions.start(store, deployment.officer, NOW)

        def get(path: str) -> Callable[[], None]:
            def call() -> None:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            return call

        dashboard = timed(get(f"/audit/events/{EVENT}"), REQUESTS, WARMUP)
        naive = timed(lambda: naive_dashboard(store), 3, 1)
        p95 = pct(dashboard, 0.95) * 1e3
        row(
            f"{backend}: dashboard page, med / p95",
            ms(dashboard),
            f"figures from the scans {ms(naive)}",
            f"{statistics.median(naive) / statistics.median(dashboard):.0f}x",
            f"p95 <= {TARGET_MS:.0f} ms {'MET' if p95 <= TARGET_MS else 'MISSED'}",
        )
        gate_page = timed(get(f"/audit/events/{EVENT}/gates/{device.id}"), REQUESTS, WARMUP)
        row(f"{backend}: gate page, med / p95", ms(gate_page), "", "", "")
        listing = timed(get("/audit/"), REQUESTS, WARMUP)
        row(f"{backend}: officers' events list, med / p95", ms(listing), "", "", "")
        with store.session() as s:
            held = s.scalar(select(func.count()).select_from(Scan)) or 0
            presence = s.scalar(select(func.count()).select_from(counters.Presence)) or 0
        row(f"{backend}: scans held / presence rows", f"{held:,} / {presence:,}", "", "", "")
        app.extensions["checkin.store"].dispose()
        store.dispose()


def main() -> None:
    scans = 1_000_000
    if "--scans" in sys.argv:
        scans = int(sys.argv[sys.argv.index("--scans") + 1])
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""  # sqlite or postgresql
    if only != "postgresql":
        bench_backend("SQLite", lambda home: "checkin.db", scans)
    pg = os.environ.get("CHECKIN_TEST_DATABASE_URL")
    if only == "sqlite":
        pass
    elif pg:
        from tests.support.scratch import scratch_schema  # the test suite's throw-away schemas

        with scratch_schema(pg, "bench_dashboard") as url:
            bench_backend("PostgreSQL", lambda _home: url, scans)
    else:
        row("PostgreSQL", "skipped", "CHECKIN_TEST_DATABASE_URL is not set", "", "")
    header = ("measured", "value", "alternative (same run)", "ratio", "target")
    widths = [max(len(h), *(len(r[i]) for r in ROWS)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in ROWS:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(
        f"\ncpu cores: {os.cpu_count()}; python {sys.version.split()[0]}; {GATES} gates, {GUESTS:,} guests, "
        f"{REQUESTS} timed requests after {WARMUP} untimed; load average at the end {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
