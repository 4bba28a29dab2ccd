"""The engine: many uploads, one worker pool, one place that cleans up.

One :class:`Transfer` runs one call (one file, many files or a stream). The
calling thread orchestrates; worker threads do the I/O:

* The calling thread picks the next tasks: small files (one PUT each) and
  parts of large files have windows of their own, so small files keep
  flowing while a large one uploads, and many small files, which mostly wait
  for round trips and hold little memory, can be in flight while the parts
  stay bounded. Uploads are initiated lazily in batches of up to 100 per
  request: small files' batches as pool tasks, ahead of need, so workers
  never wait for that round trip; large files' in the calling thread while
  earlier parts upload. It also reads stream parts (a stream must be read in
  order).
* At most ``small_file_concurrency`` small-file PUTs (and one initiate batch)
  are in flight at a time, and at most ``concurrency`` part PUTs. A part goes
  in two tasks: one signs it and hashes it once (1 MiB at a time); once one
  of the PUT slots is free, the other PUTs it straight from the file. Up to
  ``concurrency`` parts of files are signed and hashed ahead (one part of a
  stream, whose parts are held in memory): PUTs that started together end
  together, and every slot that frees finds its next part ready instead of
  waiting a sign round trip. Parts still start in order, and after a failure
  no new PUT starts. Only parts in flight occupy memory: at most
  ``(concurrency + 1) * part_size`` whatever the file size (streams), and for
  files about 1 MiB per part in flight, since their bytes go by ``sendfile``.
* The task bodies live in :mod:`lilt.transfer.tasks`: they take what they
  need as arguments and return outcome records, which only the calling thread
  applies to the jobs (:mod:`lilt.transfer.jobs`).
* Any failure (or Ctrl-C, or any other exception raised in the calling
  thread) goes to :meth:`Transfer._fail`, the only place that stops the pool,
  shuts the sockets of the PUTs in flight, waits for running tasks, counts
  what they finished (a file stored or completed meanwhile is a success, and
  is never aborted), aborts the multipart uploads still open (unless the
  journal holds them for resuming) and raises. While it runs on the main
  thread, SIGINT, SIGTERM and SIGHUP are held back (:mod:`._shield`), so a
  second Ctrl-C cannot skip the abort.
"""

from __future__ import annotations

import collections
import enum
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Any, Callable, Optional, TypeVar
from urllib.parse import urlsplit, urlunsplit

from lilt._redact import redact_url
from lilt.exceptions import ApiException, NotFoundException, TransferError
from lilt.transfer._api import MAX_BATCH, ApiOps, MultipartTarget
from lilt.transfer._shield import SignalShield
from lilt.transfer.config import TransferConfig
from lilt.transfer.failure import CleanUp, interrupted_summary, transfer_error
from lilt.transfer.jobs import FileContent, Job, MultipartJob, SingleJob
from lilt.transfer.journal import Journal, JournalError
from lilt.transfer.plan import Plan, fit_part_size
from lilt.transfer.progress import ProgressTracker
from lilt.transfer.results import UploadResult
from lilt.transfer.source import FileSource
from lilt.transfer.storage import StorageClient
from lilt.transfer.tasks import (
    Completed,
    Initiated,
    Outcome,
    PartSigned,
    PartStored,
    SingleCutOff,
    SingleStored,
    Tasks,
)

__all__ = ["SerialExecutor", "Transfer"]

T = TypeVar("T")

logger = logging.getLogger("lilt.transfer")

#: seconds a PUT whose whole body was sent gets for its answer after a cancel (single PUTs,
#: and parts when a journal keeps the upload)
_ANSWER_GRACE = 2.0


class SerialExecutor(Executor):
    """Runs each task at once in the calling thread: deterministic tests, no threads.

    Pass it as ``Uploader(executor=SerialExecutor())``; results are identical
    to a threaded run, only slower.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller through the future, as threads do
            if not isinstance(exc, Exception):
                raise
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future


# --- tasks as the scheduler sees them -------------------------------------------


class _Window(enum.Enum):
    """Which window a submitted task counts in."""

    SMALL = "small"  # a single PUT or an initiate batch: ``small_file_concurrency``
    SIGN = "sign"  # a part being signed and hashed: the parts' window
    PUT = "put"  # a signed part's PUT (it continues its signing task): ``concurrency``
    COMPLETE = "complete"  # the parts' window


@dataclass
class _QueuedPart:
    """A part between being handed to a worker for signing and its PUT starting."""

    job: MultipartJob
    target: MultipartTarget
    ready: Optional[PartSigned] = None


@dataclass(frozen=True)
class _Task:
    """A task to submit: its body, the job an error in it is about, and its window."""

    job: Job
    work: Callable[[], Outcome]
    window: _Window
    batch: tuple[SingleJob, ...] = ()  # an initiate's files
    queued: Optional[_QueuedPart] = None  # a part's signing


# --- the transfer -------------------------------------------------------------


class Transfer:
    """Runs a list of jobs to completion on ``executor``; use once.

    Everything here runs in the calling thread: choosing and submitting tasks,
    applying their outcomes to the jobs, and the failure path.
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        *,
        api: ApiOps,
        storage: StorageClient,
        config: TransferConfig,
        executor: Executor,
        journal: Optional[Journal],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs = list(jobs)
        self.api = api
        self.storage = storage
        self.config = config
        self.executor = executor
        self.journal = journal
        self.progress = ProgressTracker(config.progress)
        self.cancel = threading.Event()
        self.deadline = clock() + config.time_budget if config.time_budget else None
        self.tasks = Tasks(
            api=api,
            storage=storage,
            config=config,
            journal=journal,
            progress=self.progress,
            cancel=self.cancel,
            deadline=self.deadline,
        )
        # parts in flight (signing, signed, PUT) and completes
        streams = any(not isinstance(job.content, FileContent) for job in jobs)
        self._window = config.concurrency + (1 if streams else config.concurrency)
        # ready files that make it worth initiating the next batch ahead
        self._initiate_below = max(MAX_BATCH // 2, 2 * config.small_file_concurrency)
        self._small: collections.deque[SingleJob] = collections.deque()  # not yet initiated
        self._ready: collections.deque[SingleJob] = collections.deque()  # initiated
        self._initiating = False
        self._large: collections.deque[MultipartJob] = collections.deque()
        self._to_complete: collections.deque[MultipartJob] = collections.deque()
        self._in_flight: dict[Future[Outcome], _Task] = {}
        self._running: collections.Counter[_Window] = collections.Counter()
        # parts in the order they were handed out, PUT in that order once signed
        self._queued_parts: collections.deque[_QueuedPart] = collections.deque()
        self._current: Optional[Job] = None  # the job the calling thread works on: errors name it

    def run(self) -> list[UploadResult]:
        """Upload every job; return results in job order, or raise TransferError."""
        try:
            for job in self.jobs:  # journal records to check or clear first
                if job.stale is not None:
                    self._current = job
                    self._cancel_stale(job, job.stale)
                if isinstance(job, MultipartJob) and job.probe:
                    self._current = job
                    self._probe(job)
            for job in self.jobs:
                self.progress.add_file(job.index, job.name, job.size, already=_resumed_bytes(job))
                if job.result is not None:  # completed in an earlier run (journal)
                    self.progress.file_done(job.index)
                elif isinstance(job, MultipartJob):
                    self._large.append(job)
                else:
                    self._small.append(job)
            while True:
                self._submit_what_fits()
                if not self._in_flight:
                    break
                done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
                for future in done:
                    self._finished(self._in_flight.pop(future), future)
        except BaseException as exc:
            self._fail(exc)
        return [job.result for job in self.jobs if job.result is not None]

    # --- choosing the next task (calling thread) -------------------------------

    def _submit_what_fits(self) -> None:
        while True:
            task = self._next_task()
            if task is None:
                return
            if isinstance(task.job, MultipartJob) and task.window is not _Window.PUT:
                task.job.in_flight += 1  # a part's PUT continues its signing task
            future = self.executor.submit(task.work)
            self._in_flight[future] = task
            self._running[task.window] += 1
            if task.queued is not None:
                self._queued_parts.append(task.queued)

    def _next_task(self) -> Optional[_Task]:
        """The next task to submit, if its window has room."""
        if self._running[_Window.SMALL] < self.config.small_file_concurrency:
            small = self._next_small()
            if small is not None:
                return small
        queued = self._queued_parts
        head = queued[0] if queued else None
        if (
            head is not None
            and head.ready is not None
            and self._running[_Window.PUT] < self.config.concurrency
        ):
            queued.popleft()
            source = _open_file(head.job)
            work = partial(self.tasks.put_part, head.job, head.target, head.ready, source)
            return _Task(head.job, work, _Window.PUT)
        signed_waiting = len(queued) - self._running[_Window.SIGN]
        parts_running = len(self._in_flight) - self._running[_Window.SMALL]
        if parts_running + signed_waiting >= self._window:
            return None
        if self._to_complete:
            return self._complete_task(self._to_complete.popleft())
        return self._next_part()

    def _next_small(self) -> Optional[_Task]:
        if not self._initiating and self._small and len(self._ready) <= self._initiate_below:
            # Initiate the next batch on the pool while the ready files upload, so
            # the workers never wait for an initiate round trip.
            batch = tuple(self._small.popleft() for _ in range(min(MAX_BATCH, len(self._small))))
            self._initiating = True
            self._current = batch[0]
            work = partial(self.tasks.initiate_singles, [j.new_file for j in batch])
            return _Task(batch[0], work, _Window.SMALL, batch=batch)
        if not self._ready:
            return None
        job = self._current = self._ready.popleft()
        assert job.signed is not None  # every file of an initiated batch has its URL
        chunks = () if isinstance(job.content, FileContent) else job.content.take_prefetched()
        return _Task(job, partial(self.tasks.put_single, job, job.signed, chunks), _Window.SMALL)

    def _next_part(self) -> Optional[_Task]:
        while self._large:
            job = self._current = self._large[0]
            target = job.target if job.target is not None else self._initiate_multipart(job)
            task = self._sign_task(job, target)
            if task is not None:
                return task
            self._large.popleft()
            job.all_submitted = True
            if job.in_flight == 0 and job.result is None:  # every part is already stored
                return self._complete_task(job)
        return None

    def _sign_task(self, job: MultipartJob, target: MultipartTarget) -> Optional[_Task]:
        """The task that signs and hashes the job's next part; None when all are handed out."""
        content = job.content
        if isinstance(content, FileContent):
            source = content.open()
            spec = job.next_file_part(content.plan)
            if spec is None:
                return None
            work = partial(self.tasks.sign_part, target, spec, source)
        else:
            chunk = job.next_stream_part(content)
            if chunk is None:
                content.stream.check_complete()
                job.size = content.offset
                self.progress.set_size(job.index, content.offset)
                return None
            spec, data = chunk
            work = partial(self.tasks.sign_part, target, spec, data)
        return _Task(job, work, _Window.SIGN, queued=_QueuedPart(job, target))

    def _complete_task(self, job: MultipartJob) -> _Task:
        assert job.target is not None  # a job's parts are handed out only once it is initiated
        parts = [job.parts[n] for n in sorted(job.parts)]
        work = partial(self.tasks.complete, job, job.target, parts, _open_file(job))
        return _Task(job, work, _Window.COMPLETE)

    def _probe(self, job: MultipartJob) -> None:
        """Before resuming an upload from the journal, check the API still knows it.

        Signing part 1 has no effect on the upload; a 404 means the upload
        id is unknown, cancelled or already completed (a journal from
        elsewhere, or one that missed its last line): the file starts afresh.
        """
        job.probe = False
        content = job.content
        if job.target is None or not isinstance(content, FileContent):
            return  # only a file's journaled upload is probed
        size = content.plan.size
        try:
            self.api.sign(job.target, 1, min(content.plan.part_size, size))
        except NotFoundException as exc:
            logger.warning(
                "%s: the journal's multipart upload %s (key %s) is not pending on the server "
                "(%s); uploading the file afresh",
                job.name,
                job.target.upload_id,
                job.target.key,
                exc.message or exc.status,
            )
            job.target = None
            job.parts.clear()
            job.md5s.clear()
            job.resumed_parts = 0
            job.journaled = False
            part_size = fit_part_size(size, self.config.part_size)
            content.plan = Plan(size=size, multipart=True, part_size=part_size)

    def _initiate_multipart(self, job: MultipartJob) -> MultipartTarget:
        """Initiate ``job``'s upload, with up to 99 more waiting in one request; its target."""
        waiting = (j for j in self._large if j.target is None and j is not job)
        batch = [job, *islice(waiting, MAX_BATCH - 1)]
        targets = self.api.initiate_multipart([j.new_file for j in batch])
        for each, target in zip(batch, targets):
            each.target = target
        if self.journal is not None:
            # every target is set first: one not recorded is aborted on failure
            for each, target in zip(batch, targets):
                self._journal_start(self.journal, each, target)
        return targets[0]

    def _journal_start(self, journal: Journal, job: MultipartJob, target: MultipartTarget) -> None:
        content = job.content
        if not isinstance(content, FileContent) or content.identity is None:
            return  # a stream cannot be resumed
        journal.start(
            content.path,
            content.identity,
            filename=job.new_file.filename,
            content_type=job.new_file.content_type,
            key=target.key,
            upload_id=target.upload_id,
            part_size=content.plan.part_size,
        )
        job.journaled = True

    def _cancel_stale(self, job: Job, stale: MultipartTarget) -> None:
        """Cancel the upload an unusable journal record names, so it does not stay pending."""
        job.stale = None
        try:
            self.api.cancel(stale)
        except ApiException as exc:  # unknown or finished already: nothing is pending
            logger.info("cancel of the journal's upload %s: %s", stale.upload_id, exc.status)

    # --- outcomes (calling thread) ----------------------------------------------

    def _finished(self, task: _Task, future: Future[Outcome]) -> None:
        self._running[task.window] -= 1
        job = self._current = task.job
        if isinstance(job, MultipartJob):
            job.in_flight -= 1
        outcome = future.result()  # a task's failure is raised here, then handled by _fail
        if isinstance(outcome, PartSigned):
            assert isinstance(job, MultipartJob) and task.queued is not None
            job.in_flight += 1  # still in flight: its PUT waits for its turn and a slot
            task.queued.ready = outcome
            return
        self._apply(task, outcome)
        if isinstance(outcome, Initiated):
            self._initiating = False
            self._ready.extend(task.batch)
        elif isinstance(outcome, PartStored):
            assert isinstance(job, MultipartJob)
            if job.all_submitted and job.in_flight == 0:
                self._to_complete.appendleft(job)
        if job.result is not None:
            self.progress.file_done(job.index)

    def _apply(self, task: _Task, outcome: Outcome) -> None:
        """Record a task's outcome on its job(s); a stored file gets its result."""
        job = task.job
        if isinstance(outcome, Initiated):
            for each, signed in zip(task.batch, outcome.signed):
                each.signed = signed
        elif isinstance(outcome, PartStored):
            assert isinstance(job, MultipartJob)
            job.parts[outcome.part.number] = outcome.part
            if outcome.md5 is not None:
                job.md5s[outcome.part.number] = outcome.md5
        elif isinstance(outcome, SingleStored):
            assert isinstance(job, SingleJob)
            job.signed, job.etag, job.md5 = outcome.signed, outcome.etag, outcome.md5
            self._store_result(job, _without_query(outcome.signed.url))
        elif isinstance(outcome, Completed):
            self._store_result(job, outcome.location)
        # a PartSigned was never sent: nothing of it is stored

    def _store_result(self, job: Job, location: Optional[str]) -> None:
        job.close()
        if isinstance(job, SingleJob) and self.journal is not None:
            self._journal_single(self.journal, job, location)
        job.result = job.finish(location)

    def _journal_single(self, journal: Journal, job: SingleJob, location: Optional[str]) -> None:
        content = job.content
        if not isinstance(content, FileContent) or content.identity is None or not job.key:
            return
        try:
            journal.complete_single(
                content.path,
                content.identity,
                filename=job.new_file.filename,
                content_type=job.new_file.content_type,
                key=job.key,
                location=location,
                md5_hex=job.md5.hex() if job.md5 else None,
            )
        except JournalError as exc:  # the object is stored: that is what counts
            logger.warning("%s: stored, but %s", job.name, exc)

    # --- failure: the one place that stops, aborts and raises -------------------

    def _fail(self, exc: BaseException) -> None:
        """Stop everything, settle what finished, abort what is left open, and raise.

        Anything that is not an ``Exception`` (``KeyboardInterrupt`` and its
        subclasses, ``SystemExit``, ...) is re-raised as itself after the
        clean-up; everything else becomes a :class:`TransferError`.
        """
        with SignalShield():
            error = self._clean_up(exc)
        if not isinstance(exc, Exception):
            if error.results or error.unconfirmed:
                logger.warning("%s", interrupted_summary(exc, error))
            raise exc
        raise error from exc

    def _clean_up(self, exc: BaseException) -> TransferError:
        job = self._current
        self.cancel.set()
        for future in self._in_flight:
            future.cancel()
        # PUTs stalled on storage would hold the clean-up for their timeout: end them now.
        self.storage.interrupt(self.cancel, grace=_ANSWER_GRACE)
        running = [f for f in self._in_flight if not f.cancelled()]
        wait(running)
        for future in running:  # what did finish counts: stored files are successes
            self._settle(self._in_flight[future], future)
        cleanup = CleanUp()
        for open_job in self.jobs:
            if isinstance(open_job, MultipartJob):
                self._abort_or_keep(open_job, cleanup)
        for open_job in self.jobs:
            open_job.close()
        return transfer_error(exc, job, self.jobs, cleanup, self.journal)

    def _abort_or_keep(self, job: MultipartJob, cleanup: CleanUp) -> None:
        if job.target is None or job.result is not None:
            return
        if self.journal is not None and job.journaled:
            cleanup.kept.add(job.index)
            return
        try:
            self.api.cancel(job.target)
            cleanup.aborted.add(job.index)
        except Exception as cancel_exc:  # report, but keep cleaning up the rest
            cleanup.errors.append(
                f"abort of {job.target.upload_id} (key {job.target.key!r}) failed: "
                f"{redact_url(str(cancel_exc))}"
            )

    def _settle(self, task: _Task, future: Future[Outcome]) -> None:
        """Record what a task finished during the clean-up (no progress events: it is over)."""
        error = future.exception()
        if isinstance(error, SingleCutOff) and isinstance(task.job, SingleJob):
            task.job.signed, task.job.unconfirmed = error.signed, True  # storage may hold it
        if error is None:
            # nothing was sent to the URLs of an initiate: nothing of those is stored
            self._apply(task, future.result())


# --- helpers ------------------------------------------------------------------


def _open_file(job: MultipartJob) -> Optional[FileSource]:
    """The job's open file (opened when its first part was handed out), for its checks."""
    return job.content.source if isinstance(job.content, FileContent) else None


def _resumed_bytes(job: Job) -> int:
    if job.result is not None:
        return job.size or 0
    return job.resumed_bytes() if isinstance(job, MultipartJob) else 0


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
