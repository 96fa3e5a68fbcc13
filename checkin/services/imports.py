"""Guest-list imports as background jobs: a list longer than `BACKGROUND_ROWS` rows is imported by
the service's worker thread, in parts, so the registrar watches its progress; a shorter one is
imported at once, as before. Either way the same checks run and the same report comes out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from checkin.config import Config
from checkin.core.errors import Reason
from checkin.services import guestlist, issuing
from checkin.services.guests import without_repeats
from checkin.services.issuing import Signer
from checkin.services.jobs import JobWork
from checkin.services.problems import Problem, RowError
from checkin.store import Event, Job, Store
from checkin.store import events as stored_events
from checkin.store import guests as stored_guests
from checkin.store import jobs as stored_jobs
from checkin.store.actions import log_action
from checkin.store.jobs import ItemResult

KIND = "import"
BACKGROUND_ROWS = 200  # above this many rows an import runs as a job with a progress page
PART = 250  # rows added (and signed) per transaction: 20 steps of progress for 5,000 rows
ADDED, ISSUED, REFUSED = "added", "issued", "refused"


def in_background(read: guestlist.GuestList) -> bool:
    """True when a list is long enough to import as a job."""
    return len(read.rows) + len(read.refused) > BACKGROUND_ROWS


def start_import(
    store: Store,
    event: Event,
    data: bytes,
    read: guestlist.GuestList,
    now: datetime,
    *,
    actor: str,
    file_name: str,
    issue_now: bool,
) -> Job:
    """Record an import job for a list already read once (so the form could refuse a bad file);
    the file itself is the job's input."""
    options = {"file_name": file_name[:200], "issue_now": issue_now, "encoding": read.encoding}
    total = len(read.rows) + len(read.refused)
    return stored_jobs.create_job(store, KIND, event.id, actor, now, total=total, options=options, data=data)


def run_import(work: JobWork, *, config: Callable[[], Config], signer: Callable[[], Signer]) -> str:
    """The job: read the file again, refuse what the reader, the checks and the list refuse, then
    add the rest (and issue their codes, if asked) in parts, storing each row's result as it goes.
    A row added keeps no name in its result (the guest list has it, and anonymising reaches it
    there); a refused row keeps the name the file gave, for the report."""
    store, job = work.store, work.job
    event = stored_events.event(store, job.event_id)
    options = stored_jobs.options(job)
    read = guestlist.read_guest_list(stored_jobs.job_input(store, job.id), event.zone_codes)
    key = signer() if options.get("issue_now") else None
    fresh, repeats = without_repeats(store, event, read.rows)  # the whole file: repeats name their first line
    refused = sorted([*read.refused, *repeats], key=lambda e: e.line)
    stored_jobs.set_total(store, job.id, len(refused) + len(fresh))
    work.record_all([_refused(e) for e in refused if str(e.line) not in work.finished])
    todo = [row for row in fresh if str(row.line) not in work.finished]
    cfg = config()
    for start in range(0, len(todo), PART):
        work.check_stop()
        part = todo[start : start + PART]
        now = work.clock()
        if key is None:
            stored_guests.add_guests(store, event.id, part, now, actor=job.created_by, logged=False)
            work.record_all([ItemResult(str(row.line), ADDED) for row in part])
            continue
        signed, errors = issuing.sign_for_event(cfg, key, event, part, now)
        issuing.record(store, signed, key.kid, now)
        work.record_all([ItemResult(str(item.row.line), ISSUED) for item in signed] + [_refused(e) for e in errors])
    counts = stored_jobs.outcome_counts(store, job.id)
    detail = (
        f"{counts.get(ADDED, 0) + counts.get(ISSUED, 0)} guests, {counts.get(ISSUED, 0)} codes issued, "
        f"{len({i.item for i in stored_jobs.items(store, job.id, problems_only=True)})} rows refused"
    )
    log_action(store, job.created_by, "guest.import", event.id, detail, work.clock())
    return detail


def _refused(error: RowError) -> ItemResult:
    problem = error.problem
    return ItemResult(
        str(error.line),
        REFUSED,
        ok=False,
        label=error.name,
        reason=problem.reason.value,
        params=problem.params,
        detail=problem.detail,
    )


@dataclass(frozen=True)
class ImportOutcome:
    """An import job's report, as the synchronous import reports: counts and the refused rows."""

    added: int
    issued: int
    refused: tuple[RowError, ...]
    file_name: str
    encoding: str


def outcome(store: Store, job: Job) -> ImportOutcome:
    """The report of an import job, from its stored results."""
    counts = stored_jobs.outcome_counts(store, job.id)
    refused = tuple(
        sorted(
            (
                RowError(
                    int(row.item) if row.item.isdigit() else 0,
                    Problem(Reason(row.reason), stored_jobs.item_params(row), row.detail),
                    name=row.label,
                )
                for row in stored_jobs.items(store, job.id, problems_only=True)
                if row.reason in Reason.__members__.values()
            ),
            key=lambda e: e.line,
        )
    )
    options = stored_jobs.options(job)
    return ImportOutcome(
        counts.get(ADDED, 0) + counts.get(ISSUED, 0),
        counts.get(ISSUED, 0),
        refused,
        str(options.get("file_name", "")),
        str(options.get("encoding", "")),
    )
