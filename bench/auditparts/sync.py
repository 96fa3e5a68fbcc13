"""Gates sharing who is inside: from an admission at gate A to the first `already_inside` at gate B.

The service is `checkin serve` (gunicorn, its default server) on localhost over SQLite; two gates
are enrolled over the network as `checkin-gate enroll` does and run here as the scan loop does
(`runner.Gate`, a journal file each, their `Syncer` thread started with the DEFAULT settings and
poked after each admission, as `checkin-gate run` wires them). Each trial issues a fresh code,
waits a random part of the short round (so admissions fall anywhere in B's cycle), admits the code
at A, then presents it at B every 20 ms without committing (a committed admission at B would make
the rest meaningless) until B says `already_inside`. Also measured: admission to A's upload being
acknowledged, and a presence pull's round trip.

The alternative in the same run is the cadence gates had before: one round every 15 s (the old
default sync interval) and no push on admission.

Part of `python -m bench.audit`.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.auditparts.table import Row, pct, verdict
from bench.service import served
from checkin.config import load
from checkin.core import credential
from checkin.core.credential import Credential
from checkin.core.errors import Reason
from checkin.core.trust import Direction
from checkin.keystore import KeyStore
from checkin.services import gates
from checkin.store import Store
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store.events import NewEvent
from scanner import sync
from scanner.datadir import GateData
from scanner.journal import Journal
from scanner.runner import Gate, system_clock
from scanner.settings import Settings
from scanner.sync import Syncer

EVENT = "cds-hd-2022"
TRIALS = int(os.environ.get("BENCH_TRIALS", "12"))
OLD_TRIALS = int(os.environ.get("BENCH_OLD_TRIALS", "4"))
PRESENT_EVERY_S = 0.02
GIVE_UP_S = 60.0
TARGET_S = 5.0
PULLS = 50


@dataclass
class Deployment:
    """A config folder with unencrypted keys and one event under way, and its database."""

    home: Path

    def __post_init__(self) -> None:
        self.config_path.write_text('[deployment]\nid = "hd-stttt"\n\n[paths]\ndatabase = "checkin.db"\n')
        cfg = load(str(self.config_path))
        self.keys = KeyStore(cfg.keys_dir)
        # the service runs on the real clock: its enrolment codes expire, so "now" is when the part starts
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.keys.init(None, self.now - timedelta(days=30))
        self.store = Store(cfg.database_url)
        self.store.migrate()
        start = self.now - timedelta(hours=1)
        event = NewEvent(EVENT, "Ngày Chuyển đổi số", start, start + timedelta(hours=10), "Asia/Ho_Chi_Minh", ("hall",))
        stored_events.create_event(self.store, event, self.now)
        self._issuing = self.keys.active_issuing()
        self._key = self.keys.load_private(self._issuing, None)

    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    def add_gate(self, name: str) -> str:
        """A gate of the hall, as `checkin gate add` registers it; its one-time enrolment code."""
        event = stored_events.event(self.store, EVENT)
        made = gates.add_gate(
            self.store,
            event,
            name,
            "hall",
            "in",
            datetime.now(UTC),
            actor="bench",
            root_pem=self.keys.root_public_pem(),
        )
        return made.code

    def issue(self, name: str) -> str:
        """A fresh code for the hall, signed and recorded as `checkin issue` does."""
        now = datetime.now(UTC)
        cred = Credential.create(
            issuer="hd-stttt",
            event_id=EVENT,
            name=name,
            organisation="Sở Thông tin và Truyền thông",
            category="delegate",
            zones=("hall",),
            not_before=now - timedelta(hours=1),
            expires_at=now + timedelta(hours=12),
            issued_at=now - timedelta(minutes=1),
        )
        text = credential.sign(cred, self._key, self._issuing.kid_bytes)
        stored_guests.record_issued(self.store, [(None, cred, self._issuing.kid, text)], now)
        return text


@dataclass
class RunningGate:
    """An enrolled gate's scan loop and its sync thread."""

    data: GateData
    journal: Journal
    gate: Gate
    syncer: Syncer | None = None

    def start_sync(self, settings: Settings, *, poke: bool) -> None:
        self.stop_sync()
        self.syncer = Syncer(self.data, clock=system_clock, settings=settings, on_bundle=self.gate.set_bundle)
        self.gate.on_commit = self.syncer.on_commit if poke else None
        self.syncer.start()

    def stop_sync(self) -> None:
        if self.syncer is not None:
            self.syncer.stop()
            self.syncer = None


def enrol(deployment: Deployment, url: str, root: Path, name: str) -> RunningGate:
    data = GateData(root)
    sync.enroll_network(data, url, deployment.add_gate(name))
    journal = Journal(data.journal_path, data.device_key())
    return RunningGate(data, journal, Gate(journal, data.bundle(), zone="hall", direction=Direction.IN))


@dataclass
class Trial:
    to_ack_s: float  # admission at A to A's upload acknowledged
    to_deny_s: float  # admission at A to B's first already_inside


def trials(deployment: Deployment, a: RunningGate, b: RunningGate, count: int, cycle_s: float) -> list[Trial]:
    rng = random.Random(20221126)  # the phase of each trial
    pause = threading.Event()
    done: list[Trial] = []
    for i in range(count):
        code = deployment.issue(f"Khách mời {cycle_s:g}-{i}")
        pause.wait(rng.uniform(0, cycle_s))
        recorded = a.gate.scan(code)
        admitted = time.perf_counter()  # the verdict is shown once scan returns (its row committed)
        assert recorded.decision.reason is Reason.ADMITTED, recorded.decision.reason
        acked = 0.0
        while True:
            now = time.perf_counter()
            if not acked and a.journal.acked_seq >= recorded.row.seq:
                acked = now
            if b.gate.examine(code).reason is Reason.ALREADY_INSIDE:
                done.append(Trial((acked or now) - admitted, now - admitted))
                break
            if now - admitted > GIVE_UP_S:
                raise RuntimeError(f"gate B still admits the code {GIVE_UP_S:.0f} s after gate A did")
            pause.wait(PRESENT_EVERY_S)
    return done


def pull_latency(gate: RunningGate) -> tuple[list[float], float]:
    """Round trips of presence pulls from the start (everything so far) and bytes per passage."""
    client = sync.Client(gate.data.device().server, gate.data.token())
    samples, size = [], 0.0
    for _ in range(PULLS):
        start = time.perf_counter()
        passages = client.presence(0)["passages"]
        samples.append((time.perf_counter() - start) * 1000)
        size = len(json.dumps(passages, ensure_ascii=False)) / max(1, len(passages))
    return samples, size


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} / {pct(values, 0.95):.2f} / {max(values):.2f}"


def admission_to_denial() -> list[Row]:
    """Two gates through `checkin serve`: the trials at the default settings and at the old cadence,
    and presence pulls; the rows of the table."""
    defaults = Settings()
    old = Settings(sync_interval_seconds=15.0, presence_interval_seconds=15.0)
    with tempfile.TemporaryDirectory(prefix="bench-audit-sync-") as tmp:
        home = Path(tmp) / "service"
        home.mkdir()
        deployment = Deployment(home)
        with served(deployment, "gunicorn") as (port, _pid):  # type: ignore[arg-type]
            url = f"http://127.0.0.1:{port}"
            a = enrol(deployment, url, Path(tmp) / "gate-a", "Cổng A - sảnh chính")
            b = enrol(deployment, url, Path(tmp) / "gate-b", "Cổng B - cửa hông")
            try:
                for gate in (a, b):
                    gate.start_sync(defaults, poke=True)
                new = trials(deployment, a, b, TRIALS, defaults.presence_interval_seconds)
                for gate in (a, b):
                    gate.start_sync(old, poke=False)
                before = trials(deployment, a, b, OLD_TRIALS, old.sync_interval_seconds)
                for gate in (a, b):
                    gate.stop_sync()
                pulls, per_passage = pull_latency(b)
            finally:
                for gate in (a, b):
                    gate.stop_sync()
                    gate.journal.close()
        deployment.store.dispose()

    deny = [t.to_deny_s for t in new]
    old_deny = [t.to_deny_s for t in before]
    return [
        (
            "admission at A -> already_inside at B, s (med / p95 / max)",
            summary(deny),
            f"old cadence (15 s, no push) {summary(old_deny)}; {TRIALS} + {OLD_TRIALS} trials",
            f"max <= {TARGET_S:g} s: {verdict(max(deny) <= TARGET_S)}",
        ),
        (
            "admission at A -> A's upload acknowledged, s (med / p95 / max)",
            summary([t.to_ack_s for t in new]),
            f"old cadence {summary([t.to_ack_s for t in before])}",
            "",
        ),
        (
            "presence pull round trip, ms (med / p95 / max)",
            summary(pulls),
            f"{len(new) + len(before)} passages per answer, {per_passage:.0f} bytes each (JSON)",
            "",
        ),
        (
            "gates' settings",
            f"short round {defaults.presence_interval_seconds:g} s",
            f"and after each admission; full round every {defaults.sync_interval_seconds:g} s; gunicorn, SQLite",
            "",
        ),
    ]
