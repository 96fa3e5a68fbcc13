"""Frames in, QR texts out: a chain of decoders, the exact bytes each one read.

zxing-cpp reads first (fast and the most tolerant of the two); pyzbar reads what it missed.
The bytes are returned as the decoder read them, never a text re-encoded by a library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import zxingcpp

from checkin.errors import InputError, Reason


@dataclass(frozen=True)
class Found:
    """One code found in a frame: its text, the decoder that read it and its corners."""

    text: str
    decoder: str
    corners: tuple[tuple[int, int], ...] = ()


def _text(raw: bytes, fallback: str) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return fallback


_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _zxing(gray: np.ndarray) -> list[Found]:
    found = []
    for result in zxingcpp.read_barcodes(gray, formats=_QR_ONLY):
        if not result.valid:
            continue
        p = result.position
        corners = tuple((int(c.x), int(c.y)) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
        found.append(Found(_text(bytes(result.bytes), result.text), "zxing-cpp", corners))
    return found


_pyzbar: Any = None


def _pyzbar_decode(gray: np.ndarray) -> list[Found]:
    global _pyzbar  # noqa: PLW0603 - loaded once, and only if zxing-cpp missed
    if _pyzbar is None:
        try:
            from pyzbar import pyzbar as module
        except ImportError:  # libzbar0 missing: the chain goes on without it
            _pyzbar = False
            return []
        _pyzbar = module
    if _pyzbar is False:
        return []
    found = []
    for symbol in _pyzbar.decode(gray, symbols=[_pyzbar.ZBarSymbol.QRCODE]):
        corners = tuple((int(p.x), int(p.y)) for p in symbol.polygon)
        found.append(Found(_text(symbol.data, symbol.data.decode("utf-8", "replace")), "pyzbar", corners))
    return found


def to_gray(frame: np.ndarray) -> np.ndarray:
    """A grey image from a BGR, BGRA or grey frame."""
    if frame.ndim == 2:
        return frame
    code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(frame, code)


def decode_frame(frame: np.ndarray) -> list[Found]:
    """Every distinct QR code in a frame, by the first decoder of the chain that reads any."""
    gray = to_gray(frame)
    found = _zxing(gray) or _pyzbar_decode(gray)
    unique: dict[str, Found] = {}
    for item in found:
        unique.setdefault(item.text, item)
    return list(unique.values())


def read_image(path: Path) -> np.ndarray:
    """Load an image file as a grey frame."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can read", Reason.IMAGE_UNREADABLE)
    return image
