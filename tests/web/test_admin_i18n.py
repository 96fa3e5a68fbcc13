"""The pages speak the session's language (the catalogue itself is checked in tests/checkin/test_i18n.py),
and the CSV reader's row errors are shown in Vietnamese."""

from __future__ import annotations

import pytest
from flask import Flask, session

from checkin.services.guestlist import read_guest_csv
from checkin.web import i18n
from checkin.web.admin import row_error_text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (",Sở TT&TT,delegate,hall,", "Thiếu họ tên."),
        ("An,,,backstage,", "Khu vực không có: backstage; sự kiện có hall, vip."),
        ("An,,,hall,an@", "Địa chỉ e-mail 'an@' không hợp lệ."),
        ("An,,,hall,,extra", "Dòng có 6 ô nhưng tiêu đề chỉ có 5 cột."),
        (
            'An,"Sở Y tế\nHải Dương",,hall,',
            "Một ô kéo dài từ dòng 2 đến dòng 3: ô có xuống dòng, hoặc thiếu dấu ngoặc kép đóng.",
        ),
        pytest.param(
            "An," + "x" * 200_000 + ",,hall,",
            "Không đọc được dòng này (có ô quá dài), cũng như các dòng sau nó.",
            id="cell-too-long",
        ),
    ],
)
def test_row_errors_of_the_csv_reader_read_in_vietnamese(app: Flask, line: str, expected: str) -> None:
    _rows, errors = read_guest_csv(f"name,organisation,category,zones,email\n{line}\n".encode(), ("hall", "vip"))
    [error] = errors
    with app.test_request_context():
        assert row_error_text(error) == expected
        session["lang"] = "en"
        assert row_error_text(error).endswith(".")  # our sentence, not the reader's raw detail
        assert not any(ch in row_error_text(error) for ch in "ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ")


def test_a_speaking_block_overrides_the_sessions_language_and_ends_with_the_block(app: Flask) -> None:
    with app.test_request_context():
        assert i18n.gettext("Events") == "Sự kiện"
        with i18n.speaking("en"):
            assert i18n.gettext("Events") == "Events"
            with i18n.speaking("vi"):
                assert i18n.gettext("Events") == "Sự kiện"
            assert i18n.gettext("Events") == "Events"
        assert i18n.gettext("Events") == "Sự kiện"
        session["lang"] = "en"
        with i18n.speaking("vi"):
            assert i18n.gettext("Events") == "Sự kiện"
        assert i18n.gettext("Events") == "Events"
        with pytest.raises(ValueError, match="fr"), i18n.speaking("fr"):
            pass
