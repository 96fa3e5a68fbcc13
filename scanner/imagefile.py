"""Image files and video frames within a pixel budget: refused from their header, before decoding.

A 110 KB PNG can claim 30000x30000 pixels; decoding it took 7 s and 2 GB. Pillow reads only the
header to tell the size (it decodes nothing until asked), so `read_image` knows before OpenCV
decodes a single row; a video's frame size is checked from its stream before the first frame.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

# A 12 MP phone photo fits three times over; a frame from a webcam or a recording is far smaller
# (4K is 8.8 MP).
MAX_IMAGE_PIXELS = 40_000_000
MAX_FRAME_PIXELS = 4096 * 2160
# OpenCV's own cap, for the formats Pillow cannot size: OpenCV reads it at its first decode, so it
# is set before this module imports cv2.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))

import cv2  # noqa: E402 - after the cap above
import numpy as np  # noqa: E402
from PIL import Image, UnidentifiedImageError  # noqa: E402

from checkin.core.errors import InputError, Reason  # noqa: E402


def check_pixels(width: int, height: int, budget: int, what: str) -> None:
    """Refuse a picture of more than `budget` pixels (IMAGE_TOO_LARGE)."""
    if width * height > budget:
        raise InputError(
            f"{what}: {width}x{height} pixels is more than the {budget:,} a gate decodes", Reason.IMAGE_TOO_LARGE
        )


def image_size(path: Path) -> tuple[int, int] | None:
    """An image file's width and height from its header alone; None for a format Pillow does not
    know (OpenCV's own cap then applies)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we judge the size ourselves
            with Image.open(path) as image:
                return image.size
    except Image.DecompressionBombError:  # beyond Pillow's own cap, far beyond ours
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise InputError(
            f"{path}: more than {limit:,} pixels; a gate decodes up to {MAX_IMAGE_PIXELS:,}", Reason.IMAGE_TOO_LARGE
        ) from None
    except (UnidentifiedImageError, ValueError, OSError, SyntaxError):
        return None


def read_image(path: Path, flags: int = cv2.IMREAD_GRAYSCALE) -> np.ndarray:
    """Load an image file as a grey frame (or as `flags` say); one over MAX_IMAGE_PIXELS is refused
    from its header, before any pixel is decoded."""
    size = image_size(path)
    if size is not None:
        check_pixels(*size, MAX_IMAGE_PIXELS, str(path))
    image = cv2.imread(str(path), flags)
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can read", Reason.IMAGE_UNREADABLE)
    return image
