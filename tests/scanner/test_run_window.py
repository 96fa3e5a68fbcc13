"""The windowed loop in a real Tk window on a virtual screen (Xvfb), keys sent with xdotool, the screen
photographed as a gate worker would see it.

Skipped with the reason where Xvfb or xdotool is not installed (Debian: xvfb, xdotool). Screenshots go
to the test's folder, and also to $CHECKIN_GATE_SCREENSHOTS when it is set (to look at them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageGrab

from checkin import qr
from checkin.core import credential
from checkin.core.errors import Verdict
from checkin.core.trust import Direction, GatePolicy
from scanner import decode, ui
from scanner.journal import Journal
from scanner.runner import Gate
from scanner.settings import Settings, parse_settings
from tests.support.gatekit import Clock, World, enrol_usb

pytestmark = pytest.mark.skipif(
    not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool (Debian xvfb, xdotool)"
)
SCREEN = (1366, 768)  # the commonest gate laptop


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """One virtual screen for the module: Tk keeps its first display's connection, and exits the
    process when that display goes away under it."""
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        number = server.stdout.readline().decode().strip()  # Xvfb writes it once it is ready
        assert number.isdigit(), "Xvfb did not start"
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DISPLAY", f":{number}")
            yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def code_frame(text: str) -> np.ndarray:
    """A grey 720p camera frame with the code held up in it."""
    picture = cv2.imdecode(np.frombuffer(qr.png(text, scale=5), np.uint8), cv2.IMREAD_COLOR)
    frame = np.full((720, 1280, 3), 110, np.uint8)
    frame[100 : 100 + picture.shape[0], 500 : 500 + picture.shape[1]] = picture
    return frame


class Timed:
    """The Tk window, noting when each image reached the screen (for keypress-to-banner times)."""

    def __init__(self, window: ui.Window) -> None:
        self.window = window
        self.shown_at: list[float] = []
        self.keys_at: list[tuple[str, float]] = []

    def show(self, image: np.ndarray) -> None:
        self.window.show(image)
        self.shown_at.append(time.perf_counter())

    def poll(self) -> list[str]:
        keys = self.window.poll()
        self.keys_at += [(key, time.perf_counter()) for key in keys]
        return keys

    def size(self) -> tuple[int, int]:
        return self.window.size()

    def close(self) -> None:
        self.window.close()


def test_the_gate_workers_screen(display: str, tmp_path: Path) -> None:
    world = World(policy=GatePolicy(include_names=True))
    names = {world.credential(n).credential_id: n for n in ("Hoàng Văn Đức", "Hoàng Thị Mai", "Đặng Quốc Huy")}
    huy = next(cti for cti, n in names.items() if n == "Đặng Quốc Huy")
    world_bundle = world.bundle(names=names)
    data = enrol_usb(tmp_path / "gate", world)
    data.save_pin("2468")
    journal = Journal(data.journal_path, data.device_key())
    clock = Clock(world.now)
    gate = Gate(journal, world_bundle, zone="hall", direction=Direction.IN, clock=clock, operator="Lan")
    shots = tmp_path / "shots"
    shots.mkdir()
    blank = np.full((720, 1280, 3), 110, np.uint8)
    admit = code_frame(world.issue("Nguyễn Thị Ánh"))
    deny = code_frame(world.issue("Trần Văn Bình", zones=("vip",)))  # not for the hall
    refer = code_frame(world.issue("Lê Văn Cường"))
    screens: list[ui.Screen] = []
    window = Timed(ui.TkWindow("checkin · test", fullscreen=True))
    pressed: dict[str, float] = {}

    def xdo(*args: str) -> None:
        subprocess.run(
            ["xdotool", "search", "--name", "checkin", "windowfocus", "--sync", *args],
            env={"DISPLAY": display},
            check=True,
            timeout=30,
        )

    def grab(name: str) -> Callable[[], None]:
        def take() -> None:
            ImageGrab.grab(xdisplay=display).save(shots / f"{name}.png")

        return take

    def mark(name: str, *keys: str) -> Callable[[], None]:
        def press() -> None:
            pressed[name] = time.perf_counter()
            xdo("key", *keys)

        return press

    script: dict[int, Callable[[], None]] = {
        8: grab("01-idle"),
        18: grab("02-admit-with-zones"),
        28: grab("03-deny"),
        31: lambda: clock.advance(hours=-1),  # the clock goes back: nobody is admitted, a supervisor confirms
        38: grab("04-refer-clock-alarm"),
        41: lambda: xdo("key", "a"),
        43: lambda: xdo("type", "--delay", "0", "24"),
        46: grab("05-supervisor-pin"),
        47: lambda: xdo("type", "--delay", "0", "68"),
        48: lambda: xdo("key", "Return"),
        52: lambda: xdo("key", "l"),
        53: lambda: xdo("type", "--delay", "0", "hoang"),
        54: lambda: xdo("key", "Return"),
        58: grab("06-lookup-by-name"),
        59: mark("manual", "2"),
        64: grab("07-manual-admit"),
        66: lambda: xdo("key", "l"),
        67: lambda: xdo("type", "--delay", "0", credential.short_code(huy).replace("-", "").lower()),
        68: lambda: xdo("key", "Return"),
        72: grab("08-lookup-by-short-code"),
        73: lambda: xdo("key", "1"),
        78: grab("09-manual-admit-by-code"),
        80: lambda: xdo("key", "d"),
        84: grab("10-direction-confirm"),
        85: lambda: xdo("key", "Return"),
        90: grab("11-exit-mode"),
        92: lambda: xdo("key", "l"),
        93: lambda: xdo("type", "--delay", "0", "xyz"),
        94: lambda: xdo("key", "Return"),
        98: grab("12-lookup-miss"),
        99: lambda: xdo("key", "Escape"),
        100: lambda: xdo("key", "q"),
    }

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        for i in range(400):  # "q" ends the loop long before
            if i in script:
                script[i]()
            frame = admit if 10 <= i < 20 else deny if 21 <= i < 30 else refer if 32 <= i < 40 else blank
            yield frame, i * 400.0  # far apart: the same code is not a repeat, each new one is a scan

    settings = Settings(sound=False, banner_hold_seconds=60)
    ui.run_window(
        gate,
        frames(),
        decode.Deduplicator(3000),
        settings=settings,
        status=lambda: ui.status_view(gate, None),
        title="checkin · test",
        window=window,
        check_pin=data.check_pin,
        on_screen=screens.append,
    )
    rows = journal.rows()
    assert [(r.verdict, r.reason, r.operator) for r in rows] == [
        ("admit", "admitted", "Lan"),
        ("deny", "zone_not_allowed", "Lan"),
        ("refer", "clock_suspect", "Lan"),
        ("refer", "clock_acknowledged", "Lan"),
        ("admit", "admitted", "manual:Lan"),
        ("admit", "admitted", "manual:Lan"),
    ]
    assert names[bytes.fromhex(rows[4].cti)] in ("Hoàng Văn Đức", "Hoàng Thị Mai")
    assert rows[5].cti == huy.hex()
    assert gate.direction is Direction.OUT
    journal.close()

    def rgb(name: str, x: int, y: int) -> tuple[int, ...]:
        with Image.open(shots / f"{name}.png") as image:
            assert image.size == SCREEN  # the window fills the screen
            return tuple(image.convert("RGB").getpixel((x, y)))  # type: ignore[arg-type]

    bottom = (SCREEN[0] - 5, SCREEN[1] - 5)
    assert rgb("02-admit-with-zones", *bottom) == ui.COLOURS[Verdict.ADMIT][::-1]
    assert rgb("03-deny", *bottom) == ui.COLOURS[Verdict.DENY][::-1]
    assert rgb("04-refer-clock-alarm", *bottom) == ui.COLOURS[Verdict.REFER][::-1]
    mode_y = round(ui.STATUS_H * SCREEN[1] / ui.HEIGHT) + 5
    assert rgb("01-idle", 5, mode_y) == ui.MODE_COLOURS[Direction.IN][0][::-1]
    assert rgb("11-exit-mode", 5, mode_y) == ui.MODE_COLOURS[Direction.OUT][0][::-1]
    assert screens[0].counts == {Verdict.ADMIT: 3, Verdict.DENY: 1, Verdict.REFER: 1}

    keep = os.environ.get("CHECKIN_GATE_SCREENSHOTS")
    if keep:
        shutil.copytree(shots, keep, dirs_exist_ok=True)
    # the key reaches the screen, the row commits (fsync), the next frame draws the banner
    chosen = next(t for key, t in window.keys_at if key == "2" and t > pressed["manual"])
    banner_ms = (next(t for t in window.shown_at if t > chosen) - chosen) * 1000
    sent_ms = (chosen - pressed["manual"]) * 1000
    print(f"keypress to manual-admit banner: {banner_ms:.0f} ms (xdotool's key to the window: {sent_ms:.0f} ms)")


def test_full_screen_by_default_and_a_window_when_asked(display: str) -> None:
    full = ui.TkWindow("checkin · full", fullscreen=True)
    try:
        full.poll()
        assert full.size() == SCREEN
    finally:
        full.close()
    windowed = ui.TkWindow("checkin · windowed", fullscreen=False)
    try:
        windowed.poll()
        assert windowed.size() == (ui.WIDTH, ui.HEIGHT)
    finally:
        windowed.close()
    assert Settings().fullscreen
    assert not parse_settings("[gate]\nfullscreen = false\n", "gate.toml").fullscreen
