"""Startup benchmark: wall time of the two commands' --help, of `checkin-gate verify` of one text,
and of importing the credential core, each beside `python -c pass` measured in the same run.

Every figure is a fresh process (subprocess), as a person at a terminal starts it; the commands
run round-robin so a busy machine slows them alike. Prints one table: median and p95 over RUNS
runs, the CPU time (user + system) beside it, which a busy machine disturbs less, the ratio to
`python -c pass`, and whether the issue's targets (on wall time) are met:
`checkin --help` and `checkin-gate --help` each at most 3x `python -c pass` + 150 ms; importing
`checkin.core.credential` at most 60 ms (its own cost: the import's wall time less `python -c pass`).

    .venv/bin/python bench/startup.py [RUNS]
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RUNS = 15
BIN = Path(sys.executable).parent
CHECKIN = str(BIN / "checkin")
GATE = str(BIN / "checkin-gate")
EVENT_DAY = "2022-03-26T09:00"


@dataclass(frozen=True)
class Case:
    """One command line to time, and the target it must meet (if any)."""

    label: str
    argv: list[str]
    stdin: str = ""
    target: str = ""  # "help": 3x pass + 150 ms; "import": own cost <= 60 ms


def make_site(home: Path) -> tuple[Path, Path, str]:
    """A real deployment made with the `checkin` command: (bundle, root.pub, one ticket's CK1 text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}

    def checkin(*args: str, now: str = "2022-03-20T09:00") -> str:
        argv = [CHECKIN, "--config", str(home / "config.toml"), "--now", now, *args]
        return subprocess.run(argv, check=True, env=env, capture_output=True, text=True).stdout

    subprocess.run([CHECKIN, "init", "--dir", str(home)], check=True, env=env, capture_output=True)
    checkin("keys", "init", "--insecure-no-passphrase")
    checkin(
        *("event", "create", "--id", "cds2022", "--name", "Ngày Chuyển đổi số tỉnh Hải Dương 2022"),
        *("--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30", "--zones", "hall,vip"),
    )
    text = checkin("issue", "--event", "cds2022", "--name", "Nguyễn Văn An", "--zones", "hall").splitlines()[-1]
    bundle = home / "gate" / "cds2022.ckb"
    checkin("bundle", "export", "--event", "cds2022", "--out", str(bundle), now="2022-03-26T06:00")
    return bundle, bundle.with_name("root.pub"), text


def cpu_of_children() -> float:
    """User plus system seconds of every finished child so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(case: Case) -> tuple[float, float]:
    """(wall, CPU) seconds from start to exit of one fresh process; a failing command stops the benchmark."""
    cpu, start = cpu_of_children(), time.perf_counter()
    done = subprocess.run(case.argv, input=case.stdin, capture_output=True, text=True, check=False)
    spent = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{case.label} failed ({done.returncode}): {done.stderr.strip()}")
    return spent, cpu_of_children() - cpu


def p95(values: list[float]) -> float:
    """The 95th percentile by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main(runs: int) -> None:
    """Make the deployment, time every case `runs` times round-robin, print the table."""
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        bundle, root_pub, text = make_site(Path(folder))
        cases = [
            Case("python -c pass", [python, "-c", "pass"]),
            Case("checkin --help", [CHECKIN, "--help"], target="help"),
            Case("checkin-gate --help", [GATE, "--help"], target="help"),
            Case(
                "checkin-gate verify (one text)",
                [GATE, "verify", "--bundle", str(bundle), "--root-key", str(root_pub), "--at", EVENT_DAY, "-"],
                stdin=text + "\n",
            ),
            Case("import checkin.core.credential", [python, "-c", "import checkin.core.credential"], target="import"),
        ]
        for case in cases:  # warm the file cache once; not counted
            wall(case)
        times: dict[str, list[float]] = {case.label: [] for case in cases}
        cpu: dict[str, list[float]] = {case.label: [] for case in cases}
        for _ in range(runs):
            for case in cases:
                spent, used = wall(case)
                times[case.label].append(spent)
                cpu[case.label].append(used)
    base = statistics.median(times[cases[0].label])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"startup wall time, {runs} runs each, round-robin ({python}; {os.cpu_count()} cores, load {load})")
    print(f"{'command':34} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} {'x pass':>7}  target")
    for case in cases:
        median, high = statistics.median(times[case.label]), p95(times[case.label])
        used = statistics.median(cpu[case.label])
        figures = f"{median * 1000:10.1f} {high * 1000:8.1f} {used * 1000:7.1f} {median / base:7.2f}"
        print(f"{case.label:34} {figures}  ", end="")
        if case.target == "help":
            limit = 3 * base + 0.150
            print(f"<= 3x pass + 150 ms = {limit * 1000:.0f} ms: {'met' if median <= limit else 'NOT met'}")
        elif case.target == "import":
            own = median - base
            print(f"own cost {own * 1000:.1f} ms <= 60 ms: {'met' if own <= 0.060 else 'NOT met'}")
        else:
            print("-")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else RUNS)
