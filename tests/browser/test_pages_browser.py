"""Every admin page in headless Chromium at 1366 px and at 390 px (a phone): photographed, no
horizontal scroll at 390 px (`scrollWidth <= 390`), and axe-core (axe-playwright-python's bundled
axe.min.js, no network) finds no serious or critical issue. The event is full the way a real one is:
Vietnamese names, long gate names, zone names, uploaded entries, a revoked code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from checkin.cli import main
from checkin.config import load
from checkin.keystore import PASSPHRASE_ENV
from checkin.services import invitations
from checkin.store import Scan, Store
from checkin.store import guests as stored_guests
from checkin.store.guests import GuestRow
from tests.browser.conftest import NOW, PASSPHRASE, Screens, Site

pytestmark = pytest.mark.slow

WIDTHS = (1366, 390)
EVENT = "cds-hd-2022"
NAMES = [
    "Nguyễn Thị Ánh",
    "Tôn Nữ Hoàng Phương Uyên",
    "Huỳnh Thị Thanh Hương",
    "Đặng Quốc Khánh",
    "Công Tằng Tôn Nữ Thị Bích Ngọc",
    "Hồ Ngọc Uyên",
]


@dataclass
class World:
    """What the pages show: ids to open."""

    guest_id: int
    cti: str
    bare_guest_id: int
    gate_id: str


def _cli(site: Site, *args: str) -> str:
    head = ["--config", str(site.root / "config.toml"), "--now", NOW.isoformat()]
    result = CliRunner().invoke(main, [*head, *args], env={PASSPHRASE_ENV: PASSPHRASE})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def world(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """An event with named zones, issued guests, two gates (one with a long name), entries, a
    revoked code and a guest without a code."""
    _cli(
        site,
        *("event", "create", "--id", EVENT, "--name", "Ngày Chuyển đổi số tỉnh Hải Dương 2022"),
        *("--venue", "Trung tâm Văn hóa Xứ Đông", "--start", "2022-03-26T07:30", "--end", "2022-03-26T17:30"),
        *("--zone", "hall=Hội trường/Main hall", "--zone", "vip=Khu VIP/VIP area", "--zone", "press=Khu báo chí/Press"),
        *("--category", "delegate=Đại biểu/Delegate", "--category", "press=Báo chí/Press"),
    )
    folder = tmp_path_factory.mktemp("guests")
    lines = ["name,organisation,category,zones,email"]
    for i in range(24):
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f" {i}")
        org = "Sở Thông tin và Truyền thông tỉnh Hải Dương" if i % 2 else "Báo Hải Dương"
        lines.append(
            f'{name},"{org}",{"delegate" if i % 3 else "press"},hall;vip;press,khach.moi.{i}@so-tttt.haiduong.gov.vn'
        )
    (folder / "guests.csv").write_text("\n".join(lines), encoding="utf-8")
    _cli(site, "issue", "--event", EVENT, "--csv", str(folder / "guests.csv"), "--out", str(folder / "OUT"))
    long_gate = "Cổng phía Đông – lối vào dành cho đại biểu và khách mời đặc biệt"
    _cli(site, "gate", "add", "--event", EVENT, "--name", long_gate, "--zone", "vip")
    _cli(site, "gate", "add", "--event", EVENT, "--name", "Cổng B", "--zone", "hall", "--direction", "out")
    store = Store(load(str(site.root / "config.toml")).database_url)
    try:
        views = stored_guests.guest_views(store, EVENT)
        first = views[0].guest
        creds = stored_guests.guest_credentials(store, views[1].guest.id)
        stored_guests.revoke(store, creds[0].cti, "Khách báo mất thẻ", NOW, actor="admin")
        active = stored_guests.guest_credentials(store, first.id)[0]
        bare = stored_guests.add_guests(
            store, EVENT, [GuestRow(0, "Lê Văn Tám", "", "delegate", ("hall",), "")], NOW, actor="admin"
        )[0]
        from checkin.store import devices

        gate_id = next(d.id for d in devices.devices(store, EVENT) if d.name == long_gate)
        _entries(
            store, gate_id, [c.cti for v in views[:12] for c in stored_guests.guest_credentials(store, v.guest.id)]
        )
        _alerts(store, gate_id)
        invitations.new_invitation(store, first.id, NOW)  # the guest page shows a live link to revoke
        yield World(first.id, active.cti, bare, gate_id)
    finally:
        store.dispose()


def _entries(store: Store, gate_id: str, ctis: list[str]) -> None:
    """Uploaded rows as the event page reads them (the journal's chain is another test's subject)."""
    base = int(NOW.timestamp() * 1000) + 6 * 86_400_000
    with store.writing() as s:
        for seq, cti in enumerate(ctis, start=1):
            s.add(
                Scan(
                    device_id=gate_id,
                    event_id=EVENT,
                    seq=seq,
                    wall_ms=base + seq * 7_000,
                    mono_ms=seq * 7_000,
                    cti=cti,
                    kid="0" * 16,
                    verdict="admit" if seq % 4 else "deny",
                    reason="admitted" if seq % 4 else "already_inside",
                    direction="in",
                    zone="vip",
                    prev_hash="0" * 64,
                    hash=f"{seq:064x}",
                    received_at=NOW,
                )
            )


def _alerts(store: Store, gate_id: str) -> None:
    """Alerts as a faulty upload leaves them (their making is tests/web/test_audit_alerts.py's subject):
    one open, one acknowledged with a note, one resolved with a long note."""
    from checkin.services import alertdesk
    from checkin.store.models import Alert

    with store.writing() as s:
        for seq, kind in ((40, "gap"), (7, "fork"), (12, "clock_skew")):
            detail = f"the batch starts at seq {seq}; the server holds up to seq {seq - 1}"
            severity = "critical" if kind == "fork" else "medium"  # as services.audit.SEVERITY ranks them
            s.add(
                Alert(
                    event_id=EVENT,
                    device_id=gate_id,
                    kind=kind,
                    seq=seq,
                    detail=detail,
                    created=NOW,
                    severity=severity,
                    fingerprint=f"test:{kind}:{seq}",
                )
            )
    alertdesk.acknowledge(store, 2, "Đang liên hệ tổ trưởng cổng phía Đông để kiểm tra máy", "admin", NOW)
    alertdesk.resolve(store, 3, "Đồng hồ máy cổng lệch 6 phút; đã đồng bộ lại giờ và kiểm tra các dòng", "admin", NOW)


def _pages(world: World) -> list[tuple[str, str]]:
    return [
        ("events", "/admin/events"),
        ("event", f"/admin/events/{EVENT}"),
        ("event-search", f"/admin/events/{EVENT}?q=uyen"),
        ("event-new", "/admin/events/new"),
        ("event-edit", f"/admin/events/{EVENT}/edit"),
        ("guest", f"/admin/guests/{world.guest_id}"),
        ("guest-bare", f"/admin/guests/{world.bare_guest_id}"),
        ("guest-edit", f"/admin/guests/{world.guest_id}/edit"),
        ("guest-new", f"/admin/events/{EVENT}/guests/new"),
        ("import", f"/admin/events/{EVENT}/import"),
        ("confirm-reissue", f"/admin/guests/{world.guest_id}/issue"),
        ("confirm-revoke", f"/admin/credentials/{world.cti}/revoke?reason=Kh%C3%A1ch+b%C3%A1o+m%E1%BA%A5t+th%E1%BA%BB"),
        ("confirm-gate-revoke", f"/admin/gates/{world.gate_id}/revoke"),
        ("confirm-anonymise", f"/admin/guests/{world.guest_id}/anonymise"),
        ("confirm-remove", f"/admin/guests/{world.bare_guest_id}/remove"),
        ("confirm-invitation-revoke", f"/admin/guests/{world.guest_id}/invitation/revoke"),
        ("account", "/admin/account"),
        ("keys", "/admin/keys"),
        ("users", "/admin/users"),
        ("log", "/admin/log"),
        ("not-found", "/admin/events/no-such-event"),
        ("audit-alerts", f"/audit/events/{EVENT}/alerts"),
        ("audit-scans", f"/audit/events/{EVENT}/scans"),
        ("audit-scans-search", f"/audit/events/{EVENT}/scans?name=nguyen+thi+anh&zone=vip"),
        ("audit-timeline", f"/audit/events/{EVENT}/guests/{world.guest_id}"),
    ]


def _check(page: Any, width: int, name: str, axe: Any, screens: Screens, problems: list[str]) -> None:
    """Photograph the page, then note any horizontal scroll at phone width and any serious axe finding."""
    screens.take(page, f"{name}-{width}")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{name} at {width} px scrolls sideways: scrollWidth {scroll}")
    for violation in axe.run(page).response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [n["target"] for n in violation["nodes"][:3]]
            problems.append(f"{name} at {width} px: axe {violation['id']} ({violation['impact']}) {targets}")


@contextmanager
def _admin_page(browser: Any, site: Site, width: int) -> Iterator[Any]:
    """A page logged in as the admin, in a window `width` pixels wide."""
    context = browser.new_context(viewport={"width": width, "height": 860})
    try:
        page = context.new_page()
        _log_in(page, site)
        yield page
    finally:
        context.close()


def _log_in(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/admin/login")
    page.fill("#f-username", "admin")
    page.fill("#f-password", site.admin_password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(re.compile(r".*/admin/events$"))


def test_every_page_fits_a_phone_and_passes_axe(site: Site, browser: Any, world: World, screens: Screens) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems: list[str] = []
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 860})
        page = context.new_page()
        try:
            page.goto(f"{site.url}/admin/login")
            _check(page, width, "login", axe, screens, problems)
            _log_in(page, site)
            for name, path in _pages(world):
                page.goto(site.url + path)
                _check(page, width, name, axe, screens, problems)
            # the pages a POST answers with: a gate's one-time code, an import report
            page.goto(f"{site.url}/admin/events/{EVENT}")
            page.fill("#g-name", f"Cổng tạm {width}")
            page.get_by_role("button", name="Tạo cổng").click()
            _check(page, width, "gate-created", axe, screens, problems)
            page.goto(f"{site.url}/admin/events/{EVENT}/import")
            csv = "name,organisation,category,zones,email\nTrần Văn Bảy,,delegate,hall,\n,,,hall,\n"
            page.set_input_files("#f-file", files=[{"name": "k.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
            page.uncheck("input[name=issue_now]")
            page.get_by_role("button", name="Nhập danh sách").click()
            _check(page, width, "import-report", axe, screens, problems)
            # the account page answering a new password typed differently twice (its errors in place)
            page.goto(f"{site.url}/admin/account")
            page.fill("#f-current", site.admin_password)
            page.fill("#f-new", "ba con mèo nhỏ chạy quanh hồ")
            page.fill("#f-repeat", "ba con mèo nhỏ chạy quanh hồ!")
            page.get_by_role("button", name="Đổi mật khẩu").click()
            page.locator("#f-repeat[aria-invalid=true]").wait_for()
            _check(page, width, "account-error", axe, screens, problems)
        finally:
            context.close()
    assert not problems, "\n".join(problems)


def test_at_phone_width_the_lists_keep_their_columns_and_actions(
    site: Site, browser: Any, world: World, screens: Screens
) -> None:
    with _admin_page(browser, site, 390) as page:
        page.goto(f"{site.url}/admin/events/{EVENT}")

        def inside(locator: Any) -> bool:
            box = locator.bounding_box()
            return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390

        guests = page.locator("#guests tbody tr").first
        for label in ("Khu vực", "Mã"):  # Zones and Code stay on a phone, labelled
            cell = guests.locator(f'td[data-label="{label}"]')
            assert cell.is_visible() and inside(cell), label
        assert guests.locator("td").filter(has_text="Hội trường").count() == 1  # the zone's name, not `hall`
        revoke = page.get_by_role("link", name="Thu hồi cổng").first
        revoke.scroll_into_view_if_needed()
        assert revoke.is_visible() and inside(revoke)
        revoke.click()
        assert page.locator("h1").inner_text() == "Thu hồi cổng"  # asked first; nothing revoked yet
        screens.take(page, "gate-revoke-asked-390")
        page.get_by_role("link", name="Hủy").click()
        assert page.get_by_role("link", name="Thu hồi cổng").count() >= 2

        page.goto(f"{site.url}/admin/users")
        actions = page.locator("table button, table select").first
        actions.scroll_into_view_if_needed()
        assert actions.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_skip_link_is_first_and_the_focus_ring_shows(
    site: Site, browser: Any, world: World, screens: Screens
) -> None:
    with _admin_page(browser, site, 1366) as page:
        page.goto(f"{site.url}/admin/events/{EVENT}")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.className")
        assert focused == "skip"
        assert page.locator(".skip").bounding_box()["y"] >= 0  # shown on focus, not kept off-screen
        style = "getComputedStyle(document.activeElement)"
        assert page.evaluate(f"{style}.outlineStyle + ' ' + {style}.outlineWidth") == "solid 3px"
        screens.take(page, "skip-link-focused")
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate(f"{style}.outlineWidth") == "3px"


# Colours as the screen shows them: a computed colour as [r, g, b, a], and the background painted at an
# element (its own, composited over its ancestors' until an opaque one; the page is white below them all).
_PAINT = """
  const rgba = (text) => {
    const [r, g, b, a] = text.match(/[\\d.]+/g).map(Number);
    return [r, g, b, a === undefined ? 1 : a];
  };
  const paint = (start) => {
    const layers = [];
    for (let e = start; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let out = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) out = [r, g, b].map((v, i) => v * a + out[i] * (1 - a));
    return out;
  };
"""

# The focused element's ring: its colour, and for each side the background under the middle of the
# ring (the topmost other element there, or the element itself for a ring drawn inside it), which is
# what the ring must stand out from.
_RING = (
    "(selector) => {"
    + _PAINT
    + """
  const el = document.querySelector(selector);
  el.scrollIntoView({block: 'center'});
  el.focus();
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const d = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth) / 2;
  const midX = box.left + box.width / 2, midY = box.top + box.height / 2;
  const sides = {left: [box.left - d, midY], right: [box.right + d, midY],
                 top: [midX, box.top - d], bottom: [midX, box.bottom + d]};
  const seen = {};
  for (const [side, [x, y]] of Object.entries(sides)) {
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;  // off screen (the skip link's top)
    // a ring drawn inside the element (a negative offset) lies on the element's own background
    seen[side] = d < 0 ? paint(el) : paint(document.elementsFromPoint(x, y).find((e) => e !== el && !el.contains(e)));
  }
  return {focused: el === document.activeElement, style: style.outlineStyle, width: style.outlineWidth,
          ring: rgba(style.outlineColor).slice(0, 3), sides: seen};
}
"""
)

# Each piece of text in the top bar: what it says, its colour, the background painted under it.
_TOP_BAR_TEXT = (
    "() => {"
    + _PAINT
    + """
  const walker = document.createTreeWalker(document.querySelector('.topbar'), NodeFilter.SHOW_TEXT);
  const found = [];
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    const el = walker.currentNode.parentElement;
    if (text && el.getClientRects().length) {
      found.push({text, ink: rgba(getComputedStyle(el).color).slice(0, 3), behind: paint(el)});
    }
  }
  return found;
}
"""
)


def _luminance(rgb: list[float]) -> float:
    """WCAG 2.x relative luminance of an sRGB colour (0-255 channels)."""
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: list[float], b: list[float]) -> float:
    """WCAG contrast ratio of two colours, 1 to 21."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_follows_the_wcag_formula() -> None:
    assert contrast([0, 0, 0], [255, 255, 255]) == pytest.approx(21)
    assert contrast([118, 118, 118], [255, 255, 255]) == pytest.approx(4.54, abs=0.01)  # #767676, the known 4.5:1


def test_the_focus_ring_stands_out_from_what_surrounds_it(site: Site, browser: Any, world: World) -> None:
    """WCAG 2.2 SC 1.4.11 and 2.4.13: the ring is at least 3:1 against the colours beside it, on the
    page's white cards, the grey page, the blue top bar and the darker tabs."""
    ringed = {
        f"/admin/events/{EVENT}": [
            ".skip",  # shown over the top bar
            ".lang a",  # a link in the top bar
            ".who",  # the user's name: their account
            ".topbar button",  # Log out
            ".tabs a",  # a section tab
            ".crumbs a",  # a link on the grey page
            "#guests tbody a",  # a link in a card
            "#g-name",  # an input
            "#g-zone",  # a list to choose from
            ".row-form button",  # a button
        ],
        "/admin/account": ["#f-current", "section.card button.btn-primary", ".btn-danger-quiet"],
    }
    problems: list[str] = []
    with _admin_page(browser, site, 1366) as page:
        for path, selectors in ringed.items():
            page.goto(site.url + path)
            page.keyboard.press("Tab")  # focus from the keyboard: the :focus-visible rings show
            for selector in selectors:
                seen = page.evaluate(_RING, selector)
                assert seen["focused"] and seen["style"] == "solid" and seen["width"] == "3px", (selector, seen)
                assert seen["sides"], selector
                for side, behind in seen["sides"].items():
                    ratio = contrast(seen["ring"], behind)
                    if ratio < 3:
                        problems.append(f"{path} {selector} {side}: ring {seen['ring']} on {behind}: {ratio:.2f}")
    assert not problems, "\n".join(problems)


def test_the_top_bar_text_is_readable(site: Site, browser: Any, world: World) -> None:
    """Every word in the blue top bar, the user's name (a link) too, at 4.5:1 or more (WCAG 1.4.3): axe
    leaves text of the background's own colour as "needs review", and the name was blue on blue."""
    with _admin_page(browser, site, 1366) as page:
        page.goto(f"{site.url}/admin/events/{EVENT}")
        texts = page.evaluate(_TOP_BAR_TEXT)
        assert "admin" in [t["text"] for t in texts]
        low = [
            (t["text"], round(contrast(t["ink"], t["behind"]), 2))
            for t in texts
            if contrast(t["ink"], t["behind"]) < 4.5
        ]
        assert not low
