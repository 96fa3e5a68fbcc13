"""End to end, the guest's own page to the gate: two guests open their invitation links in Chromium at a
phone's size on the real service (waitress), answer the health questions and download the PNG of
the new code. Those PNGs' codes are rendered into a video and read by `checkin-gate run --video
... --headless`, enrolled on the same service, with the operator's temperatures scripted. The
guest who declared and reads 36.7 °C is admitted on her declaration (no question asked at the gate);
the one who reads 38.4 °C is referred (`screening_failed`); the code the declaration replaced is
refused as revoked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from checkin.core import chain, credential
from checkin.core.credential import declaration_of
from checkin.services import invitations, issuing
from checkin.store import CredentialStatus, Store
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store.guests import GuestRow
from scanner.journal import Journal
from scanner.scenes import Presentation, render_video
from tests.browser.conftest import browser  # noqa: F401 - the fixture: Debian Chromium under Playwright
from tests.support import dockit
from tests.support.apikit import bundle_for
from tests.support.gatekit import EVENT_ID, GATE_NOW, LiveService, json_lines, run_gate

SCREENING = """
[screening]
enabled = true

[[screening.questions]]
id = "symptoms"
vi = "Trong 14 ngày qua, anh/chị có sốt, ho không?"
en = "Fever or cough in the last 14 days?"

[[screening.questions]]
id = "contact"
vi = "Anh/chị có tiếp xúc với người mắc COVID-19 không?"
en = "Contact with a COVID-19 case?"
"""
GUESTS = (
    GuestRow(2, "Nguyễn Thị Ánh", "Sở Thông tin và Truyền thông", "delegate", ("hall",), "anh@example.vn"),
    GuestRow(3, "Lê Hoàng Cường", "Báo Hải Dương", "press", ("hall",), "cuong@example.vn"),
)
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LiveService]:
    svc = LiveService(tmp_path / "service", extra_config=SCREENING)
    svc.start()
    try:
        yield svc
    finally:
        svc.close()


def guest_ids(svc: LiveService) -> list[int]:
    """Add the guests and issue their codes, as a registrar's import does."""
    signer = issuing.load_signer(svc.config)
    assert isinstance(signer, issuing.Signer)
    event = stored_events.event(svc.store, EVENT_ID)
    report = issuing.import_guests(
        svc.store, event, list(GUESTS), svc.clock(), actor="registrar", issue_with=(svc.config, signer)
    )
    assert report.issued == 2 and not report.refused
    return [v.guest.id for v in sorted(stored_guests.guest_views(svc.store, EVENT_ID), key=lambda v: v.guest.id)]


def active_text(store: Store, guest_id: int) -> str:
    (code,) = [c for c in stored_guests.guest_credentials(store, guest_id) if c.status == CredentialStatus.ACTIVE]
    return str(code.text)


def declare_in_the_browser(chromium: Any, url: str, folder: Path) -> str:
    """Open the link on a phone, answer no to both questions, send, and download the new code's PNG."""
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, accept_downloads=True)
    page = context.new_page()
    page.goto(url)
    for question in ("symptoms", "contact"):
        page.locator(f'input[name="q-{question}"][value="no"]').check()
    page.get_by_role("button", name="Gửi câu trả lời").click()
    page.get_by_text("Đây là mã mới của bạn; mã cũ không còn dùng được nữa.").wait_for()
    with page.expect_download() as caught:
        page.get_by_role("link", name="Tải về ảnh (PNG)").click()
    path = folder / caught.value.suggested_filename
    caught.value.save_as(str(path))
    context.close()
    (text,) = dockit.png_codes(path.read_bytes())
    return text


def test_declared_in_the_browser_then_screened_at_the_gate(
    service: LiveService,
    browser: Any,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    anh, cuong = guest_ids(service)
    old_anh = active_text(service.store, anh)
    new_codes = []
    for guest_id in (anh, cuong):
        token = invitations.new_invitation(service.store, guest_id, service.clock(), actor="registrar")
        new_codes.append(declare_in_the_browser(browser, invitations.invitation_url(service.url, token), tmp_path))
    new_anh, new_cuong = new_codes

    # the PNGs carry the new codes the service stored, each with a passed declaration of this morning
    assert [new_anh, new_cuong] == [active_text(service.store, anh), active_text(service.store, cuong)]
    assert new_anh != old_anh
    bundle = bundle_for(service.config, service.clock())
    bundle = replace(bundle, event=replace(bundle.event, id=EVENT_ID))  # the gate kit's event
    for text in new_codes:
        verified = credential.verify(text, bundle, service.clock())
        declaration = declaration_of(verified.credential)
        assert declaration is not None and declaration.passed and declaration.declared_at == service.clock()

    # a gate enrolled on the service: its bundle screens guests and knows the replaced code is revoked
    data = tmp_path / "gate"
    _device, code = service.add_gate("Cổng A - sảnh chính")
    json_lines(run_gate(data, "enroll", "--server", service.url, "--code", code))
    video = tmp_path / "gate.avi"
    render_video(
        video,
        [
            Presentation((new_anh,), angle=8, tilt=0.03, blur=0.6, noise=3, motion=0, phone=True),
            Presentation((new_cuong,), angle=-12, tilt=0.04, blur=0.7, noise=4, motion=1, phone=True),
            Presentation((old_anh,), angle=5, tilt=0.03, blur=0.6, noise=3, motion=0),
        ],
    )
    operator = tmp_path / "operator.jsonl"
    operator.write_text(
        "\n".join(json.dumps(line) for line in ({"temperature": "36,7"}, {"temperature": "38.4"})), encoding="utf-8"
    )
    out = json_lines(
        run_gate(
            data, "run", "--video", str(video), "--headless", "--now", GATE_NOW, "--screening-input", str(operator)
        )
    )
    assert [(r["input"], r["verdict"], r["reason"], r.get("screening")) for r in out] == [
        (new_anh, "admit", "admitted", "passed"),
        (new_cuong, "refer", "screening_failed", "fever"),
        (old_anh, "deny", "revoked", ""),
    ]

    with Journal(data / "journal.db") as journal:
        rows = journal.rows()
        outcomes = [chain.screening_parts(r.screening)[0] for r in rows]
        kept = [journal.screening_details(r.seq) or {} for r in rows]
    assert outcomes[:2] == ["passed", "fever"]
    assert [(d.get("declaration"), d.get("temperature"), d.get("answers")) for d in kept[:2]] == [
        ("ticket", "36.7", {}),  # the declaration on the code: no question asked at the gate
        ("ticket", "38.4", {}),
    ]
    assert [r.reason for r in rows] == ["admitted", "screening_failed", "revoked"]
