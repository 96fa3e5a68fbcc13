"""The pages of background jobs: a job's progress (a <progress> bar the page's small script
refreshes from a JSON answer, or the page itself every few seconds without script), then its
results; and running a stopped job again for the items it had not done.

A job is shown only to the roles that may start it (registrars and administrators) and only under
its own event's address: its long random id is not a capability.
"""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from checkin.core.errors import InputError, Reason
from checkin.services import imports, invitemail
from checkin.store import Event, Job, JobItem, JobState
from checkin.store import jobs as stored_jobs
from checkin.web.admin import PAGE_SIZE, bp, row_error_text
from checkin.web.admin import _confirm as confirm
from checkin.web.admin import _event_or_404 as event_or_404
from checkin.web.admin import _page as page_number
from checkin.web.auth import REGISTRATION, allow, current_user
from checkin.web.context import config, jobs, now, store
from checkin.web.i18n import N_, message, ngettext
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
    problems_only = request.args.get("problems") == "1"
    results = (
        stored_jobs.items(store(), job.id, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE, problems_only=problems_only)
        if _ended(job)
        else []
    )
    shown = job.problems if problems_only else job.done
    return render_template(
        "admin/job.html",
        results=results,
        problems_only=problems_only,
        outcomes=stored_jobs.outcome_counts(store(), job.id) if _ended(job) else {},
        page=page,
        pages=max(1, -(-shown // PAGE_SIZE)),
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


@bp.route("/events/<event_id>/invitations", methods=["GET", "POST"])
@allow(REGISTRATION)
def invitations_send(event_id: str) -> ResponseReturnValue:
    """Send the invitation e-mails (code, short code, QR and the guest's own link) as a job: to the
    guests no earlier run reached, or (mode=all) to everyone again. A GET asks first, with the counts."""
    ev = event_or_404(event_id)
    mode = request.values.get("mode", invitemail.NOT_SENT)
    if mode not in (invitemail.NOT_SENT, invitemail.EVERYONE):
        abort(404)
    back = url_for("admin.event", event_id=ev.id)
    if not config().mail.enabled:
        flash(message(Reason.MAIL_NOT_CONFIGURED), "error")
        return redirect(back, 303)
    if request.method == "POST":
        base_url = config().service.public_url or request.host_url
        job = invitemail.start_invitations(
            store(), ev, now(), actor=current_user().username, mode=mode, base_url=base_url
        )
        jobs().submit(job.id)
        return redirect(url_for("admin.job_page", event_id=ev.id, job_id=job.id), 303)
    counts = invitemail.audience(store(), ev.id)
    resend = mode == invitemail.EVERYONE
    reach = counts.ready if resend else counts.ready_not_sent
    consequences = [
        ngettext("%(num)d guest will get an e-mail.", "%(num)d guests will get an e-mail.", reach),
        _("Each e-mail carries the guest's QR code, short code and a new link to their own page."),
    ]
    if resend and counts.sent_before:
        consequences.append(
            ngettext(
                "%(num)d guest was sent an invitation before: their earlier link stops working.",
                "%(num)d guests were sent an invitation before: their earlier links stop working.",
                counts.sent_before,
            )
        )
    if counts.without_address:
        consequences.append(
            ngettext(
                "%(num)d guest has no e-mail address: add one on their page to invite them.",
                "%(num)d guests have no e-mail address: add one on their page to invite them.",
                counts.without_address,
            )
        )
    if counts.without_code:
        consequences.append(
            ngettext(
                "%(num)d guest has no active code yet: issue codes first, or they are listed as not sent.",
                "%(num)d guests have no active code yet: issue codes first, or they are listed as not sent.",
                counts.without_code,
            )
        )
    return confirm(
        title=_("Re-send invitations to everyone") if resend else _("Send invitations"),
        question=_("Re-send the invitation e-mail to every guest?")
        if resend
        else _("Send the invitation e-mail to the guests not sent one yet?"),
        consequences=consequences,
        action=url_for("admin.invitations_send", event_id=ev.id),
        hidden={"mode": mode},
        button=_("Re-send to everyone") if resend else _("Send invitations"),
        back=back,
        event=ev,
        danger=resend,
    )
