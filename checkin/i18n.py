"""One catalogue for every text people read: reason messages, gate screen, pages, e-mails, CLI errors.

Texts are written in English in the code (the msgids) and marked where they are written: `N_("...")`
in Python tables, `_("...")` in the pages' code and templates. The Vietnamese catalogue is
`checkin/locale/vi/LC_MESSAGES/messages.po`; it is compiled in memory the first time a language is
asked for, once per process, so a fresh clone needs no build step and no binary .mo is committed.
English needs no catalogue: its texts are the msgids, and English plurals are gettext's default.

No Flask here: the gate words its screen through this module, the pages through `checkin.web.i18n`
(a thin adapter that picks the request's language), the CLI through `checkin.clikit`.
"""

from __future__ import annotations

import gettext as _gettext
import io
from functools import lru_cache
from pathlib import Path

from checkin.core.errors import MESSAGES, N_, CheckinError, Reason, fill

__all__ = ["CATALOGUES", "DEFAULT", "LANGUAGES", "N_", "describe", "gettext", "message", "ngettext", "translation"]

LANGUAGES = ("vi", "en")
DEFAULT = "vi"
CATALOGUES = Path(__file__).parent / "locale"
SOURCE = "en"  # the language of the msgids


def catalogue_path(lang: str) -> Path:
    """Where the .po file of a language lives."""
    return CATALOGUES / lang / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=len(LANGUAGES))
def translation(lang: str) -> _gettext.NullTranslations:
    """The translations of one language, compiled from its .po file on first use; fuzzy entries are left
    out (an unchecked translation is worse than English)."""
    if lang not in LANGUAGES:
        raise ValueError(f"no catalogue for {lang!r}; languages: {', '.join(LANGUAGES)}")
    if lang == SOURCE:
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo  # babel only when a catalogue is first needed
    from babel.messages.pofile import read_po

    with catalogue_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return _gettext.GNUTranslations(compiled)


def gettext(lang: str, msgid: str, **params: object) -> str:
    """`msgid` in `lang`, with its %(name)s placeholders filled from `params`."""
    return fill(translation(lang).gettext(msgid), params) if msgid else ""


def ngettext(lang: str, singular: str, plural: str, count: int, **params: object) -> str:
    """The singular or plural form for `count` in `lang`; %(num)d is the count."""
    return fill(translation(lang).ngettext(singular, plural, count), {"num": count, **params})


def message(reason: Reason, lang: str, **params: object) -> str:
    """The message of a reason in `lang`."""
    return gettext(lang, MESSAGES[reason], **params)


def describe(error: CheckinError, lang: str) -> str:
    """One line for a person in `lang`: the reason's message, then the detail (translated when the
    catalogue has it, else the English detail as written)."""
    head = gettext(lang, error.msgid, **error.params)
    return f"{head}: {gettext(lang, error.detail, **error.params)}" if error.detail else head
