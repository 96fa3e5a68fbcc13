"""Vietnamese by default, English by choice: the language lives in the session.

Messages are written in English in the code and templates (`_("...")`); the Vietnamese catalog is
`translations/vi/LC_MESSAGES/messages.po`, compiled in memory when the app starts, so a fresh clone
needs no build step and no binary .mo file is committed. Flask-Babel picks the locale (for its
format filters); templates and Python code translate through `gettext` here.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, g, has_request_context, session
from flask_babel import Babel  # type: ignore[import-untyped]

LANGUAGES = ("vi", "en")
DEFAULT = "vi"
_SPEAKING = "checkin_speaking"
CATALOG = Path(__file__).parent / "translations" / "vi" / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=1)
def catalogs() -> dict[str, NullTranslations]:
    """The translations by language, compiled from the .po file once per process."""
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: an unchecked translation is worse than English
    compiled.seek(0)
    return {"vi": Translations(compiled), "en": NullTranslations()}


def language() -> str:
    """The current request's language: a `speaking` block's, else the session's choice, else
    Vietnamese."""
    if not has_request_context():
        return DEFAULT
    chosen = g.get(_SPEAKING) or session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Translate into `lang` within the block, whatever the session says: the JSON API words its
    refusals in English, with the same checks as the pages."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalog for {lang!r}")
    before = g.get(_SPEAKING)
    setattr(g, _SPEAKING, lang)
    try:
        yield
    finally:
        setattr(g, _SPEAKING, before)


def gettext(message: str, **variables: Any) -> str:
    """The message in the current language, with %(name)s placeholders filled."""
    text = catalogs()[language()].gettext(message)
    return text % variables if variables else text


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; translate it where it is shown."""
    return message


def ngettext(singular: str, plural: str, count: int, **variables: Any) -> str:
    """The singular or plural message in the current language; %(num)d is the count."""
    text = catalogs()[language()].ngettext(singular, plural, count)
    return text % {"num": count, **variables}


def _template_gettext(message: str) -> str:
    # Jinja's newstyle gettext fills the placeholders itself, escaping the values.
    return catalogs()[language()].gettext(message)


def _template_ngettext(singular: str, plural: str, count: int) -> str:
    return catalogs()[language()].ngettext(singular, plural, count)


def init_app(app: Flask) -> None:
    """Install the locale selector and the templates' `_()`; refuses a catalog that does not parse."""
    catalogs()
    if "babel" not in app.extensions:
        Babel(app, locale_selector=language, default_locale=DEFAULT)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_template_gettext, ngettext=_template_ngettext, newstyle=True
    )
    app.jinja_env.globals["current_language"] = language
