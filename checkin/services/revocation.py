"""Revoking a code: gates refuse it from their next bundle on."""

from __future__ import annotations

from datetime import datetime

from checkin.core.errors import InputError, Reason
from checkin.services.guests import text_problem
from checkin.services.problems import FieldsInvalid
from checkin.store import CredentialStatus, IssuedCredential, Store
from checkin.store import guests as stored

MAX_REASON = 500


def revoke_credential(store: Store, cti: str, reason: str, now: datetime, *, actor: str) -> IssuedCredential:
    """Revoke one active code with a reason for the log (FieldsInvalid for a missing or bad reason,
    ALREADY_REVOKED when it is not active)."""
    problem = text_problem(reason, MAX_REASON, required=True)
    if problem is not None:
        raise FieldsInvalid({"reason": problem})
    current = stored.credential(store, cti)
    if current.status != CredentialStatus.ACTIVE:
        raise InputError(f"credential {current.cti}", Reason.ALREADY_REVOKED)
    return stored.revoke(store, current.cti, reason, now, actor=actor)
