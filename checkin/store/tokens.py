"""API tokens for registration systems: made with a secret shown once, kept as its SHA-256."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin.core.errors import InputError, Reason
from checkin.store.actions import record_action
from checkin.store.engine import Store, sha256_hex
from checkin.store.events import find_event
from checkin.store.guests import Earlier, guest_for_request_in
from checkin.store.models import ApiToken, Event
from checkin.store.users import Role

TOKEN_ROLES = (Role.REGISTRAR, Role.ADMIN)


def create_api_token(store: Store, name: str, role: Role, now: datetime, *, actor: str) -> tuple[ApiToken, str]:
    """A new API token for a registration system; the secret is returned once and stored as SHA-256."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InputError("a token needs a name of 1 to 64 characters")
    if role not in TOKEN_ROLES:
        raise InputError(f"API tokens may be {' or '.join(TOKEN_ROLES)}, not {role}")
    secret = "ck_" + secrets.token_urlsafe(32)
    try:
        with store.writing() as s:
            row = ApiToken(name=name, role=role.value, token_hash=sha256_hex(secret), created=now, created_by=actor)
            s.add(row)
            s.flush()
            record_action(s, actor, "token.add", name, role.value, now)
    except IntegrityError:
        raise InputError(f"a token named {name!r} exists already", Reason.ALREADY_EXISTS) from None
    return row, secret


@dataclass(frozen=True)
class IssueReads:
    """What the issuing API reads before it signs, in one read: the token, the event (with zones),
    and the guest an earlier request with the same Idempotency-Key added, with their active code."""

    token: ApiToken | None
    event: Event | None
    earlier: Earlier | None


def issue_reads(store: Store, secret: str, event_id: str, idempotency_key: str | None) -> IssueReads:
    """The token a secret belongs to, the event and, given a key, the guest of an earlier request."""
    with store.session() as s:
        token = _api_token(s, secret)
        event = find_event(s, event_id)
        earlier = (
            guest_for_request_in(s, event_id, request_key(token, idempotency_key))
            if token is not None and event is not None and idempotency_key is not None
            else None
        )
    return IssueReads(token, event, earlier)


def request_key(token: ApiToken, idempotency_key: str) -> str:
    """An Idempotency-Key as stored: scoped to its token, so the keys of two systems never meet."""
    return f"{token.id}:{idempotency_key}"


def _api_token(s: Session, secret: str) -> ApiToken | None:
    return s.scalars(select(ApiToken).where(ApiToken.token_hash == sha256_hex(secret))).first()


def api_tokens(store: Store) -> Sequence[ApiToken]:
    """Every API token, oldest first."""
    with store.session() as s:
        return s.scalars(select(ApiToken).order_by(ApiToken.id)).all()


def revoke_api_token(store: Store, name: str, now: datetime, *, actor: str) -> ApiToken:
    """Revoke a token by name: it fails from the next request on."""
    with store.writing() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if row is None:
            raise InputError(f"no API token named {name!r}", Reason.NOT_FOUND)
        if row.revoked_at is None:
            row.revoked_at = now
            record_action(s, actor, "token.revoke", name, "", now)
    return row
