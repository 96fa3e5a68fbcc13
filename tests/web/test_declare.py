"""The guest's own page (/declare/<token>): invitation tokens, the ticket and its downloads, the health
declaration that signs a fresh code carrying claim 5, and the registrar's link buttons.

Real app, real store (SQLite, and PostgreSQL when configured), real keys; the codes are read back
from the PNG and the PDF by the real decoders and verified with the deployment's keys.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from checkin.config import Config
from checkin.core import credential
from checkin.core.credential import declaration_of
from checkin.services import invitations
from checkin.store import AdminAction, CredentialStatus, Invitation, Store, sha256_hex
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store.events import NewEvent
from checkin.store.guests import GuestRow
from tests.support import dockit
from tests.support.apikit import Clock, amended, bundle_for
from tests.support.world import EVENT_ID, EVENT_NAME
from tests.web.test_admin import ANH, TOKEN, issue_to

SCREENING = """
[screening]
enabled = true

[[screening.questions]]
id = "fever"
vi = "Trong 7 ngày qua, bạn có bị sốt không?"
en = "Have you had a fever in the past 7 days?"
refer_if = "yes"

[[screening.questions]]
id = "well"
vi = "Hôm nay bạn có thấy khỏe không?"
en = "Do you feel well today?"
refer_if = "no"
"""
WELL = {"q-fever": "no", "q-well": "yes"}
UNWELL = {"q-fever": "yes", "q-well": "yes"}
BINH = GuestRow(3, "Trần Văn Bình", "Báo Hải Dương", "press", ("press",), "binh@example.vn")


@pytest.fixture
def config(config: Config) -> Config:
    """The web tests' deployment, screening guests with two questions (one refers on yes, one on no)."""
    return amended(config, SCREENING)


@pytest.fixture
def anh(store: Store, config: Config, clock: Clock) -> int:
    """Ánh, a delegate holding an active code (hall and vip); her guest id."""
    issue_to(store, config, clock(), [ANH])
    return stored_guests.guest_views(store, EVENT_ID)[0].guest.id


@pytest.fixture
def link(store: Store, anh: int, clock: Clock) -> str:
    """Ánh's invitation token."""
    return invitations.new_invitation(store, anh, clock())


def active(store: Store, guest_id: int) -> stored_guests.IssuedCredential:
    found = [c for c in stored_guests.guest_credentials(store, guest_id) if c.status == CredentialStatus.ACTIVE]
    assert len(found) == 1
    return found[0]


def csrf(client: FlaskClient, path: str) -> str:
    match = TOKEN.search(client.get(path).text)
    assert match
    return match.group(1)


def declare(client: FlaskClient, token: str, answers: dict[str, str]) -> object:
    path = f"/declare/{token}"
    return client.post(path, data={**answers, "csrf_token": csrf(client, path)})


# ---- tokens -------------------------------------------------------------------------------------


def test_a_token_is_long_random_and_only_its_hash_is_stored(store: Store, anh: int, clock: Clock) -> None:
    tokens = [invitations.new_invitation(store, anh, clock()) for _ in range(3)]
    assert len(set(tokens)) == 3
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes: 256 bits
    with store.session() as s:
        rows = s.scalars(select(Invitation).order_by(Invitation.id)).all()
        logged = [f"{a.target} {a.detail}" for a in s.scalars(select(AdminAction))]
    assert [r.token_hash for r in rows] == [sha256_hex(t) for t in tokens]
    stored_values = [str(v) for r in rows for v in vars(r).values()] + logged
    assert not any(t in v for t in tokens for v in stored_values)
    # re-sending revokes the earlier links: only the newest opens anything
    assert [invitations.guest_for_token(store, t, clock()) is not None for t in tokens] == [False, False, True]


def test_revoked_unknown_and_malformed_tokens_open_nothing(store: Store, anh: int, link: str, clock: Clock) -> None:
    found = invitations.guest_for_token(store, link, clock())
    assert found is not None and found.guest.id == anh and found.event.id == EVENT_ID
    assert invitations.guest_for_token(store, link[:-1] + ("A" if link[-1] != "A" else "B"), clock()) is None
    assert invitations.guest_for_token(store, link + "x", clock()) is None
    assert invitations.guest_for_token(store, "", clock()) is None
    assert invitations.revoke_invitations(store, anh, clock()) == 1
    assert invitations.guest_for_token(store, link, clock()) is None
    assert invitations.revoke_invitations(store, anh, clock()) == 0


def test_a_link_stops_a_day_after_its_event(store: Store, link: str, clock: Clock) -> None:
    event = stored_events.event(store, EVENT_ID)
    assert invitations.guest_for_token(store, link, event.end + invitations.OUTLIVES_EVENT) is not None
    assert (
        invitations.guest_for_token(store, link, event.end + invitations.OUTLIVES_EVENT + clock.now.resolution) is None
    )


def test_a_token_opens_its_own_guest_only(store: Store, config: Config, clock: Clock, client: FlaskClient) -> None:
    """Two guests of two events: each link shows its own guest and event, never the other's."""
    start = stored_events.event(store, EVENT_ID).start
    stored_events.create_event(
        store,
        NewEvent(
            "hoi-thao-2", "Hội thảo An toàn thông tin", start, start.replace(hour=9), "Asia/Ho_Chi_Minh", ("press",), ""
        ),
        clock(),
    )
    issue_to(store, config, clock(), [ANH])
    anh_id = stored_guests.guest_views(store, EVENT_ID)[0].guest.id
    (binh_id,) = stored_guests.add_guests(store, "hoi-thao-2", [BINH], clock(), actor="registrar")
    anh_page = client.get(f"/declare/{invitations.new_invitation(store, anh_id, clock())}").text
    binh_page = client.get(f"/declare/{invitations.new_invitation(store, binh_id, clock())}").text
    assert ANH.name in anh_page and EVENT_NAME in anh_page and BINH.name not in anh_page
    assert BINH.name in binh_page and "Hội thảo An toàn thông tin" in binh_page and ANH.name not in binh_page
    assert "<svg" not in binh_page  # Bình holds no code yet: no QR, no form
    assert "Hiện bạn không có vé hợp lệ" in binh_page and 'name="q-fever"' not in binh_page


def test_invitation_url() -> None:
    assert invitations.invitation_url("https://checkin.example.vn/", "abc") == "https://checkin.example.vn/declare/abc"
    assert invitations.invitation_url("https://x.vn/sub", "abc") == "https://x.vn/sub/declare/abc"


# ---- the page -----------------------------------------------------------------------------------


def test_the_page_shows_the_ticket_in_vietnamese_then_english(
    client: FlaskClient, store: Store, anh: int, link: str
) -> None:
    page = client.get(f"/declare/{link}")
    assert page.status_code == 200
    code = active(store, anh)
    text = page.text
    assert ANH.name in text and EVENT_NAME in text
    assert credential.short_code(bytes.fromhex(code.cti)) in text
    assert "26/03/2022 07:30 – 26/03/2022 17:30" in text  # Asia/Ho_Chi_Minh, the Vietnamese format
    assert "<svg" in text and 'lang="vi"' in text and "Khai báo y tế" in text
    assert "Trong 7 ngày qua, bạn có bị sốt không?" in text
    english = client.get(f"/declare/{link}?lang=en").text
    assert "Health declaration" in english and "Have you had a fever in the past 7 days?" in english
    assert "2022-03-26 07:30 – 2022-03-26 17:30" in english
    assert "Health declaration" in client.get(f"/declare/{link}").text  # the choice stays


def test_the_guests_pages_are_never_cached_and_send_no_referrer(client: FlaskClient, link: str) -> None:
    for path in (f"/declare/{link}", f"/declare/{link}/ticket.png", f"/declare/{link}/ticket.pdf", "/declare/nope"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["Referrer-Policy"] == "no-referrer", path


def test_a_revoked_link_gets_one_page_in_both_languages(
    client: FlaskClient, store: Store, anh: int, link: str, clock: Clock
) -> None:
    invitations.revoke_invitations(store, anh, clock())
    for path in (
        f"/declare/{link}",
        f"/declare/{link}/ticket.png",
        f"/declare/{link}/ticket.pdf",
        "/declare/x",
        f"/declare/{link}/x/y",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Liên kết không còn hiệu lực" in response.text and "This link no longer works" in response.text
        assert ANH.name not in response.text and EVENT_NAME not in response.text
    assert client.post(f"/declare/{link}", data={**WELL, "csrf_token": csrf(client, "/admin/login")}).status_code == 404


def test_the_png_and_the_pdf_decode_to_the_guests_code(
    client: FlaskClient, store: Store, anh: int, link: str, tmp_path: Path
) -> None:
    text = active(store, anh).text
    png = client.get(f"/declare/{link}/ticket.png")
    assert png.mimetype == "image/png" and "attachment" in png.headers["Content-Disposition"]
    image = np.asarray(Image.open(io.BytesIO(png.data)).convert("L"))
    assert [f.text for f in dockit.codes(image)] == [text]
    assert [f.text for f in dockit.gate_codes(image)] == [text]
    pdf = client.get(f"/declare/{link}/ticket.pdf")
    assert pdf.mimetype == "application/pdf"
    pages = dockit.pdfium_pages(pdf.data)
    assert len(pages) == 1 and [f.text for f in dockit.codes(pages[0])] == [text]
    (page,) = dockit.ghostscript_pages(pdf.data, tmp_path)
    assert [f.text for f in dockit.gate_codes(page)] == [text]
    assert "Nguyễn Thị Ánh" in dockit.pdfium_text(pdf.data)


# ---- the declaration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "passed"),
    [(WELL, True), (UNWELL, False), ({"q-fever": "no", "q-well": "no"}, False)],
    ids=["well", "fever", "unwell"],
)
def test_a_declaration_signs_a_new_code_carrying_it(
    client: FlaskClient,
    store: Store,
    config: Config,
    anh: int,
    link: str,
    clock: Clock,
    answers: dict[str, str],
    passed: bool,
) -> None:
    old = active(store, anh)
    response = declare(client, link, answers)
    assert response.status_code == 303  # type: ignore[attr-defined]
    new = active(store, anh)
    assert new.cti != old.cti
    assert stored_guests.credential(store, old.cti).status == CredentialStatus.REVOKED
    verified = credential.verify(new.text, bundle_for(config, clock()), clock())
    declaration = declaration_of(verified.credential)
    assert declaration is not None
    assert declaration.declared_at == clock() and declaration.passed is passed
    assert verified.credential.name == ANH.name and verified.credential.zones == ANH.zones
    page = client.get(f"/declare/{link}").text
    assert "Đây là mã mới của bạn; mã cũ không còn dùng được nữa." in page
    assert credential.short_code(bytes.fromhex(new.cti)) in page
    assert ("bàn y tế" in page) is not passed
    png = client.get(f"/declare/{link}/ticket.png").data
    assert dockit.png_codes(png) == [new.text]


def test_the_page_and_the_gate_judge_answers_by_one_rule(config: Config) -> None:
    from checkin.services.bundles import screening_of
    from scanner.screening import Entry, assess
    from tests.support.world import NOW
    from tests.support.world import credential as ticket

    policy = screening_of(config)
    for fever in (True, False):
        for well in (True, False):
            gate = assess(ticket(NOW), policy, NOW, Entry("36.6", {"fever": fever, "well": well}))
            assert gate.admitted is policy.declaration_passes([("fever", fever), ("well", well)])


def test_every_question_must_be_answered(client: FlaskClient, store: Store, anh: int, link: str) -> None:
    old = active(store, anh)
    response = declare(client, link, {"q-fever": "no", "q-well": "maybe"})
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert text.count("Vui lòng trả lời câu hỏi này.") == 1
    assert re.search(r'value="no" checked', text)  # the answer given stays
    assert active(store, anh).cti == old.cti


def test_a_declaration_needs_the_forms_csrf_token(client: FlaskClient, store: Store, anh: int, link: str) -> None:
    old = active(store, anh)
    client.get(f"/declare/{link}")
    response = client.post(f"/declare/{link}", data=WELL)
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.text and response.headers["Referrer-Policy"] == "no-referrer"
    assert active(store, anh).cti == old.cti


def test_declarations_are_rate_limited_per_link(
    client: FlaskClient, store: Store, anh: int, link: str, clock: Clock
) -> None:
    for _ in range(5):
        assert declare(client, link, WELL).status_code == 303  # type: ignore[attr-defined]
    before = active(store, anh).cti
    refused = declare(client, link, WELL)
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert active(store, anh).cti == before
    clock.advance(seconds=2)
    assert declare(client, link, WELL).status_code == 303  # type: ignore[attr-defined]


def test_a_guest_whose_code_was_revoked_gets_no_code(
    client: FlaskClient, store: Store, anh: int, link: str, clock: Clock
) -> None:
    token = csrf(client, f"/declare/{link}")
    stored_guests.revoke(store, active(store, anh).cti, "badge reported lost", clock())
    response = client.post(f"/declare/{link}", data={**WELL, "csrf_token": token})
    assert response.status_code == 303
    assert all(c.status == CredentialStatus.REVOKED for c in stored_guests.guest_credentials(store, anh))
    assert "Hiện bạn không có vé hợp lệ" in client.get(f"/declare/{link}").text


def test_without_screening_the_page_shows_the_ticket_only(
    client: FlaskClient, store: Store, anh: int, link: str, config: Config, app: object
) -> None:
    from dataclasses import replace

    app.config["CHECKIN_CONFIG"] = replace(config, screening=replace(config.screening, enabled=False))  # type: ignore[attr-defined]
    old = active(store, anh)
    page = client.get(f"/declare/{link}").text
    assert "<svg" in page and 'name="q-fever"' not in page and "Khai báo y tế" not in page
    token = TOKEN.search(client.get("/admin/login").text)
    assert token
    response = client.post(f"/declare/{link}", data={**WELL, "csrf_token": token.group(1)})
    assert response.status_code == 303 and active(store, anh).cti == old.cti


# ---- the registrar's buttons --------------------------------------------------------------------


def test_a_registrar_makes_re_sends_and_revokes_a_link(
    login_as: Callable[[str | None], FlaskClient], store: Store, anh: int, clock: Clock
) -> None:
    client = login_as("registrar")
    page = client.get(f"/admin/guests/{anh}").text
    assert "Tạo liên kết" in page and "Thu hồi liên kết" not in page
    made = client.post(f"/admin/guests/{anh}/invitation", data={"csrf_token": csrf(client, f"/admin/guests/{anh}")})
    assert made.status_code == 200
    first = re.search(r"http://localhost/declare/([A-Za-z0-9_-]{43})", made.text)
    assert first and invitations.guest_for_token(store, first.group(1), clock()) is not None
    page = client.get(f"/admin/guests/{anh}").text
    assert first.group(1) not in page and "Gửi lại liên kết" in page  # shown once, never again
    again = client.post(f"/admin/guests/{anh}/invitation", data={"csrf_token": csrf(client, f"/admin/guests/{anh}")})
    second = re.search(r"/declare/([A-Za-z0-9_-]{43})", again.text)
    assert second and invitations.guest_for_token(store, first.group(1), clock()) is None
    asked = client.get(f"/admin/guests/{anh}/invitation/revoke")
    assert asked.status_code == 200 and "Thu hồi liên kết đến trang riêng của Nguyễn Thị Ánh?" in asked.text
    assert invitations.guest_for_token(store, second.group(1), clock()) is not None  # asking changes nothing
    done = client.post(
        f"/admin/guests/{anh}/invitation/revoke",
        data={"csrf_token": csrf(client, f"/admin/guests/{anh}/invitation/revoke")},
    )
    assert done.status_code == 302
    assert invitations.guest_for_token(store, second.group(1), clock()) is None
    with store.session() as s:
        logged = [(a.actor, a.action, a.detail) for a in s.scalars(select(AdminAction).order_by(AdminAction.id))]
    assert logged[-3:] == [
        ("registrar", "invitation.create", "sent"),
        ("registrar", "invitation.create", "re-sent"),
        ("registrar", "invitation.revoke", "1 links"),
    ]
    log_page = client.get("/admin/log").text
    assert "Đã tạo liên kết đến trang của khách" in log_page and second.group(1) not in log_page


def test_officers_cannot_make_links(login_as: Callable[[str | None], FlaskClient], anh: int) -> None:
    client = login_as("officer")
    assert "Tạo liên kết" not in client.get(f"/admin/guests/{anh}").text
    response = client.post(f"/admin/guests/{anh}/invitation", data={"csrf_token": csrf(client, f"/admin/guests/{anh}")})
    assert response.status_code == 403


def test_anonymising_a_guest_revokes_their_link(store: Store, anh: int, link: str, clock: Clock) -> None:
    stored_guests.anonymise_guest(store, anh, clock(), actor="registrar")
    assert invitations.guest_for_token(store, link, clock()) is None


def test_a_failure_on_the_page_is_logged_without_the_token(
    client: FlaskClient, link: str, config: Config, app: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken deployment (the DCC trust list file is gone) fails the page: the guest gets a plain
    500 page, and the log names the failure but not the path, which holds the token."""
    from dataclasses import replace

    broken = replace(config.screening, dcc_trust_list=("missing.pem",))
    app.config["CHECKIN_CONFIG"] = replace(config, screening=broken)  # type: ignore[attr-defined]
    with caplog.at_level("DEBUG"):
        response = client.get(f"/declare/{link}")
    assert response.status_code == 500 and "Đã có lỗi xảy ra" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert caplog.records and all(link not in r.getMessage() and link not in (r.exc_text or "") for r in caplog.records)
    assert any("guest's page" in r.getMessage() for r in caplog.records)
