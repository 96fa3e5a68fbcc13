"""Durable small-file writes with a fixed mode, shared by the key store, the service and the gate."""

from __future__ import annotations

import os
from pathlib import Path


def _write_fd(fd: int, data: bytes, mode: int) -> None:
    try:
        os.fchmod(fd, mode)  # the mode asked for, whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Create a file that must not exist yet (FileExistsError otherwise), with `mode`, synced."""
    _write_fd(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), data, mode)
    _fsync_folder(path.parent)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace a file atomically with `mode`: write a sibling, fsync, rename, fsync the folder."""
    tmp = path.with_name(path.name + ".tmp")
    _write_fd(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), data, mode)
    os.replace(tmp, path)
    _fsync_folder(path.parent)
