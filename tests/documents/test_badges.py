"""Badges as people receive them: the A4 sheet and the one-guest A6 badge rendered by PDFium and by
Ghostscript, every QR code read back and compared with its guest's ticket, the names and short codes
found as text and seen as ink; the downloadable PNG read back the same way.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fontTools.ttLib import TTFont
from PIL import Image

from checkin import qr
from tests.support import dockit
from tests.support.dockit import EVENT_NAME

A4_PX = (round(297 / 25.4 * dockit.DPI), round(210 / 25.4 * dockit.DPI))
A6_PT = (105 / 25.4 * 72, 148 / 25.4 * 72)


def slot_of(found: dockit.Found, page: np.ndarray) -> int:
    """Which of the eight badges (2 columns x 4 rows) a code sits in."""
    height, width = page.shape
    return int(found.y // (height / 4)) * 2 + int(found.x // (width / 2))


# ---- the A4 sheet ---------------------------------------------------------------------------------


def test_every_code_on_the_sheet_reads_back_as_its_guest(guests: list[qr.Badge], render: dockit.Renderer) -> None:
    pages = render(qr.badge_sheet(guests, EVENT_NAME))
    assert len(pages) == 2
    read: dict[int, str] = {}
    for number, page in enumerate(pages):
        assert page.shape == pytest.approx(A4_PX, abs=1)  # PDFium rounds up, Ghostscript to nearest
        for found in dockit.codes(page):
            index = number * 8 + slot_of(found, page)
            assert index not in read, "one code per badge"
            read[index] = found.text
    assert read == {i: badge.text for i, badge in enumerate(guests)}


@pytest.mark.parametrize("dpi", [96, 300])
def test_the_sheet_reads_at_screen_and_print_resolutions(guests: list[qr.Badge], dpi: int) -> None:
    pages = dockit.pdfium_pages(qr.badge_sheet(guests[:8], EVENT_NAME), dpi)
    assert sorted(f.text for f in dockit.codes(pages[0])) == sorted(b.text for b in guests[:8])


def test_every_rendered_module_is_right(guests: list[qr.Badge], render: dockit.Renderer) -> None:
    """Independent of any QR reader: at every module's centre the renderer drew the right colour."""
    for pdf, badges in (
        (qr.badge_sheet(guests, EVENT_NAME), guests),
        (qr.badge_pdf(guests[0], EVENT_NAME), guests[:1]),
    ):
        pages = render(pdf)
        placed = dockit.image_boxes(pdf)
        assert len(placed) == len(badges)
        for (page, box), badge in zip(placed, badges, strict=True):
            expected = np.pad(qr.modules(badge.text), 2, constant_values=False)
            drawn = dockit.sample_modules(pages[page], box, expected.shape[0])
            assert np.array_equal(drawn, expected), f"{badge.name}: {np.count_nonzero(drawn != expected)} modules wrong"


def test_the_embedded_images_are_exactly_the_codes(guests: list[qr.Badge]) -> None:
    """Decoded at their own size (no renderer scaling), each image is its code's modules and quiet zone."""
    images = dockit.embedded_images(qr.badge_sheet(guests, EVENT_NAME))
    assert len(images) == len(guests)
    for image, badge in zip(images, guests, strict=True):
        assert np.array_equal(image < 128, np.pad(qr.modules(badge.text), 2, constant_values=False))


def test_every_flate_image_declares_the_predictor_its_rows_carry(guests: list[qr.Badge]) -> None:
    """The root cause of unreadable sheets, checked in the file itself: PNG rows need /Predictor, not fax parameters."""
    for pdf in (qr.badge_sheet(guests, EVENT_NAME), qr.badge_pdf(guests[0], EVENT_NAME)):
        dictionaries = re.findall(rb"<<(?:[^<>]|<<[^<>]*>>)*>>", pdf)  # fpdf2 writes them uncompressed
        images = [d for d in dictionaries if b"/Subtype /Image" in d]
        assert images
        for image in images:
            if b"/FlateDecode" in image:
                assert b"/Predictor 15" in image and b"/BlackIs1" not in image and b"/K -1" not in image, image


def test_names_short_codes_and_event_are_text_on_the_sheet(guests: list[qr.Badge], tmp_path: Path) -> None:
    pdf = qr.badge_sheet(guests, EVENT_NAME)
    by_ghostscript = " ".join(dockit.ghostscript_text(pdf, tmp_path).split())
    for index, badge in enumerate(guests):
        slot = index % 8
        left, top = slot % 2 * 105, slot // 2 * 297 / 4
        text = dockit.pdfium_text(pdf, index // 8, (left, top, left + 105, top + 297 / 4))
        assert text.startswith(f"{EVENT_NAME} {badge.name} {badge.short_code} "), "NFC name, then its short code"
        # Ghostscript reads across both columns, so a wrapped name comes out in pieces: every word, then
        assert set(badge.name.split()) <= set(by_ghostscript.split()) and badge.short_code in by_ghostscript


def test_names_and_short_codes_are_drawn(guests: list[qr.Badge], render: dockit.Renderer) -> None:
    """Where PDFium's text search places each name and short code, the renderer put ink, name above code."""
    pdf = qr.badge_sheet(guests, EVENT_NAME)
    pages = render(pdf)
    for index, badge in enumerate(guests):
        page = index // 8
        (name,) = dockit.text_boxes(pdf, page, badge.name)
        (code,) = dockit.text_boxes(pdf, page, badge.short_code)
        assert dockit.ink(pages[page], name) > 0.08, badge.name
        assert dockit.ink(pages[page], code) > 0.08, badge.short_code
        assert code.top >= name.bottom - 1 and abs(code.left - name.left) < 4, "the short code sits under the name"


def test_the_sheet_stays_small() -> None:
    """About 1.4 kB a badge (fonts once); a regression to vector modules or scaled bitmaps would cost 10 times that."""
    key = Ed25519PrivateKey.generate()

    def sheet(count: int) -> bytes:
        return qr.badge_sheet([dockit.signed_badge(key, f"Nguyễn Thị Ánh {i}") for i in range(count)], EVENT_NAME)

    small, large = sheet(10), sheet(100)
    assert len(small) < 60_000
    assert (len(large) - len(small)) / 90 < 2_000


# ---- one guest's badge (A6) -----------------------------------------------------------------------


def test_one_guest_badge_reads_back_for_every_guest(guests: list[qr.Badge], render: dockit.Renderer) -> None:
    for badge in guests:
        pdf = qr.badge_pdf(badge, EVENT_NAME)
        (page,) = render(pdf)
        assert page.shape == pytest.approx((148 / 25.4 * dockit.DPI, 105 / 25.4 * dockit.DPI), abs=1)
        assert [f.text for f in dockit.codes(page)] == [badge.text]
        (name,) = dockit.text_boxes(pdf, 0, badge.name)
        (code,) = dockit.text_boxes(pdf, 0, badge.short_code)
        assert dockit.ink(page, name) > 0.08 and dockit.ink(page, code) > 0.08
        assert code.top >= name.bottom - 1


def test_one_guest_badge_is_one_a6_page_with_its_text(guests: list[qr.Badge], tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    badge = guests[4]
    pdf = qr.badge_pdf(badge, EVENT_NAME)
    document = pdfium.PdfDocument(pdf)
    assert len(document) == 1
    assert document[0].get_size() == pytest.approx(A6_PT, abs=0.5)
    document.close()
    text = dockit.pdfium_text(pdf)  # the event name wraps onto two lines: white space is one space
    for part in (EVENT_NAME, badge.name, badge.short_code, badge.organisation, badge.category.upper()):
        assert part in text
        text = text[text.index(part) + len(part) :]  # in this order, top to bottom
    assert badge.name in dockit.ghostscript_text(pdf, tmp_path)


# ---- the PNG with the name and event under the code -----------------------------------------------


def read_png(data: bytes) -> tuple[np.ndarray, list[str]]:
    image = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    return image, [found.text for found in dockit.codes(image)]


def text_lines(area: np.ndarray) -> int:
    """How many separate bands of ink run across the area (lines of text)."""
    inked = (area < 128).any(axis=1)
    return int(np.count_nonzero(inked[1:] & ~inked[:-1]) + inked[0])


def test_png_carries_name_short_code_and_event_under_the_code(guests: list[qr.Badge]) -> None:
    for badge in guests:
        image, texts = read_png(qr.badge_png(badge, EVENT_NAME))
        assert texts == [badge.text]
        plain = np.asarray(Image.open(io.BytesIO(qr.png(badge.text))).convert("L"))
        width = plain.shape[1]
        assert image.shape[1] == width
        assert np.array_equal(image[: plain.shape[0]] < 128, plain < 128), "the code and its quiet zone untouched"
        below = image[plain.shape[0] :]
        # name (one or two lines), short code, event name (two or three lines)
        assert 4 <= text_lines(below) <= 6
        assert not (below[:, :8] < 128).any() and not (below[:, -8:] < 128).any(), "text keeps off the edges"


def test_png_without_a_short_code_and_with_small_modules(guests: list[qr.Badge]) -> None:
    badge = qr.Badge(guests[0].name, "", "", (), guests[0].text)
    image, texts = read_png(qr.badge_png(badge, "Hội nghị", scale=3, border=4))
    assert texts == [badge.text]
    plain_height = (qr.modules(badge.text).shape[0] + 8) * 3
    assert text_lines(image[plain_height:]) == 2


def test_the_fonts_draw_every_letter_of_the_names() -> None:
    """No missing glyph (a box on the badge) for any Vietnamese letter, in any of the three faces."""
    vietnamese = "ĂÂÊÔƠƯĐ" + "ẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸ" + "ÀÁÃÈÉÌÍÒÓÕÙÚÝ"
    letters = set("".join(dockit.NAMES) + EVENT_NAME + vietnamese)
    letters |= {ch.lower() for ch in letters}
    letters -= set(" ")
    crockford = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ-")
    for face, needed in (
        ("DejaVuSans.ttf", letters),
        ("DejaVuSans-Bold.ttf", letters),
        ("DejaVuSansMono-Bold.ttf", crockford),
    ):
        cmap = TTFont(str(qr._font_file(face))).getBestCmap()
        assert needed - {chr(c) for c in cmap} == set(), face
