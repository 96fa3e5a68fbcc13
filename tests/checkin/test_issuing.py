"""Guest lists: UTF-8 CSV in, rows and line-numbered row errors out."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin.core import cose, credential
from checkin.core.errors import InputError, Reason
from checkin.services import guestlist, issuing
from checkin.services.guestlist import read_guest_csv
from checkin.services.problems import RowError
from checkin.store.guests import GuestRow
from checkin.store.models import Event, Zone

ZONES = ("hall", "vip", "press")
HEADER = "name,organisation,category,zones,email"
BOM = b"\xef\xbb\xbf"


def csv_bytes(*lines: str, bom: bool = False, newline: str = "\n") -> bytes:
    return (BOM if bom else b"") + newline.join(lines).encode("utf-8") + newline.encode()


def by_line(rows: list[GuestRow]) -> dict[int, GuestRow]:
    return {r.line: r for r in rows}


def error_lines(errors: list[RowError]) -> list[int]:
    return [e.line for e in errors]


# ---- encodings and text -----------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
def test_reads_utf8_with_and_without_bom(bom: bool) -> None:
    data = csv_bytes(
        HEADER,
        "Nguyễn Văn An,Sở Thông tin và Truyền thông,delegate,hall;vip,an.nguyen@example.vn",
        "Trần Thị Bình,Báo Hải Dương,press,press,",
        bom=bom,
    )
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert rows == [
        GuestRow(
            2, "Nguyễn Văn An", "Sở Thông tin và Truyền thông", "delegate", ("hall", "vip"), "an.nguyen@example.vn"
        ),
        GuestRow(3, "Trần Thị Bình", "Báo Hải Dương", "press", ("press",), ""),
    ]


def test_crlf_line_endings() -> None:
    data = csv_bytes(HEADER, "An,,,hall,", "Bình,,,vip,", newline="\r\n", bom=True)
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert [(r.line, r.name, r.zones) for r in rows] == [(2, "An", ("hall",)), (3, "Bình", ("vip",))]


NAMES = ["Nguyễn Thị Ánh Tuyết", "Đặng Quốc Hưng", "Phạm Ngọc Điệp", "Lưu Thị Ngọc Ỷ"]


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_vietnamese_names_in_either_normal_form_come_through(form: str) -> None:
    lines = [HEADER] + [f"{unicodedata.normalize(form, n)},{unicodedata.normalize(form, 'Sở Y tế')},,," for n in NAMES]
    rows, errors = read_guest_csv(csv_bytes(*lines), ZONES)
    assert errors == []
    assert [unicodedata.normalize("NFC", r.name) for r in rows] == NAMES
    assert [r.line for r in rows] == [2, 3, 4, 5]


def test_nfd_names_are_read_as_nfc() -> None:
    """The reader's rows feed both the guests table and the ticket: they must agree on one form."""
    lines = [HEADER] + [
        f"{unicodedata.normalize('NFD', n)},{unicodedata.normalize('NFD', 'Sở Y tế')},,," for n in NAMES
    ]
    rows, _ = read_guest_csv(csv_bytes(*lines), ZONES)
    not_nfc = [ascii(r.name) for r in rows if not unicodedata.is_normalized("NFC", r.name)]
    assert not_nfc == [], "GuestRow.name kept the decomposed (NFD) form"
    assert [r.name for r in rows] == NAMES
    assert {r.organisation for r in rows} == {"Sở Y tế"}


def test_nfd_header_is_understood() -> None:
    rows, errors = read_guest_csv(csv_bytes(unicodedata.normalize("NFD", " Name , ZONES ,Email"), "An,vip,"), ZONES)
    assert errors == []
    assert [(r.name, r.zones) for r in rows] == [("An", ("vip",))]


def test_excel_on_vietnamese_windows_separates_with_semicolons() -> None:
    # Excel writes the list separator of the system's region: ";" where the decimal mark is ","
    data = csv_bytes(
        "name;organisation;category;zones;email",
        'Nguyễn Văn An;Sở Thông tin và Truyền thông, tỉnh Hải Dương;delegate;"hall;vip";an@example.vn',
        "Trần Thị Bình;Báo Hải Dương;press;press;",
        bom=True,
        newline="\r\n",
    )
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert rows == [
        GuestRow(
            2, "Nguyễn Văn An", "Sở Thông tin và Truyền thông, tỉnh Hải Dương", "delegate", ("hall", "vip"),
            "an@example.vn",
        ),
        GuestRow(3, "Trần Thị Bình", "Báo Hải Dương", "press", ("press",), ""),
    ]  # fmt: skip


def test_tab_separated_unicode_text_is_read_too() -> None:
    rows, errors = read_guest_csv(csv_bytes("name\tzones\temail", "Lê Văn Cường\tvip\tcuong@example.vn"), ZONES)
    assert errors == []
    assert rows == [GuestRow(2, "Lê Văn Cường", "", "", ("vip",), "cuong@example.vn")]


def test_vietnamese_column_names_are_understood() -> None:
    data = csv_bytes("Họ và tên,Đơn vị,Đối tượng,Khu vực,Thư điện tử", "Phạm Thu Hà,Sở Y tế,delegate,vip,ha@example.vn")
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert rows == [GuestRow(2, "Phạm Thu Hà", "Sở Y tế", "delegate", ("vip",), "ha@example.vn")]
    rows, _ = read_guest_csv(csv_bytes("HỌ  TÊN;E-mail", "An;an@example.vn"), ZONES)
    assert [(r.name, r.email) for r in rows] == [("An", "an@example.vn")]


def test_a_comma_file_with_semicolons_in_its_cells_stays_a_comma_file() -> None:
    rows, errors = read_guest_csv(csv_bytes(HEADER, "An;Bình,Sở;UBND,,hall,"), ZONES)
    assert errors == []
    assert [(r.name, r.organisation) for r in rows] == [("An;Bình", "Sở;UBND")]


def test_given_name_alone_is_not_taken_for_the_full_name() -> None:
    with pytest.raises(InputError, match="missing"):
        read_guest_csv(csv_bytes("Họ đệm,Tên", "Nguyễn Văn,An"), ZONES)


# ---- cells --------------------------------------------------------------------------------------


def test_quoted_fields_with_commas_and_quotes() -> None:
    data = csv_bytes(
        HEADER,
        '"Nguyễn Văn An, Jr.","Sở Thông tin và Truyền thông, tỉnh Hải Dương",delegate,hall,',
        '"Lê ""Tí"" Văn",UBND,citizen,hall,',
    )
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert rows[0].name == "Nguyễn Văn An, Jr."
    assert rows[0].organisation == "Sở Thông tin và Truyền thông, tỉnh Hải Dương"
    assert rows[1].name == 'Lê "Tí" Văn'


@pytest.mark.parametrize("cell", ['"hall;vip"', '"hall,vip"', '"hall, vip"', '" hall ; vip "', "hall vip", "hall|vip"])
def test_zones_split_on_semicolon_or_comma_in_a_quoted_cell(cell: str) -> None:
    rows, errors = read_guest_csv(csv_bytes(HEADER, f"An,,,{cell},an@example.vn"), ZONES)
    assert errors == []
    assert rows[0].zones == ("hall", "vip")
    assert rows[0].email == "an@example.vn"


def test_empty_zones_take_the_first_zone_of_the_event() -> None:
    rows, _ = read_guest_csv(csv_bytes(HEADER, "An,,,,"), ZONES)
    assert rows[0].zones == ("hall",)


def test_header_columns_in_any_order_and_case() -> None:
    data = csv_bytes("EMAIL,Zones,Name", "an@example.vn,vip,Nguyễn Văn An")
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert rows == [GuestRow(2, "Nguyễn Văn An", "", "", ("vip",), "an@example.vn")]


def test_short_rows_fill_missing_cells_with_blanks() -> None:
    rows, errors = read_guest_csv(csv_bytes(HEADER, "An"), ZONES)
    assert errors == []
    assert rows == [GuestRow(2, "An", "", "", ("hall",), "")]


def test_blank_lines_are_skipped_and_line_numbers_stay_physical() -> None:
    data = csv_bytes(HEADER, "", "An,,,hall,", "   ", ",,,,", "", "Bình,,,vip,", "")
    rows, errors = read_guest_csv(data, ZONES)
    assert errors == []
    assert [(r.line, r.name) for r in rows] == [(3, "An"), (7, "Bình")]


def test_a_quoted_newline_is_refused_where_it_starts_and_does_not_shift_later_line_numbers() -> None:
    data = csv_bytes(HEADER, 'An,"Sở Thông tin\nvà Truyền thông",,hall,', "Bình,,,nowhere,", "Cường,,,vip,")
    rows, errors = read_guest_csv(data, ZONES)
    assert [(r.line, r.name) for r in rows] == [(5, "Cường")]
    assert error_lines(errors) == [2, 4]  # no badge text may hold a line break
    assert (errors[0].reason, dict(errors[0].problem.params)) == (Reason.ROW_SPANS_LINES, {"start": 2, "end": 3})


# ---- bad rows -----------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_good_rows_come_through() -> None:
    data = csv_bytes(
        HEADER,  # 1
        "Nguyễn Văn An,Sở TT&TT,delegate,hall,an@example.vn",  # 2
        "Trần Thị Bình,,press,backstage,",  # 3: unknown zone
        ",Báo Hải Dương,press,press,",  # 4: empty name
        "Lê Văn Cường,,citizen,hall,cuong-at-example.vn",  # 5: bad e-mail
        "Phạm Minh Đức,,business,hall,duc@example.vn,extra",  # 6: too many cells
        "   ,,,,",  # 7: blank in effect: skipped, not an error
        'Hoàng Thu Hà,,staff,"vip;stage",',  # 8: one of two zones unknown
        "Vũ Thị Lan,,citizen,press,lan@example",  # 9: e-mail without a domain dot
        "Đỗ Hải Yến,,citizen,vip,yen@example.vn",  # 10
    )
    rows, errors = read_guest_csv(data, ZONES)
    assert [(r.line, r.name) for r in rows] == [(2, "Nguyễn Văn An"), (10, "Đỗ Hải Yến")]
    assert error_lines(errors) == [3, 4, 5, 6, 8, 9]
    details = {e.line: (e.reason, dict(e.problem.params)) for e in errors}
    assert details == {
        3: (Reason.ROW_ZONE_UNKNOWN, {"zones": "backstage", "known": "hall, vip, press"}),
        4: (Reason.ROW_NAME_EMPTY, {}),
        5: (Reason.ROW_EMAIL_INVALID, {"email": "cuong-at-example.vn"}),
        6: (Reason.ROW_TOO_MANY_CELLS, {"cells": 6, "columns": 5}),
        8: (Reason.ROW_ZONE_UNKNOWN, {"zones": "stage", "known": "hall, vip, press"}),
        9: (Reason.ROW_EMAIL_INVALID, {"email": "lan@example"}),
    }
    assert "lan@example" in errors[-1].text("en") and "lan@example" in errors[-1].text("vi")
    assert str(errors[0]).startswith("line 3 (Trần Thị Bình): Unknown zone(s) backstage;")


def test_whitespace_only_name_is_empty() -> None:
    rows, errors = read_guest_csv(csv_bytes(HEADER, "   ,Sở,,hall,"), ZONES)
    assert rows == []
    assert error_lines(errors) == [2]


# ---- whole-file refusals ------------------------------------------------------------------------


def test_a_list_in_a_windows_code_page_is_read_not_refused() -> None:
    rows, errors = read_guest_csv(csv_bytes(HEADER, "An,,,hall,", "José,,,hall,").replace("é".encode(), b"\xe9"), ZONES)
    assert [r.name for r in rows] == ["An", "José"] and errors == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(csv_bytes("organisation,category,zones,email", "Sở,,hall,"), id="no-name-column"),
        pytest.param(csv_bytes("Nguyễn Văn An,Sở TT,delegate,hall,an@example.vn"), id="no-header-at-all"),
        pytest.param(b"", id="empty"),
        pytest.param(BOM, id="bom-only"),
    ],
)
def test_missing_header_is_refused(data: bytes) -> None:
    with pytest.raises(InputError) as caught:
        read_guest_csv(data, ZONES)
    assert caught.value.code == "invalid_input"


def test_missing_header_names_line_1_and_the_columns() -> None:
    with pytest.raises(InputError) as caught:
        read_guest_csv(csv_bytes("organisation,zones", "Sở,hall"), ZONES)
    assert "line 1" in caught.value.text()
    assert "name" in caught.value.text()


def test_oversized_file_is_refused() -> None:
    with pytest.raises(InputError):
        read_guest_csv(b"name\n" + b"a" * (guestlist.MAX_CSV_BYTES + 1), ZONES)


# ---- rows to tickets --------------------------------------------------------------------------


def test_rows_the_signer_refuses_keep_their_line_number() -> None:
    event = Event(
        id="cds2022",
        name="Ngày Chuyển đổi số tỉnh Hải Dương 2022",
        venue="",
        timezone="Asia/Ho_Chi_Minh",
        start=datetime(2022, 3, 26, 0, 30, tzinfo=UTC),
        end=datetime(2022, 3, 26, 10, 30, tzinfo=UTC),
    )
    event.zones = [Zone(code=z, position=i) for i, z in enumerate(ZONES)]
    nfd = unicodedata.normalize("NFD", "Nguyễn Văn An")
    rows, errors = read_guest_csv(csv_bytes(HEADER, f"{nfd},,,vip,", f"{'A' * 101},,,hall,", "Bình\x07,,,hall,"), ZONES)
    assert errors == []
    key = Ed25519PrivateKey.generate()
    window = issuing.ticket_window(event, 24, 6)
    assert window == (datetime(2022, 3, 25, 0, 30, tzinfo=UTC), datetime(2022, 3, 26, 16, 30, tzinfo=UTC))
    issued, refused = issuing.sign_rows(
        rows,
        issuer="hd-stttt",
        event=event,
        key=key,
        kid=cose.kid_of(key.public_key()),
        window=window,
        now=datetime(2022, 3, 20, 2, 0, tzinfo=UTC),
    )
    assert [i.row.line for i in issued] == [2]
    assert issued[0].credential.name == "Nguyễn Văn An"  # NFC on the ticket
    assert issued[0].text.startswith(credential.PREFIX)
    assert error_lines(refused) == [3, 4]
