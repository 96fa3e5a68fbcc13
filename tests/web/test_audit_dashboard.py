"""The security officer's dashboard and gate page, over journals written by the real gate code
(scanner.gate decides, scanner.journal chains, seals and signs) and uploaded through the service's
own ingest: the counters kept at ingest equal a recount from the scans, whatever order the gates'
batches arrive in; the pages show them in Vietnamese and English; officers and registrars each stay
on their own side."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from checkin.core.chain import JournalRow
from checkin.core.errors import Reason
from checkin.services.ingest import upload_journal
from checkin.store import Store, counters, reports
from checkin.store import events as stored_events
from checkin.store.counters import TOTAL
from checkin.store.events import NewEvent
from checkin.store.journal import JournalRefused
from tests.support.apikit import FIXED, Clock
from tests.support.auditkit import RealGate, Venue, ms
from tests.support.world import EVENT_ID

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def venue() -> Venue:
    return Venue(EVENT_ID, FIXED)


@pytest.fixture
def make_gate(store: Store, clock: Clock, tmp_path: Path, venue: Venue) -> Callable[..., RealGate]:
    opened: list[RealGate] = []

    def make(name: str, zone: str = "hall", way: str = "in") -> RealGate:
        made = RealGate(store, clock, tmp_path, venue, name, zone, way)
        opened.append(made)
        return made

    yield make  # type: ignore[misc]
    for made in opened:
        made.journal.close()


def recount_equals_stored(store: Store) -> counters.Tally:
    stored = counters.stored(store, EVENT_ID)
    assert stored == counters.recount(store, EVENT_ID)
    shown = {z: c for z, c in counters.presence_counts(store, EVENT_ID).items() if (c.inside, c.entered) != (0, 0)}
    assert shown == counters.recount_counts(store, EVENT_ID)
    return stored


def morning(minutes: float) -> datetime:
    """A moment of the event's morning: `minutes` after 07:00 in Hanoi."""
    return FIXED - timedelta(hours=1) + timedelta(minutes=minutes)


# ---- the counters ------------------------------------------------------------------------------------


def test_counters_follow_admissions_exits_and_denials(
    make_gate: Callable[..., RealGate], venue: Venue, store: Store
) -> None:
    hall, vip, out = make_gate("Cổng chính"), make_gate("Cửa VIP", "vip"), make_gate("Cửa ra", "hall", "out")
    an, binh, chi = venue.code("Nguyễn Văn An"), venue.code("Trần Thị Bình"), venue.code("Lê Chí", zones=("press",))
    hall.scan(an[0], morning(1))
    hall.scan(binh[0], morning(2))
    hall.scan(an[0], morning(3))  # already inside: denied
    hall.scan(chi[0], morning(4))  # a press badge at the hall: denied
    vip.scan(binh[0], morning(20))  # Bình goes on into the VIP room
    out.scan(an[0], morning(40))  # An leaves
    for g in (hall, vip, out):
        g.upload()
    tally = recount_equals_stored(store)
    counts = counters.presence_counts(store, EVENT_ID)
    assert counts[TOTAL] == counters.ZoneCount(TOTAL, inside=1, entered=2)
    assert counts["vip"] == counters.ZoneCount("vip", inside=1, entered=1)
    assert counts["hall"] == counters.ZoneCount("hall", inside=0, entered=2)
    assert tally.buckets[(EVENT_ID, hall.device.id, ms(morning(0)))] == (
        2,
        0,
        2,
        0,
        0,
    )  # entries, exits, denials, screened, referred
    assert tally.buckets[(EVENT_ID, vip.device.id, ms(morning(15)))] == (1, 0, 0, 0, 0)
    assert tally.buckets[(EVENT_ID, out.device.id, ms(morning(30)))] == (0, 1, 0, 0, 0)
    an_row = tally.presence[(EVENT_ID, an[1].id_hex, TOTAL)]
    assert (an_row.inside, an_row.entries, an_row.first_in_ms, an_row.last_device) == (
        False,
        1,
        ms(morning(1)),
        out.device.id,
    )


def test_out_of_order_uploads_give_the_same_counters(
    make_gate: Callable[..., RealGate], venue: Venue, store: Store, clock: Clock
) -> None:
    """The exit gate's rows and the VIP gate's arrive before the entries they follow, and the hall
    gate's in two batches: the counters are those of the rows in time order."""
    a, b, vip = make_gate("A"), make_gate("B", "hall", "out"), make_gate("V", "vip")
    guests = [venue.code(f"Khách {i}") for i in range(6)]
    for i, (text, _) in enumerate(guests):
        a.scan(text, morning(i))
    a_first = a.pending()
    for i, (text, _) in enumerate(guests[:3]):
        b.scan(text, morning(30 + i))  # three leave
    vip.scan(guests[5][0], morning(50))
    vip.scan(guests[0][0], morning(60))  # guest 0 comes back, into the VIP room
    b.upload()  # the exits arrive first
    vip.upload()
    clock.advance(minutes=5)
    a.upload(a_first[:4])
    a.upload()
    assert a.journal.acked_seq == 6
    recount_equals_stored(store)
    counts = counters.presence_counts(store, EVENT_ID)
    assert counts[TOTAL] == counters.ZoneCount(TOTAL, inside=4, entered=6)  # 0 (back), 3, 4 and 5
    assert (counts["hall"].inside, counts["vip"].inside) == (2, 2)
    # the same journals uploaded in the opposite order count the same
    forward = counters.stored(store, EVENT_ID)
    counters.rebuild(store)
    assert counters.stored(store, EVENT_ID) == forward


def test_a_retried_or_missed_count_catches_up_once(
    make_gate: Callable[..., RealGate], venue: Venue, store: Store
) -> None:
    hall = make_gate("Cổng chính")
    for i in range(5):
        hall.scan(venue.code(f"Khách {i}")[0], morning(i))
    hall.upload()
    assert counters.count_new_rows(store, hall.device.id) == 0  # counted at ingest, never twice
    with store.writing() as s:  # as if the count after an upload had never run
        s.execute(counters.CounterMark.table().delete())
        s.execute(counters.Presence.table().delete())
        s.execute(counters.PresenceTotal.table().delete())
        s.execute(counters.ScanBucket.table().delete())
    assert counters.count_new_rows(store, hall.device.id) == 5
    recount_equals_stored(store)
    assert counters.presence_counts(store, EVENT_ID)[TOTAL].inside == 5


def test_rebuild_counts_what_was_held_before_the_counters(
    make_gate: Callable[..., RealGate], venue: Venue, store: Store
) -> None:
    hall, out, side = make_gate("Cổng chính"), make_gate("Cửa ra", "hall", "out"), make_gate("Cổng phụ")
    text = venue.code("Phạm Minh Đức")[0]
    hall.scan(text, morning(1))
    out.scan(text, morning(2))
    side.scan(text, morning(3))  # back in, by the side gate
    for g in (hall, out, side):
        g.upload()
    with store.writing() as s:
        for table in (counters.CounterMark, counters.Presence, counters.PresenceTotal, counters.ScanBucket):
            s.execute(table.table().delete())
    counters.rebuild(store)
    recount_equals_stored(store)
    total = counters.presence_counts(store, EVENT_ID)[TOTAL]
    assert (total.inside, total.entered) == (1, 1)
    assert counters.count_new_rows(store, hall.device.id) == 0  # the marks were set by the rebuild


# ---- the pages ---------------------------------------------------------------------------------------


@pytest.fixture
def busy(make_gate: Callable[..., RealGate], venue: Venue, store: Store) -> dict[str, RealGate]:
    """An event morning: a hall gate, a VIP gate and an exit, a few guests, one denial."""
    with store.writing() as s:
        for zone in stored_events.event_in(s, EVENT_ID).zones:
            zone.name_vi, zone.name_en = {
                "hall": ("Hội trường", "Main hall"),
                "vip": ("Phòng khách quý", "VIP lounge"),
            }.get(zone.code, ("", ""))
    hall, vip, out = make_gate("Cổng chính"), make_gate("Cửa VIP", "vip"), make_gate("Cửa ra", "hall", "out")
    codes = [venue.code(f"Đại biểu {i}") for i in range(5)]
    for i, (text, _) in enumerate(codes):
        hall.scan(text, morning(5 * i))
    hall.scan(codes[0][0], morning(26))  # denied: already inside
    vip.scan(codes[1][0], morning(40))
    out.scan(codes[2][0], morning(50))
    for g in (hall, vip, out):
        g.upload()
    return {"hall": hall, "vip": vip, "out": out}


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def number(html: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">(\d+)<', html)
    assert found is not None, element_id
    return int(found.group(1))


def test_dashboard_shows_the_counts_zones_gates_and_chart(
    busy: dict[str, RealGate], login_as: Callable[[str | None], FlaskClient], store: Store
) -> None:
    html = page(login_as("officer"), f"/audit/events/{EVENT_ID}")
    assert (number(html, "inside-total"), number(html, "entered-total")) == (4, 5)
    zones = re.findall(
        r'<tr data-zone="(\w*)"><th scope="row">(.*?)</th><td class="num">(\d+)</td><td class="num">(\d+)</td>', html
    )
    by_zone = {z: (int(inside), int(entered)) for z, _, inside, entered in zones}
    assert by_zone == {"hall": (3, 5), "vip": (1, 1), "press": (0, 0), "": (4, 5)}
    assert "Hội trường" in html and "Phòng khách quý" in html  # the event's names for its zones, in Vietnamese
    for g in busy.values():
        assert f'data-gate="{g.device.id}"' in html and g.device.name in html
    svgs = re.findall(r"<svg class=\"chart\".*?</svg>", html, re.S)
    assert len(svgs) == 3
    for svg in svgs:
        tree = ET.fromstring(svg)  # well-formed XML
        assert tree.get("role") == "img"
        assert tree.find(f"{SVG}title").text and tree.find(f"{SVG}desc").text  # type: ignore[union-attr]
        assert len(tree.findall(f"{SVG}polyline")) == 3
    titles = sorted(ET.fromstring(svg).find(f"{SVG}title").text for svg in svgs)  # type: ignore[union-attr,type-var]
    assert titles == sorted(
        f"{name}: lượt vào, lượt ra và lượt từ chối mỗi 15 phút" for name in ("Cửa VIP", "Cửa ra", "Cổng chính")
    )
    assert "08:00" in html  # the chart's hour labels and the table are in Hanoi time (01:00 UTC)
    quarter = '<th scope="row" class="nowrap">26/03/2022 07:15</th>'  # 2 entries, 0 exits, 1 denial
    assert quarter + '<td class="num">2</td><td class="num">0</td><td class="num">1</td>' in html
    # the alerts card counts from the alerts table
    assert 'id="alerts"' not in html
    with store.writing() as s:
        from checkin.store.models import Alert

        s.add(
            Alert(
                event_id=EVENT_ID,
                device_id=busy["hall"].device.id,
                kind="clock_skew",
                seq=1,
                detail="x",
                created=FIXED,
                fingerprint="test:clock_skew",
            )
        )
    html = page(login_as("officer"), f"/audit/events/{EVENT_ID}")
    assert number(html, "alerts-total") == 1
    assert f'href="/audit/events/{EVENT_ID}/alerts"' in html


def test_dashboard_speaks_vietnamese_and_english(
    busy: dict[str, RealGate], login_as: Callable[[str | None], FlaskClient]
) -> None:
    client = login_as("officer")
    vi = page(client, f"/audit/events/{EVENT_ID}")
    assert "Đang ở trong" in vi and "Đã vào" in vi and "Hội trường" in vi and 'lang="vi"' in vi
    client.get("/admin/lang/en")
    en = page(client, f"/audit/events/{EVENT_ID}")
    assert "Inside now" in en and "Entered so far" in en and "Main hall" in en and 'lang="en"' in en
    assert "Đang ở trong" not in en
    gate_en = page(client, f"/audit/events/{EVENT_ID}/gates/{busy['hall'].device.id}")
    assert "Rows held" in gate_en and "Hash chain" in gate_en


def test_gate_page_shows_sync_rows_clock_chain_and_seals(
    busy: dict[str, RealGate], login_as: Callable[[str | None], FlaskClient], store: Store, clock: Clock
) -> None:
    hall = busy["hall"]
    client = login_as("officer")
    client.get("/admin/lang/en")
    html = page(client, f"/audit/events/{EVENT_ID}/gates/{hall.device.id}")
    assert re.search(r'id="rows-held">6<', html)
    assert "none known" in html and "under a second" in html
    assert re.search(r'id="chain-state"><span class="pill pill-ok">Intact', html)
    assert re.search(r'id="seal-state"><span class="pill pill-ok">Intact', html)
    ET.fromstring(re.search(r"<svg class=\"chart\".*?</svg>", html, re.S).group(0))  # type: ignore[union-attr]
    # a batch that skips rows: refused with a gap alert; the page names the missing rows and the chain problem
    text = Venue(EVENT_ID, FIXED).code("Người lạ")[0]
    for minute in (70, 71, 72):
        hall.scan(text, morning(minute))
    rows = hall.pending()
    stored = hall.journal.checkpoint(clock.ms, upto=rows[-1])
    with pytest.raises(JournalRefused):  # kept as a gap alert
        upload_journal(store, hall.device, rows[2:], stored.signed, clock())  # type: ignore[union-attr]
    html = page(client, f"/audit/events/{EVENT_ID}/gates/{hall.device.id}")
    assert "seq 7 to 8" in html
    assert re.search(r'id="chain-state"><span class="pill pill-bad">', html)
    hall.skew_ms = -90_000
    hall.upload()
    html = page(client, f"/audit/events/{EVENT_ID}/gates/{hall.device.id}")
    assert re.search(r'id="rows-held">9<', html) and "90.0 s behind the server" in html


def test_gate_of_another_event_is_not_found(
    busy: dict[str, RealGate], login_as: Callable[[str | None], FlaskClient], store: Store
) -> None:
    other = NewEvent("khac", "Sự kiện khác", FIXED, FIXED + timedelta(hours=2), "Asia/Ho_Chi_Minh", ("hall",))
    stored_events.create_event(store, other, FIXED)
    client = login_as("officer")
    assert client.get(f"/audit/events/khac/gates/{busy['hall'].device.id}").status_code == 404
    assert client.get(f"/audit/events/{EVENT_ID}/gates/nope").status_code == 404
    assert client.get("/audit/events/nope").status_code == 404


def test_officers_land_on_the_audit_pages_and_list_the_events(
    busy: dict[str, RealGate], login_as: Callable[[str | None], FlaskClient], client: FlaskClient
) -> None:
    from tests.web.conftest import STAFF_PASSWORDS

    login_as(None)
    form = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = client.post(
        "/admin/login", data={"username": "officer", "password": STAFF_PASSWORDS["officer"], "csrf_token": csrf}
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/audit/"
    assert client.get("/").headers["Location"].endswith("/admin/")
    assert client.get("/admin/").headers["Location"] == "/audit/"
    html = page(client, "/audit/")
    assert f'href="/audit/events/{EVENT_ID}"' in html and "/admin/events" not in html
    row = re.search(rf'href="/audit/events/{EVENT_ID}".*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
    assert re.findall(r'<td class="num"[^>]*>(\d+)</td>', row)[:2] == ["4", "5"]


@pytest.mark.parametrize(
    "path",
    ["/audit/", f"/audit/events/{EVENT_ID}", f"/audit/events/{EVENT_ID}/gates/GATE"],
)
def test_registrars_cannot_reach_the_audit_pages(
    busy: dict[str, RealGate], login_as: Callable[[str | None], FlaskClient], path: str
) -> None:
    path = path.replace("GATE", busy["hall"].device.id)
    assert login_as("registrar").get(path).status_code == 403
    assert login_as("admin").get(path).status_code == 200
    assert login_as("officer").get(path).status_code == 200
    anonymous = login_as(None).get(path)
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]


@pytest.mark.parametrize("path", ["/admin/events", f"/admin/events/{EVENT_ID}", "/admin/log", "/admin/guests/1"])
def test_officers_cannot_reach_the_admin_pages(login_as: Callable[[str | None], FlaskClient], path: str) -> None:
    assert login_as("officer").get(path).status_code == 403
    assert login_as("officer").get("/admin/account").status_code == 200  # their own account stays theirs


def test_registrars_event_page_counts_and_links_by_role(
    busy: dict[str, RealGate], login_as: Callable[[str | None], FlaskClient]
) -> None:
    registrar = page(login_as("registrar"), f"/admin/events/{EVENT_ID}")
    assert (number(registrar, "inside-now"), number(registrar, "entered")) == (4, 5)
    assert f'href="/audit/events/{EVENT_ID}"' not in registrar
    assert "/audit/" not in registrar  # no Security tab either
    admin = page(login_as("admin"), f"/admin/events/{EVENT_ID}")
    assert f'href="/audit/events/{EVENT_ID}"' in admin


def test_an_empty_event_shows_zeros_and_no_chart(login_as: Callable[[str | None], FlaskClient]) -> None:
    client = login_as("officer")
    client.get("/admin/lang/en")
    html = page(client, f"/audit/events/{EVENT_ID}")
    assert (number(html, "inside-total"), number(html, "entered-total"), number(html, "alerts-total")) == (0, 0, 0)
    assert "No scans uploaded yet." in html and '<svg class="chart"' not in html


def test_the_migration_counts_the_scans_already_held(tmp_path: Path, venue: Venue) -> None:
    """A database with scans from before the counters: upgrading to them counts every held row."""
    from checkin.store import journal as stored_journal

    clock = Clock(FIXED)
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    store.migrate("0016")  # the revision before the counters
    start = datetime(2022, 3, 26, 0, 30, tzinfo=FIXED.tzinfo)
    stored_events.create_event(
        store,
        NewEvent(EVENT_ID, "Sự kiện", start, start + timedelta(hours=10), "Asia/Ho_Chi_Minh", ("hall", "vip")),
        FIXED,
    )
    hall = RealGate(store, clock, tmp_path, venue, "Cổng chính", "hall", "in")
    out = RealGate(store, clock, tmp_path, venue, "Cửa ra", "hall", "out")
    codes = [venue.code(f"Khách {i}")[0] for i in range(4)]
    for i, text in enumerate(codes):
        hall.scan(text, morning(i))
    hall.scan(codes[0], morning(9))  # denied: inside already
    out.scan(codes[1], morning(20))
    for g in (hall, out):  # stored as the service before the counters stored them
        rows = g.pending()
        signed = g.journal.checkpoint(clock.ms, upto=rows[-1])
        batch = stored_journal.check_batch(rows, signed.signed, g.device.public_key)  # type: ignore[union-attr]
        with store.writing() as s:  # the rows alone, as ingest stored them before the counters
            stored_journal.ingest(s, g.device.id, batch, clock())  # type: ignore[union-attr]
        g.journal.close()
    store.migrate()
    try:
        recount_equals_stored(store)
        assert counters.presence_counts(store, EVENT_ID)[TOTAL] == counters.ZoneCount(TOTAL, inside=3, entered=4)
        assert counters.stored(store, EVENT_ID).buckets[(EVENT_ID, hall.device.id, ms(morning(0)))] == (4, 0, 1, 0, 0)
        assert counters.count_new_rows(store, hall.device.id) == 0
        store.downgrade("0010")  # and back: the counters' tables go, the scans stay
        assert reports.scan_count(store) == 6
    finally:
        store.dispose()


def test_gates_uploading_at_once_lose_no_count(make_gate: Callable[..., RealGate], venue: Venue, store: Store) -> None:
    """Four gates upload batches about the same guests at the same moment (on PostgreSQL truly at
    once): the counters still equal the recount."""
    import threading

    gates = [make_gate(f"Cổng {i}") for i in range(3)] + [make_gate("Cửa ra", "hall", "out")]
    codes = [venue.code(f"Khách {i}")[0] for i in range(30)]
    for i, text in enumerate(codes):
        for k, g in enumerate(gates):
            g.scan(text, morning(i + k * 40))
    batches = []
    for g in gates:
        rows = g.pending()
        for part in (rows[:15], rows[15:]):
            signed = g.journal.checkpoint(g.clock.ms, upto=part[-1])
            assert signed is not None
            batches.append((g, part, signed.signed))
    failures: list[BaseException] = []

    def send(g: RealGate, batches: list[tuple[RealGate, list[JournalRow], bytes]]) -> None:
        try:
            for _, part, signed in batches:
                upload_journal(store, g.device, part, signed, g.clock())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(g, [b for b in batches if b[0] is g])) for g in gates]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    recount_equals_stored(store)
    total = counters.presence_counts(store, EVENT_ID)[TOTAL]
    assert (total.inside, total.entered) == (0, 30)  # everyone left by the exit, at the end


def test_a_row_naming_no_zone_counts_for_the_whole_event_once() -> None:
    """A gate set up without a zone journals zone "": the person is inside the event, in no zone,
    and their entry is counted once (the whole event's row and a zone's row must not be one)."""
    tally = counters.Tally.empty()
    tally.add([(EVENT_ID, "gate", 1, ms(morning(1)), "ab" * 16, "admit", "in", "", "")])
    assert list(tally.presence) == [(EVENT_ID, "ab" * 16, TOTAL)]
    assert tally.presence[(EVENT_ID, "ab" * 16, TOTAL)].entries == 1
    assert counters.totals_of(tally.presence) == {TOTAL: (1, 1)}


def test_the_health_screening_figures_are_counts_per_hour_and_gate_without_names(
    make_gate: Callable[..., RealGate], venue: Venue, store: Store, login_as: Callable[[str | None], FlaskClient]
) -> None:
    from scanner.screening import Outcome, Result

    hall = make_gate("Cổng chính")
    well, feverish, unscreened = (venue.code(name)[0] for name in ("Nguyễn Thị Ánh", "Trần Văn Sốt", "Lê Văn Cũ"))
    passed = Result(Outcome.PASSED, None, "", {"temperature": 36.6})
    fever = Result(Outcome.FEVER, Reason.SCREENING_FAILED, "Send the guest to the medical desk", {"temperature": 38.4})
    assert hall.scan(well, morning(5), passed).verdict == "admit"
    assert hall.scan(feverish, morning(10), fever).verdict == "refer"
    hall.scan(unscreened, morning(70))  # 08:10: admitted before screening was on: not screened
    hall.upload()
    assert recount_equals_stored(store).buckets  # the figures are the recount's too
    html = page(login_as("officer"), f"/audit/events/{EVENT_ID}")
    section = html[html.index('id="h-screening"') : html.index("</section>", html.index('id="h-screening"'))]
    assert re.findall(
        r'<th scope="row" class="nowrap">(.*?)</th><td>(.*?)</td><td class="num">(\d+)</td><td class="num">(\d+)</td>',
        section,
    ) == [("26/03 07:00", "Cổng chính", "2", "1")]
    for name in ("Ánh", "Sốt", "36.6", "38.4"):  # counts only: no name, no reading
        assert name not in section
