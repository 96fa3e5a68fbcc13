"""Frame sources: a webcam by index, a video file, a folder of images.

Every source is an iterable of `(frame, timestamp_ms)`: a BGR frame and the time the source gives
it (a video's position, an image's index times the frame interval, a webcam's monotonic clock,
passed in as a callable). A webcam that vanishes mid-event (unplugged, driver reset) is reported
as a `SourceEvent` the screen can show and reopened with backoff; it never raises out of the loop.

Synthetic frames for tests, the demo and the benchmarks are drawn by scanner/scenes.py.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from checkin import i18n
from checkin.core.errors import N_, InputError, Reason
from scanner import imagefile
from scanner.settings import CameraSettings


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
            size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            imagefile.check_pixels(*size, imagefile.MAX_FRAME_PIXELS, str(self.path))  # from the header
            while not self._closed:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                imagefile.check_pixels(frame.shape[1], frame.shape[0], imagefile.MAX_FRAME_PIXELS, str(self.path))
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
            try:
                frame = imagefile.read_image(path, cv2.IMREAD_COLOR)
            except InputError:  # unreadable, or too large to decode
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
