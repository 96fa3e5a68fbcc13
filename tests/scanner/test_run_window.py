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
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageGrab

from checkin import qr
from checkin.core import credential
from checkin.core.credential import Declaration
from checkin.core.errors import Verdict
from checkin.core.trust import Direction, GatePolicy, Question, ScreeningPolicy
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


def keyboard(
    display: str, shots: Path, pressed: dict[str, float]
) -> tuple[Callable[..., None], Callable[[str], Callable[[], None]], Callable[..., Callable[[], None]]]:
    """xdotool into the gate's window, a screenshot maker, and a key press noted by name in `pressed`."""

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

    def mark(name: str, *args: str) -> Callable[[], None]:
        def press() -> None:
            pressed[name] = time.perf_counter()
            xdo(*args)

        return press

    return xdo, grab, mark


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
    xdo, grab, mark = keyboard(display, shots, pressed)

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
        59: mark("manual", "key", "2"),
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
    print(key_to_banner(window, pressed, "manual", "2", "manual-admit banner"))


def key_to_banner(window: Timed, pressed: dict[str, float], name: str, key: str, what: str) -> str:
    """How long from the window getting the key pressed as `name` to the next image on screen: the key
    reaches the screen, the row commits (fsync), the next frame draws the banner."""
    got = next(t for k, t in window.keys_at if k == key and t > pressed[name])
    banner_ms = (next(t for t in window.shown_at if t > got) - got) * 1000
    sent_ms = (got - pressed[name]) * 1000
    return f"keypress to {what}: {banner_ms:.0f} ms (xdotool's key to the window: {sent_ms:.0f} ms)"


QUESTIONS = (
    Question("symptoms", "Anh/chị có sốt, ho hoặc khó thở không?", "Fever, cough or short of breath?"),
    Question("contact", "Trong 14 ngày qua có tiếp xúc với người bệnh không?", "In contact with a patient in 14 days?"),
)


def test_the_operator_screens_guests_with_single_keys(display: str, tmp_path: Path) -> None:
    world = World(policy=GatePolicy(screening=ScreeningPolicy(enabled=True, questions=QUESTIONS)))
    data = enrol_usb(tmp_path / "gate", world)
    journal = Journal(data.journal_path, data.device_key())
    gate = Gate(journal, world.bundle(), zone="hall", direction=Direction.IN, clock=Clock(world.now), operator="Lan")
    shots = tmp_path / "shots"
    shots.mkdir()
    blank = np.full((720, 1280, 3), 110, np.uint8)
    declared = Declaration(world.now - timedelta(hours=3), True).claim()
    tickets = {
        range(10, 14): code_frame(world.issue("Nguyễn Thị Ánh")),  # well: admitted after the questions
        range(40, 44): code_frame(world.issue("Lê Văn Cường")),  # a typo, then a fever: referred
        range(70, 74): code_frame(world.issue("Đặng Quốc Huy", health=declared)),  # declared: no questions
        range(90, 94): code_frame(world.issue("Trần Văn Bình")),  # Esc: nothing recorded
    }
    window = Timed(ui.TkWindow("checkin · screening", fullscreen=True))
    pressed: dict[str, float] = {}
    xdo, grab, mark = keyboard(display, shots, pressed)
    script: dict[int, Callable[[], None]] = {
        16: grab("s01-temperature"),
        17: mark("well-start", "type", "--delay", "0", "36.6"),
        20: grab("s02-temperature-typed"),
        21: lambda: xdo("key", "Return"),
        25: grab("s03-question"),
        26: lambda: xdo("key", "k"),  # không
        30: mark("well", "key", "k"),
        35: grab("s04-admitted"),
        46: lambda: xdo("type", "--delay", "0", "375"),  # the decimal point forgotten
        47: lambda: xdo("key", "Return"),
        51: grab("s05-typo-asked-again"),
        52: lambda: xdo("type", "--delay", "0", "38,4"),
        53: mark("fever", "key", "Return"),
        58: grab("s06-fever-referred"),
        76: grab("s07-declared-on-ticket"),
        77: lambda: xdo("type", "--delay", "0", "36.8"),
        78: mark("declared", "key", "Return"),
        83: grab("s08-declared-admitted"),
        96: lambda: xdo("type", "--delay", "0", "37"),
        97: lambda: xdo("key", "Escape"),
        101: grab("s09-cancelled"),
        103: lambda: xdo("key", "q"),
    }

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        for i in range(400):  # "q" ends the loop long before
            if i in script:
                script[i]()
            frame = next((f for span, f in tickets.items() if i in span), blank)
            yield frame, i * 400.0

    screens: list[ui.Screen] = []
    ui.run_window(
        gate,
        frames(),
        decode.Deduplicator(3000),
        settings=Settings(sound=False, banner_hold_seconds=60),
        status=lambda: ui.status_view(gate, None),
        title="checkin · screening",
        window=window,
        on_screen=screens.append,
    )
    rows = journal.rows()
    assert [(r.verdict, r.reason, r.screening.split(":")[0]) for r in rows] == [
        ("admit", "admitted", "passed"),
        ("refer", "screening_failed", "fever"),
        ("admit", "admitted", "passed"),
    ]  # the guest cancelled with Esc has no row
    journal.close()
    assert screens[0].notice is not None and screens[0].notice[0] == "screening_cancelled"

    def rgb(name: str, x: int, y: int) -> tuple[int, ...]:
        with Image.open(shots / f"{name}.png") as image:
            return tuple(image.convert("RGB").getpixel((x, y)))  # type: ignore[arg-type]

    bottom = (SCREEN[0] - 5, SCREEN[1] - 5)
    assert rgb("s04-admitted", *bottom) == ui.COLOURS[Verdict.ADMIT][::-1]
    assert rgb("s06-fever-referred", *bottom) == ui.COLOURS[Verdict.REFER][::-1]
    assert rgb("s08-declared-admitted", *bottom) == ui.COLOURS[Verdict.ADMIT][::-1]
    box = (SCREEN[0] // 2, round(200 * SCREEN[1] / ui.HEIGHT))  # inside the screening box
    assert rgb("s01-temperature", *box) == ui.PROMPT_BG[::-1]
    assert rgb("s09-cancelled", *box) != ui.PROMPT_BG[::-1]

    keep = os.environ.get("CHECKIN_GATE_SCREENSHOTS")
    if keep:
        shutil.copytree(shots, keep, dirs_exist_ok=True)
    print(key_to_banner(window, pressed, "well", "k", "admit banner (last answer)"))
    print(key_to_banner(window, pressed, "fever", "enter", "fever referral banner (Enter after the reading)"))
    print(key_to_banner(window, pressed, "declared", "enter", "declared guest's admit banner"))
    opened = next(t for t in window.shown_at if t > pressed["well-start"])  # the box is on screen before the typing
    answered = next(t for k, t in window.keys_at if k == "k" and t > pressed["well"])
    print(f"7 keys of a screening, window's first key to its last: {(answered - opened) * 1000:.0f} ms")


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
