"""Fixtures for the document tests: ten guests with Vietnamese names, signed with a real key, and the
two renderers a PDF meets (PDFium, Ghostscript) as one parametrised fixture.
"""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkin import qr
from tests.support import dockit

ORGANISATIONS = ("Sở Thông tin và Truyền thông tỉnh Thừa Thiên Huế", "Báo Thừa Thiên Huế", "")
CATEGORIES = ("delegate", "press", "vip", "staff", "khách mời")


@pytest.fixture(scope="session")
def guests() -> list[qr.Badge]:
    """Ten badges for signed CK1 tickets; names typed decomposed (NFD), as some keyboards send them.

    Key and credential ids are fixed, so every run draws the same codes: zxing-cpp 3.1 misreads
    about 1 in 200 crisp codes at PDFium's 150 dpi grid of 3- and 4-pixel modules (zbar and OpenCV
    read them; test_every_rendered_module_is_right shows the drawing is exact), and a test must
    not pass or fail by chance.
    """
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"checkin document tests").digest())
    badges = [
        dockit.signed_badge(
            key,
            unicodedata.normalize("NFD", name),
            organisation=ORGANISATIONS[i % len(ORGANISATIONS)],
            category=CATEGORIES[i % len(CATEGORIES)],
            zones=("hội trường", "vip")[: 1 + i % 2],
            credential_id=hashlib.sha256(name.encode()).digest()[:16],
        )
        for i, name in enumerate(dockit.NAMES)
    ]
    assert [b.name for b in badges] == list(dockit.NAMES), "signed names are NFC"
    return badges


@pytest.fixture(params=["pdfium", "ghostscript"])
def render(request: pytest.FixtureRequest, tmp_path: Path) -> dockit.Renderer:
    """Render every page of a PDF at dockit.DPI with one renderer, as grey arrays."""
    if request.param == "pdfium":
        return dockit.pdfium_pages
    return lambda pdf: dockit.ghostscript_pages(pdf, tmp_path)
