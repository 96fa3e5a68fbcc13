"""E-mail delivery of a guest's code over SMTP: Vietnamese then English text, the QR code as a PNG.

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

from checkin import i18n
from checkin.config import MAIL_PASSWORD_ENV, MailSettings
from checkin.core.errors import N_, CheckinError, Reason
from checkin.i18n import LANGUAGES


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
    """The message: plain text in every language (Vietnamese first), the code attached as a PNG."""
    if not settings.enabled:
        raise MailError("set [mail] host and sender in the config", Reason.MAIL_NOT_CONFIGURED)
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = _address(mail.name, mail.address)
    heading = " / ".join(i18n.gettext(lang, N_("Your entry code")) for lang in LANGUAGES)
    message["Subject"] = f"{heading}: {mail.event_name}"
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2].strip("> ") or None)
    message.set_content("\n-----\n\n".join(_letter(mail, lang) for lang in LANGUAGES), charset="utf-8")
    message.add_attachment(mail.png, maintype="image", subtype="png", filename=mail.file_name)
    return message


def _letter(mail: CodeMail, lang: str) -> str:
    """The message's text in one language."""

    def say(msgid: str, **params: object) -> str:
        return i18n.gettext(lang, msgid, **params)

    lines = [
        say(N_("Dear %(name)s,"), name=mail.name),
        "",
        say(N_("Here is your QR code for %(event)s."), event=mail.event_name),
    ]
    if mail.venue:
        lines.append(say(N_("Venue: %(venue)s"), venue=mail.venue))
    lines += [
        say(N_("When: %(when)s"), when=mail.when),
        say(N_("Zones: %(zones)s"), zones=", ".join(mail.zones)),
        "",
        say(
            N_(
                "Please show the attached QR code (printed or on your phone) at the gate. "
                "The code is yours alone: do not share it."
            )
        ),
    ]
    return "\n".join(lines) + "\n"


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
