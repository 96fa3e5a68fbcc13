"""E-mail delivery of a guest's code over SMTP: Vietnamese and English text, the QR code as a PNG.

Settings come from the [mail] section of the config; the SMTP password only from the environment
(CHECKIN_MAIL_PASSWORD). With `starttls = true` (the default) a server that does not offer
STARTTLS is refused, so a code is never sent in clear by accident.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

from checkin.config import MAIL_PASSWORD_ENV, MailSettings
from checkin.core.errors import CheckinError, Reason


class MailError(CheckinError):
    """A message could not be composed or handed to the SMTP server."""

    default_reason = Reason.MAIL_FAILED


@dataclass(frozen=True)
class CodeMail:
    """What the message to one guest says."""

    name: str
    address: str
    event_name: str
    venue: str
    when: str  # the event's start and end, already in the event's time zone
    zones: tuple[str, ...]
    png: bytes
    file_name: str


def _address(name: str, address: str) -> Address:
    try:
        return Address(display_name=name, addr_spec=address.strip())
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise MailError(f"the address {address!r} cannot be used ({exc})", Reason.INVALID_INPUT) from None


def compose(settings: MailSettings, mail: CodeMail) -> EmailMessage:
    """The message: plain text in Vietnamese then English, the code attached as a PNG."""
    if not settings.enabled:
        raise MailError("set [mail] host and sender in the config", Reason.MAIL_NOT_CONFIGURED)
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = _address(mail.name, mail.address)
    message["Subject"] = f"Mã QR vào cửa / Your entry code: {mail.event_name}"
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2].strip("> ") or None)
    zones = ", ".join(mail.zones)
    venue_vi = f"\nĐịa điểm: {mail.venue}" if mail.venue else ""
    venue_en = f"\nVenue: {mail.venue}" if mail.venue else ""
    message.set_content(
        f"Kính gửi {mail.name},\n\n"
        f"Ban tổ chức gửi Quý khách mã QR để vào {mail.event_name}.{venue_vi}\n"
        f"Thời gian: {mail.when}\nKhu vực được vào: {zones}\n\n"
        "Vui lòng xuất trình mã QR đính kèm (in ra hoặc trên điện thoại) tại cổng kiểm soát. "
        "Mã chỉ dành cho Quý khách: không chia sẻ mã cho người khác.\n\n"
        "-----\n\n"
        f"Dear {mail.name},\n\n"
        f"Here is your QR code for {mail.event_name}.{venue_en}\n"
        f"When: {mail.when}\nZones: {zones}\n\n"
        "Please show the attached QR code (printed or on your phone) at the gate. "
        "The code is yours alone: do not share it.\n",
        charset="utf-8",
    )
    message.add_attachment(mail.png, maintype="image", subtype="png", filename=mail.file_name)
    return message


def send(settings: MailSettings, message: EmailMessage, *, password: str | None = None) -> None:
    """Hand the message to the SMTP server; every failure becomes a MailError naming the server."""
    if not settings.enabled:
        raise MailError("set [mail] host and sender in the config", Reason.MAIL_NOT_CONFIGURED)
    secret = password if password is not None else os.environ.get(MAIL_PASSWORD_ENV)
    where = f"{settings.host}:{settings.port}"
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
            smtp.ehlo()
            if settings.starttls:
                if not smtp.has_extn("starttls"):
                    raise MailError(f"{where} does not offer STARTTLS; refusing to send the code in clear")
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.username:
                if not secret:
                    raise MailError(f"set {MAIL_PASSWORD_ENV} for the SMTP user {settings.username!r}")
                smtp.login(settings.username, secret)
            refused = smtp.send_message(message)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError:
        raise MailError(f"{where} refused the login of {settings.username!r}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"{where} refused the address {', '.join(exc.recipients)}") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise MailError(f"{where}: {type(exc).__name__} {exc}") from None
    if refused:
        raise MailError(f"{where} refused the address {', '.join(refused)}")
