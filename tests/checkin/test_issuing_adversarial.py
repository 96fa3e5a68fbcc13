"""Adversarial guest lists: separators, header spellings, odd line endings and broken quoting.

The reader's rules: a bad row is reported with its physical line and a reason, never a crash (only
an unreadable or empty file, or a header without a name column, raises InputError), and nothing
valid is lost. Tests marked xfail(strict=True) pin behaviour believed to be a bug.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkin.core.errors import InputError, Reason
from checkin.services import guestlist
from checkin.services.guestlist import read_guest_csv
from checkin.services.problems import RowError
from checkin.store.guests import GuestRow

ZONES = ("hall", "vip", "press")
BOM = b"\xef\xbb\xbf"


def csv_bytes(*lines: str, bom: bool = False, newline: str = "\n") -> bytes:
    return (BOM if bom else b"") + newline.join(lines).encode("utf-8") + newline.encode()


def summary(rows: list[GuestRow]) -> list[tuple[int, str, str, tuple[str, ...], str]]:
    return [(r.line, r.name, r.organisation, r.zones, r.email) for r in rows]


def lines_of(errors: list[RowError]) -> list[int]:
    return [e.line for e in errors]


# ---- separators ---------------------------------------------------------------------------------


def test_cr_only_comma_file_keeps_physical_line_numbers() -> None:
    """Old Mac Excel ends lines with a bare CR."""
    data = csv_bytes("name,zones,email", "An,hall,", "", "Bình,nowhere,", "Cường,vip,c@example.vn", newline="\r")
    rows, errors = read_guest_csv(data, ZONES)
    assert summary(rows) == [(2, "An", "", ("hall",), ""), (5, "Cường", "", ("vip",), "c@example.vn")]
    assert lines_of(errors) == [4]


@pytest.mark.parametrize("sep", [";", "\t"], ids=["semicolon", "tab"])
def test_cr_only_semicolon_or_tab_file_is_read(sep: str) -> None:
    data = csv_bytes(f"Họ và tên{sep}Khu vực", f"An{sep}vip", f"Bình{sep}hall", newline="\r")
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert [(r.line, r.name, r.zones) for r in rows] == [(2, "An", ("vip",)), (3, "Bình", ("hall",))]


def test_bom_semicolons_and_crlf() -> None:
    data = csv_bytes(
        "Họ và tên;Cơ quan;Loại khách;Khu vực;E-mail",
        "Nguyễn Văn An;Sở Y tế, tỉnh Hải Dương;delegate;hall,vip;an@example.vn",
        bom=True,
        newline="\r\n",
    )
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert rows == [
        GuestRow(2, "Nguyễn Văn An", "Sở Y tế, tỉnh Hải Dương", "delegate", ("hall", "vip"), "an@example.vn")
    ]


def test_quoted_header_cells_holding_the_other_separators() -> None:
    semi = csv_bytes('"Họ và tên";"Đơn vị";"Ghi chú, lưu ý";"Khu vực"', 'An;"Sở A; phòng B";x, y;vip')
    rows, errors = read_guest_csv(semi, ZONES)
    assert errors == []
    assert summary(rows) == [(2, "An", "Sở A; phòng B", ("vip",), "")]
    comma = csv_bytes('"Họ và tên","Ghi chú; lưu ý","Khu vực"', 'An,"x; y",vip')
    rows, errors = read_guest_csv(comma, ZONES)
    assert errors == []
    assert summary(rows) == [(2, "An", "", ("vip",), "")]


def test_semicolon_file_whose_rows_hold_commas() -> None:
    data = csv_bytes(
        "Họ và tên;Đơn vị;Khu vực;Email",
        "Nguyễn Văn An, Jr.;Sở TT&TT, tỉnh Hải Dương;hall, vip;an@example.vn",
        "Trần Thị Bình;Báo Hải Dương, ban Thời sự;press;",
    )
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert summary(rows) == [
        (2, "Nguyễn Văn An, Jr.", "Sở TT&TT, tỉnh Hải Dương", ("hall", "vip"), "an@example.vn"),
        (3, "Trần Thị Bình", "Báo Hải Dương, ban Thời sự", ("press",), ""),
    ]


def test_tab_file_with_quoted_tabs_commas_and_semicolons() -> None:
    data = csv_bytes(
        'Họ và tên\tĐơn vị\t"Ghi\tchú"\tKhu vực',
        '"Nguyễn\tVăn An"\t"Sở A, B; C"\tx\t"hall\tvip"',
        "Bình\tSở, D\t\tpress",
    )
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert summary(rows) == [
        (2, "Nguyễn\tVăn An", "Sở A, B; C", ("hall", "vip"), ""),
        (3, "Bình", "Sở, D", ("press",), ""),
    ]


def test_header_cell_with_a_quoted_newline_before_the_name_column() -> None:
    data = csv_bytes('"STT\n(số thứ tự)";Họ và tên;Khu vực', "1;An;vip", "2;Bình;hall")
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert [(r.line, r.name, r.zones) for r in rows] == [(3, "An", ("vip",)), (4, "Bình", ("hall",))]


def test_header_cell_with_a_quoted_newline_after_the_name_column() -> None:
    data = csv_bytes('Họ và tên;"Ghi chú\n(nội bộ)";Khu vực', "An;x;vip")
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert [(r.line, r.name, r.zones) for r in rows] == [(3, "An", ("vip",))]


def test_one_column_header_falls_back_to_the_comma_and_reports_comma_rows() -> None:
    """With a single column nothing tells the separator: the comma, and a row it splits is reported."""
    rows, errors = read_guest_csv(csv_bytes("Họ và tên", "Nguyễn Văn An, Jr.", "Bình"), ZONES)
    assert [(r.line, r.name) for r in rows] == [(3, "Bình")]
    assert lines_of(errors) == [2]


def test_a_tie_between_separators_does_not_issue_garbled_names() -> None:
    data = csv_bytes("Họ và tên, chức danh;Email", "Nguyễn Văn An, Giám đốc;an@example.vn", "Trần Bình;b@example.vn")
    try:
        rows, _ = read_guest_csv(data, ZONES)
    except InputError:
        return
    assert [r.name for r in rows if ";" in r.name] == []


# ---- BOMs and invisible characters in the header ---------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(BOM + b"\nname,zones\nAn,vip\n", id="bom-then-lf"),
        pytest.param(BOM + b"\r\nname;zones\r\nAn;vip\r\n", id="bom-then-crlf"),
        pytest.param(BOM + b"\r", id="bom-then-cr"),
        pytest.param(BOM + b"   \n", id="bom-then-spaces"),
        pytest.param(b"\n\n", id="blank-lines-only"),
    ],
)
def test_a_header_line_that_is_only_a_bom_is_refused_cleanly(data: bytes) -> None:
    with pytest.raises(InputError) as caught:
        read_guest_csv(data, ZONES)
    assert "line 1" in caught.value.text()


@pytest.mark.parametrize("space", ["\u00a0", "\u2007", "\u202f", "\u3000", "\t"])
def test_header_cells_with_non_breaking_and_other_unicode_spaces(space: str) -> None:
    header = f"{space}Họ{space}và{space}tên{space};Khu{space}vực;{space}Email"
    rows, errors = read_guest_csv(csv_bytes(header, "An;vip;an@example.vn"), ZONES)
    assert errors == []
    assert summary(rows) == [(2, "An", "", ("vip",), "an@example.vn")]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(csv_bytes("Họ và tên;Khu vực\u200b", "An;vip"), id="zwsp-after-zones"),
        pytest.param(csv_bytes("\u200bHọ và tên;Khu vực", "An;vip"), id="zwsp-before-name"),
        pytest.param(csv_bytes("Họ và tên;Khu\u2060vực", "An;vip"), id="word-joiner-in-zones"),
        pytest.param(BOM + csv_bytes("Họ và tên;Khu vực", "An;vip", bom=True), id="double-bom"),
    ],
)
def test_zero_width_characters_in_header_cells(data: bytes) -> None:
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert [(r.line, r.name, r.zones) for r in rows] == [(2, "An", ("vip",))]


# ---- column names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("Họ và tên", "name"),
        ("HỌ TÊN", "name"),
        ("  họ   TÊN  ", "name"),
        ("Đơn vị", "organisation"),
        ("CƠ QUAN", "organisation"),
        ("Tổ chức", "organisation"),
        ("Organization", "organisation"),
        ("Loại", "category"),
        ("NHÓM", "category"),
        ("Đối tượng", "category"),
        ("Loại  khách", "category"),
        ("Khu vực", "zones"),
        ("Zone", "zones"),
        ("E-MAIL", "email"),
        ("Thư điện tử", "email"),
    ],
)
@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_every_vietnamese_and_english_alias_in_either_form(header: str, column: str, form: str) -> None:
    assert guestlist._column(unicodedata.normalize(form, header)) == column


@pytest.mark.parametrize(
    "header",
    ["Tên", "TÊN", " tên ", unicodedata.normalize("NFD", "Tên"), "Họ;Tên", "Họ đệm;Tên;Khu vực", "Tên khách"],
)
def test_given_name_alone_is_never_the_full_name(header: str) -> None:
    with pytest.raises(InputError, match="missing"):
        read_guest_csv(csv_bytes(header, "An;Bình;vip"), ZONES)


def test_full_name_beside_family_and_given_name_columns_is_the_one_used() -> None:
    rows, errors = read_guest_csv(csv_bytes("Họ;Tên;Họ và tên;Khu vực", "Nguyễn;An;Nguyễn Văn An;vip"), ZONES)
    assert errors == []
    assert summary(rows) == [(2, "Nguyễn Văn An", "", ("vip",), "")]


def test_duplicated_name_columns_refuse_the_header() -> None:
    """'Họ tên' and 'Name' both present: which one holds the name is not for the reader to guess."""
    data = csv_bytes("Họ tên,Name,Khu vực", "Nguyễn Văn An,Nguyen Van An,vip", ",Bob Smith,hall")
    with pytest.raises(InputError, match="the column name appears twice"):
        read_guest_csv(data, ZONES)


@pytest.mark.parametrize(
    ("header", "row", "check"),
    [
        pytest.param("name,email,E-mail", "An,,an@example.vn", lambda r: r.email == "an@example.vn", id="email"),
        pytest.param("name,Khu vực,Zone", "An,,vip", lambda r: r.zones == ("vip",), id="zones"),
    ],
)
def test_a_duplicated_column_does_not_silently_drop_its_value(
    header: str, row: str, check: Callable[[GuestRow], bool]
) -> None:
    with pytest.raises(InputError) as refused:  # the ambiguous header is refused outright
        read_guest_csv(csv_bytes(header, row), ZONES)
    assert "twice" in refused.value.text()


# ---- broken quoting and physical line numbers -------------------------------------------------


def test_an_unterminated_quote_does_not_swallow_later_rows() -> None:
    data = csv_bytes("name,organisation,zones", 'An,"Sở Y tế,hall', "Bình,,vip", "Cường,,hall")
    rows, errors = read_guest_csv(data, ZONES)
    assert rows == [] and lines_of(errors) == [2]
    assert dict(errors[0].problem.params) == {"start": 2, "end": 4}  # the swallowed lines are named


def test_a_multiline_record_is_reported_at_the_line_it_starts_on() -> None:
    # no name, organisation or e-mail may hold a line break, so such a row is refused where it starts
    data = csv_bytes(
        "name,organisation,zones", 'An,"Sở Thông tin\nvà Truyền thông",hall', ',"Báo\nHải Dương",vip', "Bình,,vip"
    )
    rows, errors = read_guest_csv(data, ZONES)
    assert [(r.line, r.name) for r in rows] == [(6, "Bình")]
    assert lines_of(errors) == [2, 4]


def test_an_oversized_cell_stops_the_reading_and_says_so() -> None:
    # after csv's size limit the reader cannot tell whether it stopped inside a quoted cell, so it
    # reads no further rather than risk making guests out of a cell's tail (see the next test)
    data = csv_bytes("name,organisation,zones", "An," + "x" * 200_000 + ",hall", "Bình,,vip")
    rows, errors = read_guest_csv(data, ZONES)
    assert rows == []
    assert lines_of(errors) == [2]
    assert errors[0].reason is Reason.ROW_UNREADABLE and "nor the rows after it" in errors[0].text()


def test_an_oversized_quoted_multiline_cell_does_not_make_a_phantom_guest() -> None:
    data = csv_bytes("name,organisation,zones", 'An,"' + "x" * 200_000, 'more",hall', "Bình,,vip")
    rows, errors = read_guest_csv(data, ZONES)
    assert rows == []  # no phantom guest from the cell's tail; the rest is reported, not guessed at
    assert lines_of(errors) == [2] and errors[0].reason is Reason.ROW_UNREADABLE


def test_a_nul_byte_in_a_cell_does_not_crash() -> None:
    rows, errors = read_guest_csv(csv_bytes("name,zones", "A\x00n,hall", "Bình,vip"), ZONES)
    assert [r.line for r in rows] + lines_of(errors) in ([2, 3], [3, 2])


def test_bytes_of_no_known_encoding_in_a_cr_only_file_name_the_right_line() -> None:
    with pytest.raises(InputError) as caught:
        read_guest_csv(b"name,zones\rAn,hall\rJos\x81\x8d\x90,hall\r", ZONES)  # \xe9 alone is Windows-1252 now
    assert "line 3 " in caught.value.text()


# ---- size -------------------------------------------------------------------------------------


def test_a_header_with_a_million_columns() -> None:
    header = "name," + ",".join(f"c{i}" for i in range(1_000_000)) + ",email"
    data = csv_bytes(header, "An", "Bình" + "," * 1_000_001 + "b@example.vn", "Cường" + "," * 1_000_002)
    rows, errors = read_guest_csv(data, ZONES)
    assert [(r.line, r.name, r.email) for r in rows] == [(2, "An", ""), (3, "Bình", "b@example.vn")]
    assert lines_of(errors) == [4]
    assert "1000003 cells, but the header has 1000002 columns" in errors[0].text()


def test_exactly_the_size_limit_is_read_and_one_byte_more_is_refused() -> None:
    head = csv_bytes("name,zones", "An,vip")
    filler = b" " * 100_000 + b"\n"  # blank lines: skipped
    data = head + filler * ((guestlist.MAX_CSV_BYTES - len(head)) // len(filler))
    data += b" " * (guestlist.MAX_CSV_BYTES - len(data) - 1) + b"\n"
    assert len(data) == guestlist.MAX_CSV_BYTES
    rows, errors = read_guest_csv(data, ZONES)
    assert (summary(rows), errors) == ([(2, "An", "", ("vip",), "")], [])
    with pytest.raises(InputError, match="20 MiB"):
        read_guest_csv(data + b" ", ZONES)
    with pytest.raises(InputError, match="20 MiB"):
        read_guest_csv(BOM + data, ZONES)  # the limit is on the bytes received


# ---- never a crash ------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "name", "Họ và tên", "Khu vực", "email", "zones", "Đơn vị", "An", "vip", "hall", "a@b.vn",
        ",", ";", "\t", '"', '""', "\n", "\r", "\r\n", "\ufeff", "\u200b", "\u00a0", " ", "\x00", "Tên",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40), st.booleans())
def test_any_mix_of_separators_quotes_and_line_ends_never_crashes(pieces: list[str], bom: bool) -> None:
    data = (BOM if bom else b"") + "".join(pieces).encode()
    try:
        rows, errors = read_guest_csv(data, ZONES)
    except InputError:
        return
    physical = len(re.split(r"\r\n|\r|\n", data.decode("utf-8-sig")))
    for line in [r.line for r in rows] + lines_of(errors):
        assert 2 <= line <= physical
    assert [r.line for r in rows] == sorted({r.line for r in rows})
    assert all(r.name and r.name == r.name.strip() for r in rows)
