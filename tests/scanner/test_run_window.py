"""The windowed loop in a real Tk window on a virtual screen (Xvfb), keys sent with xdotool.

Skipped with the reason where Xvfb or xdotool is not installed (Debian: xvfb, xdotool).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from gatekit import Clock, World, enrol_usb

from checkin import qr
from checkin.core.trust import Direction
from scanner import decode, ui
from scanner.journal import Journal
from scanner.runner import Gate
from scanner.settings import Settings

pytestmark = pytest.mark.skipif(
    not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool (Debian xvfb, xdotool)"
)


@pytest.fixture
def display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", "1400x800x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        number = server.stdout.readline().decode().strip()  # Xvfb writes it once it is ready
        assert number.isdigit(), "Xvfb did not start"
        monkeypatch.setenv("DISPLAY", f":{number}")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def test_window_shows_verdicts_and_takes_keys(display: str, tmp_path: Path) -> None:
    world = World()
    data = enrol_usb(tmp_path / "gate", world)
    journal = Journal(data.journal_path, data.device_key())
    gate = Gate(journal, data.bundle(), zone="hall", direction=Direction.IN, clock=Clock(world.now))
    text = world.issue("Trần Văn Bình")
    picture = cv2.imdecode(np.frombuffer(qr.png(text, scale=5), np.uint8), cv2.IMREAD_COLOR)
    frame = np.full((720, 1280, 3), 110, np.uint8)
    frame[100 : 100 + picture.shape[0], 500 : 500 + picture.shape[1]] = picture
    keys = {20: "r", 40: "d", 60: "q"}

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        for i in range(400):  # "q" ends the loop long before
            if i in keys:
                subprocess.run(
                    ["xdotool", "search", "--name", "checkin", "windowfocus", "--sync", "key", keys[i]],
                    env={"DISPLAY": display},
                    check=True,
                    timeout=30,
                )
            yield frame, i * 33.0

    settings = Settings(sound=False)
    ui.run_window(
        gate,
        frames(),
        decode.Deduplicator(3000),
        settings=settings,
        status=lambda: ui.status_view(gate, None),
        title="checkin · test",
    )
    rows = journal.rows()
    assert [(r.verdict, r.reason) for r in rows] == [("admit", "admitted"), ("deny", "refused_by_staff")]
    assert rows[1].cti == rows[0].cti  # the refusal is about the person shown
    assert gate.direction is Direction.OUT
    journal.close()
