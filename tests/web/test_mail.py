"""E-mail delivery of codes against a real SMTP server on 127.0.0.1 (aiosmtpd), started by the test."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient

from checkin import mail, qr
from checkin.config import Config, MailSettings
from checkin.core.errors import Reason
from checkin.keystore import KeyStore
from checkin.services import issuing
from checkin.store import Store
from checkin.store import actions as stored_actions
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from tests.support.dockit import png_codes

EVENT = "cds2022"
SENDER = "Ban tổ chức <sukien@example.gov.vn>"


@dataclass
class Inbox:
    """What the local SMTP server received."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


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


def settings(port: int, **overrides: Any) -> MailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": SENDER,
        "starttls": False,
        "timeout_seconds": 5,
    }
    values.update(overrides)
    return MailSettings(**values)


CODE = "CK1:" + "ABC123 $%*+-./:" * 8  # any QR-alphanumeric text draws a code


def code_mail(**overrides: Any) -> mail.CodeMail:
    values: dict[str, Any] = {
        "name": "Nguyễn Thị Ánh",
        "address": "anh@example.vn",
        "event_name": "Ngày Chuyển đổi số tỉnh Hải Dương 2022",
        "venue": "Trung tâm Văn hóa Xứ Đông",
        "when": "26/03/2022 07:30 – 26/03/2022 17:30 (Asia/Ho_Chi_Minh)",
        "zones": ("hall", "vip"),
        "png": qr.png(CODE),
        "file_name": "nguyen-thi-anh.png",
    }
    values.update(overrides)
    return mail.CodeMail(**values)


# ---- the message and the SMTP conversation --------------------------------------------------------


def test_the_message_is_bilingual_with_the_code_attached() -> None:
    message = mail.compose(settings(25), code_mail())
    assert message["Subject"] == "Mã QR vào cửa / Your entry code: Ngày Chuyển đổi số tỉnh Hải Dương 2022"
    assert message["To"] == "Nguyễn Thị Ánh <anh@example.vn>"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Kính gửi Nguyễn Thị Ánh" in text and "Dear Nguyễn Thị Ánh" in text
    assert "Khu vực được vào: hall, vip" in text and "Zones: hall, vip" in text
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["nguyen-thi-anh.png"]
    assert png_codes(attachments[0].get_content()) == [CODE]


# ---- every header as a mail reader decodes it --------------------------------------------------------

LONG_EVENT = "Ngày Chuyển đổi số tỉnh Thừa Thiên Huế 2022 – Hội nghị và Triển lãm"
ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def as_received(message: EmailMessage) -> tuple[EmailMessage, bytes]:
    """The message as its bytes go over the wire, parsed back the way a modern reader parses them."""
    raw = bytes(message)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed, raw


def legacy_decoded(raw: bytes, name: str) -> str:
    """A header as older readers decode it: RFC 2047 words by email.header, white space between them dropped."""
    return str(make_header(decode_header(message_from_bytes(raw, policy=policy.compat32)[name])))


@pytest.mark.parametrize(
    ("event_name", "guest_name", "sender"),
    [
        ("Ngày Chuyển đổi số tỉnh Hải Dương 2022", "Nguyễn Thị Ánh", SENDER),
        (LONG_EVENT, "Nguyễn Thị Ánh Tuyết Hoàng Phương Đông", SENDER),
        (
            LONG_EVENT + " tại Trung tâm Hội nghị Quốc tế, Khu đô thị mới An Vân Dương, thành phố Huế",
            "Tôn Nữ Thị Phương Thảo Hoàng Lê Đặng Ngọc Uyên Nguyễn Thị Ánh Tuyết Huỳnh Trần Ngọc Bảo Châu Đoàn",
            "Ban tổ chức Ngày Chuyển đổi số – Sở Thông tin và Truyền thông tỉnh Thừa Thiên Huế <sukien@example.gov.vn>",
        ),
        ("Digital Transformation Day 2022", "Smith, John (Jr.)", "Organisers <events@example.org>"),
        ('Hội nghị "Chuyển đổi số"  2022', 'Đỗ "Tí" Trọng, Nghĩa', '"Ban tổ chức, Huế" <sukien@example.gov.vn>'),
    ],
    ids=["short", "long", "longest", "ascii-specials", "quotes-commas-double-space"],
)
def test_every_header_reads_back_as_written(event_name: str, guest_name: str, sender: str) -> None:
    message = mail.compose(settings(25, sender=sender), code_mail(event_name=event_name, name=guest_name))
    received, raw = as_received(message)
    subject = f"Mã QR vào cửa / Your entry code: {event_name}"
    assert received["Subject"] == subject
    assert legacy_decoded(raw, "Subject") == subject
    [to] = received["To"].addresses
    assert (to.display_name, to.addr_spec) == (guest_name, "anh@example.vn")
    [sender_address] = received["From"].addresses
    expected_sender = policy.default.header_factory("From", sender).addresses[0]
    assert (sender_address.display_name, sender_address.addr_spec) == (
        expected_sender.display_name,
        expected_sender.addr_spec,
    )
    legacy = message_from_bytes(raw, policy=policy.compat32)
    for name, expected in (("To", guest_name), ("From", expected_sender.display_name)):
        [(display, _addr)] = getaddresses([legacy[name]])  # split first, then decode the name
        assert str(make_header(decode_header(display))) == expected, name
    head = raw.split(b"\n\n", 1)[0]
    assert head.isascii()
    assert all(len(line) <= 998 for line in head.split(b"\n"))
    assert all(len(word) <= 75 for word in ENCODED_WORD.findall(legacy["Subject"])), "RFC 2047 words of 75 characters"


@pytest.mark.parametrize(
    "field", [{"event_name": "Hội nghị\r\nBcc: everyone@example.vn"}, {"name": "Nguyễn\nBcc: everyone@example.vn"}]
)
def test_a_line_break_cannot_reach_a_header(field: dict[str, str]) -> None:
    with pytest.raises(mail.MailError) as caught:
        mail.compose(settings(25), code_mail(**field))
    assert caught.value.reason is Reason.INVALID_INPUT


@pytest.mark.parametrize("sender", ["", "no address here", "a@example.vn, b@example.vn"])
def test_a_sender_that_is_not_one_address_is_refused(sender: str) -> None:
    with pytest.raises(mail.MailError):
        mail.compose(settings(25, sender=sender), code_mail())


def test_the_short_code_is_in_both_languages() -> None:
    received, _raw = as_received(mail.compose(settings(25), code_mail(short_code="7K3M-Q9XD")))
    body = received.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Mã ngắn (nhập tại cổng nếu mã QR không quét được): 7K3M-Q9XD" in text
    assert "Short code (typed at the gate if the QR code will not scan): 7K3M-Q9XD" in text
    assert "Mã ngắn" not in mail.compose(settings(25), code_mail()).get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_labelled_code_attached_reads_back() -> None:
    """The PNG with name and event under the code (qr.badge_png), attached, still reads as the code."""
    badge = qr.Badge("Nguyễn Thị Ánh", "", "delegate", ("hall",), CODE, short_code="7K3M-Q9XD")
    received, _raw = as_received(mail.compose(settings(25), code_mail(png=qr.badge_png(badge, LONG_EVENT))))
    assert png_codes(next(received.iter_attachments()).get_content()) == [CODE]


def test_delivered_to_the_local_server(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    mail.send(settings(port), mail.compose(settings(port), code_mail()))
    [(sender, recipients, received)] = inbox.messages
    assert sender == "sukien@example.gov.vn" and recipients == ["anh@example.vn"]
    assert received["Subject"] == "Mã QR vào cửa / Your entry code: Ngày Chuyển đổi số tỉnh Hải Dương 2022"
    assert received["To"] == "Nguyễn Thị Ánh <anh@example.vn>" and received["From"] == SENDER
    assert "Quý khách" in received.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    png = next(received.iter_attachments()).get_content()
    assert png_codes(png) == [CODE]


def test_never_sends_in_clear_when_starttls_is_asked_for(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    strict = settings(port, starttls=True)
    with pytest.raises(mail.MailError, match="STARTTLS") as caught:
        mail.send(strict, mail.compose(strict, code_mail()))
    assert caught.value.reason is Reason.MAIL_FAILED
    assert inbox.messages == []


def test_a_login_needs_the_password_from_the_environment(
    smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    monkeypatch.delenv("CHECKIN_MAIL_PASSWORD", raising=False)
    with_user = settings(port, username="sukien")
    with pytest.raises(mail.MailError, match="CHECKIN_MAIL_PASSWORD"):
        mail.send(with_user, mail.compose(with_user, code_mail()))
    assert inbox.messages == []


def test_a_server_that_is_not_there() -> None:
    port = free_port()
    with pytest.raises(mail.MailError, match=f"127.0.0.1:{port}") as caught:
        mail.send(settings(port), mail.compose(settings(port), code_mail()))
    assert caught.value.reason is Reason.MAIL_FAILED


@pytest.mark.parametrize("address", ["anh@example.vn\r\nBcc: everyone@example.vn", "not an address", "a@b@c"])
def test_addresses_that_could_inject_headers_are_refused(address: str) -> None:
    with pytest.raises(mail.MailError):
        mail.send(settings(25), mail.compose(settings(25), code_mail(address=address)))


def test_not_configured() -> None:
    with pytest.raises(mail.MailError) as caught:
        mail.compose(MailSettings(), code_mail())
    assert caught.value.reason is Reason.MAIL_NOT_CONFIGURED


# ---- from the guest page ---------------------------------------------------------------------------


@pytest.fixture
def config(config: Config, smtp: tuple[Inbox, int]) -> Config:
    """The base deployment, with [mail] pointing at the local server."""
    return replace(config, mail=settings(smtp[1]))


@pytest.fixture
def guest(store: Store, config: Config, clock: Any) -> tuple[int, str]:
    """A guest with an e-mail address and an active code: (guest id, code text)."""
    ev = stored_events.event(store, EVENT)
    keystore = KeyStore(config.keys_dir)
    info = keystore.active_issuing()
    row = issuing.GuestRow(2, "Nguyễn Thị Ánh", "Sở TT&TT", "delegate", ("hall", "vip"), "anh@example.vn")
    signed, _errors = issuing.sign_rows(
        [row],
        issuer="hd-stttt",
        event=ev,
        key=keystore.load_private(info, None),
        kid=info.kid_bytes,
        window=issuing.ticket_window(ev, 24, 6),
        now=clock(),
    )
    issuing.record(store, signed, info.kid_bytes, clock())
    return stored_guests.guest_views(store, EVENT)[0].guest.id, signed[0].text


def post_email(client: FlaskClient, guest_id: int) -> Any:
    page = client.get(f"/admin/guests/{guest_id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return client.post(f"/admin/guests/{guest_id}/email", data={"csrf_token": token.group(1)})


def test_send_from_the_guest_page(
    smtp: tuple[Inbox, int], guest: tuple[int, str], login_as: Callable[[str | None], FlaskClient], store: Store
) -> None:
    inbox, _port = smtp
    guest_id, text = guest
    client = login_as("registrar")
    response = post_email(client, guest_id)
    assert response.status_code == 302
    assert "Đã gửi mã tới anh@example.vn." in client.get(response.headers["Location"]).text
    [(_sender, recipients, received)] = inbox.messages
    assert recipients == ["anh@example.vn"]
    assert "26/03/2022 07:30" in received.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert png_codes(next(received.iter_attachments()).get_content()) == [text]
    last = stored_actions.actions(store)[0]
    assert (last.actor, last.action, last.detail) == ("registrar", "credential.email", "anh@example.vn")


def test_a_failure_is_shown_and_logged(
    smtp: tuple[Inbox, int],
    guest: tuple[int, str],
    login_as: Callable[[str | None], FlaskClient],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, _port = smtp
    client = login_as("registrar")
    app = client.application
    monkeypatch.setitem(app.config, "CHECKIN_CONFIG", replace(app.config["CHECKIN_CONFIG"], mail=settings(free_port())))
    response = post_email(client, guest[0])
    assert response.status_code == 303
    assert "Chưa gửi được e-mail" in client.get(response.headers["Location"]).text
    assert stored_actions.actions(store)[0].action == "credential.email_failed"
    assert inbox.messages == []
