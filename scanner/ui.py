"""The gate screen: live preview, the verdict banner, the status line, keys and sounds.

Drawing is plain NumPy/OpenCV plus Pillow for text (OpenCV's putText has no Vietnamese
diacritics), so the same `Screen.compose` renders the window and a PNG for tests. The window is
OpenCV's when its build has a GUI, else Tk's; neither is imported until a window is opened.

Keys: D entry/exit, E English/Tiếng Việt, L look up a damaged badge by credential id (type hex,
Enter), R refuse the person shown (journalled as refused_by_staff), A acknowledge a clock alarm,
Q or Esc quit.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from checkin import i18n
from checkin.core.errors import N_, Verdict
from checkin.core.trust import Direction
from scanner.camera import EventKind, SourceEvent
from scanner.decode import Deduplicator, Found, decode_frame
from scanner.runner import Candidate, Frame, Gate, Recorded, monotonic_ms, run_frames
from scanner.settings import Settings
from scanner.sync import SyncStatus

WIDTH, HEIGHT = 1280, 720
STATUS_H = 44
BANNER_H = 300
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
# BGR
COLOURS = {Verdict.ADMIT: (40, 150, 20), Verdict.DENY: (30, 30, 200), Verdict.REFER: (0, 165, 245)}
TEXT_ON = {Verdict.ADMIT: (255, 255, 255), Verdict.DENY: (255, 255, 255), Verdict.REFER: (20, 20, 20)}
# The screen's words as the catalogue's English msgids (checkin/locale/), translated as they are drawn.
HEADLINE = {Verdict.ADMIT: N_("WELCOME"), Verdict.DENY: N_("DENIED"), Verdict.REFER: N_("SEE STAFF")}
EXIT_HEADLINE = N_("GOODBYE")
WORDS = {
    "online": N_("Online"),
    "offline": N_("Offline"),
    "usb": N_("No sync (USB)"),
    "bundle": N_("Trust data v%(v)s, %(age)s"),
    "pending": N_("Not uploaded: %(n)s"),
    "in": N_("ENTRY"),
    "out": N_("EXIT"),
    "zone": N_("zone %(z)s"),
    "alarm": N_("CLOCK WENT BACK: nobody is admitted. A supervisor presses A to confirm the time"),
    "help": N_("D entry/exit · L look up · R refuse · A confirm clock · E Tiếng Việt · Q quit"),
    "lookup": N_("Damaged badge, type its id (Enter): "),
    "nomatch": N_("No match"),
    "choose": N_("Press 1–%(n)s to choose, Esc to cancel"),
    "revoked": N_("Device revoked"),
    "minutes": N_("%(n)s min"),
    "hours": N_("%(n)s h"),
    "days": N_("%(n)s d"),
    "bundle_expired": N_("The trust data has expired: sync the gate"),  # Decision.warning
}


_SOURCE_TROUBLE = frozenset({EventKind.LOST, EventKind.OPEN_FAILED, EventKind.GAVE_UP})


def word(key: str, lang: str, **values: object) -> str:
    """A screen word in Vietnamese or English."""
    return i18n.gettext(lang, WORDS[key], **values)


@lru_cache(maxsize=16)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (it has every Vietnamese glyph), or Pillow's own font when DejaVu is missing."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(FONT_DIR / name), size)
    except OSError:
        return ImageFont.load_default(size)


def age_text(seconds: float, lang: str) -> str:
    """A bundle age in words: minutes, hours or days."""
    minutes = int(seconds // 60)
    if minutes < 120:
        return word("minutes", lang, n=max(0, minutes))
    if minutes < 48 * 60:
        return word("hours", lang, n=minutes // 60)
    return word("days", lang, n=minutes // 1440)


@dataclass(frozen=True)
class StatusView:
    """What the status line shows."""

    sync_enabled: bool
    online: bool
    bundle_version: int
    bundle_age_s: float
    pending: int
    direction: Direction
    zone: str | None
    clock_alarm: bool = False
    device_revoked: bool = False
    source_event: SourceEvent | None = None  # the camera lost, reopened...: shown until it recovers


@dataclass(frozen=True)
class Banner:
    """A verdict on screen until `until_ms` (monotonic)."""

    record: Recorded
    until_ms: int


def _text_block(
    size: tuple[int, int],
    background: tuple[int, int, int],
    lines: list[tuple[str, int, bool, tuple[int, int, int]]],
    top: int = 10,
) -> np.ndarray:
    """A BGR block of `size` with lines (text, font size, bold, BGR colour), left-aligned, top down."""
    width, height = size
    image = Image.new("RGB", size, background[::-1])
    draw = ImageDraw.Draw(image)
    y = top
    for text, points, bold, colour in lines:
        face = font(points, bold)
        shown = text
        while shown and draw.textlength(shown, font=face) > width - 48:
            shown = shown[:-2] + "…" if len(shown) > 2 else ""
        draw.text((24, y), shown, font=face, fill=colour[::-1])
        y += int(points * 1.25)
        if y > height:
            break
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


def banner_image(record: Recorded, lang: str) -> np.ndarray:
    """The full-width verdict banner: headline, reason, name, organisation and category."""
    decision = record.decision
    verdict = decision.verdict
    colour, ink = COLOURS[verdict], TEXT_ON[verdict]
    exiting = verdict is Verdict.ADMIT and record.row.direction == Direction.OUT.value
    headline = i18n.gettext(lang, EXIT_HEADLINE if exiting else HEADLINE[verdict])
    lines: list[tuple[str, int, bool, tuple[int, int, int]]] = [(headline, 84, True, ink)]
    cred = decision.credential
    if verdict is not Verdict.ADMIT:
        lines.append((decision.message(lang), 36, True, ink))
    if cred is not None:
        lines.append((cred.name, 52, True, ink))
        details = " · ".join(x for x in (cred.organisation, cred.category) if x)
        if details:
            lines.append((details, 32, False, ink))
    if decision.warning:
        warning = word(decision.warning, lang) if decision.warning in WORDS else decision.warning
        lines.append((f"⚠ {warning}", 24, False, ink))
    return _text_block((WIDTH, BANNER_H), colour, lines, top=24)  # room for stacked marks (Ố, Ẫ)


@lru_cache(maxsize=32)
def _status_image(view: StatusView, lang: str) -> np.ndarray:
    if not view.sync_enabled:
        link, dot = word("usb", lang), (160, 160, 160)
    elif view.device_revoked:
        link, dot = word("revoked", lang), (60, 60, 230)
    elif view.online:
        link, dot = word("online", lang), (80, 200, 80)
    else:
        link, dot = word("offline", lang), (60, 60, 230)
    parts = [
        word("bundle", lang, v=view.bundle_version, age=age_text(view.bundle_age_s, lang)),
        word("pending", lang, n=view.pending),
        word(view.direction.value, lang) + ("" if view.zone is None else " · " + word("zone", lang, z=view.zone)),
    ]
    block = _text_block(
        (WIDTH, STATUS_H),
        (40, 40, 40),
        [("      " + link + "   |   " + "   |   ".join(parts), 24, True, (235, 235, 235))],
    )
    cv2.circle(block, (26, STATUS_H // 2), 10, dot, -1, lineType=cv2.LINE_AA)
    return block


@lru_cache(maxsize=4)
def _strip(key: str, lang: str, background: tuple[int, int, int], ink: tuple[int, int, int], size: int) -> np.ndarray:
    return _text_block((WIDTH, int(size * 1.9)), background, [(word(key, lang), size, True, ink)])


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The frame scaled to fit width × height, letterboxed on black; BGR."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    resized = cv2.resize(frame, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return canvas


class Screen:
    """The screen's state (language, banner, lookup) and its drawing; keys come in, actions go to the Gate."""

    def __init__(self, gate: Gate, *, hold_ms: int, lang: str = "vi", now_ms: Callable[[], int]) -> None:
        self.gate = gate
        self.hold_ms = hold_ms
        self.lang = lang
        self.now_ms = now_ms
        self.banner: Banner | None = None
        self.last: Recorded | None = None
        self.lookup_text: str | None = None
        self.candidates: list[Candidate] = []
        self.lookup_failed = False
        self.on_record: Callable[[Recorded], None] = lambda record: None
        self._banner_cache: tuple[tuple[int, str], np.ndarray] | None = None

    def show(self, record: Recorded) -> None:
        """Put a committed verdict on the banner for the hold time."""
        self.banner = Banner(record, self.now_ms() + self.hold_ms)
        if record.decision.credential is not None:
            self.last = record
        self.on_record(record)

    def key(self, key: str) -> bool:
        """Handle one key press; False means quit."""
        if self.lookup_text is not None:
            return self._lookup_key(key)
        lowered = key.lower()
        if lowered in ("q", "esc"):
            return False
        if lowered == "d":
            self.gate.set_direction(Direction.OUT if self.gate.direction is Direction.IN else Direction.IN)
        elif lowered == "e":
            self.lang = "en" if self.lang == "vi" else "vi"
        elif lowered == "l":
            self.lookup_text, self.candidates, self.lookup_failed = "", [], False
        elif lowered == "r":
            shown = None if self.last is None else self.last.decision
            self.show(self.gate.refuse(shown))
        elif lowered == "a" and self.gate.clock_alarm():
            self.show(self.gate.acknowledge_clock())
        return True

    def _lookup_key(self, key: str) -> bool:
        assert self.lookup_text is not None
        if key == "esc":
            self.lookup_text = None
        elif key == "backspace":
            self.lookup_text = self.lookup_text[:-1]
        elif key == "enter":
            self.candidates = self.gate.lookup(self.lookup_text)
            self.lookup_failed = not self.candidates
            if len(self.candidates) == 1:
                self.show(self.gate.manual(self.candidates[0]))
                self.lookup_text, self.candidates = None, []
        elif key.isdigit() and self.candidates and int(key) in range(1, len(self.candidates) + 1):
            self.show(self.gate.manual(self.candidates[int(key) - 1]))
            self.lookup_text, self.candidates = None, []
        elif len(key) == 1 and key.lower() in "0123456789abcdef" and len(self.lookup_text) < 32:
            self.lookup_text += key.lower()
        return True

    def compose(self, frame: np.ndarray | None, found: list[Found], status: StatusView) -> np.ndarray:
        """The whole screen as a BGR image: status line, preview with outlined codes, banner, prompts."""
        canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        canvas[:STATUS_H] = _status_image(status, self.lang)
        area_h = HEIGHT - STATUS_H
        if frame is not None:
            h, w = frame.shape[:2]
            preview = fit_frame(frame, WIDTH, area_h)
            scale = min(WIDTH / w, area_h / h)
            ox, oy = (WIDTH - int(w * scale)) // 2, (area_h - int(h * scale)) // 2
            for item in found:
                if item.corners:
                    points = np.array([(ox + x * scale, oy + y * scale) for x, y in item.corners], np.int32)
                    cv2.polylines(preview, [points], True, (0, 255, 0), 4, lineType=cv2.LINE_AA)
            canvas[STATUS_H:] = preview
        y = STATUS_H
        if status.clock_alarm:
            strip = _strip("alarm", self.lang, COLOURS[Verdict.REFER], (20, 20, 20), 26)
            canvas[y : y + strip.shape[0]] = strip
            y += strip.shape[0]
        if status.source_event is not None:
            line = [(status.source_event.message(self.lang), 24, True, (255, 255, 255))]
            strip = _text_block((WIDTH, 46), COLOURS[Verdict.DENY], line)
            canvas[y : y + strip.shape[0]] = strip
            y += strip.shape[0]
        if self.lookup_text is not None:
            self._draw_lookup(canvas, y)
        banner = self.banner
        if banner is not None and self.now_ms() < banner.until_ms:
            canvas[HEIGHT - BANNER_H :] = self._banner(banner.record)
        else:
            help_strip = _strip("help", self.lang, (30, 30, 30), (200, 200, 200), 20)
            canvas[HEIGHT - help_strip.shape[0] :] = help_strip
        return canvas

    def _banner(self, record: Recorded) -> np.ndarray:
        key = (record.row.seq, self.lang)
        if self._banner_cache is None or self._banner_cache[0] != key:
            self._banner_cache = (key, banner_image(record, self.lang))
        return self._banner_cache[1]

    def _draw_lookup(self, canvas: np.ndarray, y: int) -> None:
        assert self.lookup_text is not None
        lines: list[tuple[str, int, bool, tuple[int, int, int]]] = [
            (word("lookup", self.lang) + self.lookup_text + "▌", 28, True, (255, 255, 255))
        ]
        for i, candidate in enumerate(self.candidates, 1):
            lines.append((f"{i}. {candidate.cti.hex()[:12]}…  {candidate.name}", 24, False, (230, 230, 230)))
        if len(self.candidates) > 1:
            lines.append((word("choose", self.lang, n=len(self.candidates)), 22, False, (200, 220, 255)))
        if self.lookup_failed:
            lines.append((word("nomatch", self.lang), 24, False, (120, 120, 255)))
        block = _text_block((WIDTH, 60 + 32 * len(lines)), (70, 50, 20), lines)
        canvas[y : y + block.shape[0]] = block


# ---- sound --------------------------------------------------------------------------------------------


def tone(notes: list[tuple[float, float]], rate: int = 22050, volume: float = 0.4) -> bytes:
    """A WAV file of (frequency Hz, seconds) notes, with short fades so nothing clicks."""
    parts = []
    for freq, seconds in notes:
        t = np.arange(int(rate * seconds)) / rate
        wave_ = np.sin(2 * np.pi * freq * t) * volume
        fade = min(len(t) // 4, int(rate * 0.01))
        if fade:
            ramp = np.linspace(0.0, 1.0, fade)
            wave_[:fade] *= ramp
            wave_[-fade:] *= ramp[::-1]
        parts.append(wave_)
    samples = (np.concatenate(parts) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


TONES = {
    Verdict.ADMIT: [(880.0, 0.12), (1320.0, 0.18)],  # rising: welcome
    Verdict.DENY: [(300.0, 0.25), (220.0, 0.35)],  # falling, low: stop
    Verdict.REFER: [(660.0, 0.15), (0.0, 0.08), (660.0, 0.15)],  # two beeps: wait
}
PLAYERS = ("paplay", "aplay", "pw-play")


class Sounder:
    """Plays a short tone per verdict through the first player found; silent when there is none."""

    def __init__(self, enabled: bool = True) -> None:
        self.player = next((p for p in PLAYERS if shutil.which(p)), None) if enabled else None
        self._dir = tempfile.TemporaryDirectory(prefix="checkin-gate-sounds-") if self.player else None
        self._files: dict[Verdict, Path] = {}
        self._running: list[subprocess.Popen[bytes]] = []
        if self._dir is not None:
            for verdict, notes in TONES.items():
                path = Path(self._dir.name) / f"{verdict.value}.wav"
                path.write_bytes(tone(notes))
                self._files[verdict] = path

    def play(self, verdict: Verdict) -> None:
        """Start the tone and return at once; never blocks the loop."""
        self._running = [p for p in self._running if p.poll() is None]
        if self.player is None or len(self._running) > 2:
            return
        args = (
            [self.player, str(self._files[verdict])]
            if self.player != "aplay"
            else ["aplay", "-q", str(self._files[verdict])]
        )
        try:
            self._running.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # noqa: S603
        except OSError:
            self.player = None

    def close(self) -> None:
        """Remove the tone files."""
        if self._dir is not None:
            self._dir.cleanup()


# ---- windows -----------------------------------------------------------------------------------------


class Window(Protocol):
    """Shows images and reports keys."""

    def show(self, image: np.ndarray) -> None:
        """Display a BGR image."""

    def poll(self) -> list[str]:
        """Keys pressed since the last poll ('enter', 'esc', 'backspace' or the character)."""

    def close(self) -> None:
        """Close the window."""


def _has_cv_gui() -> bool:
    info = cv2.getBuildInformation()
    gui = next((line for line in info.splitlines() if line.strip().startswith("GUI:")), "GUI: NONE")
    return "NONE" not in gui


class CvWindow:
    """An OpenCV HighGUI window (a non-headless OpenCV build)."""

    def __init__(self, title: str) -> None:
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        cv2.resizeWindow(title, WIDTH, HEIGHT)

    def show(self, image: np.ndarray) -> None:
        cv2.imshow(self.title, image)

    def poll(self) -> list[str]:
        code = cv2.waitKey(1)
        if code < 0:
            return []
        code &= 0xFF
        return [{13: "enter", 10: "enter", 27: "esc", 8: "backspace", 127: "backspace"}.get(code, chr(code))]

    def close(self) -> None:
        cv2.destroyWindow(self.title)


class TkWindow:
    """A Tk window (OpenCV wheels built without a GUI still get a screen)."""

    def __init__(self, title: str) -> None:
        import tkinter

        from PIL import ImageTk

        self._imagetk = ImageTk
        try:
            self.root = tkinter.Tk()
        except tkinter.TclError as exc:
            raise OSError(f"no screen to open a window on ({exc}); use --headless") from None
        self.root.title(title)
        self.label = tkinter.Label(self.root, bg="black")
        self.label.pack(fill="both", expand=True)
        self.keys: list[str] = []
        self.closed = False
        self.root.bind("<Key>", self._on_key)
        self.root.protocol("WM_DELETE_WINDOW", self._on_close)
        self._photo: object = None

    def _on_key(self, event: object) -> None:
        keysym = str(getattr(event, "keysym", ""))
        char = str(getattr(event, "char", ""))
        named = {"Return": "enter", "KP_Enter": "enter", "Escape": "esc", "BackSpace": "backspace"}
        if keysym in named:
            self.keys.append(named[keysym])
        elif char and char.isprintable():
            self.keys.append(char)

    def _on_close(self) -> None:
        self.closed = True

    def show(self, image: np.ndarray) -> None:
        rgb = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        self._photo = self._imagetk.PhotoImage(rgb)
        self.label.configure(image=self._photo)

    def poll(self) -> list[str]:
        self.root.update()
        keys, self.keys = self.keys, []
        return ["esc"] if self.closed else keys

    def close(self) -> None:
        self.root.destroy()


def open_window(title: str) -> Window:
    """OpenCV's window when its build has a GUI, else a Tk window."""
    if _has_cv_gui():
        return CvWindow(title)
    return TkWindow(title)


# ---- the windowed loop ---------------------------------------------------------------------------------


def status_view(gate: Gate, sync_status: SyncStatus | None, source_event: SourceEvent | None = None) -> StatusView:
    """The status line's facts from the gate and the sync thread's last word."""
    bundle = gate.bundle
    age = (gate.clock() - bundle.issued_at).total_seconds()
    return StatusView(
        sync_enabled=sync_status is not None and sync_status.enabled,
        online=sync_status is not None and sync_status.online,
        bundle_version=bundle.version,
        bundle_age_s=age,
        pending=gate.journal.pending(),  # the sync thread's acknowledgements are committed rows too
        direction=gate.direction,
        zone=gate.state.zone,
        clock_alarm=gate.clock_alarm(),
        device_revoked=sync_status is not None and sync_status.device_revoked,
        source_event=source_event if source_event is not None and source_event.kind in _SOURCE_TROUBLE else None,
    )


def run_window(
    gate: Gate,
    frames: Iterable[Frame],
    dedup: Deduplicator,
    *,
    settings: Settings,
    status: Callable[[], StatusView],
    title: str,
    window: Window | None = None,
) -> None:
    """The scan loop with a window: preview, banner, status line, keys and sounds."""
    shown = window or open_window(title)
    sounder = Sounder(settings.sound)
    screen = Screen(gate, hold_ms=int(settings.banner_hold_seconds * 1000), lang=settings.language, now_ms=monotonic_ms)
    screen.on_record = lambda record: sounder.play(record.decision.verdict)

    def on_frame(frame: np.ndarray, found: list[Found]) -> bool:
        shown.show(screen.compose(frame, found, status()))
        return all(screen.key(key) for key in shown.poll())

    try:
        run_frames(
            gate,
            frames,
            decode_frame,
            dedup=dedup,
            on_verdict=lambda record, _item: screen.show(record),
            on_frame=on_frame,
        )
    finally:
        sounder.close()
        shown.close()
