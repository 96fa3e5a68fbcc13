"""The officer's scan search and exports at a million scans: `python -m bench.audit_search`.

Builds an event of ~1,000,000 journal rows from 20 gates, chained by `checkin.core.chain` (the gate's
own code) and bulk-inserted (COPY on PostgreSQL), with 5,000 guests holding codes; then times 30
searches of each typical filter through `store.scan_search.search` (what the page runs) and a full
export as CSV and as JSON (`services.scansearch`, what the download and `checkin audit export`
stream). SQLite always; PostgreSQL too when $CHECKIN_TEST_DATABASE_URL names one (a scratch schema).
Prints one table.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from checkin.core import chain
from checkin.core.credential import stored_short_code
from checkin.services import scansearch
from checkin.store import Device, Guest, IssuedCredential, Store
from checkin.store import events as stored_events
from checkin.store.events import NewEvent
from checkin.store.guests import search_text
from checkin.store.scan_search import Cursor, ScanQuery, search, stream

EVENT = "bench-audit"
GATES = 20
ROWS_PER_GATE = int(os.environ.get("BENCH_ROWS_PER_GATE", "50000"))
GUESTS = 5000
RUNS = 30
START = datetime(2022, 3, 26, 0, 0, tzinfo=UTC)
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
MIDDLE = ["Thị", "Văn", "Hữu", "Minh", "Ngọc"]
GIVEN = ["Ánh", "An", "Bảo", "Cường", "Dũng", "Hà", "Hương", "Long", "Mai", "Tuấn", "Yến"]
REASONS = (
    [("admit", "admitted")] * 90
    + [("deny", "already_inside")] * 6
    + [("deny", "bad_signature")] * 3
    + [("deny", "revoked")]
)


def build_rows() -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every gate's chained rows as insert tuples (device, event, fields..., received)."""
    ctis = [f"{(n * 2654435761) % 2**128:032x}" for n in range(1, GUESTS + 1)]
    received = START + timedelta(hours=12)
    values: list[tuple[Any, ...]] = []
    for g in range(GATES):
        prev = None
        device = f"gate-{g:02d}"
        zone = ("hall", "vip", "press")[g % 3]
        for i in range(ROWS_PER_GATE):
            verdict, reason = REASONS[(i * 7 + g) % len(REASONS)]
            row = chain.append(
                prev, wall_ms=int(START.timestamp() * 1000) + i * 800 + g * 37, mono_ms=i * 800,
                cti=ctis[(i * 31 + g * 17) % GUESTS], kid="1a2b3c4d5e6f7081", verdict=verdict, reason=reason,
                direction="in", zone=zone, operator="Trần Văn Bảo",
            )  # fmt: skip
            prev = row
            values.append((device, EVENT, *(getattr(row, f) for f in _FIELDS), received))
    return ctis, values


_FIELDS = tuple(f for f in chain.JournalRow.__dataclass_fields__)
_COLUMNS = ("device_id", "event_id", *_FIELDS, "received_at")


def load(store: Store, ctis: list[str], values: list[tuple[Any, ...]]) -> None:
    """The event, its gates and guests, then the rows in bulk."""
    stored_events.create_event(
        store,
        NewEvent(EVENT, "Bench", START, START + timedelta(hours=12), "Asia/Ho_Chi_Minh", ("hall", "vip", "press")),
        START - timedelta(days=1),
    )  # fmt: skip
    with store.writing() as s:
        s.execute(insert(Device), [
            {"id": f"gate-{g:02d}", "event_id": EVENT, "name": f"Cổng {g + 1}", "zone": ("hall", "vip", "press")[g % 3],
             "direction": "in", "created": START, "status": "active"} for g in range(GATES)
        ])  # fmt: skip
        names = [f"{SURNAMES[n % 8]} {MIDDLE[n // 8 % 5]} {GIVEN[n // 40 % 11]}" for n in range(GUESTS)]
        ids = list(s.scalars(insert(Guest).returning(Guest.id, sort_by_parameter_order=True), [
            {"event_id": EVENT, "name": name, "organisation": "Sở", "category": "delegate", "zones": "hall",
             "email": "", "search_text": search_text(name, "Sở", "delegate", ""), "created": START} for name in names
        ]))  # fmt: skip
        s.execute(insert(IssuedCredential), [
            {"cti": cti, "event_id": EVENT, "guest_id": gid, "kid": "1a2b3c4d5e6f7081", "name": name,
             "issued_at": START, "not_before": START, "expires_at": START + timedelta(days=1), "status": "active",
             "text": "CK1:bench"} for cti, gid, name in zip(ctis, ids, names, strict=True)
        ])  # fmt: skip
    with store.engine.begin() as connection:
        raw: Any = connection.connection.driver_connection
        if store.engine.dialect.name == "postgresql":
            with raw.cursor() as cursor, cursor.copy(f"COPY scans ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for item in values:
                    copy.write_row(item)
        else:
            marks = ", ".join("?" * len(_COLUMNS))
            iso = [(*v[:-1], v[-1].strftime("%Y-%m-%d %H:%M:%S.%f")) for v in values]
            raw.executemany(f"INSERT INTO scans ({', '.join(_COLUMNS)}) VALUES ({marks})", iso)
    with store.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def timed(call: Callable[[], object], runs: int = RUNS) -> list[float]:
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        out.append((time.perf_counter() - began) * 1000)
    return out


def consume(pieces: Iterator[str]) -> int:
    return sum(len(p) for p in pieces)


def measure(label: str, store: Store, ctis: list[str]) -> list[tuple[str, str, float, float]]:
    from checkin.store import events

    ev = events.event(store, EVENT)
    deep = search(store, ScanQuery(EVENT), limit=50)
    for _ in range(200):  # 200 pages in: the keyset costs what page 1 does
        assert deep.next is not None
        deep = search(store, ScanQuery(EVENT), after=deep.next, limit=50)
    cursor: Cursor | None = deep.next
    hour = int((START + timedelta(hours=3)).timestamp() * 1000)
    cases: list[tuple[str, ScanQuery, Cursor | None]] = [
        ("newest page", ScanQuery(EVENT), None),
        ("page 201 (keyset)", ScanQuery(EVENT), cursor),
        ("one gate", ScanQuery(EVENT, device_id="gate-07"), None),
        ("one hour", ScanQuery(EVENT, since_ms=hour, until_ms=hour + 3_600_000), None),
        ("reason already_inside", ScanQuery(EVENT, reason="already_inside"), None),
        ("reason revoked + gate", ScanQuery(EVENT, reason="revoked", device_id="gate-03"), None),
        ("name 'nguyen thi anh'", ScanQuery(EVENT, name="nguyen thi anh"), None),
        ("short code", ScanQuery(EVENT, cti_prefixes=(ctis[42][:10],)), None),
        ("zone vip, deny", ScanQuery(EVENT, zone="vip", verdict="deny"), None),
    ]
    results = []
    for name, query, after in cases:
        samples = timed(lambda q=query, a=after: search(store, q, after=a, limit=50))
        results.append((label, f"search: {name}", statistics.median(samples), p95(samples)))
    assert stored_short_code(ctis[42])
    for fmt in ("csv", "json"):
        began = time.perf_counter()
        rows = stream(store, ScanQuery(EVENT))
        size = consume(
            scansearch.scans_csv(rows, ev.timezone)
            if fmt == "csv"
            else scansearch.scans_json(ev, ScanQuery(EVENT), rows)
        )
        took = (time.perf_counter() - began) * 1000
        results.append((label, f"export {fmt} ({size / 1e6:.0f} MB, all rows)", took, took))
    return results


def main() -> None:
    began = time.perf_counter()
    ctis, values = build_rows()
    print(
        f"built {len(values):,} chained rows from {GATES} gates in {time.perf_counter() - began:.1f} s", file=sys.stderr
    )
    results = []
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'bench.db'}")
        store.migrate()
        began = time.perf_counter()
        load(store, ctis, values)
        print(f"sqlite: loaded in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        results += measure("sqlite", store, ctis)
        store.dispose()
    show(results)
    url = os.environ.get("CHECKIN_TEST_DATABASE_URL")
    if url:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.support.scratch import scratch_schema

        with scratch_schema(url) as scoped:
            store = Store(scoped)
            store.migrate()
            began = time.perf_counter()
            load(store, ctis, values)
            print(f"postgresql: loaded in {time.perf_counter() - began:.1f} s", file=sys.stderr)
            show(measure("postgresql", store, ctis))
            store.dispose()


def show(results: list[tuple[str, str, float, float]]) -> None:
    print(f"{'database':<11} {'what':<44} {'median ms':>10} {'p95 ms':>10}", flush=True)
    for label, what, median, high in results:
        print(f"{label:<11} {what:<44} {median:>10.1f} {high:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
