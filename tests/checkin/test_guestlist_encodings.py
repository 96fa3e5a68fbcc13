"""Guest lists in each encoding Excel saves: read back to the same NFC names, with the encoding named."""

from __future__ import annotations

import unicodedata

import pytest

from checkin.core.errors import InputError, Reason
from checkin.services import guestlist
from tests.support.excel import cp1258, excel_bytes

ZONES = ("hall", "vip")
VIETNAMESE = [
    ["Họ và tên", "Đơn vị", "Loại", "Khu vực", "Email"],
    ["Hồ Ngọc Uyên", "Sở Thông tin và Truyền thông", "Đại biểu", "HALL", "uyen@example.vn"],
    ["Nguyễn Văn Đức", "Bộ Y tế", "", "Vip Hall", ""],
    ["Trần Thị Ánh Tuyết", "Đại học Bách khoa Hà Nội", "Báo chí", "hall", ""],
    ["Phạm Quốc Việt", "Ủy ban nhân dân tỉnh Hải Dương", "", "", "viet@example.vn"],
]
WESTERN = [["name", "organisation", "zones"], ["José Müller", "Café Zoë", "hall"], ["François Ñúñez", "Señor", "VIP"]]


@pytest.mark.parametrize(
    ("encoding", "named"),
    [
        ("utf-8-sig", guestlist.UTF8_BOM),
        ("utf-8", guestlist.UTF8),
        ("utf-16", guestlist.UTF16),
        ("cp1258", guestlist.CP1258),
    ],
)
def test_a_vietnamese_list_reads_the_same_in_every_encoding_excel_saves(encoding: str, named: str) -> None:
    data = excel_bytes(VIETNAMESE, encoding)
    read = guestlist.read_guest_list(data, ZONES)
    assert read.encoding == named
    assert read.refused == []
    assert [r.name for r in read.rows] == [cells[0] for cells in VIETNAMESE[1:]]
    assert all(unicodedata.is_normalized("NFC", r.name + r.organisation + r.category) for r in read.rows)
    # zone codes match without regard to case, and are kept as the event spells them
    assert [r.zones for r in read.rows] == [("hall",), ("vip", "hall"), ("hall",), ("hall",)]
    assert read.rows[2].organisation == "Đại học Bách khoa Hà Nội"


def test_windows_1258_keeps_tone_marks_as_combining_characters_and_they_are_composed() -> None:
    raw = cp1258("Hồ")
    assert raw == b"H\xf4\xcc"  # ô, then the combining grave accent: how Vietnamese Windows writes it
    read = guestlist.read_guest_list(excel_bytes([["name"], ["Hồ Ngọc Uyên"]], "cp1258"), ZONES)
    assert read.rows[0].name == "Hồ Ngọc Uyên" and len(read.rows[0].name) == len("Hồ Ngọc Uyên")


def test_a_western_list_reads_as_windows_1252() -> None:
    read = guestlist.read_guest_list(excel_bytes(WESTERN, "cp1252"), ZONES)
    assert read.encoding == guestlist.CP1252
    assert [(r.name, r.organisation, r.zones) for r in read.rows] == [
        ("José Müller", "Café Zoë", ("hall",)),
        ("François Ñúñez", "Señor", ("vip",)),
    ]


def test_a_refused_row_names_its_guest_beside_the_line() -> None:
    data = excel_bytes([["name", "zones"], ["Hồ Ngọc Uyên", "hall"], ["Lê Văn Tám", "backstage"]], "cp1258")
    read = guestlist.read_guest_list(data, ZONES)
    [refused] = read.refused
    assert (refused.line, refused.name, refused.reason) == (3, "Lê Văn Tám", Reason.ROW_ZONE_UNKNOWN)
    assert str(refused).startswith("line 3 (Lê Văn Tám): ")


@pytest.mark.parametrize(
    ("data", "line"),
    [
        pytest.param(b"name,zones\nAn,hall\nX\x81\x8d\x90,hall\n", 3, id="bytes-no-windows-code-page-has"),
        pytest.param(b"\xef\xbb\xbfname,zones\n\x81mile,hall\n", 2, id="bom-then-bad-byte"),
    ],
)
def test_a_file_in_no_known_encoding_is_refused_naming_the_line(data: bytes, line: int) -> None:
    with pytest.raises(InputError) as caught:
        guestlist.read_guest_list(data, ZONES)
    assert f"line {line} " in caught.value.text() and "UTF-8" in caught.value.text()


def test_a_broken_utf16_file_is_refused() -> None:
    with pytest.raises(InputError, match="UTF-16"):
        guestlist.read_guest_list(b"\xff\xfen\x00a\x00m", ZONES)
