"""Issuing tickets: guest lists in, signed CK1 codes, PNGs, badge sheets and an index out.

The CSV reader is pure (bytes in, rows and row errors out); writing files and signing happen in
`issue_batch`, which the CLI and the web service share.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin import qr
from checkin.core import credential
from checkin.core.credential import Credential
from checkin.core.errors import CheckinError, InputError
from checkin.store import Event, Guest, Store

CSV_HEADER = ("name", "organisation", "category", "zones", "email")
MAX_CSV_BYTES = 20 * 1024 * 1024
EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_ZONE_SPLIT = re.compile(r"[;,|\s]+")
# A header cell, in English or Vietnamese, to the column it names.
_HEADER_NAMES = {
    alias: column
    for column, aliases in {
        "name": ("name", "họ tên", "họ và tên"),  # not "tên" alone: beside a "họ" column it is the given name
        "organisation": ("organisation", "organization", "đơn vị", "cơ quan", "tổ chức"),
        "category": ("category", "loại", "nhóm", "đối tượng", "loại khách"),
        "zones": ("zones", "zone", "khu vực"),
        "email": ("email", "e-mail", "thư điện tử"),
    }.items()
    for alias in aliases
}
# Excel writes the system's list separator: ";" wherever the decimal mark is a comma, Vietnamese
# Windows included, and a tab in "Unicode Text".
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class GuestRow:
    """One guest read from a list, with the line it came from."""

    line: int
    name: str
    organisation: str
    category: str
    zones: tuple[str, ...]
    email: str


@dataclass(frozen=True)
class RowError:
    """A refused row: its line number and why, in words a registrar understands."""

    line: int
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.detail} [{self.reason}]"


def _decode_csv(data: bytes) -> str:
    if len(data) > MAX_CSV_BYTES:
        raise InputError(f"the guest list is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB")
    body = data.removeprefix(b"\xef\xbb\xbf")  # Excel's "CSV UTF-8" starts with a BOM
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = len(re.findall(rb"\r\n|\r|\n", body[: exc.start])) + 1
        raise InputError(f"line {line} is not UTF-8; in Excel use 'Save As' > 'CSV UTF-8 (Comma delimited)'") from None


def read_guest_csv(data: bytes, event_zones: Sequence[str]) -> tuple[list[GuestRow], list[RowError]]:
    """Read a guest list (UTF-8, with or without BOM; comma, semicolon or tab separated; English or
    Vietnamese column names); bad rows are reported with the line they start on, not fatal."""
    text = _decode_csv(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the guest list is empty") from None
    except csv.Error as exc:
        raise InputError(f"line 1: the header cannot be read ({exc})") from None
    columns = [_column(h) for h in header]
    missing = [c for c in CSV_HEADER if c not in columns]
    if "name" in missing:
        raise InputError(f"line 1: the header must have the columns {','.join(CSV_HEADER)}; missing: {missing}")
    twice = [c for c in CSV_HEADER if columns.count(c) > 1]
    if twice:
        raise InputError(f"line 1: the column {twice[0]} appears twice in the header; keep one")
    index = {c: columns.index(c) for c in CSV_HEADER if c in columns}
    rows: list[GuestRow] = []
    errors: list[RowError] = []
    allowed = set(event_zones)
    while True:
        line = reader.line_num + 1  # where the next record starts: a quoted cell may run over lines
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # a cell over csv's size limit: the reader may have stopped inside a quoted cell, and
            # reading on could turn the rest of that cell into guests, so the rest is left unread
            errors.append(RowError(line, "invalid_input", f"the row cannot be read ({exc}); nor what follows"))
            break
        if reader.line_num > line:
            errors.append(RowError(line, "invalid_input", f"a cell runs from line {line} to line {reader.line_num}"))
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(columns):
            errors.append(RowError(line, "invalid_input", f"{len(cells)} cells but the header has {len(columns)}"))
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            position = index.get(name)
            value = cells[position] if position is not None and position < len(cells) else ""
            return credential.tidy_text(value)

        name = cell("name")
        zones = tuple(z for z in _ZONE_SPLIT.split(cell("zones")) if z) or tuple(event_zones[:1])
        unknown = [z for z in zones if z not in allowed]
        email = cell("email")
        problem = (
            "the name is empty"
            if not name
            else f"unknown zone(s) {', '.join(unknown)}; the event has {', '.join(event_zones)}"
            if unknown
            else f"e-mail address {email!r} is not valid"
            if email and (not EMAIL.match(email) or credential.has_control(email))
            else ""
        )
        if problem:
            errors.append(RowError(line, "invalid_input", problem))
            continue
        rows.append(GuestRow(line, name, cell("organisation"), cell("category"), zones, email))
    return rows, errors


def _column(cell: str) -> str:
    """The column a header cell names (English or Vietnamese, any case), or the cell itself.
    Invisible characters (zero-width spaces, word joiners, a second BOM) count as spaces: a
    spreadsheet's copy and paste leaves them, and a column must not vanish behind one."""
    visible = "".join(" " if unicodedata.category(ch) == "Cf" else ch for ch in unicodedata.normalize("NFC", cell))
    words = " ".join(visible.split()).casefold()
    return _HEADER_NAMES.get(words, words)


def _delimiter(text: str) -> str:
    """The separator under which the header (the first record, however its lines end) names the
    most known columns; a comma when none does. A header that names different known columns under
    two separators is refused: guessing would put e-mail addresses into names."""

    def known(delimiter: str) -> frozenset[str]:
        try:
            cells = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        except csv.Error:
            return frozenset()
        return frozenset(_column(c) for c in cells) & frozenset(CSV_HEADER)

    found = {d: known(d) for d in _DELIMITERS}
    most = max(len(columns) for columns in found.values())
    readings = {columns for columns in found.values() if len(columns) == most}
    if most and len(readings) > 1:
        raise InputError(
            "line 1: the header names different columns when split at commas and at semicolons; "
            "in Excel use 'Save As' > 'CSV UTF-8 (Comma delimited)'"
        )
    return next(d for d, columns in found.items() if len(columns) == most)


def ticket_window(event: Event, before_hours: int, after_hours: int) -> tuple[datetime, datetime]:
    """The default validity of the event's tickets."""
    return event.start - timedelta(hours=before_hours), event.end + timedelta(hours=after_hours)


@dataclass(frozen=True)
class Issued:
    """A signed ticket and the guest it is for."""

    row: GuestRow
    credential: Credential
    text: str


def sign_rows(
    rows: Sequence[GuestRow],
    *,
    issuer: str,
    event: Event,
    key: Ed25519PrivateKey,
    kid: bytes,
    window: tuple[datetime, datetime],
    now: datetime,
) -> tuple[list[Issued], list[RowError]]:
    """Sign one ticket per row; a row whose claims are refused becomes a row error."""
    issued: list[Issued] = []
    errors: list[RowError] = []
    for row in rows:
        try:
            cred = Credential.create(
                issuer=issuer,
                event_id=event.id,
                name=row.name,
                organisation=row.organisation,
                category=row.category,
                zones=row.zones,
                not_before=window[0],
                expires_at=window[1],
                issued_at=now,
            )
            issued.append(Issued(row, cred, credential.sign(cred, key, kid)))
        except CheckinError as exc:
            errors.append(RowError(row.line, exc.code, exc.detail))
    return issued, errors


def record(store: Store, event: Event, issued: Sequence[Issued], kid: bytes, now: datetime) -> None:
    """Store the guests and their credentials."""
    store.record_issued(
        [
            (
                Guest(
                    event_id=event.id,
                    name=item.row.name,
                    organisation=item.row.organisation,
                    category=item.row.category,
                    zones=",".join(item.row.zones),
                    email=item.row.email,
                    created=now,
                ),
                item.credential,
                kid.hex(),
                item.text,
            )
            for item in issued
        ]
    )


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = plain.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:40] or "guest"


def png_name(item: Issued) -> str:
    """The PNG file name for a ticket: line, readable name, short credential id."""
    return f"{item.row.line:05d}-{_slug(item.credential.name)}-{item.credential.id_hex[:8]}.png"


def _render_chunk(job: tuple[list[tuple[str, str]], str, int, int]) -> list[np.ndarray]:
    pairs, folder, scale, border = job
    symbols = []
    for text, file_name in pairs:
        symbol = qr.modules(text)
        (Path(folder) / file_name).write_bytes(qr.png(symbol, scale=scale, border=border))
        symbols.append(symbol)
    return symbols


def render(items: Sequence[Issued], folder: Path, *, scale: int, border: int, event_name: str) -> bytes:
    """Write one PNG per ticket on every core and return the badge sheet PDF.

    Worker processes draw the codes and write the PNGs; this process lays out the sheet from
    the QR modules they send back, in order, while they go on with the next chunks.
    """
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [(item.text, png_name(item)) for item in items]
    workers = min(os.cpu_count() or 1, max(1, len(pairs) // 200))
    if workers == 1:
        return qr.badge_sheet(badges(items, _render_chunk((pairs, str(folder), scale, border))), event_name)
    size = max(1, min(250, -(-len(pairs) // (workers * 4))))
    jobs = [(pairs[i : i + size], str(folder), scale, border) for i in range(0, len(pairs), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        symbols = (symbol for chunk in pool.map(_render_chunk, jobs) for symbol in chunk)
        return qr.badge_sheet(badges(items, symbols), event_name)


def write_index(path: Path, items: Sequence[Issued]) -> None:
    """index.csv: one line per ticket, for mail merges and the registrar's records."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "name", "organisation", "category", "zones", "email", "credential_id", "png", "code"])
        for item in items:
            row = item.row
            writer.writerow(
                [
                    row.line,
                    item.credential.name,
                    row.organisation,
                    row.category,
                    ";".join(row.zones),
                    row.email,
                    item.credential.id_hex,
                    png_name(item),
                    item.text,
                ]
            )


def badges(items: Sequence[Issued], symbols: Iterable[np.ndarray | None]) -> Iterator[qr.Badge]:
    """Badges for the sheet, reusing the QR modules already drawn for each ticket."""
    for item, symbol in zip(items, symbols, strict=True):
        yield qr.Badge(
            name=item.credential.name,
            organisation=item.credential.organisation,
            category=item.credential.category,
            zones=item.credential.zones,
            text=item.text,
            symbol=symbol,
        )
