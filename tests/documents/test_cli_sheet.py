"""The badge sheet as a registrar gets it: `checkin issue --csv` run as a console script, its
badges.pdf rendered by PDFium and by Ghostscript, every code read back by the gate's decoder chain
and matched, badge by badge, with the code index.csv lists for that guest.

The codes here are new each run, so they are read as a gate reads them (zxing-cpp first, zbar for
a symbol it located but could not read): zxing-cpp alone misses about 1 in 200 at PDFium's 150 dpi
(see tests/documents/conftest.py), and a test must not pass or fail by chance.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from tests.support import dockit
from tests.support.dockit import EVENT_NAME

CHECKIN = str(Path(sys.executable).parent / "checkin")


def test_the_cli_sheet_reads_back_guest_by_guest(tmp_path: Path, render: dockit.Renderer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    env["CHECKIN_KEY_PASSPHRASE"] = "document tests passphrase"

    def checkin(*args: str | Path, now: str | None = None) -> None:
        head = ["--config", tmp_path / "D" / "config.toml", *(["--now", now] if now else [])]
        command = [CHECKIN, *map(str, head), *map(str, args)]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    done = subprocess.run([CHECKIN, "init", "--dir", "D"], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    checkin("keys", "init", now="2022-03-20T09:00")
    checkin(
        *("event", "create", "--id", "cds2022", "--name", EVENT_NAME, "--zones", "hall,vip"),
        *("--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30"),
        now="2022-03-20T09:00",
    )
    with (tmp_path / "guests.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "organisation", "category", "zones", "email"])
        for i, name in enumerate(dockit.NAMES):
            writer.writerow(
                [
                    name,
                    "Sở Thông tin và Truyền thông tỉnh Thừa Thiên Huế",
                    "delegate",
                    "hall;vip"[: 4 + 4 * (i % 2)],
                    "",
                ]
            )
    out = tmp_path / "OUT"
    checkin("issue", "--event", "cds2022", "--csv", tmp_path / "guests.csv", "--out", out, now="2022-03-20T10:00")

    with (out / "index.csv").open(encoding="utf-8-sig", newline="") as handle:
        index = list(csv.DictReader(handle))
    assert [row["name"] for row in index] == list(dockit.NAMES)
    pages = render((out / "badges.pdf").read_bytes())
    assert len(pages) == 2
    read = {}
    for number, page in enumerate(pages):
        height, width = page.shape
        for found in dockit.gate_codes(page):
            read[number * 8 + int(found.y // (height / 4)) * 2 + int(found.x // (width / 2))] = found.text
    assert read == {i: row["code"] for i, row in enumerate(index)}
