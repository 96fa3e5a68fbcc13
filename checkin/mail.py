"""E-mail delivery of a guest's code over SMTP: Vietnamese then English text, the QR code as a PNG.

Settings come from the [mail] section of the config; the SMTP password only from the environment
(CHECKIN_MAIL_PASSWORD). With `starttls = true` (the default) a server that does not offer
STARTTLS is refused, so a code is never sent in clear by accident.

Subject, From and To are encoded here, not by the standard library's folder: that one splits a long
Vietnamese header into encoded words at a space and leaves the space between them, where RFC 2047
tells readers to drop it ("NgàyChuyển"). The subject goes through the legacy `email.header.Header`,
which splits inside the text, into words of at most 75 characters; names are one encoded word (see
_address_field); the message keeps those lines as they are.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from html import escape
from types import TracebackType

from checkin import i18n
from checkin.config import MAIL_PASSWORD_ENV, MailSettings
from checkin.core.credential import has_control
from checkin.core.errors import N_, CheckinError, Reason
from checkin.i18n import LANGUAGES

# Headers set with set_raw are written as given (already folded, lines under 78); headers set the
# usual way are still folded by the policy.
_POLICY = policy.default.clone(refold_source="none")
_MAX_LINE = 998  # RFC 5322's hard limit for a header line


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
    short_code: str = ""  # credential.short_code(cti), to type at the gate if the code will not scan
    link: str = ""  # the guest's own page (their invitation link): ticket and health questions


def _address(name: str, address: str) -> Address:
    try:
        return Address(display_name=name, addr_spec=address.strip())
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise MailError(f"the address {address!r} cannot be used ({exc})", Reason.INVALID_INPUT) from None


def _sender(text: str) -> Address:
    try:
        header = policy.default.header_factory("From", text)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise MailError(f"the sender {text!r} cannot be used ({exc})", Reason.CONFIG_INVALID) from None
    addresses = header.addresses if isinstance(header, AddressHeader) else ()
    if len(addresses) != 1 or "@" not in addresses[0].addr_spec:
        raise MailError(f"the sender {text!r} must be one address, like Name <name@example.vn>", Reason.CONFIG_INVALID)
    return _address(addresses[0].display_name, addresses[0].addr_spec)


def _encoded(text: str, header_name: str) -> str:
    """Text for a header: ASCII folded at spaces, anything else as UTF-8 encoded words split inside the text."""
    if has_control(text):  # line breaks included: no header injection through an event name
        raise MailError(f"{header_name} cannot hold control characters or line breaks", Reason.INVALID_INPUT)
    return Header(text, "utf-8", header_name=header_name).encode(linesep="\n", maxlinelen=75)


def _address_field(address: Address, header_name: str) -> str:
    """An address header's value: the display name as one encoded word (or quoted ASCII), then the address.

    One word, even past RFC 2047's 75 characters, because readers disagree on the white space
    between two encoded words in a name: RFC 2047 drops it, Python's parser before gh-128110 keeps
    it, so a split name reads "Phương  Đông" or "Béna rd" in one of them. A name is at most
    100 characters, so the line stays far below SMTP's 998.
    """
    if has_control(address.display_name):
        raise MailError(f"{header_name} cannot hold control characters or line breaks", Reason.INVALID_INPUT)
    value = formataddr((address.display_name, address.addr_spec), charset="utf-8")
    if len(value) > _MAX_LINE - len(header_name) - 2:
        raise MailError(f"the {header_name} name is too long for a mail header", Reason.INVALID_INPUT)
    return value


def compose(settings: MailSettings, mail: CodeMail) -> EmailMessage:
    """The message: plain text in every language (Vietnamese first), the code attached as a PNG."""
    if not settings.enabled:
        raise MailError("set [mail] host and sender in the config", Reason.MAIL_NOT_CONFIGURED)
    sender = _sender(settings.sender)
    message = EmailMessage(policy=_POLICY)
    message.set_raw("From", _address_field(sender, "From"))
    message.set_raw("To", _address_field(_address(mail.name, mail.address), "To"))
    heading = " / ".join(i18n.gettext(lang, N_("Your entry code")) for lang in LANGUAGES)
    message.set_raw("Subject", _encoded(f"{heading}: {mail.event_name}", "Subject"))
    message["Message-ID"] = make_msgid(domain=sender.domain or None)
    message.set_content("\n-----\n\n".join(_letter(mail, lang) for lang in LANGUAGES), charset="utf-8")
    if mail.link:  # an invitation: the same letters as a page too, so the link is a button to tap
        message.add_alternative(_html(mail), subtype="html", charset="utf-8")
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
    ]
    if mail.short_code:
        lines.append(
            say(N_("Short code (typed at the gate if the QR code will not scan): %(code)s"), code=mail.short_code)
        )
    lines += ["", _closing(say)]
    if mail.link:
        lines += ["", say(N_("Your own page (your ticket and the health questions): %(link)s"), link=mail.link)]
    return "\n".join(lines) + "\n"


def _closing(say: Callable[..., str]) -> str:
    return say(
        N_(
            "Please show the attached QR code (printed or on your phone) at the gate. "
            "The code is yours alone: do not share it."
        )
    )


def _html(mail: CodeMail) -> str:
    """The letters as a small HTML page (Vietnamese, then English), the link as a button; every
    value is escaped, and nothing is loaded from elsewhere."""
    parts = []
    for lang in LANGUAGES:

        def say(msgid: str, lang: str = lang, **params: object) -> str:
            return escape(i18n.gettext(lang, msgid, **params))

        facts = [say(N_("When: %(when)s"), when=mail.when), say(N_("Zones: %(zones)s"), zones=", ".join(mail.zones))]
        if mail.venue:
            facts.insert(0, say(N_("Venue: %(venue)s"), venue=mail.venue))
        if mail.short_code:
            facts.append(
                say(N_("Short code (typed at the gate if the QR code will not scan): %(code)s"), code=mail.short_code)
            )
        link = escape(mail.link, quote=True)
        dear = say(N_("Dear %(name)s,"), name=mail.name)
        intro = say(N_("Here is your QR code for %(event)s."), event=mail.event_name)
        button = say(N_("Open your page"))
        page = say(N_("Your own page shows your ticket and asks the health questions."))
        items = "".join(f"<li>{fact}</li>" for fact in facts)
        parts.append(
            f'<div lang="{lang}"><p>{dear}</p><p>{intro}</p><ul>{items}</ul>'
            f'<p><a href="{link}" style="display:inline-block;padding:10px 16px;background:#0d4a86;color:#ffffff;'
            f'text-decoration:none;border-radius:6px">{button}</a></p>'
            f'<p style="font-size:13px;color:#5a6573">{link}</p><p>{page}</p><p>{_closing(say)}</p></div>'
        )
    body = "<hr>".join(parts)
    return f'<!doctype html><html><head><meta charset="utf-8"></head><body>{body}</body></html>\n'


def send(settings: MailSettings, message: EmailMessage, *, password: str | None = None) -> None:
    """Hand the message to the SMTP server; every failure becomes a MailError naming the server."""
    with Connection(settings, password=password) as smtp:
        smtp.send(message)


class Connection:
    """One SMTP session for many messages (a bulk send): opened on the first message, opened again
    after the server hangs up. A refused address fails that message only (MAIL_ADDRESS_REFUSED);
    anything else is a MailError (MAIL_FAILED) naming the server."""

    def __init__(self, settings: MailSettings, *, password: str | None = None) -> None:
        if not settings.enabled:
            raise MailError("set [mail] host and sender in the config", Reason.MAIL_NOT_CONFIGURED)
        self._settings = settings
        self._secret = password if password is not None else os.environ.get(MAIL_PASSWORD_ENV)
        self._where = f"{settings.host}:{settings.port}"
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Say QUIT (or just drop a connection that broke)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _open(self) -> smtplib.SMTP:
        settings, where = self._settings, self._where
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        try:
            smtp.ehlo()
            if settings.starttls:
                if not smtp.has_extn("starttls"):
                    raise MailError(f"{where} does not offer STARTTLS; refusing to send the code in clear")
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.username:
                if not self._secret:
                    raise MailError(f"set {MAIL_PASSWORD_ENV} for the SMTP user {settings.username!r}")
                smtp.login(settings.username, self._secret)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message, on the open session or a new one if the server had hung up."""
        where = self._where
        try:
            try:
                if self._smtp is None:
                    self._smtp = self._open()
                refused = self._smtp.send_message(message)
            except smtplib.SMTPServerDisconnected:
                self.close()  # a server that closes idle sessions: once more on a fresh one
                self._smtp = self._open()
                refused = self._smtp.send_message(message)
        except MailError:
            self.close()
            raise
        except smtplib.SMTPAuthenticationError:
            self.close()
            raise MailError(f"{where} refused the login of {self._settings.username!r}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset()
            addresses = ", ".join(exc.recipients)
            raise MailError(
                f"{where} refused the address {addresses}", Reason.MAIL_ADDRESS_REFUSED, address=addresses
            ) from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            self.close()
            raise MailError(f"{where}: {type(exc).__name__} {exc}") from None
        if refused:
            addresses = ", ".join(refused)
            raise MailError(f"{where} refused the address {addresses}", Reason.MAIL_ADDRESS_REFUSED, address=addresses)

    def _reset(self) -> None:
        """After a refused message: RSET, so the session takes the next one (or drop it)."""
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()
