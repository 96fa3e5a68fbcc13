"""A registrar's morning in headless Chromium against the real WSGI server: log in, create the event,
import 200 guests (3 bad rows, which the report names), issue, look a guest up without diacritics,
revoke their code, download the badge sheet; an admin adds a gate; every page is photographed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Quốc", "Ngọc", "Thanh"]
GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hùng",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Phúc",
    "Quân",
    "Sơn",
    "Thảo",
    "Trang",
    "Tuấn",
    "Việt",
    "Yến",
    "Ánh",
]
ORGS = [
    "Sở Thông tin và Truyền thông",
    "UBND thành phố Hải Dương",
    "Báo Hải Dương",
    "Công ty CP Công nghệ Xứ Đông",
    "Trường Đại học Hải Dương",
    "Viettel Hải Dương",
    "Hội Doanh nhân trẻ tỉnh",
    "",
]
CATEGORIES = [("delegate", "hall;vip"), ("press", "hall;press"), ("business", "hall"), ("citizen", "hall")]
BAD = {27: "empty name", 88: "unknown zone", 150: "bad e-mail"}  # file line numbers (the header is line 1)


def guest_list() -> bytes:
    """200 guests as Excel saves a UTF-8 CSV (BOM, CRLF); lines 27, 88 and 150 are bad."""
    lines = ["name,organisation,category,zones,email"]
    for i in range(200):
        line = i + 2
        name = "Nguyễn Thị Ánh" if i == 0 else f"{FAMILY[i % 14]} {MIDDLE[(i // 14) % 9]} {GIVEN[(i * 7) % 25]}"
        category, zones = CATEGORIES[i % 4]
        email = f"khach{i:03d}@example.vn" if i % 3 else ""
        if line == 27:
            name = ""
        if line == 88:
            zones = "hall;backstage"
        if line == 150:
            email = "tran.van@"
        lines.append(f'{name},"{ORGS[i % 8]}",{category},{zones},{email}')
    return b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n"


def submit(page: Any, label: str) -> None:
    page.get_by_role("button", name=label).click()


def test_registrar_and_admin_in_the_browser(site: Any, browser: Any, screens: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    try:
        # not logged in: the login page, in Vietnamese
        page.goto(f"{site.url}/admin/")
        assert "/admin/login" in page.url
        assert page.locator("h1").inner_text() == "Đăng nhập"
        screens.take(page, "login")
        page.fill("#f-username", "admin")
        page.fill("#f-password", "not the password")
        submit(page, "Đăng nhập")
        assert "Sai tên đăng nhập hoặc mật khẩu" in page.locator(".flash-error").inner_text()
        screens.take(page, "login-failed")
        page.fill("#f-password", site.admin_password)
        submit(page, "Đăng nhập")
        page.wait_for_url(re.compile(r".*/admin/events$"))
        screens.take(page, "events-empty")

        # create the event
        page.get_by_role("link", name="+ Sự kiện mới").click()
        page.fill("#f-id", "cds-hd-2022")
        page.fill("#f-name", "Ngày Chuyển đổi số tỉnh Hải Dương 2022")
        page.fill("#f-venue", "Trung tâm Văn hóa Xứ Đông")
        page.fill("#f-start", "2022-03-26T07:30")
        page.fill("#f-end", "2022-03-26T07:00")  # before the start: refused, naming the field
        page.fill("#f-zones", "hall, vip, press")
        submit(page, "Tạo sự kiện")
        assert page.locator('.error[data-field="end"]').is_visible()
        screens.take(page, "event-form-error")
        page.fill("#f-end", "2022-03-26T17:30")
        submit(page, "Tạo sự kiện")
        page.wait_for_url(re.compile(r".*/admin/events/cds-hd-2022$"))
        assert "Đã tạo sự kiện cds-hd-2022." in page.locator(".flash-ok").inner_text()
        screens.take(page, "event-created")

        # import 200 guests, 3 of them bad, without issuing yet
        page.get_by_role("link", name="Nhập danh sách khách (CSV)").click()
        page.set_input_files(
            "#f-file", files=[{"name": "khach-moi.csv", "mimeType": "text/csv", "buffer": guest_list()}]
        )
        page.uncheck("input[name=issue_now]")
        screens.take(page, "import-form")
        submit(page, "Nhập danh sách")
        rows = page.locator("#refused tbody tr")
        assert rows.count() == 3
        report = {int(r.locator("td").nth(0).inner_text()): r.locator("td").nth(2).inner_text() for r in rows.all()}
        assert sorted(report) == sorted(BAD)
        assert report[27] == "Thiếu họ tên."
        assert "backstage" in report[88]
        assert "tran.van@" in report[150]
        assert page.locator(".stat-n").first.inner_text() == "197"
        screens.take(page, "import-report")

        # issue the 197 codes
        page.get_by_role("link", name="Về trang sự kiện").click()
        submit(page, "Cấp mã cho 197 khách")
        assert "Đã cấp 197 mã." in page.locator(".flash-ok").inner_text()
        screens.take(page, "event-issued")

        # find a guest without typing diacritics, look at the code, revoke it
        page.fill("input[name=q]", "nguyen thi anh")
        submit(page, "Tìm")
        page.get_by_role("link", name="Nguyễn Thị Ánh").click()
        assert page.locator(".qr svg").count() == 1
        screens.take(page, "guest")
        page.fill("#reason", "Khách báo mất thẻ")
        submit(page, "Thu hồi mã…")
        assert page.locator("h1").inner_text() == "Thu hồi mã"  # asked once more, the reason kept
        assert page.locator("#reason").input_value() == "Khách báo mất thẻ"
        screens.take(page, "revoke-confirm")
        page.get_by_role("button", name="Thu hồi mã", exact=True).click()
        assert "Đã thu hồi mã" in page.locator(".flash-ok").inner_text()
        assert page.locator(".qr svg").count() == 0
        screens.take(page, "guest-revoked")

        # the badge sheet of the 196 active codes: 8 a page
        page.get_by_role("link", name="Ngày Chuyển đổi số tỉnh Hải Dương 2022").click()
        with page.expect_download() as info:
            page.get_by_role("link", name="Tờ in thẻ đeo (PDF)").click()
        sheet = tmp_path / "badges.pdf"
        info.value.save_as(sheet)
        body = sheet.read_bytes()
        assert body.startswith(b"%PDF")
        assert len(re.findall(rb"/Type\s*/Page\b", body)) == 25  # ceil(196 / 8)
        screens.keep(sheet)

        # an admin adds a gate and sees its one-time enrolment code
        page.fill("#g-name", "Cổng A – sảnh chính")
        page.select_option("#g-zone", "vip")
        submit(page, "Tạo cổng")
        code = page.locator(".secret").inner_text()
        assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){6}", code), code
        screens.take(page, "gate-created")

        for link, name in (("Khóa ký", "keys"), ("Người dùng", "users"), ("Nhật ký thao tác", "log")):
            page.get_by_role("link", name=link).click()
            screens.take(page, name)
        log = page.locator("table").inner_text()
        assert "Thu hồi mã" in log and "Khách báo mất thẻ" in log and "credential.revoke" not in log
        assert code not in page.content()  # one-time codes never reach the log

        # the account page, from the user name in the top bar: a common password is refused
        page.locator("a.who").click()
        assert page.locator("h1").inner_text() == "Tài khoản của bạn"
        page.fill("#f-current", site.admin_password)
        page.fill("#f-new", "password1234")
        page.fill("#f-repeat", "password1234")
        submit(page, "Đổi mật khẩu")
        assert "Mật khẩu quá ngắn hoặc quá dễ đoán" in page.locator('.error[data-field="new"]').inner_text()
        screens.take(page, "account-weak-password")
        page.get_by_role("link", name="Nhật ký thao tác").click()

        # English by choice, kept in the session
        page.get_by_role("link", name="English").click()
        assert page.locator("h1").inner_text() == "Activity log"
        page.get_by_role("link", name="Events and guests").click()
        page.get_by_role("link", name="Ngày Chuyển đổi số tỉnh Hải Dương 2022").click()
        assert page.get_by_role("button", name="Every guest has a code").is_disabled()
        screens.take(page, "event-english")
    finally:
        context.close()
    assert screens.count >= 14
