"""scanner.camera: video files and image folders as frame sources, and a capture that vanishes.

Real files only: videos are written with cv2.VideoWriter into tmp_path. The vanishing webcam is a
ReopeningCapture (the webcam's own reopen logic) over a video file that is missing, deleted or
truncated mid-read; `sleep` and `clock` are the parameters the real loop takes, given a recorder
that can also put the file back, as an operator plugs the camera in again.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from checkin.core.errors import InputError, Reason
from scanner import camera, decode
from scanner.camera import Backoff, EventKind, ReopeningCapture, SourceEvent
from scanner.settings import CameraSettings

SIZE = (320, 240)


def write_video(path: Path, count: int, fps: float = 10.0, code: bytes | None = None) -> Path:
    """An MJPEG AVI of `count` numbered noisy frames; with `code`, a QR code drawn in each."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    symbol = None
    if code is not None:
        barcode = zxingcpp.create_barcode(code, zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
        symbol = cv2.cvtColor(np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=4)), cv2.COLOR_GRAY2BGR)
    for i in range(count):
        frame = rng.integers(0, 255, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
        cv2.putText(frame, str(i), (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
        if symbol is not None:
            h, w = symbol.shape[:2]
            frame[60 : 60 + h, 120 : 120 + w] = symbol
        writer.write(frame)
    writer.release()
    return path


class Recorder:
    """Collects events and sleeps; runs an action at a given sleep, as a person would act meanwhile."""

    def __init__(self) -> None:
        self.events: list[SourceEvent] = []
        self.sleeps: list[float] = []
        self.actions: dict[int, Callable[[], object]] = {}

    def event(self, event: SourceEvent) -> None:
        self.events.append(event)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        action = self.actions.pop(len(self.sleeps), None)
        if action is not None:
            action()

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.events]


def video_capture(path: Path) -> Callable[[], cv2.VideoCapture]:
    return lambda: cv2.VideoCapture(str(path))


def ticking(step: float = 33.0) -> Callable[[], float]:
    counter = itertools.count()
    return lambda: next(counter) * step


# --- video files and image folders -----------------------------------------------------------


def test_video_file_frames_carry_the_files_own_timestamps(tmp_path: Path) -> None:
    path = write_video(tmp_path / "gate.avi", 12, fps=10.0)
    rec = Recorder()
    frames = list(camera.VideoFileSource(path, on_event=rec.event))
    assert len(frames) == 12
    assert all(frame.shape == (240, 320, 3) for frame, _ in frames)
    assert [ts for _, ts in frames] == pytest.approx([i * 100.0 for i in range(12)], abs=1.0)
    assert rec.kinds() == [EventKind.ENDED]
    assert "12 frames" in rec.events[0].detail


def test_codes_in_a_video_are_decoded_from_its_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "code.avi", 5, code=b"CK1:VIDEO")
    reads = [decode.decode_frame(frame) for frame, _ in camera.VideoFileSource(path)]
    assert [[f.data for f in found] for found in reads] == [[b"CK1:VIDEO"]] * 5


def test_missing_or_broken_video_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as missing:
        camera.VideoFileSource(tmp_path / "none.avi")
    assert missing.value.reason is Reason.NOT_FOUND
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(InputError) as unreadable:
        list(camera.VideoFileSource(broken))
    assert unreadable.value.reason is Reason.IMAGE_UNREADABLE


def test_video_cut_short_ends_with_the_frames_it_had(tmp_path: Path) -> None:
    path = write_video(tmp_path / "cut.avi", 30)
    source = camera.VideoFileSource(path)
    seen = 0
    for _frame, _ts in source:
        seen += 1
        if seen == 5:
            os.truncate(path, path.stat().st_size // 3)
    assert 5 <= seen < 30
    assert source.last_event is not None and source.last_event.kind is EventKind.ENDED


def write_image(path: Path, value: int) -> None:
    assert cv2.imwrite(str(path), np.full((24, 32), value, np.uint8))


def test_image_folder_in_natural_order_with_interval_timestamps(tmp_path: Path) -> None:
    for n in (10, 2, 1):
        write_image(tmp_path / f"frame{n}.png", n)
    write_image(tmp_path / "frame3.JPG", 3)
    (tmp_path / "frame4.png").write_bytes(b"not a png")  # skipped, with an event
    (tmp_path / "notes.txt").write_text("not an image")  # ignored
    rec = Recorder()
    source = camera.ImageFolderSource(tmp_path, interval_ms=40.0, on_event=rec.event)
    frames = list(source)
    assert [int(frame[0, 0, 0]) for frame, _ in frames] == [1, 2, 3, 10]  # grey files become BGR
    assert all(frame.shape == (24, 32, 3) for frame, _ in frames)
    assert [ts for _, ts in frames] == [0.0, 40.0, 80.0, 160.0]  # frame4 kept its slot
    assert rec.kinds() == [EventKind.SKIPPED, EventKind.ENDED]
    assert rec.events[0].detail == "frame4.png"


def test_image_folder_refuses_a_missing_folder_and_a_bad_interval(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        camera.ImageFolderSource(tmp_path / "none")
    with pytest.raises(InputError):
        camera.ImageFolderSource(tmp_path, interval_ms=0)


def test_close_stops_an_iteration(tmp_path: Path) -> None:
    for n in range(5):
        write_image(tmp_path / f"{n}.png", n)
    source = camera.ImageFolderSource(tmp_path)
    taken = []
    with source:
        for frame, _ in source:
            taken.append(frame)
            source.close()
    assert len(taken) == 1


def test_open_source_takes_exactly_one(tmp_path: Path) -> None:
    path = write_video(tmp_path / "one.avi", 2)
    assert isinstance(camera.open_source(video=path), camera.VideoFileSource)
    assert isinstance(camera.open_source(images=tmp_path), camera.ImageFolderSource)
    assert isinstance(camera.open_source(camera=0), camera.CameraSource)  # opens lazily, on iteration
    with pytest.raises(InputError):
        camera.open_source()
    with pytest.raises(InputError):
        camera.open_source(video=path, images=tmp_path)


# --- a capture that vanishes -----------------------------------------------------------------


def test_source_that_fails_to_open_is_retried_with_backoff_until_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "camera.avi"
    good = write_video(tmp_path / "good.avi", 4)
    rec = Recorder()
    rec.actions[3] = lambda: shutil.copy(good, path)  # plugged in during the third wait
    source = ReopeningCapture(
        "camera 0",
        video_capture(path),
        clock=ticking(),
        sleep=rec.sleep,
        backoff=Backoff(initial_ms=100, factor=2, max_ms=300),
        on_event=rec.event,
    )
    frames = list(itertools.islice(source, 4))
    source.close()
    assert [ts for _, ts in frames] == [0.0, 33.0, 66.0, 99.0]  # the clock passed in, not the file's
    assert rec.sleeps == [0.1, 0.2, 0.3]  # doubling, capped
    assert rec.kinds() == [EventKind.OPEN_FAILED] * 3 + [EventKind.OPENED]
    assert [e.retry_in_ms for e in rec.events[:3]] == [100, 200, 300]
    assert [e.attempt for e in rec.events[:3]] == [1, 2, 3]


@pytest.mark.parametrize("vanish", ["deleted", "truncated"])
def test_capture_that_vanishes_mid_read_is_reported_and_reopened(tmp_path: Path, vanish: str) -> None:
    path = write_video(tmp_path / "camera.avi", 30)
    spare = tmp_path / "spare.avi"
    shutil.copy(path, spare)
    rec = Recorder()
    rec.actions[2] = lambda: shutil.copy(spare, path)  # back after two failed attempts
    source = ReopeningCapture(
        "camera 0",
        video_capture(path),
        clock=ticking(),
        sleep=rec.sleep,
        backoff=Backoff(initial_ms=50),
        on_event=rec.event,
    )
    frames = 0
    for _frame, _ts in source:
        frames += 1
        if frames == 5:
            if vanish == "deleted":
                path.unlink()
            else:
                os.truncate(path, 1000)
        if EventKind.REOPENED in rec.kinds() and frames >= 40:
            break
    source.close()
    kinds = rec.kinds()
    assert kinds[0] is EventKind.OPENED
    assert EventKind.LOST in kinds
    lost = kinds.index(EventKind.LOST)
    assert kinds[lost + 1 : lost + 3] == [EventKind.OPEN_FAILED, EventKind.OPEN_FAILED]
    assert kinds[lost + 3] is EventKind.REOPENED
    assert rec.sleeps[:2] == [0.05, 0.1]
    assert frames >= 40  # frames flow again after the reopening
    lost_event = rec.events[lost]
    assert lost_event.source == "camera 0"
    assert "camera 0" in lost_event.message("en") and "reconnecting" in lost_event.message("en")


def test_end_of_a_healthy_session_reopens_at_once(tmp_path: Path) -> None:
    path = write_video(tmp_path / "loop.avi", 3)
    rec = Recorder()
    source = ReopeningCapture("camera 1", video_capture(path), clock=ticking(), sleep=rec.sleep, on_event=rec.event)
    frames = list(itertools.islice(source, 7))
    source.close()
    assert len(frames) == 7
    assert rec.sleeps == []  # it delivered frames before it failed: no wait before the first retry
    assert rec.kinds() == [EventKind.OPENED, EventKind.LOST, EventKind.REOPENED, EventKind.LOST, EventKind.REOPENED]


def open_files() -> set[str]:
    fds = Path("/proc/self/fd")
    return {os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink()} if fds.is_dir() else set()


def test_stopping_early_releases_the_device(tmp_path: Path) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to see open files")
    path = write_video(tmp_path / "held.avi", 10)
    source = ReopeningCapture("camera 4", video_capture(path), clock=ticking())
    frames = iter(source)
    next(frames)
    assert str(path) in open_files()
    del frames  # the loop that read it ended without close()
    assert str(path) not in open_files()


def test_gives_up_after_max_attempts_without_raising(tmp_path: Path) -> None:
    rec = Recorder()
    source = ReopeningCapture(
        "camera 2",
        video_capture(tmp_path / "never.avi"),
        sleep=rec.sleep,
        backoff=Backoff(initial_ms=10, max_attempts=3),
        on_event=rec.event,
    )
    assert list(source) == []
    assert rec.kinds() == [EventKind.OPEN_FAILED, EventKind.OPEN_FAILED, EventKind.GAVE_UP]
    assert len(rec.sleeps) == 2


def test_an_opened_source_that_gives_no_frames_counts_as_a_failed_attempt(tmp_path: Path) -> None:
    # An empty video opens but never yields a frame: backoff must apply, not a busy loop.
    empty = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, SIZE)
    writer.release()
    rec = Recorder()
    source = ReopeningCapture(
        "camera 3",
        video_capture(empty),
        sleep=rec.sleep,
        backoff=Backoff(initial_ms=10, max_attempts=3),
        on_event=rec.event,
    )
    assert list(source) == []
    assert rec.kinds()[-1] is EventKind.GAVE_UP
    assert rec.sleeps == [0.01, 0.02]


def test_a_real_webcam_index_that_does_not_exist_fails_gracefully() -> None:
    rec = Recorder()
    source = camera.CameraSource(
        97,
        CameraSettings(width=640, height=480),
        sleep=rec.sleep,
        backoff=Backoff(max_attempts=2),
        on_event=rec.event,
    )
    assert list(source) == []
    assert rec.kinds() == [EventKind.OPEN_FAILED, EventKind.GAVE_UP]
    assert rec.events[0].source == "camera 97"


def test_the_default_backend_is_opencvs_any() -> None:
    """settings.py names OpenCV's constant without importing OpenCV; the two must agree."""
    assert CameraSettings().backend == cv2.CAP_ANY


def test_event_messages_in_both_languages() -> None:
    event = SourceEvent(EventKind.OPEN_FAILED, "camera 0", attempt=2, retry_in_ms=500)
    assert event.message("en") == "camera 0: Cannot open the camera: retrying (attempt 2, 0.5 s)"
    assert event.message() == "camera 0: Không mở được camera: đang thử lại (lần 2, 0.5 s)"
    assert SourceEvent(EventKind.REOPENED, "camera 0").message("en") == "camera 0: Camera reconnected"


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(initial_ms=250, factor=2, max_ms=1000)
    assert [backoff.delay_ms(n) for n in range(1, 6)] == [250, 500, 1000, 1000, 1000]
