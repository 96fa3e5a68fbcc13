"""The gate's settings, in one place: gate.toml's `[gate]` table and its `[camera]` table.

Plain data and TOML parsing only (no OpenCV, no NumPy), so that what reads the settings (the data
folder, sync, the command line) loads no camera library. Every setting has a default; unknown
keys, wrong types and values out of range are errors naming the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from checkin.core import chain, credential
from checkin.core.errors import ConfigError

CAP_ANY = 0  # cv2.CAP_ANY: let OpenCV choose the capture backend


@dataclass(frozen=True)
class CameraSettings:
    """What to ask of a webcam. None leaves the driver's choice; drivers may ignore any of it."""

    width: int = 1280
    height: int = 720
    fps: float = 30.0
    autofocus: bool | None = True
    focus: float | None = None  # manual focus position (driver units), applied with autofocus off
    mjpeg: bool = True  # most USB webcams give 720p at 30 fps only as MJPEG
    backend: int = CAP_ANY


@dataclass(frozen=True)
class Settings:
    """Gate settings from the optional gate.toml: the `[gate]` table, and the webcam's from the
    `[camera]` table; every one has a default."""

    banner_hold_seconds: float = 3.0
    repeat_seconds: float = 3.0  # the same code read again within this time is the same scan
    checkpoint_rows: int = 100
    checkpoint_minutes: float = 5.0
    batch_size: int = 500
    sync_interval_seconds: float = 15.0  # the full round: a newer bundle (revocations), then the short round
    # The short round: push what is new, then pull the other gates' passages, also at once after an
    # admission, so a code admitted at gate A is already_inside at gate B within about this long.
    # Idle, 20 gates ask 10 small questions a second (a few kB/s of a venue's wifi); failures back off.
    presence_interval_seconds: float = 2.0
    operator: str = ""
    language: str = "vi"
    sound: bool = True
    fullscreen: bool = True  # the window fills the screen; `run --windowed` or false for a 1280×720 window
    camera: CameraSettings = field(default_factory=CameraSettings)


# Numeric keys and their bounds. [gate]: above the low bound, at most the high one; the batch can
# be no larger than the service takes in one upload. [camera]: from low to high, what a laptop
# webcam or a USB document camera can be asked.
_GATE_BOUNDS: dict[str, tuple[float, float]] = {
    "banner_hold_seconds": (0, 60),
    "repeat_seconds": (0, 3600),
    "checkpoint_rows": (0, 100_000),
    "checkpoint_minutes": (0, 24 * 60),
    "batch_size": (0, chain.MAX_BATCH),
    "sync_interval_seconds": (0, 24 * 3600),
    "presence_interval_seconds": (0, 3600),
}
_CAMERA_KEYS: dict[str, tuple[type, float, float]] = {
    "width": (int, 160, 7680),
    "height": (int, 120, 4320),
    "fps": (float, 1, 240),
    "autofocus": (bool, 0, 1),
    "focus": (float, 0, 10_000),  # driver units; sets autofocus off
    "mjpeg": (bool, 0, 1),
}
MAX_OPERATOR = 64  # a person's name; the journal takes chain.MAX_TEXT with "manual:" before it


def operator_problem(operator: str) -> str | None:
    """Why a gate operator's name cannot be journalled with every scan, or None."""
    if len(operator) > MAX_OPERATOR:
        return f"must be at most {MAX_OPERATOR} characters"
    if credential.has_control(operator):
        return "must not hold control characters (line breaks, tabs, direction marks)"
    return None


def load(path: Path) -> Settings:
    """The settings of a gate.toml file, or the defaults when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    return parse_settings(text, str(path))


def parse_settings(text: str, source: str) -> Settings:
    """Settings from TOML text; unknown keys, wrong types and values out of range are errors naming
    the key."""
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, and an integer of thousands of digits
        raise ConfigError(f"{source}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: values nested too deeply") from None
    unknown_tables = set(data) - {"gate", "camera"}
    if unknown_tables:
        raise ConfigError(f"{source}: unknown table(s) {sorted(unknown_tables)}; only [gate] and [camera]")
    defaults = Settings()
    kinds = {f.name: type(getattr(defaults, f.name)) for f in fields(Settings) if f.name != "camera"}
    values = _typed(data.get("gate", {}), "gate", kinds, source)
    for key, (low, high) in _GATE_BOUNDS.items():
        if key in values and not low < values[key] <= high:  # NaN fails both comparisons
            raise ConfigError(f"{source}: [gate].{key} must be above {low:g} and at most {high:g}")
    if values.get("language", "vi") not in ("vi", "en"):
        raise ConfigError(f"{source}: [gate].language must be vi or en")
    problem = operator_problem(values.get("operator", ""))
    if problem:
        raise ConfigError(f"{source}: [gate].operator {problem}")
    return replace(defaults, **_floats(values, kinds), camera=_camera(data.get("camera", {}), source))


def _camera(table: Any, source: str) -> CameraSettings:
    kinds = {key: kind for key, (kind, _low, _high) in _CAMERA_KEYS.items()}
    values = _typed(table, "camera", kinds, source)
    for key, value in values.items():
        kind, low, high = _CAMERA_KEYS[key]
        if kind is not bool and not low <= value <= high:
            raise ConfigError(f"{source}: [camera].{key} must be from {low:g} to {high:g}")
    if "focus" in values:
        if values.get("autofocus", False):
            raise ConfigError(f"{source}: [camera].focus sets the focus by hand; it needs autofocus = false")
        values["autofocus"] = False
    return replace(CameraSettings(), **_floats(values, kinds))


def _typed(table: Any, name: str, kinds: dict[str, type], source: str) -> dict[str, Any]:
    """The values of one table, each checked against its type (an integer serves as a float)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in kinds:
            raise ConfigError(f"{source}: [{name}].{key} is not a setting; known: {', '.join(kinds)}")
        kind = kinds[key]
        ok = isinstance(value, kind) or (kind is float and type(value) is int)
        if not ok or (kind in (int, float) and type(value) is bool):
            raise ConfigError(f"{source}: [{name}].{key} must be of type {kind.__name__}")
        values[key] = value
    return values


def _floats(values: dict[str, Any], kinds: dict[str, type]) -> dict[str, Any]:
    """Integers given for float settings, as floats (after the bounds: a huge one is no float)."""
    return {key: float(value) if kinds[key] is float else value for key, value in values.items()}
