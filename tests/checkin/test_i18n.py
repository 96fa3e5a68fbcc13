"""One catalogue: every text the code marks has a checked Vietnamese translation with the same
placeholders, every reason is worded in both languages, and errors are worded where they are shown."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from checkin import clikit, i18n
from checkin.core import errors
from checkin.core.errors import MESSAGES, N_, CheckinError, InputError, Reason

ROOT = Path(i18n.__file__).parent.parent
PYTHON = [("**.py", "python")]
TEMPLATES = [("web/templates/**.html", "jinja2")]
# `i18n.gettext(lang, msgid)` puts the msgid second; pybabel's default keywords look at the first.
LANG_FIRST = {"gettext": (2,), "ngettext": (2, 3)}
# %(name)s, %(n)d, %(seconds).1f: the name and the conversion must survive translation.
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?([sdifr])")


def _extract(folder: str, methods: list[tuple[str, str]], keywords: object) -> dict[str, str]:
    """msgid (the singular for a plural) -> where it is used."""
    found: dict[str, str] = {}
    for file, line, msg, _comments, _context in extract_from_dir(str(ROOT / folder), methods, keywords=keywords):
        msgid = msg[0] if isinstance(msg, tuple) else msg
        if msgid and msgid not in i18n.LANGUAGES:  # `gettext("vi", ...)` reads the language as a msgid
            found.setdefault(msgid, f"{folder}/{file}:{line}")
    return found


@pytest.fixture(scope="module")
def in_code() -> dict[str, str]:
    """Every marked text of the service, the pages and the gate."""
    return {
        **_extract("checkin", PYTHON, DEFAULT_KEYWORDS),
        **_extract("checkin", TEMPLATES, DEFAULT_KEYWORDS),
        **_extract("scanner", PYTHON, DEFAULT_KEYWORDS),
    }


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Message]:
    """The Vietnamese catalogue's entries by msgid."""
    with i18n.catalogue_path("vi").open("rb") as handle:
        catalog: Catalog = read_po(handle, locale="vi")
    return {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalog if m.id}


def test_every_text_in_the_code_has_a_checked_vietnamese_translation(
    in_code: dict[str, str], catalogue: dict[str, Message]
) -> None:
    assert len(in_code) > 250  # the pages, the reasons, the gate screen, the e-mail
    missing = {msgid: where for msgid, where in in_code.items() if msgid not in catalogue}
    assert missing == {}, "add these to checkin/locale/vi/LC_MESSAGES/messages.po"
    assert sorted(set(catalogue) - set(in_code)) == [], "no longer used: remove them from messages.po"
    for msgid, entry in catalogue.items():
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(strings) and not entry.fuzzy, f"{msgid!r} is untranslated or fuzzy"
        wanted = sorted(PLACEHOLDER.findall(msgid))
        for text in strings:
            assert sorted(PLACEHOLDER.findall(text)) == wanted, f"placeholders differ in {msgid!r}"
        if wanted:
            assert entry.python_format, f"{msgid!r} has placeholders: flag it python-format"


def test_a_text_shown_in_a_chosen_language_is_marked_where_it_is_written(in_code: dict[str, str]) -> None:
    """`i18n.gettext(lang, "...")` hides its literal from pybabel's default keywords: mark it `N_`."""
    hidden = {
        msgid: where
        for folder in ("checkin", "scanner")
        for msgid, where in _extract(folder, PYTHON, LANG_FIRST).items()
        if msgid not in in_code
    }
    assert hidden == {}


def test_the_extraction_sees_the_core_the_gate_and_the_pages(in_code: dict[str, str]) -> None:
    """Guards the test above from passing on an empty extraction."""
    assert set(MESSAGES.values()) <= set(in_code)
    assert {"WELCOME", "Camera lost: reconnecting", "error [%(code)s]: %(message)s", "Dear %(name)s,"} <= set(in_code)
    assert any(".html:" in where for where in in_code.values())


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_is_worded_in_both_languages(reason: Reason, catalogue: dict[str, Message]) -> None:
    english = i18n.message(reason, "en")
    assert english == MESSAGES[reason] == errors.message(reason)
    vietnamese = i18n.message(reason, "vi")
    assert vietnamese == catalogue[MESSAGES[reason]].string
    assert vietnamese and vietnamese != english


def test_an_error_is_worded_where_it_is_shown() -> None:
    error = InputError(N_("Zones: %(zones)s"), zones="hall, vip")
    assert error.text() == "Invalid input: Zones: hall, vip"
    assert str(error) == error.text()
    assert i18n.describe(error, "en") == error.text()
    assert i18n.describe(error, "vi") == "Dữ liệu nhập không hợp lệ: Khu vực được vào: hall, vip"
    assert error.msgid == "Invalid input" and dict(error.params) == {"zones": "hall, vip"}
    # a detail the catalogue does not know stays as written, after the translated message
    plain = CheckinError("config.toml: [mail] port is 0", Reason.CONFIG_INVALID)
    assert i18n.describe(plain, "vi") == "Cấu hình không hợp lệ: config.toml: [mail] port is 0"


def test_a_placeholder_without_a_value_stays_visible_and_a_wrong_value_leaves_the_words() -> None:
    assert errors.fill("zone %(z)s of %(n)s", {"z": "hall"}) == "zone hall of %(n)s"
    assert errors.fill("line %(line)d", {"line": "two"}) == "line %(line)d"
    assert errors.fill("100%% sure, %(who)s", {"who": "An"}) == "100% sure, An"  # python-format
    assert errors.fill("100% sure", {}) == "100% sure"  # a plain detail is never formatted
    assert i18n.gettext("vi", "") == ""  # not the catalogue's header


def test_languages_english_is_the_msgid_and_an_unknown_language_is_refused() -> None:
    assert i18n.gettext("en", "Events") == "Events"
    assert i18n.gettext("vi", "Events") == "Sự kiện"
    assert i18n.gettext("vi", "zone %(z)s", z="vip") == "khu vip"
    assert i18n.gettext("vi", "A text nobody translated") == "A text nobody translated"
    with pytest.raises(ValueError, match="fr"):
        i18n.translation("fr")


def test_plurals_follow_each_language() -> None:
    one, many = "%(num)d code issued.", "%(num)d codes issued."
    assert i18n.ngettext("en", one, many, 1) == "1 code issued."
    assert i18n.ngettext("en", one, many, 7) == "7 codes issued."
    assert i18n.ngettext("vi", one, many, 1) == "Đã cấp 1 mã."
    assert i18n.ngettext("vi", one, many, 7) == "Đã cấp 7 mã."


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi_VN.UTF-8", "lỗi [not_found]: Không tìm thấy: sự kiện x\n"),
        ("C.UTF-8", "error [not_found]: Not found: sự kiện x\n"),
    ],
)
def test_the_command_line_prints_an_error_in_its_language(
    lang: str, expected: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CHECKIN_LANG", raising=False)
    monkeypatch.setenv("LANG", lang)
    with pytest.raises(SystemExit) as leaving:
        clikit.fail(CheckinError("sự kiện x", Reason.NOT_FOUND), verbose=False)
    assert leaving.value.code == clikit.EXIT_ERROR
    assert capsys.readouterr().err == expected


def test_the_core_reads_no_catalogue_and_babel_loads_only_when_a_text_is_translated() -> None:
    probe = (
        "import json, sys\n"
        "import checkin.core.errors, checkin.i18n, scanner.gate\n"
        "before = sorted(m for m in sys.modules if m.startswith('babel'))\n"
        "checkin.i18n.gettext('vi', 'Events')\n"
        "print(json.dumps([before, 'babel.messages.pofile' in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[], True]
