"""The guest's own page in headless Chromium at a phone's size (390 × 844): photographed before and
after declaring, in Vietnamese and in English, with no horizontal scroll and no serious or critical
axe-core finding; the QR code fills the screen's width; a revoked link gets the page saying so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from checkin.config import load
from checkin.services import invitations
from checkin.store import CredentialStatus, Store
from checkin.store import guests as stored_guests
from tests.browser.conftest import NOW, Screens, Site
from tests.browser.test_pages_browser import _check, _cli, _log_in

pytestmark = pytest.mark.slow

EVENT = "cds-hd-2022"
PHONE = {"width": 390, "height": 844}


def edit_site_config(text: str) -> str:
    """Screening on, with the example configuration's two questions."""
    assert "\nenabled = false\n" in text  # [screening]'s, the only switch of its kind
    return text.replace("\nenabled = false\n", "\nenabled = true\n", 1)


@dataclass
class Guest:
    """The guest who declares: her id, her invitation link and the store to look into."""

    guest_id: int
    url: str
    store: Store


@pytest.fixture(scope="module")
def guest(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    """An event with named zones and one guest with a long Vietnamese name and organisation, issued a code."""
    _cli(
        site,
        *("event", "create", "--id", EVENT, "--name", "Ngày Chuyển đổi số tỉnh Hải Dương 2022"),
        *("--venue", "Trung tâm Văn hóa Xứ Đông", "--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30"),
        *("--zone", "hall=Hội trường/Main hall", "--zone", "vip=Khu VIP/VIP area", "--zone", "press=Khu báo chí/Press"),
    )
    folder = tmp_path_factory.mktemp("guests")
    (folder / "guests.csv").write_text(
        "name,organisation,category,zones,email\n"
        'Công Tằng Tôn Nữ Thị Bích Ngọc,"Sở Thông tin và Truyền thông tỉnh Hải Dương",delegate,hall;vip,'
        "ngoc@so-tttt.haiduong.gov.vn\n",
        encoding="utf-8",
    )
    _cli(site, "issue", "--event", EVENT, "--csv", str(folder / "guests.csv"), "--out", str(folder / "OUT"))
    store = Store(load(str(site.root / "config.toml")).database_url)
    try:
        guest_id = stored_guests.guest_views(store, EVENT)[0].guest.id
        token = invitations.new_invitation(store, guest_id, NOW)
        yield Guest(guest_id, invitations.invitation_url(site.url, token), store)
    finally:
        store.dispose()


def test_the_guest_declares_on_a_phone(browser: Any, guest: Guest, screens: Screens) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems: list[str] = []
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(guest.url)
        assert page.locator("html").get_attribute("lang") == "vi"
        qr = page.locator(".guest-qr svg").bounding_box()
        assert qr is not None and qr["width"] >= 300  # nearly the screen's width, for the gate's camera
        _check(page, 390, "declare-before", axe, screens, problems)
        page.get_by_role("link", name="English").click()
        page.get_by_role("heading", name="Health declaration").wait_for()
        _check(page, 390, "declare-before-en", axe, screens, problems)
        page.get_by_role("link", name="Tiếng Việt").click()
        page.get_by_role("heading", name="Khai báo y tế").wait_for()

        page.get_by_role("button", name="Gửi câu trả lời").click()  # nothing answered: asked again
        assert page.get_by_text("Vui lòng trả lời câu hỏi này.").count() == 2
        _check(page, 390, "declare-unanswered", axe, screens, problems)

        old = [c.cti for c in stored_guests.guest_credentials(guest.store, guest.guest_id)]
        page.get_by_role("group", name="Trong 14 ngày qua, anh/chị có sốt").get_by_label("Không").check()
        page.get_by_role("group", name="Trong 14 ngày qua, anh/chị có tiếp xúc").get_by_label("Không").check()
        page.get_by_role("button", name="Gửi câu trả lời").click()
        page.get_by_text("Đây là mã mới của bạn; mã cũ không còn dùng được nữa.").wait_for()
        _check(page, 390, "declare-after", axe, screens, problems)
        codes = stored_guests.guest_credentials(guest.store, guest.guest_id)
        (new,) = [c for c in codes if c.status == CredentialStatus.ACTIVE]
        assert new.cti not in old
        assert page.locator("[data-short-code]").inner_text().replace("-", "") != ""
    finally:
        context.close()
    assert problems == []


def test_a_revoked_link_says_so_on_a_phone(browser: Any, guest: Guest, screens: Screens) -> None:
    from axe_playwright_python.sync_playwright import Axe

    token = invitations.new_invitation(guest.store, guest.guest_id, NOW)
    invitations.revoke_invitations(guest.store, guest.guest_id, NOW)
    problems: list[str] = []
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        response = page.goto(guest.url.rsplit("/", 1)[0] + f"/{token}")
        assert response is not None and response.status == 404
        assert page.get_by_text("Liên kết không còn hiệu lực").count() == 1
        assert page.get_by_text("This link no longer works").count() == 1
        _check(page, 390, "declare-revoked", Axe(), screens, problems)
    finally:
        context.close()
    assert problems == []


def test_the_admin_makes_a_link_that_opens_the_guests_page(
    browser: Any, site: Site, guest: Guest, screens: Screens
) -> None:
    """Make link on the guest page, shown once; opened in another browser (the guest's phone) it shows
    her ticket; Revoke link asks first, and the link then opens nothing."""
    from axe_playwright_python.sync_playwright import Axe

    problems: list[str] = []
    staff = browser.new_context(viewport={"width": 1366, "height": 860})
    phone = browser.new_context(viewport=PHONE)
    try:
        page = staff.new_page()
        _log_in(page, site)
        page.goto(f"{site.url}/admin/guests/{guest.guest_id}")
        page.get_by_role("button", name=re.compile("Tạo liên kết|Gửi lại liên kết")).click()
        link = page.locator(".invitation-link").inner_text().strip()
        assert re.fullmatch(rf"{re.escape(site.url)}/declare/[A-Za-z0-9_-]{{43}}", link)
        _check(page, 1366, "invitation-created", Axe(), screens, problems)
        guest_page = phone.new_page()
        guest_page.goto(link)
        guest_page.get_by_role("heading", name="Công Tằng Tôn Nữ Thị Bích Ngọc").wait_for()
        page.goto(f"{site.url}/admin/guests/{guest.guest_id}")
        assert link not in page.content()  # shown once
        page.get_by_role("link", name="Thu hồi liên kết").click()
        page.get_by_role("button", name="Thu hồi liên kết").click()
        page.get_by_text("Đã thu hồi liên kết.").wait_for()
        assert guest_page.goto(link).status == 404
    finally:
        staff.close()
        phone.close()
    assert problems == []
