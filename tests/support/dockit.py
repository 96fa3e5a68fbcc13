"""Open documents the way people who receive them do: PDFs rendered by PDFium (Chrome's PDF engine)
and Ghostscript (what print shops' RIPs and most Linux viewers run), QR codes read back by zxing-cpp.

Imported by the document tests and the web badge tests.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from checkin import qr
from checkin.core import credential
from checkin.core.credential import Credential

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
DPI = 150  # a print shop's proof and Chrome's PDF viewer at about 150 % zoom
Renderer = Callable[[bytes], list[np.ndarray]]


def signed_badge(
    key: Ed25519PrivateKey,
    name: str,
    *,
    organisation: str = "Sở Thông tin và Truyền thông",
    category: str = "delegate",
    zones: tuple[str, ...] = ("hall",),
    credential_id: bytes | None = None,
) -> qr.Badge:
    """A badge for a real signed CK1 ticket of the 2022 event, with its short code."""
    ticket = Credential.create(
        issuer="tt-hue",
        event_id="cds2022",
        name=name,
        organisation=organisation,
        category=category,
        zones=zones,
        not_before=datetime(2022, 3, 25, 0, 30, tzinfo=UTC),
        expires_at=datetime(2022, 3, 26, 16, 30, tzinfo=UTC),
        issued_at=datetime(2022, 3, 20, 2, 0, tzinfo=UTC),
        credential_id=credential_id,
    )
    return qr.Badge(
        name=ticket.name,
        organisation=ticket.organisation,
        category=ticket.category,
        zones=ticket.zones,
        text=credential.sign(ticket, key),
        short_code=credential.short_code(ticket.credential_id),
    )


def pdfium_pages(pdf: bytes, dpi: int = DPI) -> list[np.ndarray]:
    """Every page rendered by PDFium, as 8-bit grey arrays."""
    document = pdfium.PdfDocument(pdf)
    try:
        return [np.asarray(page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")) for page in document]
    finally:
        document.close()


def ghostscript(pdf: bytes, folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run Ghostscript over the PDF; skip the test with the reason when gs is not installed."""
    gs = shutil.which("gs")
    if gs is None:
        pytest.skip(
            "Ghostscript (gs) is not installed: apt-get install ghostscript, or WITH_BROWSER=1 scripts/system-deps.sh"
        )
    source = folder / "document.pdf"
    source.write_bytes(pdf)
    command = [gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", *args, str(source)]
    return subprocess.run(command, check=True, capture_output=True, timeout=120)


def ghostscript_pages(pdf: bytes, folder: Path, dpi: int = DPI) -> list[np.ndarray]:
    """Every page rendered by Ghostscript's pnggray device, as 8-bit grey arrays."""
    ghostscript(pdf, folder, "-sDEVICE=pnggray", f"-r{dpi}", f"-sOutputFile={folder / 'page-%04d.png'}")
    return [np.asarray(Image.open(path).convert("L")) for path in sorted(folder.glob("page-*.png"))]


def ghostscript_text(pdf: bytes, folder: Path) -> str:
    """The text Ghostscript extracts (txtwrite), NFC."""
    done = ghostscript(pdf, folder, "-sDEVICE=txtwrite", "-sOutputFile=-")
    return unicodedata.normalize("NFC", done.stdout.decode("utf-8"))


@dataclass(frozen=True)
class Found:
    """One QR code read off a page: its text, the centre of its outline in pixels, and who read it."""

    text: str
    x: float
    y: float
    decoder: str = "zxing"


def codes(image: np.ndarray) -> list[Found]:
    """Every QR code zxing-cpp alone reads in the image; each must be valid."""
    found = []
    for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
        assert barcode.valid, barcode.error
        corners = barcode.position
        points = [corners.top_left, corners.top_right, corners.bottom_right, corners.bottom_left]
        found.append(Found(barcode.text, sum(p.x for p in points) / 4, sum(p.y for p in points) / 4))
    return found


def png_codes(png: bytes) -> list[str]:
    """The text of every QR code in a PNG as a phone's reader gets it. QR only: with every format on,
    zxing-cpp now and then also reads a phantom EAN/UPC in a QR's modules, which no reader a guest or
    gate uses would look for."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return [found.text for found in codes(image)]


def gate_codes(image: np.ndarray) -> list[Found]:
    """Every QR code the gate's decoder chain reads (zxing-cpp, then a crop of each symbol it located
    but could not read, enlarged, then zbar), with no frame budget: how a gate reads a badge."""
    from scanner.decode import Chain, decode_frame

    found = []
    for code in decode_frame(image, Chain(budget_ms=None)):
        assert code.ascii is not None
        xs, ys = [c[0] for c in code.corners], [c[1] for c in code.corners]
        found.append(Found(code.ascii, sum(xs) / len(xs), sum(ys) / len(ys), code.decoder))
    return found


def sheet_codes(pages: list[np.ndarray]) -> dict[int, str]:
    """The codes of an A4 badge sheet as a gate reads them, by badge position (8 a page, row by row)."""
    read = {}
    for number, page in enumerate(pages):
        height, width = page.shape
        for found in gate_codes(page):
            read[number * 8 + int(found.y // (height / 4)) * 2 + int(found.x // (width / 2))] = found.text
    return read


def pdfium_text(pdf: bytes, page_index: int = 0, area_mm: tuple[float, float, float, float] | None = None) -> str:
    """The text of a page (or of the area left, top, right, bottom in mm) as PDFium extracts it,
    which is what Chrome's find and copy see; runs of white space become one space."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[page_index]
        textpage = page.get_textpage()
        if area_mm is None:
            text = textpage.get_text_bounded()
        else:
            left, top, right, bottom = (v / 25.4 * 72 for v in area_mm)
            height = page.get_height()
            text = textpage.get_text_bounded(left, height - bottom, right, height - top)
        return " ".join(text.split())
    finally:
        document.close()


@dataclass(frozen=True)
class Box:
    """Where a text sits on a page, in pixels at DPI from the top-left corner."""

    left: float
    top: float
    right: float
    bottom: float


def text_boxes(pdf: bytes, page_index: int, text: str, dpi: int = DPI) -> list[Box]:
    """The boxes of every occurrence of `text` on a page, found by PDFium's text search."""
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[page_index]
        height = page.get_height()
        textpage = page.get_textpage()
        searcher = textpage.search(text, match_case=True)
        boxes = []
        while (hit := searcher.get_next()) is not None:
            start, count = hit
            chars = [textpage.get_charbox(i) for i in range(start, start + count)]
            left = min(c[0] for c in chars)
            bottom = min(c[1] for c in chars)
            right = max(c[2] for c in chars)
            top = max(c[3] for c in chars)
            scale = dpi / 72
            boxes.append(Box(left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
        return boxes
    finally:
        document.close()


def ink(image: np.ndarray, box: Box, pad: float = 2) -> float:
    """The share of dark pixels inside a box: 0 where nothing was drawn."""
    area = image[int(box.top - pad) : int(box.bottom + pad) + 1, int(box.left - pad) : int(box.right + pad) + 1]
    return float((area < 128).mean()) if area.size else 0.0


def image_boxes(pdf: bytes, dpi: int = DPI) -> list[tuple[int, Box]]:
    """Where every image of every page is drawn: (page index, box in pixels at dpi), in drawing order."""
    document = pdfium.PdfDocument(pdf)
    try:
        boxes = []
        scale = dpi / 72
        for index, page in enumerate(document):
            height = page.get_height()
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
                left, bottom, right, top = obj.get_bounds()
                boxes.append(
                    (index, Box(left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
                )
        return boxes
    finally:
        document.close()


def sample_modules(page: np.ndarray, box: Box, size: int) -> np.ndarray:
    """What a renderer drew at the centre of each of size x size modules in the box: True = dark."""
    ys = ((np.arange(size) + 0.5) * (box.bottom - box.top) / size + box.top).astype(int)
    xs = ((np.arange(size) + 0.5) * (box.right - box.left) / size + box.left).astype(int)
    return page[ys][:, xs] < 128


def embedded_images(pdf: bytes) -> list[np.ndarray]:
    """Every image XObject of every page, decoded by PDFium at its own pixel size (no scaling), grey."""
    document = pdfium.PdfDocument(pdf)
    try:
        images = []
        for page in document:
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
                assert isinstance(obj, pdfium.PdfImage)
                images.append(np.asarray(obj.get_bitmap(render=False).to_pil().convert("L")))
        return images
    finally:
        document.close()
