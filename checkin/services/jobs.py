"""Long work with progress: a job is recorded in the database (its input, counts, one result per
item) and run by `JobRunner` in a worker thread of the service process; the pages poll its counts.

Limits, on purpose, to stay small:
- One process runs the jobs it was given, one at a time, in submission order; run the service as
  one process (`checkin serve` does), or a job queued in one worker is run by that worker only.
- A restart stops a running job. At the next start `recover` marks every queued or running job
  failed, saying how many items it had completed (JOB_INTERRUPTED). Nothing is lost: the input
  and every stored result stay, and running the job again (`requeue`, the page's button) does only
  the items without a result.
- A result is stored after its item's work: an item done but not yet stored when the process
  died is done again on a re-run (an import then refuses the row as already on the list; an
  e-mail may arrive twice). Handlers store results in small batches to keep that window small.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from checkin.core.errors import CheckinError, Reason
from checkin.store import Job, JobState, Store
from checkin.store import jobs as stored
from checkin.store.jobs import ItemResult

log = logging.getLogger(__name__)

BATCH = 100  # items stored per transaction: few transactions, and little redone after a crash


@dataclass
class JobWork:
    """What a handler gets: the job, the store, the clock, the items already done (skip them), and
    `record` to store results as it goes; `stopping` is set when the service shuts down."""

    job: Job
    store: Store
    clock: Callable[[], datetime]
    finished: frozenset[str]
    stopping: threading.Event = field(default_factory=threading.Event)
    _pending: list[ItemResult] = field(default_factory=list)

    def record(self, result: ItemResult) -> None:
        """Keep one item's result; stored with the next batch (or at the end)."""
        self._pending.append(result)
        if len(self._pending) >= BATCH:
            self.flush()

    def record_all(self, results: Sequence[ItemResult]) -> None:
        """Store these results at once, with those kept before them."""
        self._pending.extend(results)
        self.flush()

    def check_stop(self) -> None:
        """Between items: end the job as interrupted when the service is shutting down."""
        if self.stopping.is_set():
            raise CheckinError("the service is shutting down", Reason.JOB_INTERRUPTED)

    def flush(self) -> None:
        """Store the kept results and move the counts on."""
        pending, self._pending = self._pending, []
        stored.record_items(self.store, self.job.id, pending, self.clock())


Handler = Callable[[JobWork], str]  # runs the job's items; returns a summary for the log


class JobRunner:
    """Runs jobs in one worker thread of this process, in the order they were submitted."""

    def __init__(self, store: Store, clock: Callable[[], datetime], handlers: Mapping[str, Handler]) -> None:
        self._store = store
        self._clock = clock
        self._handlers = dict(handlers)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkin-job")
        self._futures: dict[str, Future[None]] = {}
        self._stopping = threading.Event()

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds of job this runner can run."""
        return frozenset(self._handlers)

    def submit(self, job_id: str) -> None:
        """Queue a recorded job to run in the worker thread."""
        future = self._pool.submit(self.run, job_id)
        self._futures[job_id] = future
        future.add_done_callback(lambda _done: self._futures.pop(job_id, None))  # the store keeps the outcome

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until a submitted job has ended (for tests and the command line); the job as it ended."""
        future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout)
        return stored.job(self._store, job_id)

    def run(self, job_id: str) -> None:
        """Run one queued job here and now: claim it, run its handler, end it done or failed. An
        error in the handler fails the job with what it had done; it never escapes."""
        if not stored.claim(self._store, job_id, self._clock()):
            return
        job = stored.job(self._store, job_id)
        work = JobWork(job, self._store, self._clock, stored.items_done(self._store, job_id), self._stopping)
        handler = self._handlers.get(job.kind)
        try:
            if handler is None:
                raise CheckinError(f"no handler for jobs of kind {job.kind!r}", Reason.JOB_CRASHED)
            summary = handler(work)
            work.flush()
        except CheckinError as exc:
            self._fail(work, exc.reason.value, exc.text())
        except Exception:
            log.exception("job %s (%s) stopped on an unexpected error", job.id[:8], job.kind)
            self._fail(work, Reason.JOB_CRASHED.value, "")
        else:
            stored.finish(self._store, job_id, JobState.DONE, self._clock(), detail=summary)

    def _fail(self, work: JobWork, reason: str, detail: str) -> None:
        try:
            work.flush()  # what was done before the error is kept
        except Exception:
            log.exception("job %s: results lost with the failure", work.job.id[:8])
        stored.finish(self._store, work.job.id, JobState.FAILED, self._clock(), reason=reason, detail=detail)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; tell a running one to stop at its next item; wait for it if asked."""
        self._stopping.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)


def recover(store: Store, now: datetime) -> list[str]:
    """At start: fail the jobs a restart interrupted (see the module's limits); their ids."""
    failed = stored.interrupt_unfinished(store, now)
    for job_id in failed:
        log.warning("job %s was interrupted by a restart; marked failed", job_id[:8])
    return failed
