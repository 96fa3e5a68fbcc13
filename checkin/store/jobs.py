"""Background jobs and their per-item results: create, claim, record progress, end, and, at start,
mark as failed the jobs a restart interrupted. Functions over a `Store`; time is a parameter."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from checkin.core.errors import InputError, Reason
from checkin.store.actions import record_action
from checkin.store.engine import Store
from checkin.store.models import Job, JobItem, JobState

UNFINISHED = (JobState.QUEUED.value, JobState.RUNNING.value)
INVITATIONS = "invitations"  # the kind whose items are guests (by id): anonymising a guest reaches them


@dataclass(frozen=True)
class ItemResult:
    """What happened to one item of a job: `item` names it (a line, a guest id), `label` shows it."""

    item: str
    outcome: str
    ok: bool = True
    label: str = ""
    reason: str = ""
    params: Mapping[str, str | int] = field(default_factory=dict)
    detail: str = ""


def new_job_id() -> str:
    """A long random id (32 bytes, URL-safe): unguessable, though the pages never rely on that alone."""
    return secrets.token_urlsafe(32)


def create_job(
    store: Store,
    kind: str,
    event_id: str,
    created_by: str,
    now: datetime,
    *,
    total: int,
    options: Mapping[str, object] | None = None,
    data: bytes = b"",
) -> Job:
    """Record a queued job with its input, and log who asked for it."""
    job = Job(
        id=new_job_id(),
        kind=kind,
        event_id=event_id,
        created_by=created_by,
        state=JobState.QUEUED.value,
        total=total,
        done=0,
        problems=0,
        created=now,
        reason="",
        detail="",
        options=json.dumps(dict(options or {}), ensure_ascii=False),
        input=data,
    )
    with store.writing() as s:
        s.add(job)
        record_action(s, created_by, "job.create", f"{event_id}/{kind}", f"{total} items", now)
    return job


def job(store: Store, job_id: str) -> Job:
    """One job (NOT_FOUND when there is none)."""
    with store.session() as s:
        found = s.get(Job, job_id)
    if found is None:
        raise InputError("no such job", Reason.NOT_FOUND)
    return found


def job_input(store: Store, job_id: str) -> bytes:
    """What the job works on (an uploaded file, a list of guest ids)."""
    with store.session() as s:
        return bytes(s.scalar(select(Job.input).where(Job.id == job_id)) or b"")


def event_jobs(store: Store, event_id: str, kind: str | None = None, *, limit: int = 10) -> Sequence[Job]:
    """The event's newest jobs first (of one kind when given), without their input."""
    query = select(Job).where(Job.event_id == event_id)
    if kind is not None:
        query = query.where(Job.kind == kind)
    with store.session() as s:
        return s.scalars(query.order_by(Job.created.desc(), Job.id).limit(limit)).all()


def options(found: Job) -> dict[str, object]:
    """What the job was asked to do, as given to `create_job`."""
    value = json.loads(found.options or "{}")
    return value if isinstance(value, dict) else {}


def claim(store: Store, job_id: str, now: datetime) -> bool:
    """Start a queued job; False when it is not queued (already taken, ended, or unknown)."""
    with store.writing() as s:
        claimed = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == JobState.QUEUED.value)
            .values(state=JobState.RUNNING.value, started=now, reason="", detail="")
            .returning(Job.id)
        ).scalar()
    return claimed is not None


def requeue(store: Store, job_id: str, now: datetime, *, actor: str) -> bool:
    """Put a failed job back in the queue to run what it had not done; False when it had not failed."""
    with store.writing() as s:
        found = s.get(Job, job_id)
        if found is None or found.state != JobState.FAILED.value:
            return False
        found.state, found.finished = JobState.QUEUED.value, None
        target, done = f"{found.event_id}/{found.kind}", f"{found.done} of {found.total} done"
        record_action(s, actor, "job.resume", target, done, now)
    return True


def set_total(store: Store, job_id: str, total: int) -> None:
    """Correct how many items the job has, once it has read its input."""
    with store.writing() as s:
        s.execute(update(Job).where(Job.id == job_id).values(total=total))


def record_items(store: Store, job_id: str, results: Sequence[ItemResult], now: datetime) -> None:
    """Store results and move the job's counts on, in one transaction: what is counted is stored."""
    if not results:
        return
    rows = [
        {
            "job_id": job_id,
            "item": r.item[:64],
            "label": r.label[:200],
            "outcome": r.outcome,
            "ok": r.ok,
            "reason": r.reason,
            "params": json.dumps(dict(r.params), ensure_ascii=False),
            "detail": r.detail,
            "at": now,
        }
        for r in results
    ]
    bad = sum(1 for r in results if not r.ok)
    with store.writing() as s:
        s.execute(insert(JobItem.table()), rows)
        s.execute(update(Job).where(Job.id == job_id).values(done=Job.done + len(results), problems=Job.problems + bad))


def finish(store: Store, job_id: str, state: JobState, now: datetime, *, reason: str = "", detail: str = "") -> None:
    """End a job as done or failed, with why (a failure) or a summary (done), and log it."""
    with store.writing() as s:
        found = s.get(Job, job_id)
        if found is None:
            return
        found.state, found.finished, found.reason, found.detail = state.value, now, reason, detail
        if state is JobState.DONE:
            found.input = b""  # an uploaded list of names and addresses is kept only while it may be run again
        summary = f"{state.value}: {found.done} of {found.total} done, {found.problems} with problems"
        record_action(s, found.created_by, f"job.{state.value}", f"{found.event_id}/{found.kind}", summary, now)


def forget_guest_in(s: Session, event_id: str, guest_id: int) -> None:
    """Blank an anonymised guest's name and address in the results of the event's invitation jobs,
    in the caller's transaction (their outcome stays, for the counts)."""
    jobs = select(Job.id).where(Job.event_id == event_id, Job.kind == INVITATIONS)
    s.execute(
        update(JobItem).where(JobItem.job_id.in_(jobs), JobItem.item == str(guest_id)).values(label=f"#{guest_id}")
    )


def interrupt_unfinished(store: Store, now: datetime) -> list[str]:
    """Mark failed every job left queued or running, with what it had completed: the service starts,
    so no thread of this process runs them. Their input and results stay, to run them again."""
    with store.writing() as s:
        stale = s.scalars(select(Job).where(Job.state.in_(UNFINISHED))).all()
        for found in stale:
            found.state, found.finished = JobState.FAILED.value, now
            found.reason = Reason.JOB_INTERRUPTED.value
            found.detail = ""  # the page words the reason with the job's own counts
            done = f"interrupted: {found.done} of {found.total} done"
            record_action(s, "service", "job.failed", f"{found.event_id}/{found.kind}", done, now)
        return [found.id for found in stale]


def items_done(store: Store, job_id: str) -> frozenset[str]:
    """The items that have a result already (a resumed job skips them)."""
    with store.session() as s:
        return frozenset(s.scalars(select(JobItem.item).where(JobItem.job_id == job_id)).all())


def items(
    store: Store, job_id: str, *, offset: int = 0, limit: int | None = None, problems_only: bool = False
) -> Sequence[JobItem]:
    """A job's results in the order they were stored (only the ones that did not succeed, if asked)."""
    query = select(JobItem).where(JobItem.job_id == job_id)
    if problems_only:
        query = query.where(JobItem.ok.is_(False))
    with store.session() as s:
        return s.scalars(query.order_by(JobItem.id).offset(offset).limit(limit)).all()


def outcome_counts(store: Store, job_id: str) -> dict[str, int]:
    """How many items ended each way (added, issued, refused; sent, skipped, failed)."""
    with store.session() as s:
        rows = s.execute(
            select(JobItem.outcome, func.count()).where(JobItem.job_id == job_id).group_by(JobItem.outcome)
        ).all()
    return {outcome: int(count) for outcome, count in rows}


def item_params(row: JobItem) -> dict[str, str | int]:
    """The parameters a result's reason names."""
    value = json.loads(row.params or "{}")
    return value if isinstance(value, dict) else {}


def items_with_outcome(store: Store, event_id: str, kind: str, outcome: str) -> frozenset[str]:
    """The items that ended with `outcome` in any of the event's jobs of this kind (the guests an
    earlier bulk e-mail reached, for "send to those not sent yet")."""
    with store.session() as s:
        return frozenset(
            s.scalars(
                select(JobItem.item)
                .join(Job, Job.id == JobItem.job_id)
                .where(Job.event_id == event_id, Job.kind == kind, JobItem.outcome == outcome)
            ).all()
        )
