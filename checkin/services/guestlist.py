"""Guest lists as registrars keep them: CSV from Excel (UTF-8 with or without BOM, UTF-16 "Unicode
text", Windows-1258 as Vietnamese Windows saves "CSV", Windows-1252; comma, semicolon or tab
separated; English or Vietnamese column names). Pure: bytes in, rows, the refused rows (with a
reason and its parameters) and the encoding read out."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from checkin.core import credential
from checkin.core.errors import N_, InputError, Reason
from checkin.services.problems import Problem, RowError
from checkin.store.guests import GuestRow

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


# Excel's encodings, as the import report names them
UTF8, UTF8_BOM, UTF16, CP1258, CP1252 = "UTF-8", "UTF-8 (BOM)", "UTF-16", "Windows-1258", "Windows-1252"
_LEGACY = {"cp1258": CP1258, "cp1252": CP1252}


@dataclass(frozen=True)
class GuestList:
    """A guest list read: the rows, the refused rows (with their line) and the encoding it was in."""

    rows: list[GuestRow]
    refused: list[RowError]
    encoding: str


def decode_csv(data: bytes) -> tuple[str, str]:
    """The text of a guest list (NFC) and the encoding it was in: a BOM says UTF-8 or UTF-16 (Excel's
    "Unicode text"); valid UTF-8 is UTF-8; otherwise charset-normalizer chooses between
    Windows-1258 (Vietnamese Windows, whose tone marks are combining characters) and Windows-1252."""
    if len(data) > MAX_CSV_BYTES:
        raise InputError(N_("the guest list is larger than %(mib)d MiB"), mib=MAX_CSV_BYTES // (1024 * 1024))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return unicodedata.normalize("NFC", data.decode("utf-16")), UTF16
        except UnicodeDecodeError:
            raise InputError(N_("the guest list starts as UTF-16 but is not; save it from Excel again")) from None
    body = data.removeprefix(b"\xef\xbb\xbf")  # Excel's "CSV UTF-8" starts with a BOM
    try:
        return unicodedata.normalize("NFC", body.decode("utf-8")), UTF8 if len(body) == len(data) else UTF8_BOM
    except UnicodeDecodeError as exc:
        failed = exc
    from charset_normalizer import from_bytes  # loaded only for a file that is not UTF-8

    best = from_bytes(body, cp_isolation=list(_LEGACY)).best()
    if best is None or best.encoding not in _LEGACY:
        line = len(re.findall(rb"\r\n|\r|\n", body[: failed.start])) + 1
        raise InputError(
            N_("line %(line)d is not UTF-8; in Excel use 'Save As' > 'CSV UTF-8 (Comma delimited)'"), line=line
        )
    return unicodedata.normalize("NFC", body.decode(best.encoding)), _LEGACY[best.encoding]


def read_guest_list(data: bytes, event_zones: Sequence[str]) -> GuestList:
    """Read a guest list in any of Excel's encodings (see `decode_csv`); bad rows are reported with
    the line they start on and the guest's name, not fatal; zone codes match without regard to case."""
    text, encoding = decode_csv(data)
    rows, refused = _read_rows(text, event_zones)
    return GuestList(rows, refused, encoding)


def read_guest_csv(data: bytes, event_zones: Sequence[str]) -> tuple[list[GuestRow], list[RowError]]:
    """The rows and refused rows of a guest list (`read_guest_list` without the encoding)."""
    read = read_guest_list(data, event_zones)
    return read.rows, read.refused


def _read_rows(text: str, event_zones: Sequence[str]) -> tuple[list[GuestRow], list[RowError]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(N_("the guest list is empty")) from None
    except csv.Error as exc:
        raise InputError(N_("line 1: the header cannot be read (%(problem)s)"), problem=str(exc)) from None
    columns = [_column(h) for h in header]
    missing = [c for c in CSV_HEADER if c not in columns]
    if "name" in missing:
        raise InputError(
            N_("line 1: the header must have the columns %(columns)s; missing: %(missing)s"),
            columns=",".join(CSV_HEADER),
            missing=", ".join(missing),
        )
    twice = [c for c in CSV_HEADER if columns.count(c) > 1]
    if twice:
        raise InputError(N_("line 1: the column %(column)s appears twice in the header; keep one"), column=twice[0])
    index = {c: columns.index(c) for c in CSV_HEADER if c in columns}
    rows: list[GuestRow] = []
    errors: list[RowError] = []
    allowed = {z.casefold(): z for z in event_zones}
    while True:
        line = reader.line_num + 1  # where the next record starts: a quoted cell may run over lines
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error:
            # a cell over csv's size limit: the reader may have stopped inside a quoted cell, and
            # reading on could turn the rest of that cell into guests, so the rest is left unread
            errors.append(RowError(line, Problem(Reason.ROW_UNREADABLE)))
            break
        if reader.line_num > line:
            errors.append(RowError(line, Problem(Reason.ROW_SPANS_LINES, {"start": line, "end": reader.line_num})))
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(columns):
            errors.append(
                RowError(line, Problem(Reason.ROW_TOO_MANY_CELLS, {"cells": len(cells), "columns": len(columns)}))
            )
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            position = index.get(name)
            value = cells[position] if position is not None and position < len(cells) else ""
            return credential.tidy_text(value)

        name = cell("name")
        typed = tuple(z for z in _ZONE_SPLIT.split(cell("zones")) if z)
        unknown = [z for z in typed if z.casefold() not in allowed]
        zones = tuple(dict.fromkeys(allowed.get(z.casefold(), z) for z in typed)) or tuple(event_zones[:1])
        email = cell("email")
        problem = (
            Problem(Reason.ROW_NAME_EMPTY)
            if not name
            else Problem(Reason.ROW_ZONE_UNKNOWN, {"zones": ", ".join(unknown), "known": ", ".join(event_zones)})
            if unknown
            else Problem(Reason.ROW_EMAIL_INVALID, {"email": email})
            if email and (not EMAIL.match(email) or credential.has_control(email))
            else None
        )
        if problem is not None:
            errors.append(RowError(line, problem, name=name))
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
            N_(
                "line 1: the header names different columns when split at commas and at semicolons; "
                "in Excel use 'Save As' > 'CSV UTF-8 (Comma delimited)'"
            )
        )
    return next(d for d, columns in found.items() if len(columns) == most)
