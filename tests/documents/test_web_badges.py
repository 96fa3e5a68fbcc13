"""Badges as the pages hand them out: the event's badges.pdf, one guest's A6 badge.pdf and the PNG
download, fetched from the running app by a logged-in registrar, rendered by PDFium and by
Ghostscript and every code read back as a gate reads it, guest by guest; the badges carry the short
code and the zone and category names the event gave (`event create --zone hall="…/…"`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from PIL import Image

from checkin.cli import main
from checkin.config import load
from checkin.core import credential
from checkin.keystore import PASSPHRASE_ENV
from checkin.web import create_app
from tests.support import dockit
from tests.support.dockit import EVENT_NAME

NOW = datetime(2022, 3, 20, 2, 0, tzinfo=UTC)
PASSPHRASE = "web badge tests passphrase"


@dataclass
class Registrar:
    """A logged-in client and the codes `issue --csv` listed, in guest order."""

    client: FlaskClient
    index: list[dict[str, str]]


def _run(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(main, list(args), env={PASSPHRASE_ENV: PASSPHRASE})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def registrar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registrar]:
    """A deployment with the ten guests issued from the CLI, and a registrar logged in to its pages."""
    root = tmp_path_factory.mktemp("web-badges")
    cli = CliRunner()
    _run(cli, "init", "--dir", str(root / "D"))
    head = ["--config", str(root / "D" / "config.toml"), "--now", NOW.isoformat()]
    _run(cli, *head, "keys", "init")
    _run(
        cli,
        *head,
        *("event", "create", "--id", "cds2022", "--name", EVENT_NAME),
        *("--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30"),
        *("--zone", "hall=Hội trường/Main hall", "--zone", "vip=Khu VIP/VIP area"),
        *("--category", "delegate=Đại biểu/Delegate"),
    )
    with (root / "guests.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "organisation", "category", "zones", "email"])
        for i, name in enumerate(dockit.NAMES):
            writer.writerow([name, "Sở Thông tin và Truyền thông", "delegate", "hall;vip"[: 4 + 4 * (i % 2)], ""])
    _run(cli, *head, "issue", "--event", "cds2022", "--csv", str(root / "guests.csv"), "--out", str(root / "OUT"))
    password = _run(cli, *head, "user", "add", "reg", "--role", "registrar", "--generate").strip().splitlines()[-1]
    with (root / "OUT" / "index.csv").open(encoding="utf-8-sig", newline="") as handle:
        index = list(csv.DictReader(handle))
    mp = pytest.MonkeyPatch()
    mp.setenv(PASSPHRASE_ENV, PASSPHRASE)
    app = create_app(load(str(root / "D" / "config.toml")), {"CLOCK": lambda: NOW})
    mp.undo()
    client = app.test_client()
    form = client.get("/admin/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    done = client.post("/admin/login", data={"username": "reg", "password": password, "csrf_token": token[1]})
    assert done.status_code == 302, done.text
    try:
        yield Registrar(client, index)
    finally:
        app.extensions["checkin.store"].dispose()


def _get(client: FlaskClient, path: str, mimetype: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, response.text[:300]
    assert response.mimetype == mimetype
    return response.data


def test_the_pages_badge_sheet_reads_back_guest_by_guest(registrar: Registrar, render: dockit.Renderer) -> None:
    pdf = _get(registrar.client, "/admin/events/cds2022/badges.pdf", "application/pdf")
    pages = render(pdf)
    assert len(pages) == 2
    read = dockit.sheet_codes(pages)
    assert read == {i: row["code"] for i, row in enumerate(registrar.index)}
    text = dockit.pdfium_text(pdf, 0)
    assert registrar.index[0]["short_code"] in text and "Hội trường / Main hall" in text
    assert "Zones: hall" not in text and "Đại biểu / Delegate".upper() in text.upper()


def test_each_single_badge_reads_back_as_its_guest(registrar: Registrar, render: dockit.Renderer) -> None:
    for row in registrar.index:
        pdf = _get(registrar.client, f"/admin/credentials/{row['credential_id']}/badge.pdf", "application/pdf")
        pages = render(pdf)
        assert len(pages) == 1
        assert [found.text for found in dockit.gate_codes(pages[0])] == [row["code"]]
        text = dockit.pdfium_text(pdf)
        assert row["short_code"] == credential.short_code(bytes.fromhex(row["credential_id"]))
        assert row["short_code"] in text and row["name"] in text
        assert "Hội trường / Main hall" in text


def test_the_png_download_reads_back_and_names_the_guest(registrar: Registrar) -> None:
    row = registrar.index[3]
    body = _get(registrar.client, f"/admin/credentials/{row['credential_id']}.png", "image/png")
    image = np.asarray(Image.open(io.BytesIO(body)).convert("L"))
    assert [found.text for found in dockit.codes(image)] == [row["code"]]
    assert image.shape[0] > image.shape[1]  # the name, short code and event are under the code


def test_a_revoked_code_has_no_badge(registrar: Registrar) -> None:
    missing = "0" * 32
    assert registrar.client.get(f"/admin/credentials/{missing}/badge.pdf").status_code == 404
