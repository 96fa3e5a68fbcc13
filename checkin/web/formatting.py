"""How pages write times and reason codes, in the page's language, and name the files they hand out."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response

from checkin.core import credential
from checkin.core.errors import N_, Reason
from checkin.core.trust import label_of
from checkin.services.issuing import slug
from checkin.store import Event
from checkin.web.context import config
from checkin.web.i18n import gettext, language, message


def local_time(moment: datetime | str | None, timezone: str | None = None, *, seconds: bool = False) -> str:
    """A time in the event's (or the deployment's) zone, as the page's language writes it (to the
    second with `seconds`, as the audit pages show scans)."""
    if not moment:
        return ""
    if isinstance(moment, str):  # ISO text, as keys.json keeps times
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(ZoneInfo(timezone or config().deployment.timezone))
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return local.strftime(("%d/%m/%Y " if language() == "vi" else "%Y-%m-%d ") + clock)


def reason_text(reason: str) -> str:
    """A reason code in words; a code this version does not know (from a newer gate) as itself."""
    known = Reason._value2member_map_.get(reason)
    return message(Reason(reason)) if known is not None else reason


# What the action log records, in words: the codes stay in the log (and its exports) as written.
_ACTIONS = {
    "event.create": N_("Event created"),
    "event.update": N_("Event changed"),
    "guest.create": N_("Guest added"),
    "guest.import": N_("Guest list imported"),
    "guest.update": N_("Guest changed"),
    "guest.anonymise": N_("Guest anonymised"),
    "guest.remove": N_("Guest removed"),
    "credential.issue": N_("Code issued"),
    "credential.revoke": N_("Code revoked"),
    "credential.download": N_("Code downloaded"),
    "credential.email": N_("Code sent by e-mail"),
    "credential.email_failed": N_("E-mail not sent"),
    "badges.print": N_("Badge sheet printed"),
    "badge.print": N_("Badge printed"),
    "invitation.create": N_("Link to the guest's page made"),
    "invitation.revoke": N_("Link to the guest's page revoked"),
    "gate.create": N_("Gate created"),
    "gate.revoke": N_("Gate revoked"),
    "user.create": N_("User added"),
    "user.login": N_("Signed in"),
    "user.locked": N_("User locked out"),
    "user.role": N_("Role changed"),
    "user.enable": N_("User enabled"),
    "user.disable": N_("User disabled"),
    "user.unlock": N_("User unlocked"),
    "user.password": N_("New password"),
    "token.add": N_("API token added"),
    "token.revoke": N_("API token revoked"),
    "invitation.bulk": N_("Invitations sent by e-mail"),
    "job.create": N_("Background work started"),
    "job.done": N_("Background work finished"),
    "job.failed": N_("Background work stopped"),
    "job.resume": N_("Background work resumed"),
    "alert.acknowledge": N_("Alert acknowledged"),
    "alert.resolve": N_("Alert resolved"),
}
_FIELDS = {
    "name": N_("name"),
    "organisation": N_("organisation"),
    "category": N_("category"),
    "zones": N_("zones"),
    "email": N_("e-mail"),
    "venue": N_("venue"),
    "start": N_("start"),
    "end": N_("end"),
    "timezone": N_("time zone"),
}
_FIXED_DETAILS = {
    "re-issued": N_("re-issued"),
    "anonymised": N_("anonymised"),
    "sent": N_("first link"),
    "re-sent": N_("new link; the earlier one no longer works"),
    "in": N_("In"),
    "out": N_("Out"),
}
# (pattern, msgid, names of the groups): the details the service writes, worded where shown
_DETAILS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?P<num>\d+) guests, (?P<codes>\d+) codes issued, (?P<refused>\d+) rows refused"),
        N_("%(num)s guests, %(codes)s codes issued, %(refused)s rows refused"),
    ),
    (re.compile(r"(?P<num>\d+) guests"), N_("%(num)s guests")),
    (re.compile(r"(?P<num>\d+) items"), N_("%(num)s items")),
    (
        re.compile(r"(?P<sent>\d+) sent, (?P<failed>\d+) failed, (?P<skipped>\d+) not sent"),
        N_("%(sent)s sent, %(failed)s failed, %(skipped)s not sent"),
    ),
    (
        re.compile(r"(?:done|failed): (?P<done>\d+) of (?P<total>\d+) done, (?P<problems>\d+) with problems"),
        N_("%(done)s of %(total)s done, %(problems)s with problems"),
    ),
    (
        re.compile(r"interrupted: (?P<done>\d+) of (?P<total>\d+) done"),
        N_("interrupted by a restart: %(done)s of %(total)s done"),
    ),
    (re.compile(r"(?P<done>\d+) of (?P<total>\d+) done"), N_("%(done)s of %(total)s done")),
    (re.compile(r"(?P<num>\d+) credentials"), N_("%(num)s codes")),
    (re.compile(r"(?P<num>\d+) badges"), N_("%(num)s badges")),
    (re.compile(r"(?P<num>\d+) links"), N_("%(num)s links")),
    (re.compile(r"guest (?P<id>\d+)"), N_("guest #%(id)s")),
    (re.compile(r"(?:after )?(?P<num>\d+) failures"), N_("after %(num)s failed sign-ins")),
    (re.compile(r"role (?P<role>\w+)"), N_("role: %(role)s")),
    (re.compile(r"(?P<old>\w+) -> (?P<new>\w+)"), N_("%(old)s → %(new)s")),
    (
        re.compile(r"(?P<name>.*) \((?P<zone>[^,()]+), (?P<direction>in|out)\)"),
        N_("%(name)s (zone %(zone)s, %(direction)s)"),
    ),
    (re.compile(r"(?P<name>.*); zones (?P<zones>.*)"), N_("%(name)s; zones: %(zones)s")),
)
_ROLES = {"admin": N_("Administrator"), "registrar": N_("Registrar"), "officer": N_("Officer")}


def action_text(action: str) -> str:
    """An action log code (`guest.import`) in words; a code this version does not know as itself."""
    msgid = _ACTIONS.get(action)
    return gettext(msgid) if msgid is not None else action


def detail_text(action: str, detail: str) -> str:
    """An action's detail in the page's language, where the service wrote it in a known shape."""
    if detail in _FIXED_DETAILS:
        return gettext(_FIXED_DETAILS[detail])
    if action == "guest.update" and detail and all(part in _FIELDS for part in detail.split(", ")):
        return ", ".join(gettext(_FIELDS[part]) for part in detail.split(", "))
    if action in ("credential.revoke", "credential.email", "guest.create", "token.add", "token.revoke", "gate.revoke",
                  "alert.acknowledge", "alert.resolve"):  # fmt: skip
        return detail  # a reason, a name or an address as the person typed it
    for pattern, msgid in _DETAILS:
        found = pattern.fullmatch(detail)
        if found is not None:
            values = {k: _word(k, v) for k, v in found.groupdict().items()}
            return gettext(msgid, **values)
    return detail


def _word(key: str, value: str) -> str:
    if key in ("role", "old", "new") and value in _ROLES:
        return gettext(_ROLES[value])
    if key == "direction":
        return gettext(_FIXED_DETAILS[value])
    return value


def revoke_reason(reason: str) -> str:
    """Why a code was revoked: the service's own reasons in words, a registrar's as typed."""
    return gettext(_FIXED_DETAILS[reason]) if reason in ("re-issued", "anonymised") else reason


def short_code(cti_hex: str) -> str:
    """A stored credential id (hex) as the short code printed on its badge (see `stored_short_code`)."""
    return credential.stored_short_code(cti_hex)


def zone_name(event: Event, code: str) -> str:
    """A zone's display name in the page's language (its code when the event named it nothing)."""
    return label_of(event.zone_names, code, language())


def category_name(event: Event, code: str) -> str:
    """A category's display name in the page's language (as typed when the event named it nothing)."""
    return label_of(event.category_names, code, language())


# ---- downloads (the registrar's and the guest's) ---------------------------------------------------


def download_name(name: str, cti: str, ext: str) -> str:
    """A code's file name: the guest's name made ASCII, then the code's first digits."""
    return f"{slug(name)}-{cti[:8]}.{ext}"


def attachment(body: bytes, mimetype: str, file_name: str) -> Response:
    """A file to download rather than show."""
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response
