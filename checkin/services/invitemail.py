"""Invitation e-mails in bulk: every guest of an event, or those no earlier run reached, gets a new
link to their own page (a fresh invitation token; the earlier link stops working) in the message
that carries their code, as a background job with one result per guest.

A bad or refused address fails that guest only; the run goes on. When the server fails several
messages in a row (it is down, or refuses us) the job stops, keeping what it sent: running it
again sends only to the guests without a result. Sending is paced to `[mail] per_minute` over one
SMTP session.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from checkin import mail, qr
from checkin.config import Config
from checkin.core import credential
from checkin.core.errors import Reason
from checkin.core.trust import bilingual
from checkin.services import invitations, issuing
from checkin.services.jobs import JobWork
from checkin.store import Event, Job, Store, reports
from checkin.store import events as stored_events
from checkin.store import jobs as stored_jobs
from checkin.store.actions import log_action
from checkin.store.jobs import ItemResult
from checkin.store.reports import InviteeRow

KIND = stored_jobs.INVITATIONS
SENT, SKIPPED, FAILED = "sent", "skipped", "failed"
EVERYONE, NOT_SENT = "all", "unsent"  # who a run sends to
STOP_AFTER_FAILURES = 5  # the server failed this many messages in a row: stop, keep what was sent


@dataclass(frozen=True)
class Audience:
    """Who an event's invitations would reach: guests with an address and a code, those an earlier
    run reached, and those who cannot get one (no address, no code)."""

    guests: int
    ready: int
    sent_before: int
    ready_not_sent: int
    without_address: int
    without_code: int


def audience(store: Store, event_id: str) -> Audience:
    """The counts the "send invitations" question shows."""
    rows = reports.invitees(store, event_id)
    sent = stored_jobs.items_with_outcome(store, event_id, KIND, SENT)
    ready = [r for r in rows if r.email and r.cti]
    return Audience(
        guests=len(rows),
        ready=len(ready),
        sent_before=sum(1 for r in rows if str(r.guest_id) in sent),
        ready_not_sent=sum(1 for r in ready if str(r.guest_id) not in sent),
        without_address=sum(1 for r in rows if not r.email),
        without_code=sum(1 for r in rows if r.email and not r.cti),
    )


def start_invitations(store: Store, event: Event, now: datetime, *, actor: str, mode: str, base_url: str) -> Job:
    """Record a bulk send to the guests with an e-mail address (all of them, or those no earlier run
    reached): who it is for is fixed now (its input), so a re-run after a restart sends to the same
    people. `mode` is EVERYONE or NOT_SENT."""
    rows = [r for r in reports.invitees(store, event.id) if r.email]  # guests without an address are not asked
    if mode == NOT_SENT:
        sent = stored_jobs.items_with_outcome(store, event.id, KIND, SENT)
        rows = [r for r in rows if str(r.guest_id) not in sent]
    ids = [r.guest_id for r in rows]
    return stored_jobs.create_job(
        store,
        KIND,
        event.id,
        actor,
        now,
        total=len(ids),
        options={"mode": mode, "base_url": base_url},
        data=json.dumps(ids).encode(),
    )


def event_when(event: Event) -> str:
    """The event's start and end in its own time zone, as the e-mail writes them."""
    zone = ZoneInfo(event.timezone)
    stamp = "%d/%m/%Y %H:%M"
    start, end = (moment.astimezone(zone).strftime(stamp) for moment in (event.start, event.end))
    return f"{start} – {end} ({event.timezone})"


def run_invitations(work: JobWork, *, config: Callable[[], Config]) -> str:
    """The job: for each guest not done yet, a new link and the message, or why not."""
    store, job = work.store, work.job
    cfg = config()
    event = stored_events.event(store, job.event_id)
    base_url = str(stored_jobs.options(job).get("base_url", ""))
    wanted: list[int] = json.loads(stored_jobs.job_input(store, job.id) or b"[]")
    guests = {r.guest_id: r for r in reports.invitees(store, event.id)}
    interval = 60.0 / cfg.mail.per_minute if cfg.mail.per_minute else 0.0
    failures_in_a_row = 0
    with mail.Connection(cfg.mail) as smtp:  # MAIL_NOT_CONFIGURED here fails the job before any guest
        next_at = time.monotonic()
        for guest_id in wanted:
            if str(guest_id) in work.finished:
                continue
            work.check_stop()
            row = guests.get(guest_id)
            refusal = _why_not(row)
            if refusal is not None or row is None:
                work.record(refusal or _skipped(guest_id, "", Reason.NOT_FOUND))
                continue
            wait = next_at - time.monotonic()
            if wait > 0:
                work.stopping.wait(wait)  # paced, and a shutdown does not wait for the pace
                work.check_stop()  # nor does it send one more message after it
            next_at = max(next_at, time.monotonic()) + interval
            result = _send(smtp, store, cfg, event, row, base_url, work.clock())
            work.record(result)
            work.flush()  # a sent message is on record before the next one is tried
            failures_in_a_row = failures_in_a_row + 1 if result.reason == Reason.MAIL_FAILED else 0
            if failures_in_a_row >= STOP_AFTER_FAILURES:
                raise mail.MailError(f"{STOP_AFTER_FAILURES} messages in a row failed; stopped: {result.detail}")
    work.flush()
    counts = stored_jobs.outcome_counts(store, job.id)
    summary = f"{counts.get(SENT, 0)} sent, {counts.get(FAILED, 0)} failed, {counts.get(SKIPPED, 0)} not sent"
    log_action(store, job.created_by, "invitation.bulk", event.id, summary, work.clock())
    return summary


def _label(row: InviteeRow) -> str:
    return f"{row.name} <{row.email}>" if row.email else row.name


def _skipped(guest_id: int, label: str, reason: Reason) -> ItemResult:
    return ItemResult(str(guest_id), SKIPPED, ok=False, label=label, reason=reason.value)


def _why_not(row: InviteeRow | None) -> ItemResult | None:
    """The result for a guest who cannot be sent an invitation, or None when they can."""
    if row is None:
        return None
    if not row.email:
        return _skipped(row.guest_id, _label(row), Reason.NO_EMAIL_ADDRESS)
    if not row.cti or not row.text:
        return _skipped(row.guest_id, _label(row), Reason.NO_ACTIVE_CODE)
    return None


def _send(
    smtp: mail.Connection, store: Store, cfg: Config, event: Event, row: InviteeRow, base_url: str, now: datetime
) -> ItemResult:
    assert row.cti is not None and row.text is not None
    token = invitations.new_invitation(store, row.guest_id, now)  # revokes the guest's earlier link
    cti = bytes.fromhex(row.cti)
    message = mail.CodeMail(
        name=row.name,
        address=row.email,
        event_name=event.name,
        venue=event.venue,
        when=event_when(event),
        zones=tuple(bilingual(event.zone_names, z) for z in row.zones),
        png=qr.png(row.text, scale=cfg.qr.scale, border=cfg.qr.border),
        file_name=f"{issuing.slug(row.name)}-{row.cti[:8]}.png",
        short_code=credential.short_code(cti),
        link=invitations.invitation_url(base_url, token),
    )
    try:
        smtp.send(mail.compose(cfg.mail, message))
    except mail.MailError as exc:
        reason = Reason.EMAIL_INVALID if exc.reason is Reason.INVALID_INPUT else exc.reason
        params = {k: str(v) for k, v in exc.params.items()}
        detail = "" if reason is Reason.MAIL_ADDRESS_REFUSED else exc.detail
        return ItemResult(
            str(row.guest_id), FAILED, ok=False, label=_label(row), reason=reason.value, params=params, detail=detail
        )
    return ItemResult(str(row.guest_id), SENT, label=_label(row))
