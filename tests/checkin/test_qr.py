"""QR rendering: PNG that decoders read back exactly, level Q, alphanumeric mode, quiet zone, SVG, badge sheet."""

from __future__ import annotations

import io
import math
import random
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import numpy as np
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from checkin import qr
from checkin.core import credential
from checkin.core.credential import Credential
from checkin.core.errors import InputError

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
SVG_NS = "{http://www.w3.org/2000/svg}"

# ISO/IEC 18004 table 7: alphanumeric characters a version holds at error correction level Q.
ALNUM_CAPACITY_Q = (
    16, 29, 47, 67, 87, 108, 125, 157, 189, 221, 259, 296, 352, 376, 426, 470, 531, 574, 644, 702,
    742, 823, 890, 963, 1041, 1094, 1172, 1263, 1322, 1429, 1499, 1618, 1700, 1787, 1867, 1966, 2071, 2181, 2298, 2420,
)  # fmt: skip


def minimal_alnum_version(text: str) -> int:
    """The smallest version that holds `text` in one alphanumeric segment at level Q."""
    assert all(c in ALPHANUMERIC for c in text)
    return next(v for v, cap in enumerate(ALNUM_CAPACITY_Q, start=1) if len(text) <= cap)


def expected_version(text: str) -> int:
    try:
        import segno
    except ImportError:
        return minimal_alnum_version(text)
    return segno.make_qr(text, error="q", mode="alphanumeric", boost_error=False).version


def ticket(name: str, organisation: str = "", zones: tuple[str, ...] = ("hall",)) -> str:
    key = Ed25519PrivateKey.generate()
    cred = Credential.create(
        issuer="hd-stttt",
        event_id="cds2022",
        name=name,
        organisation=organisation,
        category="delegate",
        zones=zones,
        not_before=datetime(2022, 3, 25, 0, 30, tzinfo=UTC),
        expires_at=datetime(2022, 3, 26, 16, 30, tzinfo=UTC),
        issued_at=datetime(2022, 3, 20, 2, 0, tzinfo=UTC),
    )
    return credential.sign(cred, key)


def synthetic(length: int, seed: int) -> str:
    rng = random.Random(seed)
    body = "".join(rng.choice(ALPHANUMERIC) for _ in range(length - 4 - len(ALPHANUMERIC)))
    return "CK1:" + ALPHANUMERIC + body  # every alphanumeric character appears at least once


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [
        ticket("An"),
        ticket("Nguyễn Thị Ánh Tuyết", "Sở Thông tin và Truyền thông tỉnh Hải Dương", ("hall", "vip", "press")),
        ticket("Đặng " * 19 + "Hưng", "Ủy ban nhân dân " * 7, tuple(f"zone{i}" for i in range(16))),
        synthetic(296, 1),  # the most 12-Q holds
        synthetic(297, 2),  # one more: 13-Q
        synthetic(108, 3),
    ]


def decode_png(data: bytes) -> list[zxingcpp.Barcode]:
    image = Image.open(io.BytesIO(data))
    return zxingcpp.read_barcodes(np.asarray(image.convert("L")), formats=zxingcpp.BarcodeFormat.QRCode)


def pixels(data: bytes) -> np.ndarray:
    """True where the PNG is dark."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("L")) < 128


# ---- PNG ----------------------------------------------------------------------------------------


def test_png_decodes_back_exactly_with_zxing(texts: list[str]) -> None:
    for text in texts:
        found = decode_png(qr.png(text))
        assert len(found) == 1
        assert found[0].valid
        assert found[0].text == text
        assert bytes(found[0].bytes) == text.encode("ascii")


def test_png_decodes_back_exactly_with_pyzbar(texts: list[str]) -> None:
    try:
        from pyzbar import pyzbar
    except ImportError as exc:
        pytest.skip(f"pyzbar cannot load libzbar ({exc}); install libzbar0")
    for text in texts:
        found = pyzbar.decode(Image.open(io.BytesIO(qr.png(text))), symbols=[pyzbar.ZBarSymbol.QRCODE])
        assert [f.data for f in found] == [text.encode("ascii")]


def test_error_correction_is_q_without_eci(texts: list[str]) -> None:
    for text in texts:
        (found,) = decode_png(qr.png(text))
        assert found.ec_level == "Q"
        assert found.symbology_identifier == "]Q1", "no ECI header: the text is plain alphanumeric"


def test_version_is_that_of_alphanumeric_mode(texts: list[str]) -> None:
    for text in texts:
        assert qr.version(text) == expected_version(text), len(text)
        assert qr.version(text) == minimal_alnum_version(text), len(text)
        assert qr.modules(text).shape == (17 + 4 * qr.version(text),) * 2
        (found,) = decode_png(qr.png(text))
        version = found.extra.get("Version") if isinstance(found.extra, dict) else None
        if version is not None:
            assert int(version) == qr.version(text)
    assert qr.version(texts[3]) == 12
    assert qr.version(texts[4]) == 13


def test_the_version_check_tells_byte_mode_apart(texts: list[str]) -> None:
    """Guard for the test above: byte mode would need a larger symbol for these texts."""
    segno = pytest.importorskip("segno")
    larger = [t for t in texts if segno.make_qr(t, error="q", mode="byte", boost_error=False).version > qr.version(t)]
    assert len(larger) >= len(texts) - 1


def test_capacity_table_matches_segno() -> None:
    segno = pytest.importorskip("segno")
    for version, capacity in enumerate(ALNUM_CAPACITY_Q, start=1):
        text = synthetic(max(capacity, len(ALPHANUMERIC) + 4), version)[:capacity]
        if len(text) == capacity:
            assert segno.make_qr(text, error="q", mode="alphanumeric", boost_error=False).version == version


@pytest.mark.parametrize(("scale", "border"), [(8, 4), (3, 4), (5, 2), (1, 0)])
def test_png_is_the_modules_with_a_white_quiet_zone(texts: list[str], scale: int, border: int) -> None:
    text = texts[1]
    symbol = qr.modules(text)
    dark = pixels(qr.png(text, scale=scale, border=border))
    size = (symbol.shape[0] + 2 * border) * scale
    assert dark.shape == (size, size)
    edge = border * scale
    if edge:
        assert not dark[:edge].any() and not dark[-edge:].any()
        assert not dark[:, :edge].any() and not dark[:, -edge:].any()
    centres = dark[scale // 2 :: scale, scale // 2 :: scale]
    assert np.array_equal(centres, np.pad(symbol, border, constant_values=False))
    assert dark[edge, edge], "the top-left finder starts right inside the quiet zone"


def test_png_from_modules_equals_png_from_text(texts: list[str]) -> None:
    text = texts[0]
    assert np.array_equal(pixels(qr.png(qr.modules(text), scale=4)), pixels(qr.png(text, scale=4)))


def test_default_png_has_the_standard_quiet_zone(texts: list[str]) -> None:
    symbol = qr.modules(texts[0])
    dark = pixels(qr.png(texts[0]))
    assert dark.shape[0] == (symbol.shape[0] + 8) * 8
    assert not dark[:32].any() and not dark[:, :32].any() and not dark[-32:].any() and not dark[:, -32:].any()


@pytest.mark.parametrize(("scale", "border"), [(0, 4), (-1, 4), (8, -1)])
def test_bad_scale_or_border_is_refused(scale: int, border: int) -> None:
    with pytest.raises(InputError):
        qr.png("CK1:ABC", scale=scale, border=border)


def test_text_too_long_for_any_symbol_is_an_input_error() -> None:
    with pytest.raises(InputError):
        qr.modules("CK1:" + "A" * 2500)


# ---- SVG ----------------------------------------------------------------------------------------


def path_polygons(d: str) -> list[list[tuple[float, float]]]:
    """The closed polygons of an SVG path made of straight segments (M L H V Z, either case)."""
    tokens = re.findall(r"[MmLlHhVvZz]|-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", d)
    polygons: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    x = y = 0.0
    command = ""
    i = 0

    def number() -> float:
        nonlocal i
        value = float(tokens[i])
        i += 1
        return value

    while i < len(tokens):
        if tokens[i].isalpha():
            command = tokens[i]
            i += 1
            if command in "Zz":
                if current:
                    polygons.append(current)
                    x, y = current[0]
                current = []
                continue
        if command in "Mm":
            if current:
                polygons.append(current)
            dx, dy = number(), number()
            x, y = (x + dx, y + dy) if command == "m" else (dx, dy)
            current = [(x, y)]
            command = "l" if command == "m" else "L"  # further pairs are line-tos
        elif command in "Ll":
            dx, dy = number(), number()
            x, y = (x + dx, y + dy) if command == "l" else (dx, dy)
            current.append((x, y))
        elif command in "Hh":
            value = number()
            x = x + value if command == "h" else value
            current.append((x, y))
        elif command in "Vv":
            value = number()
            y = y + value if command == "v" else value
            current.append((x, y))
        else:
            raise AssertionError(f"unexpected path command {command!r}")
    if current:
        polygons.append(current)
    return polygons


def rasterise(polygons: list[list[tuple[float, float]]], size: int) -> np.ndarray:
    """Which module centres the path fills, by the non-zero winding rule (the SVG default)."""
    winding = np.zeros((size, size), dtype=int)
    for polygon in polygons:
        for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
            if y1 == y2:
                continue
            direction = 1 if y2 > y1 else -1
            low, high = min(y1, y2), max(y1, y2)
            for row in range(size):
                yc = row + 0.5
                if low <= yc < high:
                    xc = x1 + (yc - y1) * (x2 - x1) / (y2 - y1)
                    # the crossing is left of every centre whose x + 0.5 > xc
                    first = max(0, math.ceil(xc - 0.5))
                    winding[row, first:] += direction
    return winding != 0


def test_svg_path_covers_exactly_the_dark_modules(texts: list[str]) -> None:
    for text in texts[:3]:
        for border in (4, 1):
            root = ET.fromstring(qr.svg(text, border=border))
            assert root.tag == f"{SVG_NS}svg"
            symbol = qr.modules(text)
            size = symbol.shape[0] + 2 * border
            assert root.get("viewBox").split() == ["0", "0", str(size), str(size)]
            rects = root.findall(f"{SVG_NS}rect")
            assert any(r.get("fill") in ("#fff", "#ffffff", "white") for r in rects)
            paths = root.findall(f"{SVG_NS}path")
            assert len(paths) == 1
            assert paths[0].get("fill") in ("#000", "#000000", "black")
            covered = rasterise(path_polygons(paths[0].get("d")), size)
            assert np.array_equal(covered, np.pad(symbol, border, constant_values=False))


def test_path_reader_is_sound() -> None:
    """Guard for the SVG test: the reader fills what a known path covers, and nothing else."""
    covered = rasterise(path_polygons("M1 1h2v1h-2zM0 3l1 0 0 1-1 0Z"), 4)
    expected = np.zeros((4, 4), dtype=bool)
    expected[1, 1:3] = True
    expected[3, 0] = True
    assert np.array_equal(covered, expected)


# ---- badge sheet --------------------------------------------------------------------------------


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf))


def badge(i: int, text: str) -> qr.Badge:
    return qr.Badge(
        name=f"Nguyễn Thị Ánh Tuyết {i}",
        organisation="Sở Thông tin và Truyền thông tỉnh Hải Dương",
        category=("delegate", "press", "vip", "other")[i % 4],
        zones=("hall", "vip"),
        text=text,
    )


@pytest.mark.parametrize("count", [1, 8, 9, 17])
def test_badge_sheet_has_eight_badges_a_page(texts: list[str], count: int) -> None:
    symbol = qr.modules(texts[1])
    badges = [badge(i, texts[1]) for i in range(count)]
    badges[0] = qr.Badge(**{**badges[0].__dict__, "symbol": symbol})
    pdf = qr.badge_sheet(iter(badges), "Ngày Chuyển đổi số tỉnh Hải Dương 2022")
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert page_count(pdf) == math.ceil(count / 8)
    assert re.search(rb"/BaseFont\s*/[A-Z]{6}\+DejaVuSans", pdf), "DejaVu is embedded (as a subset)"
    assert b"/FontFile2" in pdf


def test_page_counter_ignores_the_pages_tree() -> None:
    assert page_count(b"<< /Type /Pages /Kids [] >> << /Type /Page >> << /Type/Page/Parent 1 0 R >>") == 2


def test_badge_sheet_of_nothing_is_refused() -> None:
    with pytest.raises(InputError):
        qr.badge_sheet([], "Ngày Chuyển đổi số")
