"""QR codes for tickets: PNG (bare, or with the guest's name and event under it), SVG, a printable
A4 badge sheet and a one-guest A6 badge.

Codes are drawn by zxing-cpp's writer: error correction Q, alphanumeric mode (CK1 text is all
QR-alphanumeric, which the writer detects), automatic mask selection, and a quiet zone of
`border` modules. Measured against segno and qrcode in bench/credential.py: about 8x faster for
the same symbol.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import zxingcpp
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from checkin.core.errors import InputError, Reason

DEFAULT_SCALE = 8
DEFAULT_BORDER = 4
_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
)


def modules(text: str) -> np.ndarray:
    """The symbol as a boolean matrix (True = dark), without quiet zone."""
    try:
        code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
    except (ValueError, RuntimeError) as exc:
        raise InputError(f"cannot draw a QR code for this text ({exc})") from None
    image = np.asarray(zxingcpp.write_barcode_to_image(code, scale=1, add_quiet_zones=False))
    return image < 128


def version(text: str) -> int:
    """The QR version (1 to 40) a text needs."""
    size: int = modules(text).shape[0]
    return (size - 17) // 4


def _bitmap(symbol: np.ndarray, scale: int, border: int) -> Image.Image:
    dark = np.pad(symbol, border, constant_values=False)
    height, width = dark.shape
    image = Image.frombytes("1", (width, height), np.packbits(~dark, axis=1).tobytes())
    if scale > 1:
        image = image.resize((width * scale, height * scale), Image.Resampling.NEAREST)
    return image


def _grey(symbol: np.ndarray, border: int) -> Image.Image:
    """The code as an 8-bit grey image, one pixel a module, to compose with antialiased text."""
    dark = np.pad(symbol, border, constant_values=False)
    return Image.fromarray(np.where(dark, 0, 255).astype(np.uint8))


def _place_code(pdf: FPDF, symbol: np.ndarray, x: float, y: float, size: float) -> None:
    """Draw the code as a 1-bit image, one bit a module, with a quiet zone of two modules.

    fpdf2 (2.7 to 2.8 at least) stores a 1-bit image under FlateDecode with fax DecodeParms
    (/BlackIs1 /K -1) and no /Predictor, though every row it writes starts with a PNG filter byte:
    PDFium and Ghostscript then shift each row and draw streaks. The rows are PNG rows, so the
    parameters say so. An 8-bit image would be correct as fpdf2 writes it, but zlib takes about
    eight times as long over its runs of 0 and 255 (1.2 ms a badge) and it is a tenth larger.
    tests/documents renders every page with both engines, so a change in fpdf2 cannot pass unseen.
    """
    info = pdf.image(_bitmap(symbol, 1, 2), x=x, y=y, w=size, h=size)
    if info.get("f") == "FlateDecode" and info.get("bpc") == 1:
        info["dp"] = f"/Predictor 15 /Colors 1 /Columns {info['w']}"


def png(code: str | np.ndarray, *, scale: int = DEFAULT_SCALE, border: int = DEFAULT_BORDER) -> bytes:
    """A 1-bit PNG of the code (its text, or its modules), `scale` pixels per module."""
    if scale < 1 or border < 0:
        raise InputError("scale must be 1 or more and border 0 or more")
    symbol = modules(code) if isinstance(code, str) else code
    out = io.BytesIO()
    _bitmap(symbol, scale, border).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def svg(text: str, *, border: int = DEFAULT_BORDER) -> str:
    """An SVG of the code: one path of horizontal runs, crisp at any size."""
    dark = modules(text)
    size = dark.shape[0] + 2 * border
    runs: list[str] = []
    for y, row in enumerate(dark):
        padded = np.concatenate(([False], row, [False]))
        edges = np.flatnonzero(padded[1:] != padded[:-1])
        runs.extend(
            f"M{start + border} {y + border}h{end - start}v1h-{end - start}z" for start, end in edges.reshape(-1, 2)
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>\n'
    )


@dataclass(frozen=True)
class Badge:
    """What one badge shows."""

    name: str
    organisation: str
    category: str
    zones: tuple[str, ...]
    text: str
    symbol: np.ndarray | None = field(default=None, compare=False, repr=False)
    short_code: str = ""  # credential.short_code(cti), printed under the name; empty prints nothing

    @property
    def modules(self) -> np.ndarray:
        """The code's modules, drawn once by the caller when it already has them."""
        return self.symbol if self.symbol is not None else modules(self.text)


def _font_file(name: str) -> Path:
    for folder in _FONT_DIRS:
        path = folder / name
        if path.is_file():
            return path
    raise InputError(f"font {name} not found; install it with `apt-get install fonts-dejavu-core`", Reason.NOT_FOUND)


# A4 portrait cut into 2 x 4 badges of 105 x 74.25 mm: the usual perforated badge paper.
_COLS, _ROWS = 2, 4
_PAGE_W, _PAGE_H = 210.0, 297.0
_BADGE_W, _BADGE_H = _PAGE_W / _COLS, _PAGE_H / _ROWS
_QR_MM = 46.0
# A6 portrait: the one-guest badge, for on-site registration; badge printers take A6 stock.
_A6_W, _A6_H = 105.0, 148.0
_CATEGORY_COLOURS = {
    "delegate": (0, 82, 155),
    "press": (200, 90, 0),
    "business": (0, 120, 70),
    "citizen": (90, 90, 90),
    "staff": (120, 0, 120),
    "vip": (170, 20, 30),
}


def _colour(badge: Badge) -> tuple[int, int, int]:
    return _CATEGORY_COLOURS.get(badge.category.lower(), (40, 40, 40))


def _zones_line(badge: Badge) -> str:
    return "Khu vực / Zones: " + ", ".join(badge.zones)


def add_fonts(pdf: FPDF) -> None:
    """The fonts of our PDFs (DejaVu: every Vietnamese letter with its diacritics), embedded as subsets."""
    pdf.add_font("DejaVu", "", str(_font_file("DejaVuSans.ttf")))
    pdf.add_font("DejaVu", "B", str(_font_file("DejaVuSans-Bold.ttf")))
    pdf.add_font("DejaVuMono", "B", str(_font_file("DejaVuSansMono-Bold.ttf")))


def _new_pdf(width: float, height: float, title: str) -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format=(width, height))
    pdf.set_auto_page_break(False)
    pdf.set_image_filter("FlateDecode")  # for the codes: see _place_code; CCITT costs more and is larger
    pdf.set_margin(0)
    add_fonts(pdf)
    pdf.set_title(title)
    pdf.set_creator("checkin")
    return pdf


def badge_sheet(badges: Iterable[Badge], event_name: str, *, title: str = "") -> bytes:
    """A printable A4 PDF of badges, eight a page, with cut lines."""
    pdf = _new_pdf(_PAGE_W, _PAGE_H, title or event_name)
    count = 0
    for index, badge in enumerate(badges):
        slot = index % (_COLS * _ROWS)
        if slot == 0:
            pdf.add_page()
            _cut_lines(pdf)
        _draw_badge(pdf, badge, event_name, (slot % _COLS) * _BADGE_W, (slot // _COLS) * _BADGE_H)
        count += 1
    if count == 0:
        raise InputError("no badges to print")
    return bytes(pdf.output())


def badge_pdf(badge: Badge, event_name: str) -> bytes:
    """One guest's badge as a one-page A6 PDF: event, code, name, short code, organisation, category, zones."""
    pdf = _new_pdf(_A6_W, _A6_H, f"{badge.name} – {event_name}")
    pdf.add_page()
    pad, band = 6.0, 16.0
    inner = _A6_W - 2 * pad
    colour = _colour(badge)
    pdf.set_fill_color(*colour)
    pdf.rect(0, 0, _A6_W, pad + band, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("DejaVu", "B", 11)
    lines = _wrap(pdf, event_name, inner, 2)
    line_y = pad + (7.5 if len(lines) == 1 else 5.0)
    for line in lines:
        _centred(pdf, line, line_y)
        line_y += 5.0
    qr_mm = 68.0
    qr_y = pad + band + 3
    _place_code(pdf, badge.modules, (_A6_W - qr_mm) / 2, qr_y, qr_mm)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("DejaVu", "B", 16)
    line_y = qr_y + qr_mm + 7
    for line in _wrap(pdf, badge.name, inner, 2):
        _centred(pdf, line, line_y)
        line_y += 6.8
    if badge.short_code:
        pdf.set_font("DejaVuMono", "B", 13)
        _centred(pdf, badge.short_code, line_y)
        line_y += 6.0
    pdf.set_font("DejaVu", "", 9)
    for line in _wrap(pdf, badge.organisation, inner, 2):
        _centred(pdf, line, line_y)
        line_y += 4.2
    pdf.set_text_color(*colour)
    pdf.set_font("DejaVu", "B", 12)
    category = badge.category.upper()
    _fit(pdf, category, inner, 12, 7)
    _centred(pdf, category, _A6_H - pad - 6)
    pdf.set_text_color(60, 60, 60)
    pdf.set_font("DejaVu", "", 8)
    zones = _zones_line(badge)
    _fit(pdf, zones, inner, 8, 5)
    _centred(pdf, zones, _A6_H - pad)
    return bytes(pdf.output())


def _centred(pdf: FPDF, text: str, baseline: float) -> None:
    pdf.text((pdf.w - pdf.get_string_width(text)) / 2, baseline, text)


def _cut_lines(pdf: FPDF) -> None:
    pdf.set_draw_color(190, 190, 190)
    pdf.set_line_width(0.1)
    pdf.set_dash_pattern(dash=1.5, gap=1.5)
    pdf.line(_BADGE_W, 0, _BADGE_W, _PAGE_H)
    for row in range(1, _ROWS):
        pdf.line(0, row * _BADGE_H, _PAGE_W, row * _BADGE_H)
    pdf.set_dash_pattern()


def _fit(pdf: FPDF, text: str, width: float, size: float, minimum: float) -> None:
    """Shrink the font until the text fits on one line, down to `minimum` points."""
    pdf.set_font_size(size)
    while size > minimum and pdf.get_string_width(text) > width:
        size -= 0.5
        pdf.set_font_size(size)


def _wrap(pdf: FPDF, text: str, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap with the current font; the last line ends in an ellipsis if cut.

    Written here because fpdf2's multi_cell costs about 1.5 ms a call, and a sheet of 10,000
    badges must stay within seconds.
    """
    return _wrap_words(text, lambda candidate: pdf.get_string_width(candidate) <= width, max_lines)


def _wrap_words(text: str, fits: Callable[[str], bool], max_lines: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if not current or fits(candidate):
            current = candidate
            continue
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(".,;") + "…"
    return lines


def _draw_badge(pdf: FPDF, badge: Badge, event_name: str, x: float, y: float) -> None:
    pad = 5.0
    colour = _colour(badge)
    # category band along the top, with the event name
    pdf.set_fill_color(*colour)
    pdf.rect(x + pad, y + pad, _BADGE_W - 2 * pad, 8, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("DejaVu", "B", 9)
    _fit(pdf, event_name, _BADGE_W - 2 * pad - 4, 9, 6)
    pdf.text(x + pad + 2, y + pad + 5.5, event_name)
    # the code, left
    qr_x, qr_y = x + pad, y + pad + 11
    _place_code(pdf, badge.modules, qr_x, qr_y, _QR_MM)
    # the person, right
    text_x = qr_x + _QR_MM + 3
    text_w = x + _BADGE_W - pad - text_x
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("DejaVu", "B", 13)
    line_y = qr_y + 5
    for line in _wrap(pdf, badge.name, text_w, 3):
        pdf.text(text_x, line_y, line)
        line_y += 5.6
    if badge.short_code:
        pdf.set_font("DejaVuMono", "B", 10)
        pdf.text(text_x, line_y + 0.4, badge.short_code)
        line_y += 5.0
    pdf.set_font("DejaVu", "", 8.5)
    line_y += 1
    # the organisation takes the lines left above the category (baseline at qr_y + _QR_MM - 9)
    room = max(1, min(3, int((qr_y + _QR_MM - 13 - line_y) // 4) + 1))
    for line in _wrap(pdf, badge.organisation, text_w, room):
        pdf.text(text_x, line_y, line)
        line_y += 4
    pdf.set_font("DejaVu", "B", 11)
    pdf.set_text_color(*colour)
    category = badge.category.upper()
    _fit(pdf, category, text_w, 11, 7)
    pdf.text(text_x, qr_y + _QR_MM - 9, category)
    pdf.set_text_color(60, 60, 60)
    pdf.set_font("DejaVu", "", 8)
    zones = _zones_line(badge)
    _fit(pdf, zones, text_w, 8, 5)
    pdf.text(text_x, qr_y + _QR_MM - 2, zones)


# ---- the PNG with the name and event under the code ------------------------------------------------


@lru_cache(maxsize=16)
def _pil_font(file_name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_font_file(file_name)), size)


def badge_png(badge: Badge, event_name: str, *, scale: int = DEFAULT_SCALE, border: int = DEFAULT_BORDER) -> bytes:
    """A grey PNG of the code with the guest's name, short code and the event under it, for download."""
    if scale < 1 or border < 0:
        raise InputError("scale must be 1 or more and border 0 or more")
    code = _grey(badge.modules, border)
    code = code.resize((code.width * scale, code.height * scale), Image.Resampling.NEAREST)
    width = code.width
    margin = max(border * scale, width // 16)  # text keeps clear of the edges, as the code does
    unit = max(10, width // 18)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    blocks: list[tuple[ImageFont.FreeTypeFont, list[str]]] = []
    for file_name, size, text, max_lines in (
        ("DejaVuSans-Bold.ttf", unit * 3 // 2, badge.name, 2),
        ("DejaVuSansMono-Bold.ttf", unit * 5 // 4, badge.short_code, 1),
        ("DejaVuSans.ttf", unit, event_name, 3),
    ):
        font = _pil_font(file_name, size)

        def fits(candidate: str, font: ImageFont.FreeTypeFont = font) -> bool:
            return measure.textlength(candidate, font=font) <= width - 2 * margin

        lines = _wrap_words(text, fits, max_lines)
        if lines:
            blocks.append((font, lines))
    gap = unit // 2
    heights = [round(font.size * 1.25) * len(lines) + gap for font, lines in blocks]
    image = Image.new("L", (width, code.height + sum(heights) + margin), 255)
    image.paste(code, (0, 0))
    draw = ImageDraw.Draw(image)
    top = code.height if border else code.height + gap  # the quiet zone stays clear of text
    for font, lines in blocks:
        for line in lines:
            draw.text((width / 2, top), line, font=font, fill=0, anchor="ma")
            top += round(font.size * 1.25)
        top += gap
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()
