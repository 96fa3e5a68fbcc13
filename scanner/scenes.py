"""Synthetic scenes for the tests, the demo and the benchmarks: codes as a gate camera sees them.

Still frames (`render_scene`): codes drawn into realistic 1280x720 frames (tilt, blur, noise, a
phone screen, JPEG), with where each code landed, for the decoder's tests and bench. Videos
(`render_video`): people showing codes to the camera, a stand-in for a webcam recording for the
demo and the end-to-end tests; each code moves across the frame while it is shown.

Not part of a gate's program: it draws codes with the service's writer (checkin.qr), which a
gate-only install does not need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

from checkin import qr


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


# --- videos of people at the gate --------------------------------------------------------------

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
    """paste limited to the quad's bounding box: the same picture, a tenth of the work."""
    x0, y0 = np.maximum(np.floor(quad.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + 2
    paste(frame[y0:y1, x0:x1], picture, quad - np.array([x0, y0], dtype=np.float32))


def render_video(path: Path, shows: list[Presentation], seed: int = 7) -> int:
    """Write an MJPEG video of the presentations; return the number of frames."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, SIZE)
    if not writer.isOpened():
        raise OSError(f"cannot write a video to {path}")
    count = 0
    for show in shows:
        background = scene_background(rng, *SIZE)
        symbols = [qr.modules(t) for t in show.texts]
        pictures = [phone_picture(s, rng)[0] if show.phone else code_picture(s, module_px=4) for s in symbols]
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
            frame = lens_and_sensor(frame, rng, blur_sigma=show.blur, motion_px=show.motion, jpeg_quality=None)
            frame = np.clip(frame.astype(np.int16) + noise[f % 2], 0, 255).astype(np.uint8)
            writer.write(frame)
            count += 1
    writer.release()
    return count
