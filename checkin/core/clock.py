"""Times as people type them: ISO 8601, read in a given time zone when they carry none."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from checkin.core.errors import InputError


def parse_time(text: str, timezone: str, what: str) -> datetime:
    """An ISO 8601 time; without a zone it is read in `timezone` (the event's, usually)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{what}: {text!r} is not an ISO 8601 time such as 2022-03-26T07:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise InputError(f"{what}: {text!r} is outside the calendar") from None
