"""Invitation links: the address a guest opens to see their ticket and answer the health questions
(`/declare/<token>`), without an account.

The token is 32 random bytes (256 bits, URL-safe Base64: 43 characters), shown once to whoever
makes it (the registrar's page, the invitation e-mail) and kept only as its SHA-256, like API
tokens and staff sessions. A guest holds one live link at most: making a new one ("re-send")
revokes the earlier ones, and a revoked or unknown token opens nothing. The token rides in the URL
path, so the guest's pages send no Referer and are never cached, and nothing logs their paths.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime, timedelta

from checkin.store import Store, sha256_hex
from checkin.store import invitations as stored
from checkin.store.invitations import Invited

__all__ = [
    "TOKEN_BYTES",
    "Invited",
    "guest_for_token",
    "invitation_url",
    "new_invitation",
    "revoke_invitations",
]

TOKEN_BYTES = 32
# what secrets.token_urlsafe(32) gives: anything else is refused before the database is asked
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
# a link keeps working for a day after its event ends (a guest looking their ticket up), then opens nothing
OUTLIVES_EVENT = timedelta(days=1)


def new_invitation(store: Store, guest_id: int, now: datetime, *, actor: str | None = None) -> str:
    """Make a guest's invitation link token and revoke their earlier ones; the token, to show or send once.

    Logged as `actor`'s action when one is given. The guest must exist (the store refuses otherwise).
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    stored.add_invitation(store, guest_id, sha256_hex(token), now, actor=actor)
    return token


def revoke_invitations(store: Store, guest_id: int, now: datetime, *, actor: str | None = None) -> int:
    """Revoke a guest's live invitation links; how many there were."""
    return stored.revoke_guest_invitations(store, guest_id, now, actor=actor)


def guest_for_token(store: Store, token: str, now: datetime) -> Invited | None:
    """The guest a live token invites (with their event and active code), or None: unknown, revoked,
    malformed, or the event ended more than a day ago. The database is asked by the token's hash, so
    the answer's timing says nothing of how close a guess came; the hash is compared again in
    constant time."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    digest = sha256_hex(token)
    found = stored.invited(store, digest)
    if found is None or not hmac.compare_digest(found.token_hash, digest):
        return None
    if now > found.event.end + OUTLIVES_EVENT:
        return None
    return found


def invitation_url(base_url: str, token: str) -> str:
    """The link a guest opens: the service's public address, then /declare/<token>."""
    return f"{base_url.rstrip('/')}/declare/{token}"
