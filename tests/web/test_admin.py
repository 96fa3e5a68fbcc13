"""Every admin route through the test client over a real database file: success, wrong role (403),
not logged in (redirect to the login page), missing CSRF token (400), bad input (400 naming the field)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient

from checkin.config import Config
from checkin.keystore import KeyStore
from checkin.services import issuing
from checkin.store import Store, sessions, users
from checkin.store import actions as stored_actions
from checkin.store import devices as stored_devices
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store.guests import GuestRow
from tests.support.apikit import event_form
from tests.support.dockit import png_codes

EVENT = "cds2022"  # the event conftest's `config` creates
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
EVERYONE = ("admin", "registrar", "officer")
REGISTRATION = ("admin", "registrar")
ADMIN = ("admin",)


@dataclass
class World:
    """What the routes act on: a guest with an active code, and a user to change."""

    guest_id: int
    cti: str
    user_id: int
    device_id: str

    def fill(self, path: str) -> str:
        return path.format(event=EVENT, gid=self.guest_id, cti=self.cti, uid=self.user_id, dev=self.device_id)


def issue_to(store: Store, config: Config, now: Any, rows: list[GuestRow]) -> list[issuing.Issued]:
    """Sign and store codes for new guests, as `checkin issue --csv` does."""
    ev = stored_events.event(store, EVENT)
    keystore = KeyStore(config.keys_dir)
    info = keystore.active_issuing()
    key = keystore.load_private(info, None)
    signed, errors = issuing.sign_rows(
        rows,
        issuer=config.deployment.id,
        event=ev,
        key=key,
        kid=info.kid_bytes,
        window=issuing.ticket_window(ev, 24, 6),
        now=now,
    )
    assert not errors
    issuing.record(store, signed, info.kid_bytes, now)
    return signed


ANH = GuestRow(2, "Nguyễn Thị Ánh", "Sở Thông tin và Truyền thông", "delegate", ("hall", "vip"), "anh@example.vn")


@pytest.fixture
def world(store: Store, config: Config, clock: Any, staff: dict[str, int]) -> World:
    signed = issue_to(store, config, clock(), [ANH])
    guest_id = stored_guests.guest_views(store, EVENT)[0].guest.id
    device, _code = stored_devices.create_device(store, EVENT, "Cổng A", "hall", "in", clock())
    return World(guest_id, signed[0].credential.id_hex, staff["officer"], device.id)


def token(client: FlaskClient) -> str:
    page = client.get("/admin/events")
    if page.status_code == 302:
        page = client.get("/admin/login")
    match = TOKEN.search(page.text)
    assert match
    return match.group(1)


CSV = (
    "\ufeffname,organisation,category,zones,email\r\n"
    "Trần Văn Bình,Báo Hải Dương,press,press,\r\n"
    ",Không tên,citizen,hall,\r\n"
    "Lê Thị Cúc,,citizen,moon,\r\n"
).encode()


@dataclass(frozen=True)
class Route:
    """One admin route: who may use it, a valid request, and an invalid one with the field it names."""

    method: str
    path: str
    roles: tuple[str, ...]
    status: int = 200
    data: Callable[[], dict[str, Any]] | None = None
    bad: dict[str, Any] | None = None
    bad_field: str | None = None
    bad_status: int = 400
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def guest_form(**overrides: Any) -> dict[str, Any]:
    form = {
        "name": "Phạm Minh Đức",
        "organisation": "Viettel Hải Dương",
        "category": "business",
        "zones": ["hall"],
        "email": "duc@example.vn",
    }
    form.update(overrides)
    return form


ROUTES = [
    Route("GET", "/admin/", EVERYONE, 302),
    Route("GET", "/admin/events", REGISTRATION),
    Route("GET", "/admin/events/new", REGISTRATION),
    Route(
        "POST",
        "/admin/events/new",
        REGISTRATION,
        302,
        data=event_form,
        bad={
            "id": "hội thảo!",
            "name": "x",
            "timezone": "Asia/Ho_Chi_Minh",
            "start": "2022-04-02T08:00",
            "end": "2022-04-02T11:30",
            "zones": "hall",
        },
        bad_field="id",
    ),
    Route("GET", "/admin/events/{event}", REGISTRATION),
    Route(
        "POST",
        "/admin/events/{event}/gates",
        ADMIN,
        200,
        data=lambda: {"name": "Cổng B", "zone": "vip", "direction": "in"},
        bad={"name": "Cổng C", "zone": "moon", "direction": "in"},
        bad_field="gate_zone",
    ),
    Route("POST", "/admin/gates/{dev}/revoke", ADMIN, 302, data=dict),
    Route("GET", "/admin/events/{event}/guests/new", REGISTRATION),
    Route(
        "POST",
        "/admin/events/{event}/guests/new",
        REGISTRATION,
        302,
        data=lambda: guest_form(issue_now="1"),
        bad=guest_form(name=""),
        bad_field="name",
    ),
    Route("GET", "/admin/guests/{gid}", REGISTRATION),
    Route("GET", "/admin/guests/{gid}/edit", REGISTRATION),
    Route(
        "POST",
        "/admin/guests/{gid}/edit",
        REGISTRATION,
        302,
        data=lambda: guest_form(name="Nguyễn Thị Ánh", zones=["hall", "vip", "press"]),
        bad=guest_form(email="not an address"),
        bad_field="email",
    ),
    Route("GET", "/admin/events/{event}/import", REGISTRATION),
    Route(
        "POST",
        "/admin/events/{event}/import",
        REGISTRATION,
        200,
        data=lambda: {"issue_now": "1", "file": (__import__("io").BytesIO(CSV), "khach.csv")},
        bad={"issue_now": "1"},
        bad_field="file",
    ),
    Route("POST", "/admin/events/{event}/issue", REGISTRATION, 302, data=dict),
    Route(
        "POST",
        "/admin/guests/{gid}/issue",
        REGISTRATION,
        302,
        data=lambda: {"reissue": "1"},
        bad={},
        bad_field="issue",
        bad_status=409,
    ),
    Route(
        "POST",
        "/admin/credentials/{cti}/revoke",
        REGISTRATION,
        302,
        data=lambda: {"reason": "mất thẻ"},
        bad={"reason": ""},
        bad_field="reason",
    ),
    Route("GET", "/admin/events/{event}/edit", REGISTRATION),
    Route(
        "POST",
        "/admin/events/{event}/edit",
        REGISTRATION,
        302,
        data=lambda: event_form(id=EVENT, zones="hall = Hội trường / Main hall\nvip\npress"),
        bad={**event_form(id=EVENT), "zones": "vip"},  # hall is the guest's and the gate's
        bad_field="zones",
    ),
    Route("GET", "/admin/guests/{gid}/issue", REGISTRATION),
    Route("GET", "/admin/credentials/{cti}/revoke", REGISTRATION),
    Route("GET", "/admin/gates/{dev}/revoke", ADMIN),
    Route("GET", "/admin/guests/{gid}/anonymise", REGISTRATION),
    Route("POST", "/admin/guests/{gid}/anonymise", REGISTRATION, 302, data=dict),
    Route("GET", "/admin/guests/{gid}/remove", REGISTRATION, 303),  # it had a code: anonymise instead
    Route("GET", "/admin/credentials/{cti}/badge.pdf", REGISTRATION),
    Route("GET", "/admin/credentials/{cti}.png", REGISTRATION),
    Route("GET", "/admin/credentials/{cti}.svg", REGISTRATION),
    Route("GET", "/admin/events/{event}/badges.pdf", REGISTRATION),
    Route("POST", "/admin/guests/{gid}/email", REGISTRATION, 303, data=dict),  # mail is off: says so (test_mail)
    Route("GET", "/admin/keys", ADMIN),
    Route("GET", "/admin/users", ADMIN),
    Route(
        "POST",
        "/admin/users",
        ADMIN,
        200,
        data=lambda: {"username": "thu.le", "role": "registrar"},
        bad={"username": "Thu Lê", "role": "registrar"},
        bad_field="username",
    ),
    Route(
        "POST",
        "/admin/users/{uid}",
        ADMIN,
        302,
        data=lambda: {"action": "role", "role": "registrar"},
        bad={"action": "role", "role": "god"},
        bad_field="role-{uid}",
    ),
    Route("GET", "/admin/log", REGISTRATION),
    Route("POST", "/admin/logout", EVERYONE, 302, data=dict),
]
WRITES = [r for r in ROUTES if r.method == "POST"]
RESTRICTED = [r for r in ROUTES if r.roles != EVERYONE]
WITH_BAD_INPUT = [r for r in ROUTES if r.bad is not None]


def send(client: FlaskClient, route: Route, world: World, data: dict[str, Any] | None, *, csrf: bool = True) -> Any:
    path = world.fill(route.path)
    if route.method == "GET":
        return client.get(path)
    body = dict(data or {})
    if csrf:
        body["csrf_token"] = token(client)
    return client.post(path, data=body, content_type="multipart/form-data")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_success(route: Route, world: World, login_as: Callable[[str | None], FlaskClient]) -> None:
    client = login_as(route.roles[-1])  # the least powerful role allowed
    response = send(client, route, world, route.data() if route.data else None)
    assert response.status_code == route.status, response.text[:2000]


@pytest.mark.parametrize("route", RESTRICTED, ids=lambda r: r.id)
def test_wrong_role(route: Route, world: World, login_as: Callable[[str | None], FlaskClient]) -> None:
    weaker = "officer" if "registrar" in route.roles else "registrar"
    response = send(login_as(weaker), route, world, route.data() if route.data else None)
    assert response.status_code == 403
    assert "forbidden" in response.text


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_not_logged_in(route: Route, world: World, client: FlaskClient, store: Store) -> None:
    before = len(stored_actions.actions(store))
    response = send(client, route, world, route.data() if route.data else None)  # a valid token of an anonymous session
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
    assert len(stored_actions.actions(store)) == before


@pytest.mark.parametrize("route", WRITES, ids=lambda r: r.id)
def test_missing_csrf_token(
    route: Route, world: World, login_as: Callable[[str | None], FlaskClient], store: Store
) -> None:
    before = len(stored_actions.actions(store))
    response = send(login_as("admin"), route, world, route.data() if route.data else None, csrf=False)
    assert response.status_code == 400
    assert "form_expired" in response.text
    assert len(stored_actions.actions(store)) == before


@pytest.mark.parametrize("route", WITH_BAD_INPUT, ids=lambda r: r.id)
def test_bad_input(route: Route, world: World, login_as: Callable[[str | None], FlaskClient], store: Store) -> None:
    response = send(login_as("admin"), route, world, route.bad)
    assert response.status_code == route.bad_status
    assert f'data-field="{world.fill(route.bad_field or "")}"' in response.text


@pytest.mark.parametrize(
    "path", ["/admin/events/nope", "/admin/guests/999", "/admin/credentials/" + "0" * 32 + ".png", "/admin/guests/1x"]
)
def test_unknown_things_are_404(path: str, login_as: Callable[[str | None], FlaskClient]) -> None:
    assert login_as("registrar").get(path).status_code == 404


# ---- what the routes do ---------------------------------------------------------------------------


def test_create_event_writes_the_log(login_as: Callable[[str | None], FlaskClient], store: Store) -> None:
    client = login_as("registrar")
    route = next(r for r in ROUTES if r.id == "POST /admin/events/new")
    assert route.data is not None
    response = client.post("/admin/events/new", data={**route.data(), "csrf_token": token(client)})
    assert response.headers["Location"] == "/admin/events/hoi-thao-2"
    ev = stored_events.event(store, "hoi-thao-2")
    assert ev.zone_codes == ("hall", "press") and ev.start.isoformat() == "2022-04-02T01:00:00+00:00"
    assert (stored_actions.actions(store)[0].actor, stored_actions.actions(store)[0].action) == (
        "registrar",
        "event.create",
    )
    again = client.post("/admin/events/new", data={**route.data(), "csrf_token": token(client)})
    assert again.status_code == 400 and 'data-field="id"' in again.text


def test_event_form_names_every_bad_field(login_as: Callable[[str | None], FlaskClient]) -> None:
    client = login_as("registrar")
    data = {"id": "", "name": "", "timezone": "Mars/Base", "start": "tomorrow", "end": "", "zones": "Hall!"}
    response = client.post("/admin/events/new", data={**data, "csrf_token": token(client)})
    assert response.status_code == 400
    for name in ("id", "name", "timezone", "start", "end", "zones"):
        assert f'data-field="{name}"' in response.text


def test_gate_code_enrols_once_and_is_never_logged(
    login_as: Callable[[str | None], FlaskClient], store: Store, clock: Any
) -> None:
    client = login_as("admin")
    response = client.post(
        f"/admin/events/{EVENT}/gates",
        data={"name": "Cổng B", "zone": "vip", "direction": "out", "csrf_token": token(client)},
    )
    code = re.search(r'<p class="secret"[^>]*>([^<]+)</p>', response.text)
    assert code is not None
    device, _token = stored_devices.enrol_device(
        store, code.group(1), Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex(), clock()
    )
    assert (device.name, device.zone, device.direction, device.status) == ("Cổng B", "vip", "out", "active")
    assert all(code.group(1) not in f"{a.target} {a.detail}" for a in stored_actions.actions(store))
    assert "Cổng B" in client.get(f"/admin/events/{EVENT}").text
    client.post(f"/admin/gates/{device.id}/revoke", data={"csrf_token": token(client)})
    assert stored_devices.device(store, device.id).status == "revoked"
    assert (
        stored_devices.device_for_token(store, _token) is not None
        and stored_actions.actions(store)[0].action == "gate.revoke"
    )


def test_import_reports_refused_rows_and_skips_repeats(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World
) -> None:
    client = login_as("registrar")
    import io

    first = client.post(
        f"/admin/events/{EVENT}/import",
        data={"csrf_token": token(client), "issue_now": "1", "file": (io.BytesIO(CSV), "khach.csv")},
    )
    assert first.status_code == 200
    refused = re.findall(r'<td class="num mono">(\d+)</td><td>([^<]*)</td><td>([^<]+)</td>', first.text)
    assert refused == [
        ("3", "", "Thiếu họ tên."),
        ("4", "Lê Thị Cúc", "Khu vực không có: moon; sự kiện có hall, vip, press."),  # the guest beside the line
    ]
    assert {v.guest.name: v.status for v in stored_guests.guest_views(store, EVENT)} == {
        "Nguyễn Thị Ánh": "active",
        "Trần Văn Bình": "active",
    }
    # the same file again: nothing new, and the report says why
    second = client.post(
        f"/admin/events/{EVENT}/import",
        data={"csrf_token": token(client), "issue_now": "1", "file": (io.BytesIO(CSV), "khach.csv")},
    )
    assert "Đã có trong danh sách khách." in second.text
    assert len(stored_guests.guest_views(store, EVENT)) == 2


def test_import_takes_excel_vietnamese_csv_with_semicolons_and_vietnamese_headers(
    login_as: Callable[[str | None], FlaskClient], store: Store
) -> None:
    import io

    client = login_as("registrar")
    data = "\ufeffHọ và tên;Đơn vị;Đối tượng;Khu vực;Email\r\nLê Thị Hồng;Sở Y tế, tỉnh Hải Dương;delegate;vip;\r\n"
    response = client.post(
        f"/admin/events/{EVENT}/import",
        data={"csrf_token": token(client), "file": (io.BytesIO(data.encode()), "danh-sach.csv")},
    )
    assert response.status_code == 200
    [view] = stored_guests.guest_views(store, EVENT)
    guest = view.guest
    assert (guest.name, guest.organisation, guest.zones) == ("Lê Thị Hồng", "Sở Y tế, tỉnh Hải Dương", "vip")


def test_import_reads_excel_s_windows_1258_and_names_the_encoding_and_the_refused_guest(
    login_as: Callable[[str | None], FlaskClient], store: Store
) -> None:
    import io

    from tests.support.excel import excel_bytes

    client = login_as("registrar")
    rows = [["Họ và tên", "Đơn vị", "Khu vực"], ["Hồ Ngọc Uyên", "Sở Y tế", "HALL"], ["Lê Văn Tám", "", "backstage"]]
    data = excel_bytes(rows, "cp1258")  # Excel's "CSV (Comma delimited)" on a Vietnamese Windows
    response = client.post(
        f"/admin/events/{EVENT}/import", data={"csrf_token": token(client), "file": (io.BytesIO(data), "excel.csv")}
    )
    assert response.status_code == 200
    assert "Windows-1258" in response.text
    refused = response.text[response.text.index('id="refused"') :]
    assert "Lê Văn Tám" in refused and "backstage" in refused
    [view] = stored_guests.guest_views(store, EVENT)
    assert (view.guest.name, view.guest.zones) == ("Hồ Ngọc Uyên", "hall")


def test_import_refuses_a_file_in_no_known_encoding(login_as: Callable[[str | None], FlaskClient]) -> None:
    import io

    client = login_as("registrar")
    data = b"name\r\nJ\x81\x8d\x90\r\n"  # bytes no Windows code page has
    response = client.post(
        f"/admin/events/{EVENT}/import", data={"csrf_token": token(client), "file": (io.BytesIO(data), "excel.csv")}
    )
    assert response.status_code == 400
    assert 'data-field="file"' in response.text and "CSV UTF-8" in response.text
    assert "dòng 2 không phải UTF-8" in response.text  # the file's fault in the page's language


def test_search_ignores_diacritics_and_case(
    login_as: Callable[[str | None], FlaskClient], store: Store, config: Config, clock: Any
) -> None:
    issue_to(
        store,
        config,
        clock(),
        [
            GuestRow(3, "Đỗ Đức Đạt", "Báo Hải Dương", "press", ("press",), ""),
            GuestRow(4, "Nguyễn Văn Anh", "", "citizen", ("hall",), ""),
            ANH,
        ],
    )
    client = login_as("registrar")
    for query, expected in [
        ("nguyen thi anh", ["Nguyễn Thị Ánh"]),
        ("DO DUC DAT", ["Đỗ Đức Đạt"]),
        ("nguyen anh", ["Nguyễn Văn Anh", "Nguyễn Thị Ánh"]),
        ("bao hai duong", ["Đỗ Đức Đạt"]),
    ]:
        page = client.get(f"/admin/events/{EVENT}", query_string={"q": query}).text
        names = re.findall(r'<a class="strong" href="/admin/guests/\d+">([^<]+)</a>', page)
        assert names == expected, query


def test_reissue_revokes_the_old_code_in_the_same_step(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World
) -> None:
    client = login_as("registrar")
    client.post(f"/admin/guests/{world.guest_id}/issue", data={"reissue": "1", "csrf_token": token(client)})
    creds = stored_guests.guest_credentials(store, world.guest_id)
    assert [c.status for c in creds] == ["active", "revoked"] or sorted(c.status for c in creds) == [
        "active",
        "revoked",
    ]
    old = next(c for c in creds if c.cti == world.cti)
    assert old.status == "revoked" and old.reason == "re-issued"
    assert bytes.fromhex(world.cti) in stored_events.revoked_ids(store, EVENT)
    # issuing again without asking for a re-issue is refused: one active code per guest
    again = client.post(f"/admin/guests/{world.guest_id}/issue", data={"csrf_token": token(client)})
    assert again.status_code == 409
    assert sum(c.status == "active" for c in stored_guests.guest_credentials(store, world.guest_id)) == 1


def test_revoke_twice_is_refused(login_as: Callable[[str | None], FlaskClient], store: Store, world: World) -> None:
    client = login_as("registrar")
    first = client.post(
        f"/admin/credentials/{world.cti}/revoke", data={"reason": "mất thẻ", "csrf_token": token(client)}
    )
    assert first.status_code == 302
    second = client.post(
        f"/admin/credentials/{world.cti}/revoke", data={"reason": "lần 2", "csrf_token": token(client)}
    )
    assert second.status_code == 409
    assert stored_guests.credential(store, world.cti).reason == "mất thẻ"
    assert client.get(f"/admin/credentials/{world.cti}.png").status_code == 404  # revoked codes are not handed out


def test_issue_all_skips_revoked_guests(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World, clock: Any
) -> None:
    stored_guests.revoke(store, world.cti, "khách hủy tham dự", clock())
    stored_guests.add_guests(store, EVENT, [GuestRow(0, "Bùi Thị Hạnh", "", "", ("hall",), "")], clock(), actor="test")
    client = login_as("registrar")
    client.post(f"/admin/events/{EVENT}/issue", data={"csrf_token": token(client)})
    assert {v.guest.name: v.status for v in stored_guests.guest_views(store, EVENT)} == {
        "Nguyễn Thị Ánh": "revoked",
        "Bùi Thị Hạnh": "active",
    }


def test_downloads_and_badge_sheet(login_as: Callable[[str | None], FlaskClient], world: World) -> None:
    client = login_as("registrar")
    png = client.get(f"/admin/credentials/{world.cti}.png")
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert png.headers["Content-Disposition"] == f'attachment; filename="nguyen-thi-anh-{world.cti[:8]}.png"'
    svg = client.get(f"/admin/credentials/{world.cti}.svg")
    assert svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<svg")
    pdf = client.get(f"/admin/events/{EVENT}/badges.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_the_qr_on_the_guest_page_is_the_signed_code(
    login_as: Callable[[str | None], FlaskClient], world: World, store: Store
) -> None:
    client = login_as("registrar")
    png = client.get(f"/admin/credentials/{world.cti}.png").data
    assert png_codes(png) == [stored_guests.credential(store, world.cti).text]
    assert "<svg" in client.get(f"/admin/guests/{world.guest_id}").text


def test_officers_reach_no_guest_event_or_log_page(login_as: Callable[[str | None], FlaskClient], world: World) -> None:
    """Issue 10: the security officer works in the audit pages; the registrar's pages are closed to them."""
    client = login_as("officer")
    for path in (f"/admin/guests/{world.guest_id}", f"/admin/events/{EVENT}", "/admin/events", "/admin/log"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert "Nguyễn Thị Ánh" not in page.text and "<svg" not in page.text
    assert client.get("/admin/").headers["Location"] == "/audit/"


def test_without_the_issuing_key_the_pages_say_so(
    config: Config, clock: Any, staff: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from checkin.web import create_app

    other = config.root / "elsewhere"
    KeyStore(other).init(b"a passphrase for these keys", clock())
    monkeypatch.delenv("CHECKIN_KEY_PASSPHRASE", raising=False)
    app = create_app(
        replace(config, paths=replace(config.paths, keys_dir="elsewhere")), {"CLOCK": clock, "TESTING": True}
    )
    try:
        client = app.test_client()
        with client.session_transaction() as session:
            session["sid"] = sessions.start(app.extensions["checkin.store"], staff["registrar"], clock())
        page = client.get(f"/admin/events/{EVENT}").text
        assert "Hiện chưa cấp được mã." in page and "--passphrase-file" in page
        stored_guests.add_guests(
            app.extensions["checkin.store"], EVENT, [GuestRow(0, "An", "", "", ("hall",), "")], clock(), actor="test"
        )
        client.post(f"/admin/events/{EVENT}/issue", data={"csrf_token": token(client)})
        assert "Chưa cấp được mã" in client.get(f"/admin/events/{EVENT}").text
        monkeypatch.setenv("CHECKIN_KEY_PASSPHRASE", "a passphrase for these keys")
        keyed = create_app(
            replace(config, paths=replace(config.paths, keys_dir="elsewhere")), {"CLOCK": clock, "TESTING": True}
        )
        assert "checkin.signer" in keyed.extensions and "key=" not in repr(keyed.extensions["checkin.signer"])
        keyed.extensions["checkin.store"].dispose()
    finally:
        app.extensions["checkin.store"].dispose()


def test_a_rotated_key_is_not_used_until_restart(
    login_as: Callable[[str | None], FlaskClient], store: Store, config: Config, clock: Any, world: World
) -> None:
    KeyStore(config.keys_dir).rotate(None, clock())
    client = login_as("registrar")
    client.post(f"/admin/guests/{world.guest_id}/issue", data={"reissue": "1", "csrf_token": token(client)})
    page = client.get(f"/admin/guests/{world.guest_id}").text
    assert "restart" in page
    assert [c.cti for c in stored_guests.guest_credentials(store, world.guest_id)] == [world.cti]


def test_users_page_adds_a_user_with_a_password_shown_once(
    login_as: Callable[[str | None], FlaskClient], store: Store
) -> None:
    client = login_as("admin")
    page = client.post("/admin/users", data={"username": "Thu.Le", "role": "officer", "csrf_token": token(client)})
    password = re.search(r'<p class="secret">([^<]+)</p>', page.text)
    assert password is not None
    user = users.user_by_name(store, "thu.le")
    assert user is not None and user.role == "officer"
    assert users.password_matches(user.password_hash, password.group(1))
    assert password.group(1) not in client.get("/admin/users").text
    assert all(password.group(1) not in f"{a.target} {a.detail}" for a in stored_actions.actions(store))


def test_users_page_changes_and_keeps_an_admin(
    login_as: Callable[[str | None], FlaskClient], store: Store, staff: dict[str, int], clock: Any
) -> None:
    client = login_as("admin")
    for name in ("registrar", "officer"):
        sessions.start(store, staff[name], clock())
    assert sessions.live_count(store, staff["registrar"], clock()) == 1
    reset = client.post(f"/admin/users/{staff['registrar']}", data={"action": "password", "csrf_token": token(client)})
    assert reset.status_code == 200 and '<p class="secret">' in reset.text
    assert sessions.live_count(store, staff["registrar"], clock()) == 0  # a new password ends them at once
    client.post(f"/admin/users/{staff['officer']}", data={"action": "disable", "csrf_token": token(client)})
    officer = users.user_by_id(store, staff["officer"])
    assert officer is not None and not officer.active
    assert sessions.live_count(store, staff["officer"], clock()) == 0  # and so does disabling
    assert sessions.live_count(store, staff["admin"], clock()) == 1
    # the last active administrator cannot demote or disable themselves
    for data in ({"action": "role", "role": "officer"}, {"action": "disable"}):
        refused = client.post(f"/admin/users/{staff['admin']}", data={**data, "csrf_token": token(client)})
        assert refused.status_code == 303
    admin = users.user_by_id(store, staff["admin"])
    assert admin is not None and admin.role == "admin" and admin.active
    assert [a.action for a in stored_actions.actions(store)][:2] == ["user.disable", "user.password"]


def test_every_change_is_in_the_activity_log(
    login_as: Callable[[str | None], FlaskClient], store: Store, world: World
) -> None:
    client = login_as("registrar")
    client.post(
        f"/admin/guests/{world.guest_id}/edit",
        data={**guest_form(name="Nguyễn Thị Ánh", zones=["hall"]), "csrf_token": token(client)},
    )
    client.post(f"/admin/credentials/{world.cti}/revoke", data={"reason": "đổi khu vực", "csrf_token": token(client)})
    log = client.get("/admin/log").text
    for action, words in (("guest.update", "Sửa thông tin khách"), ("credential.revoke", "Thu hồi mã")):
        assert f'title="{action}">{words}<' in log  # worded, the code kept for whoever needs it
    assert "đơn vị, loại khách, khu vực, e-mail" in log  # what changed, not the values, in Vietnamese
    client.get("/admin/lang/en")
    assert "organisation, category, zones, e-mail" in client.get("/admin/log").text


def test_pages_in_english(login_as: Callable[[str | None], FlaskClient], world: World) -> None:
    client = login_as("registrar")
    client.get("/admin/lang/en")
    page = client.get(f"/admin/guests/{world.guest_id}").text
    assert "Re-issue code" in page and "Revoke code" in page and "Cấp lại" not in page


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_page_renders_in_both_languages(
    lang: str, login_as: Callable[[str | None], FlaskClient], world: World
) -> None:
    client = login_as("admin")
    client.get(f"/admin/lang/{lang}")
    for route in ROUTES:
        if route.method == "GET" and route.status == 200 and not route.path.endswith((".png", ".svg", ".pdf")):
            response = client.get(world.fill(route.path))
            assert response.status_code == 200, route.path
            assert f'<html lang="{lang}">' in response.text
