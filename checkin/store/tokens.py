"""API tokens for registration systems: made with a secret shown once, kept as its SHA-256."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkin.core.credential import tidy_text
from checkin.core.errors import InputError, Reason, shown
from checkin.store.actions import record_action
from checkin.store.engine import Store, sha256_hex
from checkin.store.events import find_event
from checkin.store.guests import Earlier, guest_for_request_in
from checkin.store.models import ApiToken, ApiTokenScope, Event
from checkin.store.users import Role

TOKEN_ROLES = (Role.REGISTRAR, Role.ADMIN)
MAX_SCOPE_VALUE = 64  # the scope table's column; event ids, zone codes and categories are shorter


class ScopeKind(StrEnum):
    """What a row of a token's scope names."""

    EVENT = "event"
    CATEGORY = "category"
    ZONE = "zone"


@dataclass(frozen=True)
class TokenScope:
    """What a token may issue: codes for `events` only and, when any are named, only for these
    categories and zones. A token with no event (made before scopes existed) issues nothing."""

    events: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()

    def refusal(self, event_id: str, category: str, zones: Iterable[str]) -> str:
        """Why this scope does not cover a code (English), or "" when it does."""
        if event_id not in self.events:
            return f"the token issues for {', '.join(self.events)} only, not {shown(event_id)}"
        if self.categories and category not in self.categories:
            return f"the token issues for categories {', '.join(self.categories)} only, not {shown(category)}"
        outside = [zone for zone in zones if self.zones and zone not in self.zones]
        if outside:
            return f"the token issues for zones {', '.join(self.zones)} only, not {shown(outside[0])}"
        return ""

    def default_zones(self, event_zones: Sequence[str]) -> list[str]:
        """The zone a request that names none gets: the event's first zone the token may issue."""
        return [zone for zone in event_zones if not self.zones or zone in self.zones][:1]

    def describe(self) -> str:
        """One line for `checkin token list`."""
        if not self.events:
            return "no scope: refused until `checkin token scope` gives one"
        categories = ", ".join(self.categories) or "any"
        zones = ", ".join(self.zones) or "any"
        return f"events {', '.join(self.events)}; categories {categories}; zones {zones}"


def _checked_scope(s: Session, scope: TokenScope) -> TokenScope:
    """The scope with its texts tidied; InputError when it names no event, an unknown event or zone."""
    events = tuple(dict.fromkeys(e.strip() for e in scope.events))
    categories = tuple(dict.fromkeys(tidy_text(c) for c in scope.categories))
    zones = tuple(dict.fromkeys(z.strip() for z in scope.zones))
    if not events:
        raise InputError("a token names at least one event (--event ID)")
    known_zones: set[str] = set()
    for event_id in events:
        found = find_event(s, event_id)
        if found is None:
            raise InputError(f"no event {shown(event_id)}", Reason.NOT_FOUND)
        known_zones.update(found.zone_codes)
    unknown = [zone for zone in zones if zone not in known_zones]
    if unknown:
        raise InputError(f"zone {shown(unknown[0])} is not a zone of {', '.join(events)}")
    if any(not c or len(c) > MAX_SCOPE_VALUE for c in categories):
        raise InputError(f"a category is 1 to {MAX_SCOPE_VALUE} characters")
    return TokenScope(events, categories, zones)


def _write_scope(s: Session, token: ApiToken, scope: TokenScope) -> None:
    s.execute(delete(ApiTokenScope).where(ApiTokenScope.token_id == token.id))
    for kind, values in (
        (ScopeKind.EVENT, scope.events),
        (ScopeKind.CATEGORY, scope.categories),
        (ScopeKind.ZONE, scope.zones),
    ):
        s.add_all(ApiTokenScope(token_id=token.id, kind=kind.value, value=value) for value in values)


def _scope_of(s: Session, token_id: int) -> TokenScope:
    rows = s.execute(
        select(ApiTokenScope.kind, ApiTokenScope.value)
        .where(ApiTokenScope.token_id == token_id)
        .order_by(ApiTokenScope.value)
    )
    return _scope_from(rows)


def _scope_from(rows: Iterable[Any]) -> TokenScope:
    """A scope from (kind, value) rows; rows whose kind is None (an outer join's empty side) add nothing."""
    found: dict[str, list[str]] = {kind.value: [] for kind in ScopeKind}
    for kind, value in rows:
        if kind is not None:
            found.setdefault(kind, []).append(value)
    return TokenScope(*(tuple(found[kind.value]) for kind in ScopeKind))


def _token_with_scope(s: Session, secret: str) -> tuple[ApiToken | None, TokenScope]:
    """The token a secret belongs to and its scope, in one query: it runs on every API request."""
    rows = s.execute(
        select(ApiToken, ApiTokenScope.kind, ApiTokenScope.value)
        .outerjoin(ApiTokenScope, ApiTokenScope.token_id == ApiToken.id)
        .where(ApiToken.token_hash == sha256_hex(secret))
        .order_by(ApiTokenScope.value)
    ).all()
    if not rows:
        return None, TokenScope()
    return rows[0][0], _scope_from((kind, value) for _token, kind, value in rows)


def create_api_token(
    store: Store, name: str, role: Role, now: datetime, *, actor: str, scope: TokenScope
) -> tuple[ApiToken, str]:
    """A new API token for a registration system, for the events (categories, zones) of `scope`;
    the secret is returned once and stored as SHA-256."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InputError("a token needs a name of 1 to 64 characters")
    if role not in TOKEN_ROLES:
        raise InputError(f"API tokens may be {' or '.join(TOKEN_ROLES)}, not {role}")
    secret = "ck_" + secrets.token_urlsafe(32)
    try:
        with store.writing() as s:
            scope = _checked_scope(s, scope)
            row = ApiToken(name=name, role=role.value, token_hash=sha256_hex(secret), created=now, created_by=actor)
            s.add(row)
            s.flush()
            _write_scope(s, row, scope)
            record_action(s, actor, "token.add", name, f"{role.value}; {scope.describe()}", now)
    except IntegrityError:
        raise InputError(f"a token named {name!r} exists already", Reason.ALREADY_EXISTS) from None
    return row, secret


def scope_api_token(store: Store, name: str, scope: TokenScope, now: datetime, *, actor: str) -> TokenScope:
    """Give a token a new scope (replacing the one it had): how a token made before scopes issues again."""
    with store.writing() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if row is None:
            raise InputError(f"no API token named {name!r}", Reason.NOT_FOUND)
        scope = _checked_scope(s, scope)
        _write_scope(s, row, scope)
        record_action(s, actor, "token.scope", name, scope.describe(), now)
    return scope


@dataclass(frozen=True)
class IssueReads:
    """What the issuing API reads before it signs, in one read: the token, the event (with zones),
    and the guest an earlier request with the same Idempotency-Key added, with their active code."""

    token: ApiToken | None
    scope: TokenScope
    event: Event | None
    earlier: Earlier | None


def issue_reads(store: Store, secret: str, event_id: str, idempotency_key: str | None) -> IssueReads:
    """The token a secret belongs to, the event and, given a key, the guest of an earlier request."""
    with store.session() as s:
        token, scope = _token_with_scope(s, secret)
        event = find_event(s, event_id)
        earlier = (
            guest_for_request_in(s, event_id, request_key(token, idempotency_key))
            if token is not None and event is not None and idempotency_key is not None
            else None
        )
    return IssueReads(token, scope, event, earlier)


def request_key(token: ApiToken, idempotency_key: str) -> str:
    """An Idempotency-Key as stored: scoped to its token, so the keys of two systems never meet."""
    return f"{token.id}:{idempotency_key}"


def api_tokens(store: Store) -> list[tuple[ApiToken, TokenScope]]:
    """Every API token with its scope, oldest first."""
    with store.session() as s:
        return [(row, _scope_of(s, row.id)) for row in s.scalars(select(ApiToken).order_by(ApiToken.id))]


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
