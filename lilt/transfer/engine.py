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

from lilt._redact import redact_text
from lilt.exceptions import ApiException, NotFoundException, TransferError
from lilt.transfer._shield import SignalShield
from lilt.transfer.config import TransferConfig
from lilt.transfer.failure import CleanUp, interrupted_summary, transfer_error
from lilt.transfer.jobs import FileContent, Job, MultipartJob, SingleJob
from lilt.transfer.journal import Journal, JournalError, JournalFile
from lilt.transfer.plan import Plan, fit_part_size
from lilt.transfer.progress import ProgressTracker
from lilt.transfer.results import UploadResult
from lilt.transfer.source import FileSource
from lilt.transfer.storage_client import StorageClient
from lilt.transfer.tasks import (
    Completed,
    Initiated,
    PartSigned,
    PartStored,
    SingleCutOff,
    SingleStored,
    Tasks,
)
from lilt.transfer.uploader_api import MAX_BATCH, MultipartTarget, SignedUrl, UploaderApi

__all__ = ["SerialExecutor", "Transfer"]

T = TypeVar("T")
R = TypeVar("R")

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


#: what a worker hands back: the task's outcome, bound to how the calling thread applies it
_Apply = Callable[[], None]


@dataclass(frozen=True)
class _Task:
    """A task to submit: its body, the job an error in it is about, and its window."""

    job: Job
    window: _Window
    run: Callable[[], _Apply]  # worker thread: does the I/O, touches no job
    queued: Optional[_QueuedPart] = None  # a part's signing


def _task(
    job: Job,
    window: _Window,
    work: Callable[[], R],
    apply: Callable[[R], None],
    queued: Optional[_QueuedPart] = None,
) -> _Task:
    """A task whose outcome ``apply`` records, in the calling thread (the checker pairs them)."""

    def run() -> _Apply:
        return partial(apply, work())

    return _Task(job, window, run, queued)


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
        api: UploaderApi,
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
        self._ready: collections.deque[tuple[SingleJob, SignedUrl]] = collections.deque()
        self._initiating = False
        self._large: collections.deque[MultipartJob] = collections.deque()
        self._to_complete: collections.deque[tuple[MultipartJob, MultipartTarget]] = (
            collections.deque()
        )
        self._in_flight: dict[Future[_Apply], _Task] = {}
        self._running: collections.Counter[_Window] = collections.Counter()
        # parts in the order they were handed out, PUT in that order once signed
        self._queued_parts: collections.deque[_QueuedPart] = collections.deque()
        self._current: Optional[Job] = None  # the job the calling thread works on: errors name it
        self._closing = False  # the clean-up settles what finished: no new work, no progress

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
            future = self.executor.submit(task.run)
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
            job, target = head.job, head.target
            work = partial(self.tasks.put_part, job, target, head.ready, _open_file(job))
            return _task(job, _Window.PUT, work, partial(self._part_stored, job, target))
        signed_waiting = len(queued) - self._running[_Window.SIGN]
        parts_running = len(self._in_flight) - self._running[_Window.SMALL]
        if parts_running + signed_waiting >= self._window:
            return None
        if self._to_complete:
            return self._complete_task(*self._to_complete.popleft())
        return self._next_part()

    def _next_small(self) -> Optional[_Task]:
        if not self._initiating and self._small and len(self._ready) <= self._initiate_below:
            # Initiate the next batch on the pool while the ready files upload, so
            # the workers never wait for an initiate round trip.
            batch = tuple(self._small.popleft() for _ in range(min(MAX_BATCH, len(self._small))))
            self._initiating = True
            self._current = batch[0]
            initiate = partial(self.tasks.initiate_singles, [j.new_file for j in batch])
            return _task(batch[0], _Window.SMALL, initiate, partial(self._initiated, batch))
        if not self._ready:
            return None
        job, signed = self._ready.popleft()
        self._current = job
        chunks = () if isinstance(job.content, FileContent) else job.content.take_prefetched()
        work = partial(self.tasks.put_single, job, signed, chunks)
        return _task(job, _Window.SMALL, work, partial(self._single_stored, job))

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
                return self._complete_task(job, target)
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
        queued = _QueuedPart(job, target)
        return _task(job, _Window.SIGN, work, partial(self._part_signed, queued), queued)

    def _complete_task(self, job: MultipartJob, target: MultipartTarget) -> _Task:
        parts = [job.parts[n] for n in sorted(job.parts)]
        work = partial(self.tasks.complete, job, target, parts, _open_file(job))
        return _task(job, _Window.COMPLETE, work, partial(self._completed, job))

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
        content, file = job.content, _journal_file(job)
        if file is None or not isinstance(content, FileContent):
            return  # a stream cannot be resumed
        journal.start(
            file, key=target.key, upload_id=target.upload_id, part_size=content.plan.part_size
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

    def _finished(self, task: _Task, future: Future[_Apply]) -> None:
        self._running[task.window] -= 1
        job = self._current = task.job
        if isinstance(job, MultipartJob):
            job.in_flight -= 1
        apply = future.result()  # a task's failure is raised here, then handled by _fail
        apply()

    def _initiated(self, batch: tuple[SingleJob, ...], outcome: Initiated) -> None:
        # when closing: nothing was sent to these URLs, so nothing of these files is stored
        for job, signed in zip(batch, outcome.signed):
            job.signed = signed
        if not self._closing:
            self._initiating = False
            self._ready.extend(zip(batch, outcome.signed))

    def _part_signed(self, queued: _QueuedPart, outcome: PartSigned) -> None:
        if not self._closing:  # else it was never sent: nothing of it is stored
            queued.job.in_flight += 1  # still in flight: its PUT waits for its turn and a slot
            queued.ready = outcome

    def _part_stored(self, job: MultipartJob, target: MultipartTarget, outcome: PartStored) -> None:
        job.parts[outcome.part.number] = outcome.part
        if outcome.md5 is not None:
            job.md5s[outcome.part.number] = outcome.md5
        if not self._closing and job.all_submitted and job.in_flight == 0:
            self._to_complete.appendleft((job, target))

    def _single_stored(self, job: SingleJob, outcome: SingleStored) -> None:
        job.signed, job.etag, job.md5 = outcome.signed, outcome.etag, outcome.md5
        self._store_result(job, _without_query(outcome.signed.url))

    def _completed(self, job: MultipartJob, outcome: Completed) -> None:
        self._store_result(job, outcome.location)

    def _store_result(self, job: Job, location: Optional[str]) -> None:
        job.close()
        if isinstance(job, SingleJob) and self.journal is not None:
            self._journal_single(self.journal, job, location)
        job.result = job.finish(location)
        if not self._closing:
            self.progress.file_done(job.index)

    def _journal_single(self, journal: Journal, job: SingleJob, location: Optional[str]) -> None:
        file, signed = _journal_file(job), job.signed
        if file is None or signed is None:
            return  # a stream cannot be resumed
        try:
            journal.complete_single(
                file, key=signed.key, location=location, md5_hex=job.md5.hex() if job.md5 else None
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
        self._closing = True
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
                f"{redact_text(str(cancel_exc))}"
            )

    def _settle(self, task: _Task, future: Future[_Apply]) -> None:
        """Record what a task finished during the clean-up (no progress events: it is over)."""
        error = future.exception()
        if error is None:
            future.result()()
        elif isinstance(error, SingleCutOff) and isinstance(task.job, SingleJob):
            task.job.signed, task.job.unconfirmed = error.signed, True  # storage may hold it


# --- helpers ------------------------------------------------------------------


def _journal_file(job: Job) -> Optional[JournalFile]:
    """What the journal records of ``job``'s file; None for a stream (not resumable)."""
    content = job.content
    if not isinstance(content, FileContent) or content.identity is None:
        return None
    return JournalFile(
        content.path, content.identity, job.new_file.filename, job.new_file.content_type
    )


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
