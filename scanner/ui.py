"""The gate screen: live preview, the verdict banner, the status line, keys and sounds.

Drawing is plain NumPy/OpenCV plus Pillow for text (OpenCV's putText has no Vietnamese
diacritics), so the same `Screen.compose` renders the window and a PNG for tests. The window is
OpenCV's when its build has a GUI, else Tk's; neither is imported until a window is opened.

The window fills the screen (gate.toml `fullscreen = false` or `run --windowed` for a window) and
everything is measured from a 1280×720 design scaled to the screen's height.

Keys: L find a guest whose code will not scan (the badge's short code or the name, Enter, then the
number of the guest), D entry/exit (asks first; the mode is shown large), R refuse the person last
shown (asks first, only within REFUSE_WINDOW_MS of their verdict), A the supervisor confirms a
clock alarm (asks for the PIN set at enrolment), E English/Tiếng Việt, Q quit. Esc closes a box.

Health screening (when the event screens): a ticket that verified opens the screening box instead of
the banner. The operator types the temperature and Enter (a thermometer that types like a keyboard
does the same), answers each question with one key (C/Y/1 yes, K/N/0 no), and an EU certificate is
scanned when the event requires one (Enter: the guest has none). Esc cancels: nothing is journalled,
the guest shows the ticket again.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from checkin import i18n
from checkin.core import credential, trust
from checkin.core.errors import N_, Reason, Verdict
from checkin.core.trust import Direction, EventInfo
from scanner import pin, screening
from scanner.camera import EventKind, SourceEvent
from scanner.decode import Deduplicator, Found, decode_frame
from scanner.gate import Decision
from scanner.runner import Candidate, Frame, Gate, Recorded, monotonic_ms, run_frames
from scanner.screening import Step
from scanner.settings import Settings
from scanner.sync import SyncStatus

WIDTH, HEIGHT = 1280, 720  # the design size: every measure scales with the screen's height from here
STATUS_H = 44
REFUSE_WINDOW_MS = 10_000  # R refuses the person last shown only this long after their verdict
NOTICE_MS = 4_000
PIN_TRIES, PIN_LOCK_MS = 3, 60_000  # three wrong PINs lock the prompt for a minute
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
# BGR
COLOURS = {
    Verdict.ADMIT: (16, 124, 16),  # white on it: 5.3:1
    Verdict.DENY: (30, 30, 200),
    Verdict.REFER: (0, 165, 245),
}
TEXT_ON = {Verdict.ADMIT: (255, 255, 255), Verdict.DENY: (255, 255, 255), Verdict.REFER: (20, 20, 20)}
# entry: deep blue with white; exit: amber with black, so the two modes differ at a glance and in grey
MODE_COLOURS = {Direction.IN: ((160, 80, 10), (255, 255, 255)), Direction.OUT: ((0, 190, 255), (10, 10, 10))}
READY_INK = (110, 230, 110)
NOTICE_BG, NOTICE_INK = (0, 200, 255), (10, 10, 10)
PROMPT_BG = (70, 40, 10)
# The screen's words as the catalogue's English msgids (checkin/locale/), translated as they are drawn.
HEADLINE = {Verdict.ADMIT: N_("WELCOME"), Verdict.DENY: N_("DENIED"), Verdict.REFER: N_("SEE STAFF")}
EXIT_HEADLINE = N_("GOODBYE")
REASON_HEADLINE = {Reason.CLOCK_ACKNOWLEDGED: N_("CLOCK CONFIRMED")}  # a refer row that is no person's verdict
WORDS = {
    "online": N_("Online"),
    "offline": N_("Offline"),
    "usb": N_("No sync (USB)"),
    "bundle": N_("Trust data v%(v)s, %(age)s"),
    "pending": N_("Not uploaded: %(n)s"),
    "in": N_("ENTRY"),
    "out": N_("EXIT"),
    "zone": N_("zone %(z)s"),
    "zones": N_("Zones: %(zones)s"),
    "counts": N_("Admitted %(admitted)s · Denied %(denied)s · See staff %(referred)s"),
    "ready": N_("READY"),
    "ready_hint": N_("Hold the QR code up to the camera"),
    "alarm": N_("CLOCK WENT BACK: nobody is admitted. A supervisor presses A to confirm the time"),
    "help": N_("L find a guest · D entry/exit · R refuse · A supervisor · E English · Q quit"),
    "lookup": N_("Find a guest: type the code on the badge (7K3M-Q9XD) or the name, then Enter"),
    "lookup_close": N_("Esc closes this box"),
    "nomatch": N_("Nobody found for “%(q)s”: check the code or type part of the name"),
    "choose": N_("Press 1–%(n)s to admit that guest"),
    "choose_one": N_("Press 1 to admit this guest"),
    "manual": N_("Entered by hand (look-up)"),
    "confirm_refuse": N_("Refuse %(name)s? The gate records them as refused."),
    "confirm_direction": N_("Switch this gate to %(mode)s?"),
    "confirm_keys": N_("Enter: yes · Esc: no"),
    "nothing_to_refuse": N_("Nothing to refuse: R works for %(s)s s after a verdict"),
    "pin": N_("Supervisor PIN, then Enter (Esc cancels)"),
    "pin_wrong": N_("Wrong PIN"),
    "pin_locked": N_("Too many wrong PINs: wait %(s)s s"),
    "no_pin": N_("No supervisor PIN on this gate: set one with checkin-gate set-pin"),
    "no_alarm": N_("The clock is fine: nothing to confirm"),
    "no_sound": N_("No sound: no audio player found (paplay, aplay, pw-play)"),
    "revoked": N_("Device revoked"),
    "minutes": N_("%(n)s min"),
    "hours": N_("%(n)s h"),
    "days": N_("%(n)s d"),
    "bundle_expired": N_("The trust data has expired: sync the gate"),  # Decision.warning
    "screening": N_("Health screening: %(name)s"),
    "declared": N_("Declared on the ticket at %(time)s: no questions"),
    "reading": N_("Temperature %(reading)s °C"),
    "question_of": N_("Question %(n)s of %(of)s"),
    "answer_keys": N_("C, Y or 1: yes  ·  K, N or 0: no"),
    "all_clear_key": N_("Space: all answers are fine (none sends the guest to the medical desk)"),
    "no_certificate": N_("Enter: the guest has no certificate"),
    "screening_close": N_("Esc cancels: nothing is recorded, the guest scans the ticket again"),
    "screening_cancelled": N_("Screening cancelled: nothing recorded. Scan the ticket again"),
    "screening_busy": N_("Finish this guest's screening first (Esc cancels it)"),
}
# A question's answer as one key: Vietnamese C(ó)/K(hông), English Y/N, or 1/0 on a number pad.
ANSWER_KEYS = {"c": True, "y": True, "1": True, "k": False, "n": False, "0": False}
ALL_CLEAR_KEY = " "  # Space: every question still to ask answered the way that does not refer
DCC_PREFIX = "HC1:"

Line = tuple[str, int, bool, tuple[int, int, int]]  # text, font size, bold, BGR colour
Commit = Callable[["screening.Result | None"], Recorded]  # journal a decision with its screening result

_SOURCE_TROUBLE = frozenset({EventKind.LOST, EventKind.OPEN_FAILED, EventKind.GAVE_UP})


def word(key: str, lang: str, **values: object) -> str:
    """A screen word in Vietnamese or English."""
    return i18n.gettext(lang, WORDS[key], **values)


@lru_cache(maxsize=32)
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


def zone_label(event: EventInfo, code: str, lang: str) -> str:
    """A zone's display name in `lang` when the bundle's event names its zones, else its code."""
    return trust.label_of(event.zone_names, code, lang)


def category_label(event: EventInfo | None, code: str, lang: str) -> str:
    """A category's display name in `lang` when the bundle's event names its categories, else its code."""
    return code if event is None else trust.label_of(event.category_names, code, lang)


def guest_details(cred: credential.Credential, event: EventInfo | None, lang: str) -> str:
    """Organisation · category (by its display name), as the banner and the look-up list show them."""
    category = category_label(event, cred.category, lang) if cred.category else ""
    return " · ".join(x for x in (cred.organisation, category) if x)


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


def _px(points: float, k: float) -> int:
    return max(8, round(points * k))


def _text_block(
    size: tuple[int, int],
    background: tuple[int, int, int],
    lines: list[Line],
    top: int = 10,
    left: int = 24,
) -> np.ndarray:
    """A BGR block of `size` with lines (text, font size, bold, BGR colour), left-aligned, top down."""
    width, height = size
    image = Image.new("RGB", size, background[::-1])
    draw = ImageDraw.Draw(image)
    y = top
    for text, points, bold, colour in lines:
        face = font(points, bold)
        shown = text
        while shown and draw.textlength(shown, font=face) > width - 2 * left:
            shown = shown[:-2] + "…" if len(shown) > 2 else ""
        draw.text((left, y), shown, font=face, fill=colour[::-1])
        y += int(points * 1.25)
        if y > height:
            break
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


def _lines_height(lines: list[Line], top: int) -> int:
    return top + sum(int(points * 1.25) for _text, points, _bold, _colour in lines)


def banner_lines(record: Recorded, lang: str, event: EventInfo | None = None, k: float = 1.0) -> list[Line]:
    """The verdict banner's lines: headline, reason, name, organisation and category, zones, a manual mark."""
    decision = record.decision
    verdict = decision.verdict
    ink = TEXT_ON[verdict]
    exiting = verdict is Verdict.ADMIT and record.row.direction == Direction.OUT.value
    msgid = REASON_HEADLINE.get(decision.reason) or (EXIT_HEADLINE if exiting else HEADLINE[verdict])
    headline = i18n.gettext(lang, msgid)
    lines: list[Line] = [(headline, _px(84, k), True, ink)]
    cred = decision.credential
    if verdict is not Verdict.ADMIT:
        lines.append((decision.message(lang), _px(36, k), True, ink))
    if decision.advice:  # what the operator does next (a screening referral)
        lines.append(("→ " + i18n.gettext(lang, decision.advice), _px(32, k), True, ink))
    if cred is not None:
        lines.append((cred.name, _px(56, k), True, ink))
        details = guest_details(cred, event, lang)
        if details:
            lines.append((details, _px(32, k), False, ink))
        if cred.zones:
            shown = ", ".join(zone_label(event, z, lang) if event else z for z in cred.zones)
            lines.append((word("zones", lang, zones=shown), _px(34, k), True, ink))
    if record.row.operator.startswith("manual"):
        lines.append((word("manual", lang), _px(28, k), True, ink))
    if decision.warning:
        warning = word(decision.warning, lang) if decision.warning in WORDS else decision.warning
        lines.append((f"⚠ {warning}", _px(24, k), False, ink))
    return lines


def banner_image(
    record: Recorded, lang: str, event: EventInfo | None = None, width: int = WIDTH, k: float = 1.0
) -> np.ndarray:
    """The full-width verdict banner (`banner_lines`) on the verdict's colour."""
    colour = COLOURS[record.decision.verdict]
    lines = banner_lines(record, lang, event, k)
    top = _px(24, k)  # room for stacked marks (Ố, Ẫ)
    return _text_block((width, _lines_height(lines, top) + _px(12, k)), colour, lines, top=top, left=_px(32, k))


@lru_cache(maxsize=32)
def _status_image(view: StatusView, lang: str, width: int, k: float) -> np.ndarray:
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
    ]
    height = _px(STATUS_H, k)
    block = _text_block(
        (width, height),
        (40, 40, 40),
        [(link + "   |   " + "   |   ".join(parts), _px(24, k), True, (235, 235, 235))],
        left=_px(52, k),
    )
    cv2.circle(block, (_px(26, k), height // 2), _px(10, k), dot, -1, lineType=cv2.LINE_AA)
    return block


@lru_cache(maxsize=16)
def _mode_image(
    direction: Direction, zone: str, counts: tuple[int, int, int], lang: str, width: int, k: float
) -> np.ndarray:
    """The mode bar: ENTRY or EXIT large in its own colour, the zone, and this shift's counts."""
    background, ink = MODE_COLOURS[direction]
    height = _px(92, k)
    image = Image.new("RGB", (width, height), background[::-1])
    draw = ImageDraw.Draw(image)
    big, small = font(_px(60, k), True), font(_px(28, k), True)
    mode = word(direction.value, lang)
    draw.text((_px(32, k), _px(12, k)), mode, font=big, fill=ink[::-1])
    x = _px(32, k) + int(draw.textlength(mode, font=big)) + _px(40, k)
    if zone:
        draw.text((x, _px(32, k)), word("zone", lang, z=zone), font=small, fill=ink[::-1])
    admitted, denied, referred = counts
    tally = word("counts", lang, admitted=admitted, denied=denied, referred=referred)
    draw.text(
        (width - _px(32, k) - int(draw.textlength(tally, font=small)), _px(32, k)), tally, font=small, fill=ink[::-1]
    )
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


@lru_cache(maxsize=8)
def _idle_image(lang: str, width: int, k: float) -> np.ndarray:
    """The bottom of the screen between verdicts: READY, what to do, and the keys."""
    lines: list[Line] = [
        (word("ready", lang) + "  ·  " + word("ready_hint", lang), _px(52, k), True, READY_INK),
        (word("help", lang), _px(24, k), False, (215, 215, 215)),
    ]
    top = _px(18, k)
    return _text_block((width, _lines_height(lines, top) + _px(14, k)), (30, 30, 30), lines, top=top, left=_px(32, k))


@lru_cache(maxsize=16)
def _strip(text: str, background: tuple[int, int, int], ink: tuple[int, int, int], size: int, width: int) -> np.ndarray:
    return _text_block((width, int(size * 1.9)), background, [(text, size, True, ink)], top=int(size * 0.4))


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The frame scaled to fit width × height, letterboxed on black; BGR."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    # bilinear: a preview needs no area averaging, which cost 50 ms a frame at 1080p on a busy laptop
    resized = frame if size == (w, h) else cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return canvas


# ---- prompts: boxes over the preview that take the keys while open --------------------------------------


class Prompt(Protocol):
    """A box over the preview that takes every key while it is open (a screening step can be one)."""

    def key(self, screen: Screen, key: str) -> None:
        """Handle a key; set `screen.prompt = None` to close."""

    def lines(self, screen: Screen, k: float) -> list[Line]:
        """What the box shows."""


@dataclass
class Lookup:
    """Find a guest whose code will not scan: short code, name or id, then a number to admit."""

    text: str = ""
    candidates: list[Candidate] = field(default_factory=list)
    failed: bool = False

    def key(self, screen: Screen, key: str) -> None:
        """Type, Enter to search, 1–n to admit the listed guest, Esc to close."""
        if key == "esc":
            screen.prompt = None
        elif key == "backspace":
            self.text, self.candidates, self.failed = self.text[:-1], [], False
        elif key == "enter":
            self.candidates = screen.gate.lookup(self.text)
            self.failed = not self.candidates
        elif key.isdigit() and self.candidates:
            if int(key) in range(1, len(self.candidates) + 1):
                screen.prompt = None
                chosen = self.candidates[int(key) - 1]
                decision = screen.gate.examine_manual(chosen)
                recorded = screen.screen_or_commit(
                    decision, lambda result: screen.gate.manual(chosen, decision=decision, result=result)
                )
                if recorded is not None:
                    screen.show(recorded)
        elif len(key) == 1 and key.isprintable() and len(self.text) < 40:
            self.text, self.candidates, self.failed = self.text + key, [], False

    def lines(self, screen: Screen, k: float) -> list[Line]:
        """The question, what was typed, the guests found or that none was."""
        lang = screen.lang
        out: list[Line] = [
            (word("lookup", lang), _px(28, k), True, (255, 255, 255)),
            ("› " + self.text + "▌", _px(44, k), True, (80, 230, 255)),
        ]
        for i, candidate in enumerate(self.candidates, 1):
            cred = candidate.credential
            extra = "" if cred is None else guest_details(cred, screen.gate.bundle.event, lang)
            text = f"{i}.  {credential.short_code(candidate.cti)}   {candidate.name}" + (
                f"  ({extra})" if extra else ""
            )
            out.append((text, _px(34, k), True, (255, 255, 255)))
        if self.candidates:
            choose = (
                word("choose", lang, n=len(self.candidates)) if len(self.candidates) > 1 else word("choose_one", lang)
            )
            out.append((choose, _px(28, k), True, (150, 255, 150)))
        if self.failed:
            out.append((word("nomatch", lang, q=self.text), _px(30, k), True, (140, 140, 255)))
        out.append((word("lookup_close", lang), _px(24, k), False, (200, 200, 200)))
        return out


@dataclass
class Confirm:
    """A yes/no question before an action that changes a recorded verdict or the gate's mode."""

    question: str
    params: dict[str, object]
    action: Callable[[], None]

    def key(self, screen: Screen, key: str) -> None:
        """Enter (or Y) does it, Esc (or N) does not; other keys are ignored."""
        if key in ("enter", "y", "Y"):
            screen.prompt = None
            self.action()
        elif key in ("esc", "n", "N"):
            screen.prompt = None

    def lines(self, screen: Screen, k: float) -> list[Line]:
        """The question and the two keys."""
        return [
            (word(self.question, screen.lang, **self.params), _px(40, k), True, (255, 255, 255)),
            (word("confirm_keys", screen.lang), _px(32, k), True, (80, 230, 255)),
        ]


@dataclass
class PinEntry:
    """The supervisor's PIN before a supervisor action; digits are shown as dots."""

    action: Callable[[], None]
    text: str = ""
    wrong: bool = False

    def key(self, screen: Screen, key: str) -> None:
        """Digits, Backspace, Enter to check, Esc to cancel; three misses lock the prompt a minute."""
        if key == "esc":
            screen.prompt = None
        elif key == "backspace":
            self.text = self.text[:-1]
        elif key.isdigit() and len(self.text) < pin.MAX_DIGITS:
            self.text, self.wrong = self.text + key, False
        elif key == "enter" and self.text:
            if screen.check_pin is not None and screen.check_pin(self.text):
                screen.prompt, screen.pin_misses = None, 0
                self.action()
                return
            self.text, self.wrong = "", True
            screen.pin_misses += 1
            if screen.pin_misses >= PIN_TRIES:
                screen.pin_locked_until = screen.now_ms() + PIN_LOCK_MS
                screen.prompt, screen.pin_misses = None, 0
                screen.notify("pin_locked", s=PIN_LOCK_MS // 1000)

    def lines(self, screen: Screen, k: float) -> list[Line]:
        """The request, a dot per digit, and a wrong PIN said."""
        out: list[Line] = [
            (word("pin", screen.lang), _px(34, k), True, (255, 255, 255)),
            ("● " * len(self.text) + "▌", _px(48, k), True, (80, 230, 255)),
        ]
        if self.wrong:
            out.append((word("pin_wrong", screen.lang), _px(30, k), True, (140, 140, 255)))
        return out


@dataclass
class Screening:
    """Health screening of the guest whose ticket just verified: nothing is journalled until it ends.

    Feeds the operator's keys to a `screening.Session` and, once it is done, commits the verdict with
    its result (`Gate.finish`); Esc drops it unrecorded.
    """

    decision: Decision
    session: screening.Session
    commit: Commit
    typed: str = ""

    def key(self, screen: Screen, key: str) -> None:
        """Temperature keys then Enter, one key per answer, Enter when no certificate; Esc cancels."""
        if key == "esc":
            screen.prompt = None
            screen.notify("screening_cancelled")
            return
        step = self.session.step
        if step is Step.TEMPERATURE:
            if key == "backspace":
                self.typed = self.typed[:-1]
            elif key == "enter" and self.typed:
                self.session, self.typed = self.session.temperature_typed(self.typed), ""
            elif len(key) == 1 and key.isprintable() and len(self.typed) < 12:
                self.typed += key
        elif step is Step.QUESTION and key.lower() in ANSWER_KEYS:
            self.session = self.session.answered(ANSWER_KEYS[key.lower()])
        elif step is Step.QUESTION and key == ALL_CLEAR_KEY:
            self.session = self.session.all_clear()
        elif step is Step.CERTIFICATE and key == "enter":
            self.finish(screen)  # none shown: refers as screening required, with what to do
            return
        if self.session.step is Step.DONE:
            self.finish(screen)

    def code(self, screen: Screen, text: str) -> None:
        """A code the camera read while the box is open: the guest's EU certificate, or one that waits."""
        if self.session.step is Step.CERTIFICATE and text.startswith(DCC_PREFIX):
            self.session = self.session.certificate_shown(text)
            self.finish(screen)
        else:
            screen.notify("screening_busy")

    def finish(self, screen: Screen) -> None:
        """Close the box and commit the verdict with the screening's result."""
        screen.prompt = None
        screen.show(self.commit(self.session.result()))

    def lines(self, screen: Screen, k: float) -> list[Line]:
        """Whose screening it is, what was given, what to ask now, a typo said, and how to cancel."""
        lang, session = screen.lang, self.session
        name = self.decision.credential.name if self.decision.credential is not None else ""
        out: list[Line] = [(word("screening", lang, name=name), _px(30, k), True, (255, 255, 255))]
        if session.declaration is not None:
            at = session.declaration.declared_at.astimezone(session.now.tzinfo).strftime("%H:%M")
            out.append((word("declared", lang, time=at), _px(26, k), True, (150, 255, 150)))
        if session.reading is not None:
            out.append((word("reading", lang, reading=session.reading), _px(26, k), True, (150, 255, 150)))
        accent = (80, 230, 255)
        step = session.step
        out.append((i18n.gettext(lang, session.prompt()), _px(30, k), True, (255, 255, 255)))
        if step is Step.TEMPERATURE:
            out.append(("› " + self.typed + "▌ °C", _px(52, k), True, accent))
        elif step is Step.QUESTION and session.question is not None:
            total = len(session.policy.questions)
            out.append((word("question_of", lang, n=len(session.answers) + 1, of=total), _px(24, k), False, accent))
            out.append((session.question.text(lang), _px(44, k), True, (255, 255, 255)))
            for later in session.policy.questions[len(session.answers) + 1 :]:  # for the guest to read, for Space
                out.append(("· " + later.text(lang), _px(26, k), False, (220, 220, 220)))
            out.append((word("answer_keys", lang), _px(32, k), True, accent))
            out.append((word("all_clear_key", lang), _px(26, k), False, accent))
        elif step is Step.CERTIFICATE:
            out.append((word("no_certificate", lang), _px(30, k), True, accent))
        if session.problem:
            problem = i18n.gettext(lang, session.problem, **session.problem_params)
            out.append((problem, _px(30, k), True, (140, 140, 255)))
        out.append((word("screening_close", lang), _px(24, k), False, (200, 200, 200)))
        return out


class Screen:
    """The screen's state (language, banner, prompts, counts) and its drawing; keys come in, actions go to the Gate."""

    def __init__(
        self,
        gate: Gate,
        *,
        hold_ms: int,
        lang: str = "vi",
        now_ms: Callable[[], int],
        size: tuple[int, int] = (WIDTH, HEIGHT),
        check_pin: Callable[[str], bool] | None = None,
        sound_missing: bool = False,
    ) -> None:
        self.gate = gate
        self.hold_ms = hold_ms
        self.lang = lang
        self.now_ms = now_ms
        self.size = size
        self.check_pin = check_pin  # None: no supervisor PIN was set, supervisor actions stay shut
        self.sound_missing = sound_missing
        self.banner: Banner | None = None
        self.last: Recorded | None = None
        self.last_at_ms = 0
        self.prompt: Prompt | None = None
        self.notice: tuple[str, dict[str, object], int] | None = None  # word key, values, until (ms)
        self.counts = {Verdict.ADMIT: 0, Verdict.DENY: 0, Verdict.REFER: 0}
        self.pin_misses = 0
        self.pin_locked_until = 0
        self.on_record: Callable[[Recorded], None] = lambda record: None
        self._banner_cache: tuple[tuple[int, str, int], np.ndarray] | None = None

    @property
    def lookup_text(self) -> str | None:
        """What is typed in the look-up box, None when it is closed."""
        return self.prompt.text if isinstance(self.prompt, Lookup) else None

    def show(self, record: Recorded) -> None:
        """Put a committed verdict on the banner for the hold time and count it."""
        now = self.now_ms()
        self.banner = Banner(record, now + self.hold_ms)
        reason = record.decision.reason
        if reason is Reason.REFUSED_BY_STAFF:
            self.counts[Verdict.DENY] += 1
            self.counts[Verdict.ADMIT] -= int(self.counts[Verdict.ADMIT] > 0)
        elif reason is not Reason.CLOCK_ACKNOWLEDGED:
            self.counts[record.decision.verdict] += 1
        if record.decision.credential is not None and reason is not Reason.REFUSED_BY_STAFF:
            self.last, self.last_at_ms = record, now
        self.on_record(record)

    def scanned(self, text: str, decoder: str = "") -> Recorded | None:
        """A code the camera read: its committed row, or None while the guest is being screened
        (the screening box opens, or the open one takes an EU certificate)."""
        if isinstance(self.prompt, Screening):
            self.prompt.code(self, text)
            return None
        decision = self.gate.examine(text)
        return self.screen_or_commit(decision, lambda result: self.gate.finish(decision, text, decoder, result=result))

    def screen_or_commit(self, decision: Decision, commit: Commit) -> Recorded | None:
        """Commit a decision that needs no screening; else open the screening box (None), which commits
        with the result once the operator is through."""
        if not self.gate.needs_screening(decision):
            return commit(None)
        session = self.gate.start_screening(decision)
        if session.step is Step.DONE:  # a fresh declaration that did not pass refers before anything is asked
            return commit(session.result())
        # the guest at the camera comes first; the last guest's banner goes, so the two are not confused
        self.prompt, self.banner = Screening(decision, session, commit), None
        return None

    def notify(self, key: str, **values: object) -> None:
        """Say something for a few seconds (a key that did nothing says why)."""
        self.notice = (key, values, self.now_ms() + NOTICE_MS)

    def key(self, key: str) -> bool:
        """Handle one key press; False means quit."""
        if key == "quit":  # the window was closed
            return False
        if self.prompt is not None:
            self.prompt.key(self, key)
            return True
        lowered = key.lower()
        if lowered == "q":
            return False
        if lowered == "e":
            self.lang = "en" if self.lang == "vi" else "vi"
        elif lowered == "l":
            self.prompt = Lookup()
        elif lowered == "d":
            other = Direction.OUT if self.gate.direction is Direction.IN else Direction.IN
            mode = i18n.gettext(self.lang, WORDS[other.value])
            self.prompt = Confirm("confirm_direction", {"mode": mode}, lambda: self.gate.set_direction(other))
        elif lowered == "r":
            self._ask_refuse()
        elif lowered == "a":
            self._ask_supervisor()
        return True

    def _ask_refuse(self) -> None:
        last = self.last
        if last is None or self.now_ms() - self.last_at_ms > REFUSE_WINDOW_MS:
            self.notify("nothing_to_refuse", s=REFUSE_WINDOW_MS // 1000)
            return
        name = last.decision.credential.name if last.decision.credential else ""

        def refuse() -> None:
            self.last = None  # one refusal per person shown
            self.show(self.gate.refuse(last.decision))

        self.prompt = Confirm("confirm_refuse", {"name": name}, refuse)

    def _ask_supervisor(self) -> None:
        if not self.gate.clock_alarm():
            self.notify("no_alarm")
        elif self.check_pin is None:
            self.notify("no_pin")
        elif self.now_ms() < self.pin_locked_until:
            self.notify("pin_locked", s=(self.pin_locked_until - self.now_ms()) // 1000 + 1)
        else:
            self.prompt = PinEntry(lambda: self.show(self.gate.acknowledge_clock()))

    def compose(self, frame: np.ndarray | None, found: list[Found], status: StatusView) -> np.ndarray:
        """The whole screen as a BGR image: status line, mode bar, preview with outlined codes, banner or the
        ready cue, strips and prompts."""
        width, height = self.size
        k = height / HEIGHT
        now = self.now_ms()
        canvas = np.zeros((height, width, 3), np.uint8)
        top = _status_image(status, self.lang, width, k)
        canvas[: top.shape[0]] = top
        y = top.shape[0]
        zone = "" if status.zone is None else zone_label(self.gate.bundle.event, status.zone, self.lang)
        counts = (self.counts[Verdict.ADMIT], self.counts[Verdict.DENY], self.counts[Verdict.REFER])
        mode = _mode_image(status.direction, zone, counts, self.lang, width, k)
        canvas[y : y + mode.shape[0]] = mode
        y += mode.shape[0]
        banner = self.banner
        if banner is not None and now < banner.until_ms:
            bottom = self._banner(banner.record, width, k)
        elif isinstance(self.prompt, Screening):  # not READY: this guest is not through yet
            bottom = np.zeros((0, width, 3), np.uint8)
        else:
            bottom = _idle_image(self.lang, width, k)
        bottom = bottom[: max(0, height - y)]
        area_h = height - y - bottom.shape[0]
        if frame is not None and area_h > 0:
            self._draw_preview(canvas, frame, found, y, area_h)
        canvas[height - bottom.shape[0] :] = bottom
        for text, background, ink in self._strips(status, now):
            strip = _strip(text, background, ink, _px(26, k), width)[: max(0, height - y)]
            canvas[y : y + strip.shape[0]] = strip
            y += strip.shape[0]
        if self.prompt is not None:
            self._draw_prompt(canvas, self.prompt.lines(self, k), y, k)
        return canvas

    def _strips(self, status: StatusView, now: int) -> list[tuple[str, tuple[int, int, int], tuple[int, int, int]]]:
        strips = []
        if status.clock_alarm:
            strips.append((word("alarm", self.lang), COLOURS[Verdict.REFER], (20, 20, 20)))
        if status.source_event is not None:
            strips.append((status.source_event.message(self.lang), COLOURS[Verdict.DENY], (255, 255, 255)))
        if self.sound_missing:
            strips.append((word("no_sound", self.lang), (60, 60, 60), (80, 230, 255)))
        if self.notice is not None and now < self.notice[2]:
            strips.append((word(self.notice[0], self.lang, **self.notice[1]), NOTICE_BG, NOTICE_INK))
        return strips

    def _draw_preview(self, canvas: np.ndarray, frame: np.ndarray, found: list[Found], y: int, area_h: int) -> None:
        width = canvas.shape[1]
        h, w = frame.shape[:2]
        preview = fit_frame(frame, width, area_h)
        scale = min(width / w, area_h / h)
        ox, oy = (width - int(w * scale)) // 2, (area_h - int(h * scale)) // 2
        for item in found:
            if item.corners:
                points = np.array([(ox + x * scale, oy + y_ * scale) for x, y_ in item.corners], np.int32)
                cv2.polylines(preview, [points], True, (0, 255, 0), 4, lineType=cv2.LINE_AA)
        canvas[y : y + area_h] = preview

    def _banner(self, record: Recorded, width: int, k: float) -> np.ndarray:
        key = (record.row.seq, self.lang, width)
        if self._banner_cache is None or self._banner_cache[0] != key:
            self._banner_cache = (key, banner_image(record, self.lang, self.gate.bundle.event, width, k))
        return self._banner_cache[1]

    def _draw_prompt(self, canvas: np.ndarray, lines: list[Line], y: int, k: float) -> None:
        height, width = canvas.shape[:2]
        margin = _px(40, k)
        top = _px(18, k)
        box_w = width - 2 * margin
        box_h = min(_lines_height(lines, top) + top, height - y - margin // 2)
        if box_h <= 0:
            return
        block = _text_block((box_w, box_h), PROMPT_BG, lines, top=top, left=_px(28, k))
        y0 = y + margin // 2
        canvas[y0 : y0 + box_h, margin : margin + box_w] = block
        cv2.rectangle(canvas, (margin, y0), (margin + box_w - 1, y0 + box_h - 1), (255, 255, 255), max(2, _px(3, k)))


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
        self.missing = enabled and self.player is None  # asked for sound, found no way to make it: said on screen
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
        """Keys pressed since the last poll ('enter', 'esc', 'backspace', the character, or 'quit' once closed)."""

    def size(self) -> tuple[int, int]:
        """The drawing area in pixels (width, height)."""

    def close(self) -> None:
        """Close the window."""


def _has_cv_gui() -> bool:
    info = cv2.getBuildInformation()
    gui = next((line for line in info.splitlines() if line.strip().startswith("GUI:")), "GUI: NONE")
    return "NONE" not in gui


class CvWindow:
    """An OpenCV HighGUI window (a non-headless OpenCV build)."""

    def __init__(self, title: str, fullscreen: bool = True) -> None:
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        cv2.resizeWindow(title, WIDTH, HEIGHT)
        if fullscreen:
            cv2.setWindowProperty(title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)

    def size(self) -> tuple[int, int]:
        _x, _y, width, height = cv2.getWindowImageRect(self.title)
        return (width, height) if width >= 320 and height >= 240 else (WIDTH, HEIGHT)

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

    def __init__(self, title: str, fullscreen: bool = True) -> None:
        import tkinter

        from PIL import ImageTk

        self._imagetk = ImageTk
        try:
            self.root = tkinter.Tk()
        except tkinter.TclError as exc:
            raise OSError(f"no screen to open a window on ({exc}); use --headless") from None
        self.root.title(title)
        if fullscreen:
            # the geometry fills the screen even with no window manager to honour -fullscreen
            self.root.geometry(f"{self.root.winfo_screenwidth()}x{self.root.winfo_screenheight()}+0+0")
            self.root.attributes("-fullscreen", True)
        else:
            self.root.geometry(f"{WIDTH}x{HEIGHT}")
        self.label = tkinter.Label(self.root, bg="black", borderwidth=0, highlightthickness=0)
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
        return ["quit"] if self.closed else keys

    def size(self) -> tuple[int, int]:
        width, height = self.root.winfo_width(), self.root.winfo_height()
        return (width, height) if width >= 320 and height >= 240 else (WIDTH, HEIGHT)

    def close(self) -> None:
        self.root.destroy()


def open_window(title: str, fullscreen: bool = True) -> Window:
    """OpenCV's window when its build has a GUI, else a Tk window; full-screen unless told otherwise."""
    if _has_cv_gui():
        return CvWindow(title, fullscreen)
    return TkWindow(title, fullscreen)


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
    check_pin: Callable[[str], bool] | None = None,
    on_screen: Callable[[Screen], None] | None = None,
) -> None:
    """The scan loop with a window: preview, banner, status line, keys and sounds.

    `check_pin` checks the supervisor PIN (None: none set); `on_screen` sees the screen once made.
    """
    shown = window or open_window(title, settings.fullscreen)
    sounder = Sounder(settings.sound)
    screen = Screen(
        gate,
        hold_ms=int(settings.banner_hold_seconds * 1000),
        lang=settings.language,
        now_ms=monotonic_ms,
        size=shown.size(),
        check_pin=check_pin,
        sound_missing=sounder.missing,
    )
    screen.on_record = lambda record: sounder.play(record.decision.verdict)
    if on_screen is not None:
        on_screen(screen)

    def on_frame(frame: np.ndarray, found: list[Found]) -> bool:
        screen.size = shown.size()
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
            scan=screen.scanned,
        )
    finally:
        sounder.close()
        shown.close()
