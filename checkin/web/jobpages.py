"""The pages of background jobs: a job's progress (a <progress> bar the page's small script
refreshes from a JSON answer, or the page itself every few seconds without script), then its
results; and running a stopped job again for the items it had not done.

A job is shown only to the roles that may start it (registrars and administrators) and only under
its own event's address: its long random id is not a capability.
"""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from checkin.core.errors import InputError, Reason
from checkin.services import imports
from checkin.store import Event, Job, JobItem, JobState
from checkin.store import jobs as stored_jobs
from checkin.web.admin import PAGE_SIZE, bp, row_error_text
from checkin.web.admin import _event_or_404 as event_or_404
from checkin.web.admin import _page as page_number
from checkin.web.auth import REGISTRATION, allow, current_user
from checkin.web.context import jobs, now, store
from checkin.web.i18n import N_, message
from checkin.web.i18n import gettext as _

POLL_SECONDS = 2  # how often the page asks for progress (script) or reloads itself (no script)


def _job_or_404(event_id: str, job_id: str) -> tuple[Event, Job]:
    ev = event_or_404(event_id)
    if len(job_id) > 64:
        abort(404)
    try:
        job = stored_jobs.job(store(), job_id)
    except InputError:
        abort(404)
    if job.event_id != ev.id:
        abort(404)  # the same answer as no such job: an id from another event tells nothing
    return ev, job


def _ended(job: Job) -> bool:
    return job.state in (JobState.DONE.value, JobState.FAILED.value)


def progress(job: Job) -> dict[str, object]:
    """What the page's script reads: the state, the counts and the share done."""
    percent = 100 if job.state == JobState.DONE.value else (100 * job.done // job.total if job.total else 0)
    return {
        "state": job.state,
        "total": job.total,
        "done": job.done,
        "problems": job.problems,
        "percent": min(percent, 100),
        "ended": _ended(job),
    }


def failure_text(job: Job) -> str:
    """Why a failed job stopped, in the page's language."""
    known = Reason._value2member_map_.get(job.reason)
    if known is None:
        return job.detail or job.reason
    text = message(Reason(job.reason), done=job.done, total=job.total)
    return f"{text} ({job.detail})" if job.detail and job.reason != Reason.JOB_INTERRUPTED.value else text


@bp.route("/events/<event_id>/jobs/<job_id>")
@allow(REGISTRATION)
def job_page(event_id: str, job_id: str) -> ResponseReturnValue:
    """A job's progress while it runs; its results once it has ended."""
    ev, job = _job_or_404(event_id, job_id)
    context = {
        "event": ev,
        "job": job,
        "progress": progress(job),
        "poll_seconds": POLL_SECONDS,
        "failure": failure_text(job) if job.state == JobState.FAILED.value else "",
    }
    if job.kind == imports.KIND and _ended(job):
        report = imports.outcome(store(), job)
        return render_template(
            "admin/import_report.html",
            added=report.added,
            issued=report.issued,
            refused=report.refused,
            row_error_text=row_error_text,
            file_name=report.file_name,
            encoding=report.encoding,
            **context,
        )
    page = page_number()
    results = stored_jobs.items(store(), job.id, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE) if _ended(job) else []
    return render_template(
        "admin/job.html",
        results=results,
        page=page,
        pages=max(1, -(-job.done // PAGE_SIZE)),
        item_text=item_text,
        outcome_text=outcome_text,
        **context,
    )


_OUTCOMES = {
    imports.ADDED: N_("Imported"),
    imports.ISSUED: N_("Imported, code issued"),
    imports.REFUSED: N_("Refused"),
    "sent": N_("Sent"),
    "skipped": N_("Not sent"),
    "failed": N_("Failed"),
}


def outcome_text(outcome: str) -> str:
    """An item's outcome in words."""
    msgid = _OUTCOMES.get(outcome)
    return _(msgid) if msgid is not None else outcome


def item_text(row: JobItem) -> str:
    """One result's reason in words (empty for a plain success)."""
    known = Reason._value2member_map_.get(row.reason)
    if known is None:
        return row.detail
    text = message(Reason(row.reason), **stored_jobs.item_params(row))
    return f"{text} ({row.detail})" if row.detail else text


@bp.route("/events/<event_id>/jobs/<job_id>/progress")
@allow(REGISTRATION)
def job_progress(event_id: str, job_id: str) -> ResponseReturnValue:
    """The job's counts as JSON, for the progress page's script."""
    _ev, job = _job_or_404(event_id, job_id)
    return jsonify(progress(job))


@bp.route("/events/<event_id>/jobs/<job_id>/resume", methods=["POST"])
@allow(REGISTRATION)
def job_resume(event_id: str, job_id: str) -> ResponseReturnValue:
    """Run a stopped job again: only the items without a result are done."""
    ev, job = _job_or_404(event_id, job_id)
    if stored_jobs.requeue(store(), job.id, now(), actor=current_user().username):
        jobs().submit(job.id)
        flash(_("Running again for the items not done yet."), "ok")
    else:
        flash(_("Only stopped work can be run again."), "error")
    return redirect(url_for("admin.job_page", event_id=ev.id, job_id=job.id), 303)
