"""How pages write times and reason codes, in the page's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from checkin.core.errors import Reason
from checkin.web.context import config
from checkin.web.i18n import language, message


def local_time(moment: datetime | str | None, timezone: str | None = None) -> str:
    """A time in the event's (or the deployment's) zone, as the page's language writes it."""
    if not moment:
        return ""
    if isinstance(moment, str):  # ISO text, as keys.json keeps times
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(ZoneInfo(timezone or config().deployment.timezone))
    return local.strftime("%d/%m/%Y %H:%M" if language() == "vi" else "%Y-%m-%d %H:%M")


def reason_text(reason: str) -> str:
    """A reason code in words; a code this version does not know (from a newer gate) as itself."""
    known = Reason._value2member_map_.get(reason)
    return message(Reason(reason)) if known is not None else reason
