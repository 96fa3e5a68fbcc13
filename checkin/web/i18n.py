"""The pages' language: Vietnamese by default, English by choice; the choice lives in the session.

A thin adapter over `checkin.i18n` (the one catalogue): it picks the request's language and gives
the pages' Python code `gettext`/`ngettext` and the templates `_()`/`ngettext()` in that language.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, g, has_request_context, session

from checkin import i18n
from checkin.core.errors import N_, CheckinError, Reason
from checkin.i18n import DEFAULT, LANGUAGES

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "N_",
    "describe",
    "gettext",
    "init_app",
    "language",
    "message",
    "ngettext",
    "speaking",
]

_SPEAKING = "checkin_speaking"


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
        raise ValueError(f"no catalogue for {lang!r}")
    before = g.get(_SPEAKING)
    setattr(g, _SPEAKING, lang)
    try:
        yield
    finally:
        setattr(g, _SPEAKING, before)


def gettext(message: str, **variables: object) -> str:
    """The message in the current language, with %(name)s placeholders filled."""
    return i18n.gettext(language(), message, **variables)


def ngettext(singular: str, plural: str, count: int, **variables: object) -> str:
    """The singular or plural message in the current language; %(num)d is the count."""
    return i18n.ngettext(language(), singular, plural, count, **variables)


def _template_gettext(message: str) -> str:
    # Jinja's newstyle gettext fills the placeholders itself, escaping the values.
    return i18n.translation(language()).gettext(message)


def _template_ngettext(singular: str, plural: str, count: int) -> str:
    return i18n.translation(language()).ngettext(singular, plural, count)


def init_app(app: Flask) -> None:
    """Give the templates `_()`, `ngettext()` and `describe(error)` in the request's language; refuses
    a catalogue that does not parse (at start, not at the first page)."""
    for lang in LANGUAGES:
        i18n.translation(lang)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_template_gettext, ngettext=_template_ngettext, newstyle=True
    )
    app.jinja_env.globals.update(current_language=language, describe=describe)


def message(reason: Reason, **params: object) -> str:
    """A reason's message in the current language."""
    return i18n.message(reason, language(), **params)


def describe(error: CheckinError) -> str:
    """An error's line (message, then detail) in the current language."""
    return i18n.describe(error, language())
