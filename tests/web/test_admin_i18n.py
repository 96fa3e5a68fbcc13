"""The Vietnamese catalog covers every message of the admin pages, placeholders intact, and the CSV
reader's row errors are shown in Vietnamese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask, session

from checkin.services.guestlist import read_guest_csv
from checkin.web import i18n
from checkin.web.admin import row_error_text

WEB = Path(i18n.__file__).parent
METHODS = [("admin.py", "python"), ("auth.py", "python"), ("templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def in_code() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(WEB), METHODS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_has_a_checked_vietnamese_translation() -> None:
    with i18n.CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    entries = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalog if m.id}
    code = in_code()
    assert len(code) > 150
    assert sorted(code - set(entries)) == [], "add these to messages.po"
    assert sorted(set(entries) - code) == [], "these are no longer used: remove them from messages.po"
    for msgid, entry in entries.items():
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(strings) and not entry.fuzzy, f"{msgid!r} is untranslated or fuzzy"
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(msgid)), msgid


def test_the_catalog_compiles_and_plurals_are_vietnamese() -> None:
    vi = i18n.catalogs()["vi"]
    assert vi.gettext("Events") == "Sự kiện"
    assert vi.ngettext("%(num)d code issued.", "%(num)d codes issued.", 1) == "Đã cấp %(num)d mã."
    assert vi.ngettext("%(num)d code issued.", "%(num)d codes issued.", 7) == "Đã cấp %(num)d mã."


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
