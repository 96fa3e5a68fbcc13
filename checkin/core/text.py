"""Text as people type it when they search: without diacritics, case or extra spaces. Pure."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Text for searching: no diacritics, đ as d, case-folded, single spaces ("Nguyễn" -> "nguyen")."""
    plain = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())
