"""Files the service and the gate write: private modes, durable small writes, spreadsheet-safe CSV.

Shared by the key store, the command lines, the service and the gate. What holds codes, guest data,
hashes or journals is created 0600 in folders made 0700 (PRIVATE_FILE, PRIVATE_FOLDER), whatever
the umask; `loose_modes` finds what is looser, for `checkin doctor`.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
PUBLIC_FILE = 0o644

# OWASP "CSV Injection": a cell a spreadsheet would read as a formula (or whose first character
# Excel drops before reading one: tab, carriage return) is prefixed with a quote and written quoted.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _write_fd(fd: int, data: bytes, mode: int, *, sync: bool = True) -> None:
    try:
        os.fchmod(fd, mode)  # the mode asked for, whatever the umask
        os.write(fd, data)
        if sync:
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


@contextmanager
def _replacing(path: Path, mode: int) -> Iterator[BinaryIO]:
    """A sibling file with `mode` to write into; on success it is synced and renamed over `path`."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)  # the mode asked for, whatever the umask
    with open(fd, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_folder(path.parent)


def write_atomic(path: Path, data: bytes, mode: int = PUBLIC_FILE) -> None:
    """Replace a file atomically with `mode`: write a sibling, fsync, rename, fsync the folder."""
    with _replacing(path, mode) as handle:
        handle.write(data)


def write_private(path: Path, data: bytes) -> None:
    """Create or overwrite a file, mode 0600 whatever it had (many files at once: not synced one by one)."""
    _write_fd(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), data, PRIVATE_FILE, sync=False)


def create_private(path: Path) -> None:
    """Create an empty file 0600 if there is none (a database, before SQLite makes it and its WAL
    with the umask's mode: SQLite gives the -wal and -shm files the database file's mode)."""
    if path.parent.is_dir():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))


def private_folder(path: Path) -> None:
    """Make a folder and its missing parents 0700; a folder that exists already is left as it is."""
    missing: list[Path] = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(mode=PRIVATE_FOLDER)
        os.chmod(made, PRIVATE_FOLDER)  # mkdir's mode passes through the umask


# ---- CSV for spreadsheets ---------------------------------------------------------------------------


def spreadsheet_cell(value: object) -> str:
    """A cell's text that no spreadsheet runs as a formula (OWASP: a leading `'` before = + - @ tab CR)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], *, excel_bom: bool = False) -> int:
    """Write a CSV file 0600, atomically, every cell quoted and made spreadsheet-safe; return the row count.

    `excel_bom` starts the file with a UTF-8 byte order mark, so Excel reads Vietnamese names right.
    """
    counted = _Counted(rows)
    write_text(path, csv_lines(header, counted), bom=excel_bom)
    return counted.count


class _Counted:
    """Rows passed through, counted."""

    def __init__(self, rows: Iterable[Sequence[object]]) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self) -> Iterator[Sequence[object]]:
        for row in self.rows:
            self.count += 1
            yield row


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]], *, batch: int = 500) -> Iterator[str]:
    """Spreadsheet-safe CSV text in pieces of `batch` rows (every cell quoted and made safe), so a
    download or a file of a million rows is written as it is read, never held whole."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow([spreadsheet_cell(name) for name in header])
    for number, row in enumerate(rows, 1):
        writer.writerow([spreadsheet_cell(cell) for cell in row])
        if number % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_text(path: Path, pieces: Iterable[str], *, bom: bool = False) -> None:
    """Write text given in pieces to a file 0600, atomically (UTF-8; `bom` starts it with a byte order
    mark, so Excel reads Vietnamese names right)."""
    with _replacing(path, PRIVATE_FILE) as handle:
        if bom:
            handle.write("\ufeff".encode())
        for piece in pieces:
            handle.write(piece.encode())


# ---- finding looser modes -------------------------------------------------------------------------


@dataclass(frozen=True)
class LooseMode:
    """A file or folder others may read (or, for a public file, write)."""

    path: Path
    mode: int
    wanted: int

    def line(self) -> str:
        """One line saying what is wrong and what to run."""
        kind = "folder" if self.wanted == PRIVATE_FOLDER else "file"
        who = "writable by others" if self.wanted == PUBLIC_FILE else "readable by others"
        return f"warning: {kind} {self.path} is {self.mode:04o}, {who}; run: chmod {self.wanted:o} {self.path}"


def loose_modes(root: Path, *, public: frozenset[str] = frozenset(), recurse: bool = True) -> Iterator[LooseMode]:
    """Every file or folder at (and with `recurse`, under) `root` with group or other bits set (files
    named in `public` may be read by others, not written); symbolic links are not followed."""
    try:
        info = root.lstat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return
    if stat.S_ISDIR(info.st_mode):
        if mode & 0o077:
            yield LooseMode(root, mode, PRIVATE_FOLDER)
        for child in sorted(root.iterdir()) if recurse else ():
            yield from loose_modes(child, public=public)
    elif root.name in public:
        if mode & 0o022:
            yield LooseMode(root, mode, PUBLIC_FILE)
    elif mode & 0o077:
        yield LooseMode(root, mode, PRIVATE_FILE)
