"""Long work in headless Chromium against the real WSGI server: a 1,000-row guest list imports as a
background job and its page ends on the import report; the invitation e-mails go out as a job whose
progress bar moves (polled by the page's script) until the per-guest results show, and the local
SMTP server receives them. Screenshots at 1366 px and 390 px, no horizontal scroll at 390 px, no
serious axe-core finding; a received link opens the guest's page in the browser."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.browser.conftest import Screens, Site
from tests.browser.test_pages_browser import _cli, _log_in

pytestmark = pytest.mark.slow

EVENT = "cds-hd-2022"
ROWS = 1000
BAD_LINES = (17, 444, 901)  # an unknown zone: refused, named in the report
EMAIL_EVERY = 25  # one guest in 25 has an address: 40 invitations, paced over about twelve seconds
PER_MINUTE = 200  # the page polls every 2 s: the run must outlast a few polls
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
GIVEN = ["Thị Ánh", "Văn Bình", "Ngọc Uyên", "Đức Thắng", "Thu Hằng", "Quốc Việt", "Minh Châu", "Thanh Hương"]
LINK = re.compile(r"https?://[^\s<>\"]+/declare/[A-Za-z0-9_-]{43}")


@dataclass
class Inbox:
    """What the local SMTP server received, raw."""

    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(bytes(envelope.original_content or envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SMTP_PORT = _free_port()  # chosen when the module loads: the site's config names it before the server starts


def edit_site_config(text: str) -> str:
    """The conftest's deployment with [mail] on this module's local SMTP server, sending paced."""
    head, mail = text.split("[mail]\n", 1)
    mail = mail.replace('host = ""', 'host = "127.0.0.1"', 1).replace("port = 587", f"port = {SMTP_PORT}", 1)
    mail = mail.replace('sender = ""', 'sender = "Ban tổ chức <sukien@example.gov.vn>"', 1)
    mail = mail.replace("starttls = true", "starttls = false", 1)
    mail = mail.replace("per_minute = 120", f"per_minute = {PER_MINUTE}", 1)
    return f"{head}[mail]\n{mail}"


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield received
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def event(site: Site) -> str:
    _cli(
        site,
        *("event", "create", "--id", EVENT, "--name", "Ngày Chuyển đổi số tỉnh Hải Dương 2022"),
        *("--venue", "Trung tâm Văn hóa Xứ Đông", "--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30"),
        *("--zone", "hall=Hội trường/Main hall", "--zone", "vip=Khu VIP/VIP area"),
    )
    return EVENT


def guest_list() -> bytes:
    """1,000 guests as Excel saves a UTF-8 CSV (BOM, CRLF), three with an unknown zone."""
    lines = ["name,organisation,category,zones,email"]
    for i in range(ROWS):
        line = i + 2
        name = f"{FAMILY[i % len(FAMILY)]} {GIVEN[(i // 3) % len(GIVEN)]} {i:04d}"
        zones = "backstage" if line in BAD_LINES else "hall;vip" if i % 4 == 0 else "hall"
        email = f"khach{i:04d}@example.vn" if i % EMAIL_EVERY == 0 else ""
        lines.append(f'{name},"Sở Thông tin và Truyền thông",delegate,{zones},{email}')
    return b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n"


def check(page: Any, width: int, name: str, screens: Screens, problems: list[str]) -> None:
    """Photograph the page; note a sideways scroll at phone width and any serious axe finding."""
    from axe_playwright_python.sync_playwright import Axe

    screens.take(page, f"{name}-{width}")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if width <= 390 and scroll > width:
        problems.append(f"{name} at {width} px scrolls sideways: scrollWidth {scroll}")
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            problems.append(
                f"{name} at {width} px: axe {violation['id']} {[n['target'] for n in violation['nodes'][:3]]}"
            )


def test_a_long_import_then_the_invitations_show_their_progress_and_finish(
    site: Site, browser: Any, screens: Screens, inbox: Inbox, event: str
) -> None:
    problems: list[str] = []
    wide = browser.new_context(viewport={"width": 1366, "height": 900})
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = wide.new_page()
        _log_in(page, site)
        page.goto(f"{site.url}/admin/events/{EVENT}/import")
        page.set_input_files(
            "#f-file", files=[{"name": "khach-1000.csv", "mimeType": "text/csv", "buffer": guest_list()}]
        )
        page.check("input[name=issue_now]")
        page.get_by_role("button", name="Nhập danh sách").click()
        page.wait_for_url(re.compile(rf".*/admin/events/{EVENT}/jobs/[A-Za-z0-9_-]{{43}}$"))
        import_url = page.url
        page.locator("#job-state", has_text="Đã xong").wait_for(timeout=120_000)  # the script reloads on the end
        assert page.locator("h1").first.inner_text().startswith("Kết quả nhập danh sách")
        assert page.locator(".stat-n").all_inner_texts() == [str(ROWS - 3), str(ROWS - 3), "3"]
        assert [int(t) for t in page.locator("#refused tbody tr td:first-child").all_inner_texts()] == list(BAD_LINES)
        assert page.locator("#job-bar").get_attribute("value") == str(ROWS)
        check(page, 1366, "import-job-done", screens, problems)

        mobile = phone.new_page()
        _log_in(mobile, site)
        mobile.goto(import_url)
        check(mobile, 390, "import-job-done", screens, problems)

        # the invitations, from the event page at phone width
        mobile.goto(f"{site.url}/admin/events/{EVENT}")
        mobile.get_by_role("link", name="Gửi thư mời…").click()
        assert "40 khách sẽ nhận e-mail." in mobile.locator(".consequences").inner_text()
        check(mobile, 390, "invitations-confirm", screens, problems)
        mobile.get_by_role("button", name="Gửi thư mời").click()
        mobile.wait_for_url(re.compile(rf".*/admin/events/{EVENT}/jobs/[A-Za-z0-9_-]{{43}}$"))
        send_url = mobile.url
        bar = mobile.locator("#job-bar")
        assert mobile.locator("h1").inner_text() == "Thư mời qua e-mail"
        # the page's script moves the bar while the job runs (paced sending keeps it running a while)
        first = bar.evaluate("b => b.value")
        mobile.wait_for_function(
            "first => { const b = document.getElementById('job-bar'); return b.value > first && b.value < b.max; }",
            arg=first,
            timeout=30_000,
        )
        assert "Đang chạy" in mobile.locator("#job-state").inner_text()  # the same page, not reloaded
        check(mobile, 390, "invitations-running", screens, problems)
        mobile.locator("#job-state", has_text="Đã xong").wait_for(timeout=120_000)
        assert mobile.locator("#job-done").inner_text() == "40"  # the guests with an address
        results = mobile.locator("#results tbody tr")
        assert results.count() == 40  # one result per guest
        assert mobile.locator("#results .pill-ok").count() == 40
        assert mobile.locator("#outcomes .stat-n").all_inner_texts() == ["40", "0", "0"]
        check(mobile, 390, "invitations-done", screens, problems)
        page.goto(send_url)
        check(page, 1366, "invitations-done", screens, problems)

        assert len(inbox.raw) == 40
        message = BytesParser(policy=policy.default).parsebytes(inbox.raw[0])
        assert message["Subject"] == "Mã QR vào cửa / Your entry code: Ngày Chuyển đổi số tỉnh Hải Dương 2022"
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        [link] = set(LINK.findall(text))
        assert link.startswith(site.url)  # the address the registrar's browser used
        guest = phone.new_page()
        guest.goto(link)
        assert message["To"].addresses[0].display_name in guest.locator("h1").inner_text()
        check(guest, 390, "guest-page-from-invitation", screens, problems)
    finally:
        wide.close()
        phone.close()
    assert not problems, "\n".join(problems)
