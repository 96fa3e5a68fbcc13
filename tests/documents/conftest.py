"""Fixtures for the document tests: ten guests with Vietnamese names, signed with a real key, and the
two renderers a PDF meets (PDFium, Ghostscript) as one parametrised fixture.

The suite runs with --import-mode=importlib, which puts no test folder on sys.path; this one goes
there so the tests can import dockit.
"""

from __future__ import annotations

import hashlib
import os
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_HERE = os.path.dirname(__file__)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import dockit  # noqa: E402

from checkin import qr  # noqa: E402
from checkin.core import credential  # noqa: E402
from checkin.core.credential import Credential  # noqa: E402

EVENT_NAME = "Ngày Chuyển đổi số tỉnh Thừa Thiên Huế 2022 – Hội nghị và Triển lãm"
NAMES = (
    "Nguyễn Thị Ánh",
    "Trần Văn Đức",
    "Lê Hoàng Yến",
    "Phạm Quốc Việt",
    "Hoàng Thị Thu Hương",
    "Vũ Đình Khải",
    "Đặng Ngọc Uyên",
    "Bùi Thị Mỹ Linh",
    "Đỗ Trọng Nghĩa",
    "Hồ Ngọc Uyên",
)
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
    badges = []
    for i, name in enumerate(NAMES):
        ticket = Credential.create(
            issuer="tt-hue",
            event_id="cds2022",
            name=unicodedata.normalize("NFD", name),
            organisation=ORGANISATIONS[i % len(ORGANISATIONS)],
            category=CATEGORIES[i % len(CATEGORIES)],
            zones=("hội trường", "vip")[: 1 + i % 2],
            not_before=datetime(2022, 3, 25, 0, 30, tzinfo=UTC),
            expires_at=datetime(2022, 3, 26, 16, 30, tzinfo=UTC),
            issued_at=datetime(2022, 3, 20, 2, 0, tzinfo=UTC),
            credential_id=hashlib.sha256(name.encode()).digest()[:16],
        )
        assert ticket.name == name, "signed names are NFC"
        badges.append(
            qr.Badge(
                name=ticket.name,
                organisation=ticket.organisation,
                category=ticket.category,
                zones=ticket.zones,
                text=credential.sign(ticket, key),
                short_code=credential.short_code(ticket.credential_id),
            )
        )
    return badges


@pytest.fixture(params=["pdfium", "ghostscript"])
def render(request: pytest.FixtureRequest, tmp_path: Path) -> dockit.Renderer:
    """Render every page of a PDF at dockit.DPI with one renderer, as grey arrays."""
    if request.param == "pdfium":
        return dockit.pdfium_pages
    return lambda pdf: dockit.ghostscript_pages(pdf, tmp_path)
