"""Frame sources: a webcam by index, a video file, a folder of images; and synthetic scenes.

Every source is an iterable of `(frame, timestamp_ms)`: a BGR frame and the time the source gives
it (a video's position, an image's index times the frame interval, a webcam's monotonic clock,
passed in as a callable). A webcam that vanishes mid-event (unplugged, driver reset) is reported
as a `SourceEvent` the screen can show and reopened with backoff; it never raises out of the loop.

The synthetic scenes at the end render codes into realistic 1280x720 frames (tilt, blur, noise,
a phone screen, JPEG): the demo video, the benchmark and the tests share them.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from checkin import i18n
from checkin.core.errors import N_, InputError, Reason


class EventKind(StrEnum):
    """What happened to a frame source, as the screen and the log name it."""

    OPENED = "source_opened"
    OPEN_FAILED = "source_open_failed"
    LOST = "source_lost"
    REOPENED = "source_reopened"
    GAVE_UP = "source_gave_up"
    SKIPPED = "frame_skipped"
    ENDED = "source_ended"


_MESSAGES: dict[EventKind, str] = {
    EventKind.OPENED: N_("Camera opened"),
    EventKind.OPEN_FAILED: N_("Cannot open the camera: retrying"),
    EventKind.LOST: N_("Camera lost: reconnecting"),
    EventKind.REOPENED: N_("Camera reconnected"),
    EventKind.GAVE_UP: N_("The camera could not be reconnected"),
    EventKind.SKIPPED: N_("Skipped an unreadable image"),
    EventKind.ENDED: N_("The source has ended"),
}


@dataclass(frozen=True)
class SourceEvent:
    """One thing that happened to a source; `retry_in_ms` is the wait before the next attempt."""

    kind: EventKind
    source: str
    detail: str = ""
    attempt: int = 0
    retry_in_ms: float = 0.0

    def message(self, lang: str = "vi") -> str:
        """One line for the gate screen, in Vietnamese ("vi") or English ("en")."""
        text = i18n.gettext(lang, _MESSAGES[self.kind])
        if self.retry_in_ms > 0:
            retry = N_("%(message)s (attempt %(attempt)d, %(seconds).1f s)")
            text = i18n.gettext(lang, retry, message=text, attempt=self.attempt, seconds=self.retry_in_ms / 1000)
        return f"{self.source}: {text}"


EventSink = Callable[[SourceEvent], None]
Frames = Iterator[tuple[np.ndarray, float]]


def _ignore(_event: SourceEvent) -> None:
    return None


def monotonic_ms() -> float:
    """The monotonic clock in milliseconds: the default time base of a webcam source."""
    return time.monotonic() * 1000.0


class FrameSource(ABC):
    """Base of all sources: iterate for `(frame, timestamp_ms)`; `close()` releases the device."""

    name = "source"

    def __init__(self, on_event: EventSink | None = None) -> None:
        self._on_event = on_event or _ignore
        self.last_event: SourceEvent | None = None
        self._closed = False

    def emit(self, kind: EventKind, detail: str = "", attempt: int = 0, retry_in_ms: float = 0.0) -> None:
        """Report an event to the sink and keep it as `last_event` for a screen that polls."""
        event = SourceEvent(kind, self.name, detail, attempt, retry_in_ms)
        self.last_event = event
        self._on_event(event)

    def __iter__(self) -> Frames:
        return self.frames()

    @abstractmethod
    def frames(self) -> Frames:
        """The frames with their timestamps, in order."""

    def close(self) -> None:
        """Stop: an iteration in progress ends at its next frame."""
        self._closed = True

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


# --- capture devices that can vanish ----------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts to reopen: initial, doubling, capped; max_attempts None = forever."""

    initial_ms: float = 250.0
    factor: float = 2.0
    max_ms: float = 5000.0
    max_attempts: int | None = None

    def delay_ms(self, attempt: int) -> float:
        """The wait before attempt number `attempt` (1 for the first retry)."""
        return float(min(self.max_ms, self.initial_ms * self.factor ** max(0, attempt - 1)))


Opener = Callable[[], "cv2.VideoCapture | None"]


class ReopeningCapture(FrameSource):
    """Frames from a capture that may fail: a failed read is reported (LOST) and the capture is
    reopened, at once after a working session and with backoff after each failed attempt.

    `sleep` takes seconds: a UI passes a function that keeps its window responsive (e.g. one
    built on cv2.waitKey). `clock` gives the timestamp of each frame, in milliseconds.
    """

    def __init__(
        self,
        name: str,
        open_capture: Opener,
        *,
        clock: Callable[[], float] = monotonic_ms,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        super().__init__(on_event)
        self.name = name
        self._open_capture = open_capture
        self._clock = clock
        self._sleep = sleep
        self._backoff = backoff or Backoff()
        self._capture: cv2.VideoCapture | None = None

    def _try_open(self) -> cv2.VideoCapture | None:
        try:
            capture = self._open_capture()
        except (cv2.error, OSError):
            return None
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            return None
        return capture

    def frames(self) -> Frames:
        """Frames until close(), or until max_attempts reopenings in a row have failed."""
        try:
            yield from self._frames()
        finally:  # also when the caller stops iterating early
            self._release()

    def _frames(self) -> Frames:
        failures = 0
        opened_before = False
        delivered = 0
        while not self._closed:
            if self._capture is None:
                if failures:
                    self._sleep(self._backoff.delay_ms(failures) / 1000.0)
                    if self._closed:
                        return
                self._capture = self._try_open()
                if self._capture is None:
                    failures += 1
                    if self._gave_up(failures):
                        return
                    self.emit(EventKind.OPEN_FAILED, "cannot open", failures, self._backoff.delay_ms(failures))
                    continue
                self.emit(EventKind.REOPENED if opened_before else EventKind.OPENED, _describe(self._capture))
                opened_before = True
                delivered = 0
            ok, frame = self._read()
            if not ok or frame is None:
                self._release()
                if delivered == 0:  # opened but gave nothing: count it as a failed attempt
                    failures += 1
                    if self._gave_up(failures):
                        return
                retry = self._backoff.delay_ms(failures) if failures else 0.0
                self.emit(EventKind.LOST, f"read failed after {delivered} frames", failures, retry)
                continue
            failures = 0
            delivered += 1
            yield frame, self._clock()

    def _gave_up(self, failures: int) -> bool:
        limit = self._backoff.max_attempts
        if limit is not None and failures >= limit:
            self.emit(EventKind.GAVE_UP, f"{failures} attempts failed", failures)
            return True
        return False

    def _read(self) -> tuple[bool, np.ndarray | None]:
        assert self._capture is not None
        try:
            ok, frame = self._capture.read()
        except cv2.error:
            return False, None
        return bool(ok), frame

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def close(self) -> None:
        """Stop and release the device."""
        super().close()
        self._release()


def _describe(capture: cv2.VideoCapture) -> str:
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = capture.get(cv2.CAP_PROP_FPS)
    return f"{width}x{height} at {fps:.0f} fps" if width and height else ""


@dataclass(frozen=True)
class CameraSettings:
    """What to ask of a webcam. None leaves the driver's choice; drivers may ignore any of it."""

    width: int = 1280
    height: int = 720
    fps: float = 30.0
    autofocus: bool | None = True
    focus: float | None = None  # manual focus position (driver units), applied with autofocus off
    mjpeg: bool = True  # most USB webcams give 720p at 30 fps only as MJPEG
    backend: int = cv2.CAP_ANY


def open_webcam(index: int, settings: CameraSettings) -> cv2.VideoCapture | None:
    """A configured capture of webcam `index`, or None when it cannot be opened."""
    capture = cv2.VideoCapture(index, settings.backend)
    if not capture.isOpened():
        capture.release()
        return None
    if settings.mjpeg:
        capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
    capture.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
    capture.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
    capture.set(cv2.CAP_PROP_FPS, settings.fps)
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued a second ago
    if settings.autofocus is not None:
        capture.set(cv2.CAP_PROP_AUTOFOCUS, 1 if settings.autofocus else 0)
    if settings.focus is not None and not settings.autofocus:
        capture.set(cv2.CAP_PROP_FOCUS, settings.focus)
    return capture


class CameraSource(ReopeningCapture):
    """A webcam by index, with its settings, reopened with backoff when it vanishes."""

    def __init__(
        self,
        index: int,
        settings: CameraSettings | None = None,
        *,
        clock: Callable[[], float] = monotonic_ms,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        chosen = settings or CameraSettings()
        super().__init__(
            f"camera {index}",
            lambda: open_webcam(index, chosen),
            clock=clock,
            sleep=sleep,
            backoff=backoff,
            on_event=on_event,
        )
        self.settings = chosen


# --- files ---------------------------------------------------------------------------------


class VideoFileSource(FrameSource):
    """A video file, frame by frame, timestamped by the file's own clock (CAP_PROP_POS_MSEC)."""

    def __init__(self, path: Path, on_event: EventSink | None = None) -> None:
        super().__init__(on_event)
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such video file", Reason.NOT_FOUND)

    def frames(self) -> Frames:
        """Every frame, then an ENDED event (with the count) at the end or at a damaged part."""
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise InputError(f"{self.path}: not a video OpenCV can read", Reason.IMAGE_UNREADABLE)
        count = 0
        try:
            while not self._closed:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                count += 1
                yield frame, float(capture.get(cv2.CAP_PROP_POS_MSEC))
        finally:
            capture.release()
        self.emit(EventKind.ENDED, f"{count} frames")


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"})


def _natural_key(path: Path) -> list[int | str]:
    # frame2.png before frame10.png
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class ImageFolderSource(FrameSource):
    """The images of a folder in natural name order, image i stamped i * interval_ms."""

    def __init__(self, folder: Path, interval_ms: float = 1000.0 / 30.0, on_event: EventSink | None = None) -> None:
        super().__init__(on_event)
        self.folder = Path(folder)
        self.name = self.folder.name or str(self.folder)
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such folder", Reason.NOT_FOUND)
        if interval_ms <= 0:
            raise InputError("the frame interval must be more than 0 ms")
        self.interval_ms = interval_ms
        self.paths = sorted(
            (p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
            key=_natural_key,
        )

    def frames(self) -> Frames:
        """Each readable image as a BGR frame; an unreadable one is skipped with an event."""
        for index, path in enumerate(self.paths):
            if self._closed:
                return
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                self.emit(EventKind.SKIPPED, path.name)
                continue
            yield frame, index * self.interval_ms
        self.emit(EventKind.ENDED, f"{len(self.paths)} images")


def open_source(
    *,
    camera: int | None = None,
    video: Path | None = None,
    images: Path | None = None,
    settings: CameraSettings | None = None,
    on_event: EventSink | None = None,
) -> FrameSource:
    """The one source the command line names: --camera N, --video FILE or --images DIR."""
    chosen = [name for name, value in (("camera", camera), ("video", video), ("images", images)) if value is not None]
    if len(chosen) != 1:
        raise InputError("name exactly one source: a camera, a video file or a folder of images")
    if video is not None:
        return VideoFileSource(video, on_event)
    if images is not None:
        return ImageFolderSource(images, on_event=on_event)
    assert camera is not None
    return CameraSource(camera, settings, on_event=on_event)


# --- synthetic scenes ----------------------------------------------------------------------------


class SceneStyle(StrEnum):
    """How a synthetic frame looks: what the gate's camera meets in practice."""

    PRINTED = "printed"  # a badge held up: slight tilt, mild blur and noise
    TILTED = "tilted"  # strong perspective
    BLURRED = "blurred"  # defocus or motion
    NOISY = "noisy"  # a dim hall: sensor noise
    PHONE = "phone"  # a phone screen: bezel, lower contrast, pixel-grid moire, glare


@dataclass(frozen=True)
class Placed:
    """Where a code was drawn: its index in the symbols given and its four corners."""

    index: int
    corners: np.ndarray


def scene_background(rng: np.random.Generator, width: int = 1280, height: int = 720) -> np.ndarray:
    """A cluttered BGR background: soft colour fields, boxes, lines and text, as behind a desk."""
    small = rng.integers(50, 210, (9, 16, 3)).astype(np.uint8)
    frame = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(5, 15))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(20, 300)), int(rng.integers(20, 300))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.rectangle(frame, (x, y), (x + w, y + h), colour, -1 if rng.random() < 0.5 else int(rng.integers(1, 6)))
    for _ in range(int(rng.integers(2, 6))):
        origin = (int(rng.integers(0, max(1, width - 200))), int(rng.integers(20, height)))
        grey = int(rng.integers(0, 80))
        cv2.putText(
            frame, "CHECK-IN 2022", origin, cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.5, 2)), (grey,) * 3, 2
        )
    return frame


def code_picture(
    symbol: np.ndarray, module_px: int = 4, border: int = 4, dark: int = 20, light: int = 235
) -> np.ndarray:
    """A grey picture of a symbol (True = dark module) with a quiet zone of `border` modules."""
    padded = np.pad(symbol.astype(bool), border, constant_values=False)
    picture = np.where(padded, dark, light).astype(np.uint8)
    return cv2.resize(picture, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)


def phone_picture(symbol: np.ndarray, rng: np.random.Generator, module_px: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A phone showing a code: bezel, backlit screen, pixel-grid ripple; and the code's corners in it."""
    light = int(rng.integers(175, 235))
    code = code_picture(symbol, module_px, 2, dark=int(rng.integers(30, 60)), light=light)
    side = code.shape[0]
    pad = side // 8
    screen = cv2.copyMakeBorder(code, pad * 3, pad * 4, pad, pad, cv2.BORDER_CONSTANT, value=light)
    cv2.rectangle(screen, (pad, pad), (screen.shape[1] - pad, pad * 2), light - 60, -1)  # the app's title bar
    rows = np.arange(screen.shape[0], dtype=np.float32)[:, None]
    cols = np.arange(screen.shape[1], dtype=np.float32)[None, :]
    ripple = 1 + 0.06 * np.sin(rows * 2.1) * np.sin(cols * 2.1)  # sub-pixel grid: moire once resampled
    screen = np.clip(screen * ripple, 0, 255).astype(np.uint8)
    bezel = pad // 2 + 2
    phone = cv2.copyMakeBorder(screen, bezel, bezel * 2, bezel, bezel, cv2.BORDER_CONSTANT, value=12)
    x0, y0 = bezel + pad, bezel + pad * 3
    corners = np.array([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]], dtype=np.float32)
    return phone, corners


def _quad(
    rng: np.random.Generator, centre: tuple[float, float], size: tuple[float, float], angle: float, tilt: float
) -> np.ndarray:
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    box = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * (np.array(size) / 2)
    turned = box @ np.array([[c, s], [-s, c]])
    jitter = rng.uniform(-tilt, tilt, (4, 2)) * max(size)
    quad: np.ndarray = (turned + jitter + np.array(centre)).astype(np.float32)
    return quad


def paste(frame: np.ndarray, picture: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Warp a grey picture onto `quad` (its corners in frame pixels) of a BGR frame, in place;
    returns the transform, to carry other points of the picture into the frame."""
    height, width = picture.shape[:2]
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    transform = cv2.getPerspectiveTransform(source, quad.astype(np.float32))
    shrink = width / max(1.0, float(np.linalg.norm(quad[1] - quad[0])))
    if shrink > 1.5:  # anti-alias a large reduction as a lens would
        picture = cv2.GaussianBlur(picture, (0, 0), 0.4 * shrink)
    size = (frame.shape[1], frame.shape[0])
    warped = cv2.warpPerspective(picture, transform, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((height, width), 255, np.uint8), transform, size, flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    frame[:] = (frame * (1 - alpha) + cv2.cvtColor(warped, cv2.COLOR_GRAY2BGR) * alpha).astype(np.uint8)
    return transform


def lens_and_sensor(
    frame: np.ndarray,
    rng: np.random.Generator,
    *,
    blur_sigma: float = 0.0,
    motion_px: int = 0,
    noise_sigma: float = 0.0,
    jpeg_quality: int | None = 85,
) -> np.ndarray:
    """What the camera adds: defocus, motion smear, sensor noise, MJPEG compression."""
    out = frame
    if blur_sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), blur_sigma)
    if motion_px > 1:
        line = np.zeros((motion_px, motion_px), np.float32)
        line[motion_px // 2, :] = 1.0 / motion_px
        angle = float(rng.uniform(0, 180))
        turn = cv2.getRotationMatrix2D(((motion_px - 1) / 2, (motion_px - 1) / 2), angle, 1.0)
        kernel = np.asarray(cv2.warpAffine(line, turn, (motion_px, motion_px)), dtype=np.float32)
        out = cv2.filter2D(out, -1, kernel / max(float(kernel.sum()), 1e-6))
    if noise_sigma > 0:
        out = np.clip(out + rng.normal(0, noise_sigma, out.shape), 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = decoded
    return out


def render_scene(
    rng: np.random.Generator,
    symbols: Sequence[np.ndarray],
    style: SceneStyle = SceneStyle.PRINTED,
    *,
    width: int = 1280,
    height: int = 720,
    size_px: tuple[float, float] = (200.0, 420.0),
) -> tuple[np.ndarray, list[Placed]]:
    """A BGR frame showing each symbol once (none: an empty scene), side by side, in `style`.

    `size_px` bounds the side of each code in the frame, quiet zone included.
    """
    frame = scene_background(rng, width, height)
    placed: list[Placed] = []
    slot = width / max(1, len(symbols))
    for index, symbol in enumerate(symbols):
        if style is SceneStyle.PHONE:
            picture, inner = phone_picture(symbol, rng)
        else:
            picture = code_picture(symbol)
            side, quiet = picture.shape[0], 4 * 4
            inner = np.array(
                [[quiet, quiet], [side - quiet, quiet], [side - quiet] * 2, [quiet, side - quiet]], dtype=np.float32
            )
        code_side = float(rng.uniform(*size_px))
        per_px = (
            code_side / picture.shape[1]
            if style is not SceneStyle.PHONE
            else code_side / float(inner[1][0] - inner[0][0])
        )
        extent = (picture.shape[1] * per_px, picture.shape[0] * per_px)
        fit = min(1.0, 0.9 * slot / extent[0], 0.9 * height / extent[1])  # the whole picture in its slot
        extent = (extent[0] * fit, extent[1] * fit)
        half = (max(extent) * 0.55, max(extent) * 0.55)  # a turned picture needs room on every side
        centre = (
            float(rng.uniform(slot * index + half[0], slot * (index + 1) - half[0]))
            if slot > 2 * half[0]
            else slot * (index + 0.5),
            float(rng.uniform(half[1], height - half[1])) if height > 2 * half[1] else height / 2,
        )
        tilt = 0.12 if style is SceneStyle.TILTED else 0.03
        angle = float(rng.uniform(-45, 45) if style is SceneStyle.TILTED else rng.uniform(-20, 20))
        transform = paste(frame, picture, _quad(rng, centre, extent, angle, tilt))
        placed.append(Placed(index, cv2.perspectiveTransform(inner[None], transform)[0]))
    if style is SceneStyle.PHONE:
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
        x0, y0 = float(rng.uniform(0, width)), float(rng.uniform(0, height))
        glare = 60 * np.exp(-((cols - x0) ** 2 + (rows - y0) ** 2) / (2 * 140.0**2))
        frame = np.clip(frame + glare[..., None], 0, 255).astype(np.uint8)
    blur = float(rng.uniform(0.9, 1.6)) if style is SceneStyle.BLURRED else float(rng.uniform(0.0, 0.8))
    motion = int(rng.integers(4, 9)) if style is SceneStyle.BLURRED and rng.random() < 0.5 else 0
    noise = float(rng.uniform(8, 12)) if style is SceneStyle.NOISY else float(rng.uniform(2, 4))
    quality = int(rng.integers(70, 92))
    frame = lens_and_sensor(frame, rng, blur_sigma=blur, motion_px=motion, noise_sigma=noise, jpeg_quality=quality)
    return frame, placed
