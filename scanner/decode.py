"""Frames in, QR codes out: a decoder chain tuned on real photographs, the exact bytes each code held.

The chain (measured in bench/gate.py on the zxing photo set and on synthetic 1280x720 frames):

1. zxing-cpp on the full grey frame. It also reports symbols it located but could not read.
2. Each located-but-unread symbol is cut out, enlarged 2x and read again by zxing-cpp, then by
   pyzbar: the crop is small, so this costs little and rescues small or damaged codes.
3. Only when nothing was read, and only while the frame budget (10 ms) allows: zxing-cpp on a
   sharpened frame (defocused, moving codes), on the frame enlarged 2x (small codes), then pyzbar
   on the full frame. Each retry's cost is predicted from what the first pass took on this frame
   times the retry's measured relative cost, so a noisy frame or a loaded machine skips the costly
   ones: on a 720p frame pyzbar never fits, on small images (the photographs) everything does.

OpenCV's WeChat detector reads tinier codes but costs 160-460 ms a frame: never on this path.

Bytes are returned as the decoder read them (zxing-cpp's raw content, zbar in binary mode), never
a text re-encoded by a library: `Found.data` is what the gate verifies.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import zxingcpp

from scanner.imagefile import read_image as read_image  # noqa: PLC0414 - re-exported for the callers

log = logging.getLogger(__name__)

ZXING = "zxing-cpp"
PYZBAR = "pyzbar"

# Cost of each retry relative to zxing-cpp's first pass over the same frame, on one core, as
# measured by bench/gate.py on synthetic 720p frames (it prints them again). The zxing retries
# track the first pass closely (1.2x, 4.2-4.7x); zbar's cost follows the pixel count rather than
# the content, so its ratio swings (20x idle, 44x on a loaded machine): 30x keeps it off frames
# of 640x480 and more, and on for small images.
RELATIVE_COST_SHARPEN = 1.3
RELATIVE_COST_UPSCALE = 4.5
RELATIVE_COST_PYZBAR = 30.0
DEFAULT_BUDGET_MS = 10.0

_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_CROP_MARGIN = 0.2  # of the located symbol's size, so the quiet zone is back in the crop
_MAX_CROPS = 4  # located-but-unread symbols retried per frame; a few is all a gate ever sees


@dataclass(frozen=True)
class Found:
    """One code found in a frame.

    `data` is the exact bytes the decoder read; `text` is the decoder's own reading of them as
    text (equal to `data` decoded as ASCII whenever `data` is ASCII, as every CK1 code is);
    `decoder` names the decoder and the chain stage; `corners` are frame pixel coordinates.
    """

    data: bytes
    text: str
    decoder: str
    corners: tuple[tuple[int, int], ...] = ()

    @property
    def ascii(self) -> str | None:
        """The bytes as ASCII text, or None when any byte is not ASCII (so it is no CK1 code):
        what the gate verifies, with no charset conversion by any library in between."""
        try:
            return self.data.decode("ascii")
        except UnicodeDecodeError:
            return None


def _text(data: bytes, decoder_text: str) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        return decoder_text


# --- zxing-cpp ---------------------------------------------------------------------------------


def _corners(result: Any, scale: float = 1.0, offset: tuple[int, int] = (0, 0)) -> tuple[tuple[int, int], ...]:
    p = result.position
    return tuple(
        (round(c.x / scale) + offset[0], round(c.y / scale) + offset[1])
        for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
    )


def _zxing_raw(gray: np.ndarray, *, first_pass: bool) -> list[Any]:
    # The first pass also looks for inverted codes and downscaled copies and reports symbols it
    # located but could not read; a retry on an already transformed image skips all three.
    # try_rotate only matters to linear codes: a QR finder is found at any angle.
    return list(
        zxingcpp.read_barcodes(
            gray,
            formats=_QR_ONLY,
            try_rotate=False,
            try_downscale=first_pass,
            try_invert=first_pass,
            text_mode=zxingcpp.TextMode.Plain,
            return_errors=first_pass,
        )
    )


def _from_zxing(result: Any, stage: str, scale: float = 1.0, offset: tuple[int, int] = (0, 0)) -> Found:
    data = bytes(result.bytes)
    return Found(data, _text(data, result.text), stage, _corners(result, scale, offset))


def read_zxing(gray: np.ndarray, *, first_pass: bool = True) -> list[Found]:
    """zxing-cpp alone on a grey image: one pass as the chain's first stage runs it, or with
    first_pass=False as its retries do (no inverted or downscaled copies)."""
    return [_from_zxing(r, ZXING) for r in _zxing_raw(gray, first_pass=first_pass) if r.valid]


# --- pyzbar (zbar) ---------------------------------------------------------------------------------

_ZBAR_CFG_ENABLE = 0
_ZBAR_CFG_BINARY = 4  # zbar >= 0.23.1: hand over the raw bytes instead of guessing a charset
_ZBAR_QRCODE = 64
_ZBAR_Y800 = int.from_bytes(b"Y800", "little")


@dataclass
class _Zbar:
    wrapper: Any = None
    missing: str | None = None
    loaded: bool = False


_zbar = _Zbar()


def _load_zbar() -> Any:
    if not _zbar.loaded:
        _zbar.loaded = True
        try:
            from pyzbar import wrapper  # imports libzbar through ctypes
        except ImportError as exc:  # pyzbar or libzbar0 missing: the chain goes on with zxing-cpp
            _zbar.missing = f"pyzbar unavailable ({exc}); install libzbar0 to enable the fallback decoder"
            log.warning("%s", _zbar.missing)
        else:
            _zbar.wrapper = wrapper
    return _zbar.wrapper


def pyzbar_status() -> str | None:
    """None when pyzbar (libzbar) is usable, else why not, in words for the operator."""
    _load_zbar()
    return _zbar.missing


def read_pyzbar(gray: np.ndarray) -> list[Found]:
    """zbar alone on a grey image, raw bytes (binary mode); [] when libzbar is missing."""
    w = _load_zbar()
    if w is None:
        return []
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    height, width = gray.shape
    found: list[Found] = []
    scanner = w.zbar_image_scanner_create()
    try:
        w.zbar_image_scanner_set_config(scanner, 0, _ZBAR_CFG_ENABLE, 0)
        w.zbar_image_scanner_set_config(scanner, _ZBAR_QRCODE, _ZBAR_CFG_ENABLE, 1)
        # An older zbar refuses this setting and hands over its UTF-8 reading of the bytes instead.
        w.zbar_image_scanner_set_config(scanner, _ZBAR_QRCODE, _ZBAR_CFG_BINARY, 1)
        image = w.zbar_image_create()
        try:
            w.zbar_image_set_format(image, _ZBAR_Y800)
            w.zbar_image_set_size(image, width, height)
            # zbar reads the array in place: `gray` outlives the scan, and no cleanup is registered.
            w.zbar_image_set_data(image, gray.ctypes.data_as(ctypes.c_void_p), gray.size, None)
            if w.zbar_scan_image(scanner, image) > 0:
                symbol = w.zbar_image_first_symbol(image)
                while symbol:
                    data = ctypes.string_at(w.zbar_symbol_get_data(symbol), w.zbar_symbol_get_data_length(symbol))
                    corners = tuple(
                        (int(w.zbar_symbol_get_loc_x(symbol, i)), int(w.zbar_symbol_get_loc_y(symbol, i)))
                        for i in range(w.zbar_symbol_get_loc_size(symbol))
                    )
                    found.append(Found(data, _text(data, data.decode("utf-8", "replace")), PYZBAR, corners))
                    symbol = w.zbar_symbol_next(symbol)
        finally:
            w.zbar_image_destroy(image)
    finally:
        w.zbar_image_scanner_destroy(scanner)
    return found


# --- the chain ---------------------------------------------------------------------------------


def to_gray(frame: np.ndarray) -> np.ndarray:
    """A grey image from a BGR, BGRA or grey frame."""
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 1:
        return frame[:, :, 0]
    code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(frame, code)


def sharpen(gray: np.ndarray) -> np.ndarray:
    """Unsharp mask with a 5x5 box: restores module edges of a defocused or moving code."""
    return cv2.addWeighted(gray, 2.0, cv2.blur(gray, (5, 5)), -1.0, 0.0)


def _upscale(gray: np.ndarray) -> np.ndarray:
    return cv2.resize(gray, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)


def _crop_box(gray: np.ndarray, result: Any) -> tuple[int, int, int, int]:
    xs = [c[0] for c in _corners(result)]
    ys = [c[1] for c in _corners(result)]
    margin = int(_CROP_MARGIN * max(max(xs) - min(xs), max(ys) - min(ys))) + 8
    height, width = gray.shape
    return (
        max(0, min(xs) - margin),
        max(0, min(ys) - margin),
        min(width, max(xs) + margin),
        min(height, max(ys) + margin),
    )


def _retry_crop(gray: np.ndarray, result: Any) -> list[Found]:
    x0, y0, x1, y1 = _crop_box(gray, result)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return []
    crop = gray[y0:y1, x0:x1]
    read = [r for r in _zxing_raw(_upscale(crop), first_pass=False) if r.valid]
    if read:
        return [_from_zxing(r, f"{ZXING}+crop", 2.0, (x0, y0)) for r in read]
    return [
        Found(f.data, f.text, f"{PYZBAR}+crop", tuple((x + x0, y + y0) for x, y in f.corners))
        for f in read_pyzbar(crop)
    ]


def _sharpened(gray: np.ndarray) -> list[Found]:
    return [_from_zxing(r, f"{ZXING}+sharpen") for r in _zxing_raw(sharpen(gray), first_pass=False) if r.valid]


def _upscaled(gray: np.ndarray) -> list[Found]:
    return [_from_zxing(r, f"{ZXING}+upscale", 2.0) for r in _zxing_raw(_upscale(gray), first_pass=False) if r.valid]


# The stages run only when nothing was read, each with its cost relative to the first pass on
# the same frame (measured by bench/gate.py on synthetic 720p frames; it prints them beside these).
RETRIES: tuple[tuple[str, float, Callable[[np.ndarray], list[Found]]], ...] = (
    ("sharpen", RELATIVE_COST_SHARPEN, _sharpened),
    ("upscale", RELATIVE_COST_UPSCALE, _upscaled),
    ("pyzbar", RELATIVE_COST_PYZBAR, read_pyzbar),
)


@dataclass(frozen=True)
class Chain:
    """The decoder chain and its frame budget in ms; budget_ms=None runs every stage when needed.

    A retry runs only if the time spent on this frame plus its predicted cost (its relative cost
    times what the first pass took on this frame) fits the budget: a noisy or busy frame, or a
    loaded machine, makes the first pass slow and the costly retries are skipped.
    """

    budget_ms: float | None = DEFAULT_BUDGET_MS
    clock: Callable[[], float] = time.perf_counter

    def decode(self, gray: np.ndarray) -> list[Found]:
        """Every distinct code in a grey image, by the first stages of the chain that read any."""
        start = self.clock()
        first = _zxing_raw(gray, first_pass=True)
        first_ms = (self.clock() - start) * 1000.0
        found = [_from_zxing(r, ZXING) for r in first if r.valid]
        # a symbol read once and also reported unread (by the inverted or downscaled pass) is done
        unread = [r for r in first if not r.valid and not any(_inside(_centre(r), f.corners) for f in found)]
        for result in sorted(unread, key=lambda r: -_area(r))[:_MAX_CROPS]:
            found.extend(_retry_crop(gray, result))
        for _name, relative_cost, retry in RETRIES:
            if found:
                break
            spent_ms = (self.clock() - start) * 1000.0
            if self.budget_ms is None or spent_ms + relative_cost * first_ms <= self.budget_ms:
                found = retry(gray)
        return _unique(found)


def _area(result: Any) -> float:
    return float(cv2.contourArea(np.array(_corners(result), dtype=np.float32)))


def _centre(result: Any) -> tuple[float, float]:
    corners = _corners(result)
    return sum(x for x, _ in corners) / len(corners), sum(y for _, y in corners) / len(corners)


def _inside(point: tuple[float, float], polygon: tuple[tuple[int, int], ...]) -> bool:
    if len(polygon) < 3:
        return False
    return cv2.pointPolygonTest(np.array(polygon, dtype=np.float32), point, False) >= 0


def _unique(found: Iterable[Found]) -> list[Found]:
    unique: dict[bytes, Found] = {}
    for item in found:
        unique.setdefault(item.data, item)
    return list(unique.values())


DEFAULT_CHAIN = Chain()


def decode_frame(frame: np.ndarray, chain: Chain = DEFAULT_CHAIN) -> list[Found]:
    """Every distinct QR code in a frame (BGR, BGRA or grey), read by the decoder chain."""
    return chain.decode(to_gray(frame))


# --- one scan per code -------------------------------------------------------------------------


class Deduplicator:
    """One scan per code: the same bytes read again within `window_ms` of their last sighting
    are the same scan (a guest holds a badge up for many frames), not a new one.

    Time is the frame timestamp passed in, never the clock. A timestamp earlier than the last one
    seen means a new stream (a reopened camera, another video): the memory is cleared.
    """

    def __init__(self, window_ms: float = 3000.0) -> None:
        if window_ms < 0:
            raise ValueError("window_ms must be 0 or more")
        self.window_ms = window_ms
        self._last_seen: dict[bytes, float] = {}
        self._latest = float("-inf")

    def fresh(self, found: Iterable[Found], timestamp_ms: float) -> list[Found]:
        """The codes of this frame that start a new scan; every code seen is remembered."""
        if timestamp_ms < self._latest:
            self._last_seen.clear()
        self._latest = timestamp_ms
        horizon = timestamp_ms - self.window_ms
        for data in [d for d, seen in self._last_seen.items() if seen < horizon]:
            del self._last_seen[data]
        new: list[Found] = []
        for item in _unique(found):
            if item.data not in self._last_seen:
                new.append(item)
            self._last_seen[item.data] = timestamp_ms
        return new

    def forget(self, data: bytes | None = None) -> None:
        """Forget one code (the operator asked for a rescan) or, with None, all of them."""
        if data is None:
            self._last_seen.clear()
        else:
            self._last_seen.pop(data, None)
