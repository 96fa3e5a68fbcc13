"""Health screening rules at the gate. Pure: no I/O.

A stub until the health issue lands: the policy's `screening` map may ask for a health
declaration (`{"require_declaration": true}`); a credential without one is referred to the
screening desk. Every other rule passes, and an empty policy screens nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checkin.core.credential import Credential
from checkin.core.errors import Reason


@dataclass(frozen=True)
class Outcome:
    """What screening found: no reason means the person may pass; `code` goes in the journal."""

    reason: Reason | None = None
    detail: str = ""
    code: str = ""


PASSED = Outcome()


def screen(credential: Credential, rules: Mapping[str, Any]) -> Outcome:
    """Apply the policy's screening rules to a verified credential."""
    if not rules:
        return PASSED
    if rules.get("require_declaration") and credential.health is None:
        return Outcome(Reason.SCREENING_REQUIRED, "no health declaration on the ticket", "declaration_missing")
    return Outcome(code="declared" if credential.health is not None else "")
