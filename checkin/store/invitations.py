"""Invitations: the links guests open to see their ticket and declare their health. The store keeps
only each token's SHA-256; a guest has at most one live invitation (a new one revokes the others)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, joinedload

from checkin.store.actions import record_action
from checkin.store.engine import Store
from checkin.store.models import CredentialStatus, Event, Guest, Invitation, IssuedCredential


@dataclass(frozen=True)
class Invited:
    """What an invitation opens: the guest, their event (zones and categories loaded), their active code."""

    invitation_id: int
    token_hash: str
    guest: Guest
    event: Event
    active: IssuedCredential | None


def _revoke_live(s: Session, guest_id: int, now: datetime) -> int:
    live = Invitation.guest_id == guest_id, Invitation.revoked_at.is_(None)
    return len(s.execute(update(Invitation).where(*live).values(revoked_at=now).returning(Invitation.id)).all())


def _target(s: Session, guest_id: int) -> str:
    event_id = s.scalar(select(Guest.event_id).where(Guest.id == guest_id))
    return f"{event_id}/{guest_id}"


def add_invitation(store: Store, guest_id: int, token_hash: str, now: datetime, *, actor: str | None = None) -> int:
    """Store a guest's new invitation and revoke their earlier ones, in one transaction; its id."""
    with store.writing() as s:
        earlier = _revoke_live(s, guest_id, now)
        new_id = s.scalar(
            insert(Invitation)
            .values(guest_id=guest_id, token_hash=token_hash, created=now, revoked_at=None)
            .returning(Invitation.id)
        )
        if actor is not None:
            detail = "re-sent" if earlier else "sent"
            record_action(s, actor, "invitation.create", _target(s, guest_id), detail, now)
    assert new_id is not None
    return int(new_id)


def revoke_guest_invitations(store: Store, guest_id: int, now: datetime, *, actor: str | None = None) -> int:
    """Revoke a guest's live invitations; how many were live."""
    with store.writing() as s:
        count = _revoke_live(s, guest_id, now)
        if actor is not None:
            record_action(s, actor, "invitation.revoke", _target(s, guest_id), f"{count} links", now)
    return count


def revoke_in(s: Session, guest_id: int, now: datetime) -> int:
    """Revoke a guest's live invitations in the caller's transaction (anonymising a guest does)."""
    return _revoke_live(s, guest_id, now)


def live_invitation(store: Store, guest_id: int) -> Invitation | None:
    """The guest's live invitation (for the registrar's page: when the link was made), or None."""
    with store.session() as s:
        return s.scalars(
            select(Invitation)
            .where(Invitation.guest_id == guest_id, Invitation.revoked_at.is_(None))
            .order_by(Invitation.id.desc())
            .limit(1)
        ).first()


def invited(store: Store, token_hash: str) -> Invited | None:
    """The live invitation with this token hash, its guest, event and active code; None otherwise."""
    with store.session() as s:
        found = s.execute(
            select(Invitation, Guest)
            .join(Guest, Guest.id == Invitation.guest_id)
            .where(Invitation.token_hash == token_hash, Invitation.revoked_at.is_(None))
        ).first()
        if found is None:
            return None
        invitation, guest = found
        event = (
            s.scalars(
                select(Event)
                .where(Event.id == guest.event_id)
                .options(joinedload(Event.zones), joinedload(Event.categories))
            )
            .unique()
            .one()
        )
        active = s.scalars(
            select(IssuedCredential)
            .where(IssuedCredential.guest_id == guest.id, IssuedCredential.status == CredentialStatus.ACTIVE.value)
            .order_by(IssuedCredential.issued_at.desc(), IssuedCredential.cti)
            .limit(1)
        ).first()
    return Invited(invitation.id, invitation.token_hash, guest, event, active)
