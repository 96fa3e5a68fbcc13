"""Bulk invitation e-mails from the event page, received by a real SMTP server (aiosmtpd on
127.0.0.1) and read back as a mail reader reads them (BytesParser, policy.default): the subject
with its Vietnamese intact, the code attached, and each guest's own link, which opens that guest's
ticket through the app. A refused address is reported and the run goes on; a re-run sends only to
those not sent yet, "re-send to everyone" asks first and replaces the links."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient

from checkin.config import Config, MailSettings
from checkin.core import credential
from checkin.services import invitemail
from checkin.store import CredentialStatus, Store
from checkin.store import actions as stored_actions
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store import jobs as stored_jobs
from checkin.store.events import NewEvent
from checkin.store.guests import GuestRow
from tests.support.apikit import FIXED, Clock
from tests.support.dockit import png_codes
from tests.support.world import EVENT_ID, EVENT_NAME
from tests.web.test_admin import issue_to

SENDER = "Ban tổ chức <sukien@example.gov.vn>"
REFUSED = "dung.khongco@example.vn"  # the server answers 550 for this mailbox
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"https?://[^\s<>\"]+/declare/([A-Za-z0-9_-]{43})")


@dataclass
class Inbox:
    """What the local SMTP server received, as raw bytes; it refuses one mailbox like a real server."""

    raw: list[tuple[list[str], bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=lambda: {REFUSED})
    on_message: Callable[[], object] = lambda: None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append((list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content)))
        self.on_message()
        return "250 OK"

    def messages(self) -> dict[str, EmailMessage]:
        """Every message parsed as a mail reader does, by its one recipient."""
        parsed: dict[str, EmailMessage] = {}
        for recipients, data in self.raw:
            message = BytesParser(policy=policy.default).parsebytes(data)
            assert isinstance(message, EmailMessage)
            [to] = recipients
            parsed[to] = message
        return parsed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def mail_settings(port: int) -> MailSettings:
    return MailSettings(host="127.0.0.1", port=port, sender=SENDER, starttls=False, timeout_seconds=5, per_minute=0)


@pytest.fixture
def config(config: Config, smtp: tuple[Inbox, int]) -> Config:
    """The web tests' deployment, [mail] pointing at the local server, no pacing (tests never sleep)."""
    return replace(config, mail=mail_settings(smtp[1]))


GUESTS = [
    GuestRow(2, "Nguyễn Thị Ánh", "Sở Thông tin và Truyền thông", "delegate", ("hall", "vip"), "anh@example.vn"),
    GuestRow(3, "Trần Văn Bình", "Báo Hải Dương", "press", ("press",), "binh@example.vn"),
    GuestRow(4, "Hồ Ngọc Uyên", "", "delegate", ("hall",), "uyen@example.vn"),
    GuestRow(5, "Đặng Văn Dũng", "", "delegate", ("hall",), REFUSED),
    GuestRow(6, "Lê Thị Cúc", "", "delegate", ("hall",), ""),  # no address
]
PHUONG = GuestRow(7, "Phan Thị Phương", "", "delegate", ("hall",), "phuong@example.vn")  # no code


@pytest.fixture
def guests(store: Store, config: Config, clock: Clock) -> dict[str, int]:
    """Five guests with codes (one address the server refuses, one with none) and one without a code."""
    issue_to(store, config, clock(), GUESTS)
    stored_guests.add_guests(store, EVENT_ID, [PHUONG], clock(), actor="registrar")
    return {v.guest.name: v.guest.id for v in stored_guests.guest_views(store, EVENT_ID)}


def active_code(store: Store, guest_id: int) -> tuple[str, str]:
    """A guest's active code: its text and its short code."""
    [code] = [c for c in stored_guests.guest_credentials(store, guest_id) if c.status == CredentialStatus.ACTIVE]
    return str(code.text), credential.short_code(bytes.fromhex(code.cti))


def send(client: FlaskClient, mode: str = "unsent", event_id: str = EVENT_ID) -> Any:
    question = client.get(f"/admin/events/{event_id}/invitations?mode={mode}")
    assert question.status_code == 200, question.text[:500]
    found = TOKEN.search(question.text)
    assert found
    return client.post(f"/admin/events/{event_id}/invitations", data={"csrf_token": found.group(1), "mode": mode})


def run(app: Flask, response: Any) -> str:
    assert response.status_code == 303, response.text[:500]
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    app.extensions["checkin.jobs"].wait(job_id, timeout=120)
    return job_id


def link_token(message: EmailMessage) -> str:
    text = message.get_body(("plain",))
    assert text is not None
    tokens = set(LINK.findall(text.get_content()))
    assert len(tokens) == 1, tokens  # one link, in both languages
    return tokens.pop()


def test_invitations_reach_every_guest_with_an_address_and_a_code(
    app: Flask,
    smtp: tuple[Inbox, int],
    guests: dict[str, int],
    login_as: Callable[[str | None], FlaskClient],
    store: Store,
) -> None:
    inbox, _port = smtp
    client = login_as("registrar")
    question = client.get(f"/admin/events/{EVENT_ID}/invitations").text
    assert "4 khách sẽ nhận e-mail." in question  # Ánh, Bình, Uyên and Dũng (whose address will be refused)
    assert "1 khách chưa có địa chỉ e-mail: hãy thêm địa chỉ" in question
    assert "1 khách chưa có mã còn hiệu lực" in question
    job_id = run(app, send(client))

    received = inbox.messages()
    assert sorted(received) == ["anh@example.vn", "binh@example.vn", "uyen@example.vn"]
    for row in GUESTS[:3]:
        message = received[row.email]
        assert message["Subject"] == f"Mã QR vào cửa / Your entry code: {EVENT_NAME}"
        [to] = message["To"].addresses
        assert (to.display_name, to.addr_spec) == (row.name, row.email)
        assert message["From"].addresses[0].display_name == "Ban tổ chức"
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        token = link_token(message)
        assert "Trang riêng của quý khách (vé vào cửa và câu hỏi sức khỏe): http" in text
        assert "Your own page (your ticket and the health questions): http" in text
        assert f'href="http://localhost/declare/{token}"' in html and "Mở trang của quý khách" in html
        assert f"Kính gửi {row.name}" in text and f"Kính gửi {row.name}" in html
        code, short = active_code(store, guests[row.name])
        assert short in text and short in html
        [png] = [part.get_content() for part in message.iter_attachments()]
        assert png_codes(png) == [code]
        # the link works: it opens this guest's ticket, and nobody else's
        page = client.get(f"/declare/{token}")
        assert page.status_code == 200 and row.name in page.text and short in page.text
        assert all(other.name not in page.text for other in GUESTS if other is not row)

    job = stored_jobs.job(store, job_id)
    assert (job.state, job.total, job.done, job.problems) == ("done", 5, 5, 2)  # Cúc, without an address, is not asked
    assert stored_jobs.outcome_counts(store, job_id) == {"sent": 3, "failed": 1, "skipped": 1}
    page = client.get(f"/admin/events/{EVENT_ID}/jobs/{job_id}").text
    rows = dict(
        re.findall(
            r'<td class="lead">([^<]+)</td>\s*<td data-label="[^"]*"><span class="pill [^"]+">([^<]+)</span>', page
        )
    )
    assert rows["Nguyễn Thị Ánh &lt;anh@example.vn&gt;"] == "Đã gửi"
    assert rows[f"Đặng Văn Dũng &lt;{REFUSED}&gt;"] == "Gửi lỗi"
    assert f"Máy chủ thư từ chối địa chỉ {REFUSED}." in page
    assert "Khách chưa có mã còn hiệu lực: hãy cấp mã trước." in page and "Lê Thị Cúc" not in page
    log = [(a.actor, a.action, a.detail) for a in stored_actions.actions(store, limit=5)]
    assert ("registrar", "invitation.bulk", "3 sent, 1 failed, 1 not sent") in log


def test_a_re_run_sends_only_to_those_not_sent_and_keeps_their_links(
    app: Flask,
    smtp: tuple[Inbox, int],
    guests: dict[str, int],
    login_as: Callable[[str | None], FlaskClient],
    store: Store,
    clock: Clock,
) -> None:
    inbox, _port = smtp
    client = login_as("registrar")
    run(app, send(client))
    first = {to: link_token(m) for to, m in inbox.messages().items()}
    # Dũng's address is corrected; the next run sends to him alone
    dung = stored_guests.guest(store, guests["Đặng Văn Dũng"])
    stored_guests.update_guest(
        store, dung.id, replace(stored_guests.guest_row(dung), email="dung@example.vn"), clock(), actor="registrar"
    )
    assert "1 khách sẽ nhận e-mail." in client.get(f"/admin/events/{EVENT_ID}/invitations").text
    second = run(app, send(client))
    assert [to for to, _raw in [(r[0][0], r[1]) for r in inbox.raw]] == [
        "anh@example.vn",
        "binh@example.vn",
        "uyen@example.vn",
        "dung@example.vn",
    ]
    assert stored_jobs.outcome_counts(store, second) == {"sent": 1, "skipped": 1}
    for token in first.values():  # nobody was sent a new link, so the first ones still open
        assert client.get(f"/declare/{token}").status_code == 200


def test_re_sending_to_everyone_asks_first_and_replaces_the_links(
    app: Flask, smtp: tuple[Inbox, int], guests: dict[str, int], login_as: Callable[[str | None], FlaskClient]
) -> None:
    inbox, _port = smtp
    client = login_as("registrar")
    run(app, send(client))
    first = {to: link_token(m) for to, m in inbox.messages().items()}
    question = client.get(f"/admin/events/{EVENT_ID}/invitations?mode=all").text
    assert "Gửi lại e-mail mời cho mọi khách?" in question
    assert "3 khách đã được gửi thư mời trước đây: đường dẫn cũ của họ sẽ hết hiệu lực." in question
    assert 'class="btn btn-danger"' in question
    inbox.raw.clear()
    run(app, send(client, "all"))
    again = {to: link_token(m) for to, m in inbox.messages().items()}
    assert sorted(again) == sorted(first)
    for to, token in first.items():
        assert client.get(f"/declare/{token}").status_code == 404  # the old link opens nothing now
        assert client.get(f"/declare/{again[to]}").status_code == 200


def test_a_long_vietnamese_event_name_reaches_the_subject_whole(
    app: Flask,
    smtp: tuple[Inbox, int],
    store: Store,
    config: Config,
    clock: Clock,
    login_as: Callable[[str | None], FlaskClient],
) -> None:
    inbox, _port = smtp
    name = "Ngày Chuyển đổi số tỉnh Thừa Thiên Huế 2022 – Hội nghị và Triển lãm Quốc tế về Đô thị thông minh"
    start = FIXED + timedelta(hours=1)
    stored_events.create_event(
        store,
        NewEvent("hue-2022", name, start, start + timedelta(hours=9), "Asia/Ho_Chi_Minh", ("hall",), "Huế"),
        clock(),
    )
    row = GuestRow(2, "Tôn Nữ Thị Phương Thảo", "", "", ("hall",), "thao@example.vn")
    issue_to_event(store, config, clock, "hue-2022", row)
    run(app, send(login_as("registrar"), event_id="hue-2022"))
    [message] = inbox.messages().values()
    assert message["Subject"] == f"Mã QR vào cửa / Your entry code: {name}"
    [(_to, raw)] = inbox.raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")) and raw.split(b"\r\n\r\n", 1)[0].isascii()


def issue_to_event(store: Store, config: Config, clock: Clock, event_id: str, row: GuestRow) -> None:
    from checkin.keystore import KeyStore
    from checkin.services import issuing

    ev = stored_events.event(store, event_id)
    keystore = KeyStore(config.keys_dir)
    info = keystore.active_issuing()
    signed, errors = issuing.sign_rows(
        [row],
        issuer=config.deployment.id,
        event=ev,
        key=keystore.load_private(info, None),
        kid=info.kid_bytes,
        window=issuing.ticket_window(ev, 24, 6),
        now=clock(),
    )
    assert not errors
    issuing.record(store, signed, info.kid_bytes, clock())


def test_a_server_that_fails_every_message_stops_the_run_and_keeps_what_was_done(
    app: Flask,
    smtp: tuple[Inbox, int],
    store: Store,
    config: Config,
    clock: Clock,
    login_as: Callable[[str | None], FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, port = smtp
    rows = [GuestRow(i, f"Khách {i}", "", "", ("hall",), f"khach{i}@example.vn") for i in range(2, 10)]
    issue_to(store, config, clock(), rows)
    client = login_as("registrar")
    monkeypatch.setitem(app.config, "CHECKIN_CONFIG", replace(config, mail=mail_settings(free_port())))  # nobody there
    job_id = run(app, send(client))
    stopped = stored_jobs.job(store, job_id)
    assert (stopped.state, stopped.reason, stopped.done) == ("failed", "mail_failed", invitemail.STOP_AFTER_FAILURES)
    page = client.get(f"/admin/events/{EVENT_ID}/jobs/{job_id}").text
    assert (
        "Không gửi được thư điện tử" in page
        and "5 messages in a row failed" in page
        and "Chạy lại cho phần còn lại" in page
    )
    # the server is back: running the job again sends to the guests it had not tried
    monkeypatch.setitem(app.config, "CHECKIN_CONFIG", replace(config, mail=mail_settings(port)))
    found = TOKEN.search(page)
    assert found
    resumed = client.post(f"/admin/events/{EVENT_ID}/jobs/{job_id}/resume", data={"csrf_token": found.group(1)})
    run(app, resumed)
    assert len(inbox.raw) == len(rows) - invitemail.STOP_AFTER_FAILURES
    # and "send to those not sent yet" reaches the ones that failed
    run(app, send(client))
    assert sorted(r[0][0] for r in inbox.raw) == sorted(r.email for r in rows)


def test_mail_not_configured_starts_nothing(
    app: Flask,
    guests: dict[str, int],
    config: Config,
    login_as: Callable[[str | None], FlaskClient],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "CHECKIN_CONFIG", replace(config, mail=MailSettings()))
    client = login_as("registrar")
    response = client.get(f"/admin/events/{EVENT_ID}/invitations")
    assert response.status_code == 303
    assert "Chưa cấu hình gửi e-mail" in client.get(response.headers["Location"]).text
    assert stored_jobs.event_jobs(store, EVENT_ID) == []
    assert "Gửi thư mời…" not in client.get(f"/admin/events/{EVENT_ID}").text


def test_only_registrars_and_admins_send(
    guests: dict[str, int], login_as: Callable[[str | None], FlaskClient], store: Store
) -> None:
    assert login_as("officer").get(f"/admin/events/{EVENT_ID}/invitations").status_code == 403
    client = login_as("registrar")
    assert client.get(f"/admin/events/{EVENT_ID}/invitations?mode=everyone").status_code == 404
    assert client.get("/admin/events/nope/invitations").status_code == 404
    assert client.post(f"/admin/events/{EVENT_ID}/invitations", data={"mode": "all"}).status_code == 400  # no CSRF
    assert stored_jobs.event_jobs(store, EVENT_ID) == []
    assert "Gửi thư mời…" in client.get(f"/admin/events/{EVENT_ID}").text


def test_anonymising_a_guest_blanks_them_in_the_results_and_the_log_reads_in_vietnamese(
    app: Flask,
    smtp: tuple[Inbox, int],
    guests: dict[str, int],
    login_as: Callable[[str | None], FlaskClient],
    store: Store,
    clock: Clock,
) -> None:
    client = login_as("registrar")
    job_id = run(app, send(client))
    anh = guests["Nguyễn Thị Ánh"]
    stored_guests.anonymise_guest(store, anh, clock(), actor="registrar")
    labels = {i.item: i.label for i in stored_jobs.items(store, job_id)}
    assert labels[str(anh)] == f"#{anh}" and "Trần Văn Bình <binh@example.vn>" in labels.values()
    page = client.get(f"/admin/events/{EVENT_ID}/jobs/{job_id}").text
    assert "anh@example.vn" not in page and "Nguyễn Thị Ánh" not in page
    log = client.get("/admin/log").text
    assert "Gửi thư mời qua e-mail" in log and "3 đã gửi, 1 gửi lỗi, 1 không gửi" in log


def test_a_shutdown_stops_a_paced_run_between_messages_and_keeps_what_was_sent(
    app: Flask,
    smtp: tuple[Inbox, int],
    guests: dict[str, int],
    config: Config,
    login_as: Callable[[str | None], FlaskClient],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, port = smtp
    first = threading.Event()
    inbox.on_message = first.set
    monkeypatch.setitem(app.config, "CHECKIN_CONFIG", replace(config, mail=replace(mail_settings(port), per_minute=1)))
    client = login_as("registrar")
    response = send(client)
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    assert first.wait(30)  # the first message is out; the next waits a minute for its turn
    app.extensions["checkin.jobs"].shutdown()  # the service stops: the pace does not hold it up
    stopped = stored_jobs.job(store, job_id)
    assert (stopped.state, stopped.reason) == ("failed", "job_interrupted")
    results = [(i.outcome, i.reason, i.detail) for i in stored_jobs.items(store, job_id)]
    assert results == [("sent", "", "")], results
    assert len(inbox.raw) == 1
    page = client.get(f"/admin/events/{EVENT_ID}/jobs/{job_id}").text
    assert "đã xong 1 trên 5 mục" in page


def test_only_stopped_work_runs_again(
    app: Flask, smtp: tuple[Inbox, int], guests: dict[str, int], login_as: Callable[[str | None], FlaskClient]
) -> None:
    inbox, _port = smtp
    client = login_as("registrar")
    job_id = run(app, send(client))
    page = client.get(f"/admin/events/{EVENT_ID}/jobs/{job_id}").text
    found = TOKEN.search(page)
    assert found and "Chạy lại cho phần còn lại" not in page
    again = client.post(f"/admin/events/{EVENT_ID}/jobs/{job_id}/resume", data={"csrf_token": found.group(1)})
    assert again.status_code == 303
    assert "Chỉ chạy lại được công việc đã dừng." in client.get(again.headers["Location"]).text
    assert len(inbox.raw) == 3  # nothing sent twice
