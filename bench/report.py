"""Event report benchmark: build, draw and sign the officer's report of an event with many scans.

Makes an event of SCANS journal rows (default 100,000) from 10 gates, chained by checkin.core.chain
(the gate's own chain code; rows are written to the store in bulk, not through ingest, which
bench/service.py measures), over a day of 15-minute slots, for 20,000 guests; then times, on SQLite:
the report's assembly (`services.report.event_report`), the PDF (`reportpdf.render`), the signature
(`pdfsign.sign_pdf`, P-256), the report key's decryption (PBKDF2, 600,000 rounds) and the offline check
(`pdfsign.verify_pdf`). Run: python -m bench.report [SCANS]
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import insert

from checkin import pdfsign, reportpdf
from checkin.core import chain
from checkin.keystore import KeyStore
from checkin.services.report import event_report
from checkin.store import Store, counters
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store.events import NewEvent
from checkin.store.models import Device, Scan

T = TypeVar("T")

START = datetime(2022, 3, 26, 0, 30, tzinfo=UTC)
GATES = 10
GUESTS = 20_000
PASSPHRASE = b"bench report passphrase"


def _fill(store: Store, scans: int) -> None:
    guests = [secrets.token_hex(16) for _ in range(GUESTS)]
    for g in range(GATES):
        zone, direction = ("hall", "in") if g < 6 else ("vip", "in") if g < 8 else ("hall", "out")
        device, _ = stored_devices.create_device(store, "bench", f"Cổng {g + 1}", zone, direction, START)
        head: chain.JournalRow | None = None
        rows = []
        for i in range(scans // GATES):
            wall = START + timedelta(seconds=36_000 * i / (scans // GATES))
            admitted = i % 9 != 0
            head = chain.append(
                head,
                wall_ms=int(wall.timestamp() * 1000),
                mono_ms=i * 1000,
                cti=guests[(i * 7 + g * 13) % GUESTS],
                kid="",
                verdict="admit" if admitted else "deny",
                reason="admitted" if admitted else "already_inside",
                direction=direction,
                zone=zone,
                operator="",
                screening="",
            )
            rows.append({**head.content(), "device_id": device.id, "event_id": "bench", "received_at": wall})
            rows[-1].update(prev_hash=head.prev_hash, hash=head.hash)
        with store.writing() as s:
            s.execute(insert(Scan), rows)
            s.query(Device).filter(Device.id == device.id).update(
                {"acked_seq": len(rows), "status": "active", "last_seen": START + timedelta(hours=10)}
            )
    counters.rebuild(store)  # the rows went in behind ingest: count them as ingest would have


def main() -> None:
    scans = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{folder}/bench.db")
        store.migrate()
        stored_events.create_event(
            store,
            NewEvent(
                "bench",
                "Ngày Chuyển đổi số 2022",
                START,
                START + timedelta(hours=10),
                "Asia/Ho_Chi_Minh",
                ("hall", "vip"),
            ),
            START - timedelta(days=1),
        )
        began = time.perf_counter()
        _fill(store, scans)
        print(f"made {scans:,} chained rows from {GATES} gates in {time.perf_counter() - began:.1f} s")
        keys = KeyStore(Path(folder) / "keys")
        certificate = keys.make_report_key(PASSPHRASE, START, "Sở Thông tin và Truyền thông")
        now = START + timedelta(hours=11)
        timings: dict[str, float] = {}

        def timed(name: str, work: Callable[[], T]) -> T:
            began = time.perf_counter()
            result = work()
            timings[name] = time.perf_counter() - began
            return result

        key = timed("decrypt the report key", lambda: keys.load_report_key(PASSPHRASE))
        report = timed("assemble (event_report)", lambda: event_report(store, "bench", now))
        pdf = timed("draw the PDF (vi)", lambda: reportpdf.render(report))
        signed = timed("sign (PAdES B-B, P-256)", lambda: pdfsign.sign_pdf(pdf, key, certificate, now))
        check = timed("verify offline", lambda: pdfsign.verify_pdf(signed, certificate, now))
        assert check.valid, check.problem
        total = sum(timings.values()) - timings["verify offline"]
        for name, seconds in timings.items():
            print(f"{name:28} {seconds * 1000:9.0f} ms")
        print(f"{'build and sign, in all':28} {total * 1000:9.0f} ms  ({len(signed):,} bytes)")
        store.dispose()


if __name__ == "__main__":
    main()
