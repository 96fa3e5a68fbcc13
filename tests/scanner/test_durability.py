"""A gate killed with SIGKILL at random moments loses no verdict it showed.

2,000 scans (valid codes, codes shown twice, forged and garbled ones) fed to `checkin-gate run
--texts FILE --headless`; the process is killed 30 times at random moments and restarted on the
texts its journal does not hold yet. Afterwards: every verdict it printed is in the journal with
the same seq, verdict, reason and credential; `journal verify` passes; SQLite's integrity check
is ok; no code was admitted twice (anti-passback held across every crash).
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.support.gatekit import World, enrol_usb, forged

GATE = str(Path(sys.executable).with_name("checkin-gate"))
SCANS = 2_000
KILLS = 30
NOW = "2022-03-26T09:00"


def make_texts(world: World, rng: random.Random) -> list[str]:
    valid = [world.issue(f"Khách {i}") for i in range(1_200)]
    texts: list[str] = []
    while len(texts) < SCANS:
        roll = rng.random()
        if roll < 0.70:
            texts.append(valid[len(texts) % len(valid)])
        elif roll < 0.85:
            texts.append(rng.choice(valid))  # shown again: already inside
        elif roll < 0.95:
            texts.append(forged(rng.choice(valid)))
        else:
            texts.append("CK1:" + "".join(rng.choice("0123456789ABC") for _ in range(40)))
    return texts


def journal_rows(path: Path) -> dict[int, tuple[str, str, str]]:
    with sqlite3.connect(path) as db:
        return {
            seq: (verdict, reason, cti)
            for seq, verdict, reason, cti in db.execute("SELECT seq, verdict, reason, cti FROM rows")
        }


def test_sigkill_at_random_moments_loses_no_shown_verdict(tmp_path: Path) -> None:
    rng = random.Random(20220326)
    world = World()
    data = enrol_usb(tmp_path / "gate", world)
    (data.root / "gate.toml").write_text("[gate]\ncheckpoint_rows = 25\n", encoding="utf-8")
    texts = make_texts(world, rng)
    printed: list[dict[str, object]] = []
    kills = 0
    for run in range(KILLS + 50):
        done = len(journal_rows(data.journal_path)) if data.journal_path.exists() else 0
        if done >= SCANS:
            break
        feed = tmp_path / f"feed-{run}.txt"
        feed.write_text("\n".join(texts[done:]) + "\n", encoding="utf-8")
        args = [GATE, "--data", str(data.root), "run", "--texts", str(feed), "--headless", "--now", NOW, "--no-sync"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            if kills < KILLS:
                try:  # a bounded wait on the real process, then SIGKILL wherever it is
                    proc.wait(timeout=rng.uniform(0.3, 1.6))
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
            out, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
        if proc.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"the gate failed: {err.decode()}")
        complete = out.decode().split("\n")[:-1]  # a line cut by the kill was never shown whole
        printed.extend(json.loads(line) for line in complete)
    assert kills == KILLS

    rows = journal_rows(data.journal_path)
    assert sorted(rows) == list(range(1, SCANS + 1))
    for record in printed:
        cred = record["credential"]
        cti = cred["id"] if isinstance(cred, dict) else ""
        assert rows[int(record["seq"])] == (record["verdict"], record["reason"], cti), record["seq"]
    assert len(printed) >= SCANS * 0.9  # most verdicts were shown, the rest died between commit and print

    verify = subprocess.run(
        [GATE, "--data", str(data.root), "journal", "verify"], capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["checkpoints"] >= SCANS // 25 - 1
    with sqlite3.connect(data.journal_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    admitted = Counter(cti for verdict, _reason, cti in rows.values() if verdict == "admit")
    assert admitted and max(admitted.values()) == 1  # anti-passback held across every crash
    reasons = Counter(reason for _verdict, reason, _cti in rows.values())
    assert {"admitted", "already_inside", "bad_signature", "malformed"} <= set(reasons)
