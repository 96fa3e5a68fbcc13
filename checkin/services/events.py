"""Events: creating and changing one, logged in the admin action log; zones' and categories' display
names written one per line, as the pages and the CLI take them."""

from __future__ import annotations

import re
from datetime import datetime

from checkin.core import credential
from checkin.core.errors import InputError
from checkin.core.trust import LABEL_LIMIT, Label
from checkin.store import Event, Store
from checkin.store import events as stored
from checkin.store.events import NewEvent

ZONE_CODE = re.compile(r"[a-z0-9_-]{1,32}")
CATEGORY_CODE = re.compile(r"[a-z0-9_-]{1,40}")
_SPLIT = re.compile(r"[;,|\s]+")


def create_event(store: Store, new: NewEvent, now: datetime, *, actor: str | None = None) -> Event:
    """Create an event with its zones (ALREADY_EXISTS for a taken id), logged as `actor`'s when given."""
    return stored.create_event(store, new, now, actor=actor)


def update_event(store: Store, changed: NewEvent, now: datetime, *, actor: str | None = None) -> Event:
    """Change an event (name, venue, times, zones and names; not its id); the bundle version moves on
    when the gates' copy changes. ZONE_IN_USE for a removed zone still given to a guest or gate."""
    return stored.update_event(store, changed, now, actor=actor)


def parse_labels(text: str, code: re.Pattern[str] = ZONE_CODE) -> tuple[tuple[str, ...], dict[str, Label]]:
    """Codes in order and their display names from lines such as `hall = Hội trường / Main hall`;
    a line without `=` may list several codes (`hall, vip, press`). Codes are lower-cased."""
    codes: list[str] = []
    names: dict[str, Label] = {}
    for line in text.splitlines():
        if "=" not in line:
            codes += [c.lower() for c in _SPLIT.split(line) if c]
            continue
        head, _, tail = line.partition("=")
        key = head.strip().lower()
        vi, _, en = tail.partition("/")
        label = Label(credential.tidy_text(vi.strip()), credential.tidy_text(en.strip()))
        if len(label.vi) > LABEL_LIMIT or len(label.en) > LABEL_LIMIT:
            raise InputError(f"{key}: a display name has at most {LABEL_LIMIT} characters")
        codes.append(key)
        if label.vi or label.en:
            names[key] = label
    for found in codes:
        if not code.fullmatch(found):
            raise InputError(f"{found!r} is not a code: letters a-z, digits, '-' or '_'")
    return tuple(dict.fromkeys(codes)), names


def labels_text(codes: tuple[str, ...], names: dict[str, Label]) -> str:
    """The lines `parse_labels` reads back: one code a line, with its names when it has any."""
    lines = []
    for found in codes:
        label = names.get(found)
        lines.append(f"{found} = {label.vi} / {label.en}" if label else found)
    return "\n".join(lines)
