"""Videos of people showing codes to a gate camera: for the demo and the end-to-end tests.

A stand-in for a real webcam recording, drawn with the same scene pieces the decoder bench uses
(scanner.camera's synthetic scenes): each code moves across the frame while it is shown, turned
and tilted, with blur, motion smear, sensor noise, or on a phone screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from checkin import qr
from scanner import camera

FPS = 30
SIZE = (1280, 720)
SHOWN = 18  # frames a code is held up
BETWEEN = 4  # empty frames between people


@dataclass(frozen=True)
class Presentation:
    """One person at the gate: the code(s) shown and how the camera sees them."""

    texts: tuple[str, ...]
    angle: float = 0.0  # degrees the badge is turned
    tilt: float = 0.03  # perspective jitter, a share of the side
    blur: float = 0.6
    noise: float = 3.0
    motion: int = 0  # motion smear in pixels
    phone: bool = False  # shown on a phone screen rather than a printed badge


def _paste_near(frame: np.ndarray, picture: np.ndarray, quad: np.ndarray) -> None:
    """camera.paste limited to the quad's bounding box: the same picture, a tenth of the work."""
    x0, y0 = np.maximum(np.floor(quad.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 2
    camera.paste(frame[y0:y1, x0:x1], picture, quad - np.array([x0, y0], dtype=np.float32))


def render_video(path: Path, shows: list[Presentation], seed: int = 7) -> int:
    """Write an MJPEG video of the presentations; return the number of frames."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, SIZE)
    if not writer.isOpened():
        raise OSError(f"cannot write a video to {path}")
    count = 0
    for show in shows:
        background = camera.scene_background(rng, *SIZE)
        symbols = [qr.modules(t) for t in show.texts]
        pictures = [
            camera.phone_picture(s, rng)[0] if show.phone else camera.code_picture(s, module_px=4) for s in symbols
        ]
        # sensor noise: two fields drawn once per person and alternated (drawing one a frame is slow)
        noise = [rng.normal(0, show.noise, background.shape).astype(np.int16) for _ in range(2)]
        slot = SIZE[0] / len(pictures)
        start = [(slot * i + slot / 2 - 60, SIZE[1] / 2 + float(rng.uniform(-60, 60))) for i in range(len(pictures))]
        for f in range(SHOWN + BETWEEN):
            frame = background.copy()
            if f < SHOWN:
                for (x, y), picture in zip(start, pictures, strict=True):
                    centre = (x + 7 * f, y - 2 * f)  # walking towards the camera, moving the badge
                    height, width = picture.shape[:2]
                    scale = (420.0 if show.phone else 300.0) / max(height, width)
                    c, s = np.cos(np.radians(show.angle)), np.sin(np.radians(show.angle))
                    box = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
                    box *= np.array([width, height]) * scale / 2
                    jitter = rng.uniform(-show.tilt, show.tilt, (4, 2)) * max(width, height) * scale
                    quad = box @ np.array([[c, s], [-s, c]]) + jitter
                    _paste_near(frame, picture, (quad + np.array(centre)).astype(np.float32))
            frame = camera.lens_and_sensor(frame, rng, blur_sigma=show.blur, motion_px=show.motion, jpeg_quality=None)
            frame = np.clip(frame.astype(np.int16) + noise[f % 2], 0, 255).astype(np.uint8)
            writer.write(frame)
            count += 1
    writer.release()
    return count
