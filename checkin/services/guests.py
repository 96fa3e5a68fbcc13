"""Guests: the checks every guest passes (form, guest list, issuing API), adding and editing them,
and refusing a row that is on the list already."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from checkin.core import credential
from checkin.core.errors import Reason
from checkin.services.guestlist import EMAIL
from checkin.services.problems import FieldsInvalid, Problem, RowError
from checkin.store import Event, Guest, Store
from checkin.store import guests as stored
from checkin.store.guests import GuestRow

MAX_EMAIL = 254


def text_problem(value: str, limit: int, *, required: bool) -> Problem | None:
    """What is wrong with one line of text a person typed (empty, too long, control characters), or None."""
    if required and not value:
        return Problem(Reason.FIELD_REQUIRED)
    if len(value) > limit:
        return Problem(Reason.FIELD_TOO_LONG, {"limit": limit})
    if credential.has_control(value):
        return Problem(Reason.CONTROL_CHARACTERS)
    return None


def guest_problems(row: GuestRow, event: Event) -> dict[str, Problem]:
    """Field problems of one guest, with the limits a ticket has: shared by the form, the guest list
    import and the issuing API."""
    checks = {
        "name": text_problem(row.name, credential.MAX_NAME, required=True),
        "organisation": text_problem(row.organisation, credential.MAX_ORG, required=False),
        "category": text_problem(row.category, credential.MAX_CATEGORY, required=False),
    }
    problems = {k: v for k, v in checks.items() if v is not None}
    unknown = [z for z in row.zones if z not in event.zone_codes]
    if not row.zones:
        problems["zones"] = Problem(Reason.ZONE_REQUIRED)
    elif unknown:
        problems["zones"] = Problem(Reason.ZONE_UNKNOWN, {"zones": ", ".join(unknown)})
    if row.email and (len(row.email) > MAX_EMAIL or not EMAIL.match(row.email) or credential.has_control(row.email)):
        problems["email"] = Problem(Reason.EMAIL_INVALID)
    return problems


def check_guest(row: GuestRow, event: Event) -> None:
    """Raise FieldsInvalid when the guest's details are refused."""
    problems = guest_problems(row, event)
    if problems:
        raise FieldsInvalid(problems)


def add_guest(store: Store, event: Event, row: GuestRow, now: datetime, *, actor: str) -> Guest:
    """Add one guest (without a code yet) after the checks."""
    check_guest(row, event)
    guest_id = stored.add_guests(store, event.id, [row], now, actor=actor)[0]
    return stored.guest(store, guest_id)


def edit_guest(store: Store, guest: Guest, event: Event, row: GuestRow, now: datetime, *, actor: str) -> Guest:
    """Change a guest's details after the checks; their code keeps the old ones until it is re-issued."""
    check_guest(row, event)
    return stored.update_guest(store, guest.id, row, now, actor=actor)


def anonymise_guest(store: Store, guest_id: int, now: datetime, *, actor: str) -> int:
    """Replace the guest's name, organisation and e-mail and revoke their codes; how many were revoked."""
    return stored.anonymise_guest(store, guest_id, now, actor=actor)


def remove_guest(store: Store, guest_id: int, now: datetime, *, actor: str) -> None:
    """Delete a guest never issued a code (GUEST_HAS_CODES otherwise: anonymise them instead)."""
    stored.remove_guest(store, guest_id, now, actor=actor)


def without_repeats(store: Store, event: Event, rows: Sequence[GuestRow]) -> tuple[list[GuestRow], list[RowError]]:
    """Rows that pass the checks and are neither on the list already nor repeated in the file; the
    others refused, each with its line."""
    known = stored.existing_guest_keys(store, event.id)
    seen: dict[tuple[str, str, str], int] = {}
    fresh: list[GuestRow] = []
    refused: list[RowError] = []
    for row in rows:
        key = stored.guest_key(row.name, row.organisation, row.email)
        problems = guest_problems(row, event)
        if problems:
            refused.extend(RowError(row.line, p, name=row.name) for p in problems.values())
        elif key in known:
            refused.append(RowError(row.line, Problem(Reason.ROW_ON_LIST), name=row.name))
        elif key in seen:
            refused.append(RowError(row.line, Problem(Reason.ROW_REPEATED, {"line": seen[key]}), name=row.name))
        else:
            seen[key] = row.line
            fresh.append(row)
    return fresh, refused
