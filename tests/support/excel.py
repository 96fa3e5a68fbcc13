"""Guest lists as Excel saves them, byte for byte, in each of its encodings."""

from __future__ import annotations

import unicodedata

# Vietnamese tone marks: Windows-1258 keeps them as combining characters after the base letter
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def cp1258(text: str) -> bytes:
    """Text as Vietnamese Windows writes Windows-1258: letters with a breve, circumflex or horn
    precomposed (ă â ê ô ơ ư đ), the tone as a combining mark after them ("ồ" is "ô" + U+0300)."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        letter = unicodedata.normalize("NFC", base + "".join(m for m in marks if m not in _TONES))
        out += (letter + "".join(m for m in marks if m in _TONES)).encode("cp1258")
    return bytes(out)


def excel_bytes(lines: list[list[str]], encoding: str) -> bytes:
    """Rows saved the way Excel saves them: "utf-8-sig" (CSV UTF-8), "utf-8" (without the BOM),
    "utf-16" (Unicode text: tab-separated, UTF-16 LE with a BOM), "cp1258" and "cp1252" (CSV on a
    Vietnamese or a Western Windows: ';' on the first, ',' on the second, as their list separators)."""
    separator = {"utf-16": "\t", "cp1258": ";"}.get(encoding, ",")
    text = "".join(separator.join(cells) + "\r\n" for cells in lines)
    if encoding == "cp1258":
        return cp1258(text)
    if encoding == "utf-16":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode(encoding)
