"""The security officer's pages in headless Chromium against the real WSGI server: the officer logs in
and lands on the audit pages; the dashboard (counts per zone, the 15-minute SVG charts, alerts,
gates) and the gate pages are photographed at 1366 px and 390 px, fit a phone without sideways
scroll, and axe-core finds no serious or critical issue. An officer is refused the registrar's pages
and a registrar the officer's. The journals are written by the real gate code and uploaded through
the service's ingest (tests/support/auditkit.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checkin.config import load
from checkin.services.ingest import upload_journal
from checkin.store import Store
from checkin.store.journal import JournalRefused
from tests.browser.conftest import Screens, Site
from tests.browser.test_pages_browser import _check, _cli
from tests.support.apikit import Clock
from tests.support.auditkit import RealGate, Venue
from tests.support.gatekit import forged

pytestmark = pytest.mark.slow

WIDTHS = (1366, 390)
EVENT = "hoi-nghi-2022"
MORNING = datetime(2022, 3, 26, 0, 30, tzinfo=UTC)  # 07:30 in Hanoi, the doors open
LONG_GATE = "Cổng phía Đông – lối vào dành cho đại biểu và khách mời đặc biệt"


@dataclass
class AuditWorld:
    """The ids the pages need and the staff's passwords."""

    gates: dict[str, str]  # name -> device id
    passwords: dict[str, str]
    hall: RealGate  # to scan more while a page is open
    venue: Venue


def _password(site: Site, name: str, role: str) -> str:
    return _cli(site, "user", "add", name, "--role", role, "--generate").strip().splitlines()[-1]


@pytest.fixture(scope="module")
def audit_world(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditWorld]:
    """An event morning: four gates (one with a long name, one exit), 40 guests admitted over three
    hours, denials (a forged code tried, passback), exits, a gate whose batch skipped rows."""
    _cli(
        site,
        *("event", "create", "--id", EVENT, "--name", "Hội nghị Chuyển đổi số tỉnh Hải Dương 2022"),
        *("--venue", "Trung tâm Văn hóa Xứ Đông", "--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30"),
        *("--zone", "hall=Hội trường/Main hall", "--zone", "vip=Khu VIP/VIP area", "--zone", "press=Khu báo chí/Press"),
    )
    passwords = {role: _password(site, role, role) for role in ("officer", "registrar")}
    folder = tmp_path_factory.mktemp("journals")
    store = Store(load(str(site.root / "config.toml")).database_url)
    clock = Clock(MORNING + timedelta(hours=3, minutes=30))
    venue = Venue(EVENT, MORNING + timedelta(hours=1))
    plan = [
        ("Cổng A – sảnh chính", "hall", "in"),
        (LONG_GATE, "vip", "in"),
        ("Cổng B", "hall", "in"),
        ("Lối ra", "hall", "out"),
    ]
    gates = [RealGate(store, clock, folder, venue, name, zone, way) for name, zone, way in plan]
    try:
        hall, vip, side, out = gates
        guests = [venue.code(f"Đại biểu {i:02d}")[0] for i in range(40)]
        for i, text in enumerate(guests):
            at = MORNING + timedelta(minutes=4 * i + 1)
            (hall if i % 3 else side).scan(text, at)
            if i % 5 == 0:
                vip.scan(text, at + timedelta(minutes=20))
            if i % 4 == 0:
                out.scan(text, at + timedelta(minutes=70))
            if i % 7 == 0:
                (hall if i % 3 else side).scan(text, at + timedelta(minutes=2))  # passback: denied
        for minute in (30, 31, 33, 34, 36):
            hall.scan(forged(guests[0]), MORNING + timedelta(minutes=minute))  # bad signature, five times
        for g in gates:
            g.upload()
        later = MORNING + timedelta(hours=3)
        for i in range(3):  # the side gate's next batch skips two rows: refused, kept as a gap alert
            side.scan(venue.code(f"Khách muộn {i}")[0], later + timedelta(minutes=i))
        rows = side.pending()
        signed = side.journal.checkpoint(clock.ms, upto=rows[-1])
        assert signed is not None
        with pytest.raises(JournalRefused):
            upload_journal(store, side.device, rows[2:], signed.signed, clock())
        yield AuditWorld({g.device.name: g.device.id for g in gates}, passwords, hall, venue)
    finally:
        for g in gates:
            g.journal.close()
        store.dispose()


def _log_in(page: Any, site: Site, name: str, password: str, lands: str) -> None:
    page.goto(f"{site.url}/admin/login")
    page.fill("#f-username", name)
    page.fill("#f-password", password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(re.compile(lands))


def test_the_officers_pages_fit_a_phone_and_pass_axe(
    site: Site, browser: Any, audit_world: AuditWorld, screens: Screens
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems: list[str] = []
    pages = [
        ("audit-events", "/audit/"),
        ("audit-dashboard", f"/audit/events/{EVENT}"),
        ("audit-gate-long-name", f"/audit/events/{EVENT}/gates/{audit_world.gates[LONG_GATE]}"),
        ("audit-gate-with-gap", f"/audit/events/{EVENT}/gates/{audit_world.gates['Cổng B']}"),
    ]
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        try:
            _log_in(page, site, "officer", audit_world.passwords["officer"], r".*/audit/$")
            for name, path in pages:
                page.goto(site.url + path)
                _check(page, width, name, axe, screens, problems)
            page.goto(f"{site.url}/audit/events/{EVENT}")
            page.locator("details.chart-data summary").first.click()  # the table beside a chart, opened
            _check(page, width, "audit-dashboard-table-open", axe, screens, problems)
            page.goto(f"{site.url}/admin/lang/en?next=/audit/events/{EVENT}")
            _check(page, width, "audit-dashboard-en", axe, screens, problems)
            page.goto(f"{site.url}/admin/lang/vi?next=/audit/")
        finally:
            context.close()
    assert not problems, "\n".join(problems)


def test_the_dashboard_shows_the_morning(site: Site, browser: Any, audit_world: AuditWorld, screens: Screens) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        _log_in(page, site, "officer", audit_world.passwords["officer"], r".*/audit/$")
        page.goto(f"{site.url}/audit/events/{EVENT}")
        inside, entered = int(page.inner_text("#inside-total")), int(page.inner_text("#entered-total"))
        assert entered == 40 and 0 < inside < 40  # ten left by the exit
        assert inside == 30
        assert page.locator("#zones").get_by_text("Khu VIP").count() == 1  # the event's name for the zone
        charts = page.locator("svg.chart")
        assert charts.count() == 4
        for i in range(4):  # each chart as the browser holds it is well-formed SVG with its title
            tree = ET.fromstring(charts.nth(i).evaluate("e => e.outerHTML"))
            assert tree.find("{http://www.w3.org/2000/svg}title") is not None
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
        assert int(page.inner_text("#alerts-total")) >= 1  # the side gate's gap
        page.get_by_role("link", name="Cổng B").first.click()
        page.wait_for_url(re.compile(r".*/gates/.*"))
        assert "từ số" in page.inner_text("#rows-missing")  # the rows the refused batch skipped
        assert "Có vấn đề" in page.inner_text("#chain-state")
        screens.take(page, "audit-gate-followed-1366")
    finally:
        context.close()


def test_each_role_stays_on_its_own_side(site: Site, browser: Any, audit_world: AuditWorld, screens: Screens) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        _log_in(page, site, "officer", audit_world.passwords["officer"], r".*/audit/$")
        for path in ("/admin/events", f"/admin/events/{EVENT}", "/admin/log"):
            assert page.goto(site.url + path).status == 403, path
        screens.take(page, "officer-refused-admin-390")
        assert page.get_by_role("link", name="An ninh").count() >= 1  # the officer's tab
        assert page.get_by_role("link", name="Sự kiện và khách mời").count() == 0
        page.get_by_role("button", name="Đăng xuất").click()
        _log_in(page, site, "registrar", audit_world.passwords["registrar"], r".*/admin/events$")
        for path in ("/audit/", f"/audit/events/{EVENT}", f"/audit/events/{EVENT}/gates/{audit_world.gates['Cổng B']}"):
            assert page.goto(site.url + path).status == 403, path
        screens.take(page, "registrar-refused-audit-390")
        page.goto(f"{site.url}/admin/events/{EVENT}")
        assert page.inner_text("#entered") == "40" and page.get_by_text("Bảng theo dõi an ninh").count() == 0
    finally:
        context.close()


def test_the_dashboard_updates_itself_while_it_is_open(site: Site, browser: Any, audit_world: AuditWorld) -> None:
    """A guest admitted while the officer watches shows up at the next refresh (30 s, the page's own
    clock run forward: the test waits for nothing)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        _log_in(page, site, "officer", audit_world.passwords["officer"], r".*/audit/$")
        page.clock.install()
        page.goto(f"{site.url}/audit/events/{EVENT}")
        before = int(page.inner_text("#inside-total"))
        hall = audit_world.hall
        hall.scan(audit_world.venue.code("Khách đến muộn")[0], MORNING + timedelta(hours=2, minutes=50))
        hall.upload()
        assert page.inner_text("#inside-total") == str(before)  # nothing moves by itself before the refresh
        page.clock.run_for(31_000)
        from playwright.sync_api import expect

        expect(page.locator("#inside-total")).to_have_text(str(before + 1))
        assert page.url.endswith(f"/audit/events/{EVENT}")  # updated in place, not reloaded
    finally:
        context.close()
