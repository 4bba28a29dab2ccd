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
import errno
import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any, Callable, Optional, TypeVar, Union
from urllib.parse import urlsplit, urlunsplit

from lilt._redact import redact_text as redact_url
from lilt.exceptions import ApiException, NotFoundException, TransferError
from lilt.transfer._api import MAX_BATCH, ApiOps, MultipartTarget, NewFile, SignedUrl
from lilt.transfer._shield import SignalShield
from lilt.transfer.config import MAX_PARTS, TransferConfig
from lilt.transfer.journal import Journal, JournalError, JournalRecord
from lilt.transfer.plan import PartSpec, Plan, PlanError, fit_part_size
from lilt.transfer.progress import ProgressTracker
from lilt.transfer.results import (
    Checksums,
    UploadedPart,
    UploadResult,
    looks_like_md5,
    multipart_etag,
    normalize_etag,
)
from lilt.transfer.source import (
    FileIdentity,
    FileSource,
    Snapshot,
    SourceChangedError,
    StreamSource,
)
from lilt.transfer.storage import (
    Buffer,
    SignatureRejected,
    StorageClient,
    StorageError,
    TransferCancelled,
)

__all__ = ["FileJob", "SerialExecutor", "StreamJob", "Transfer"]

T = TypeVar("T")

logger = logging.getLogger("lilt.transfer")

#: bodies up to this size are read into memory; larger ones go by sendfile
_IN_MEMORY = 256 * 1024
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


# --- what to upload -----------------------------------------------------------


@dataclass
class _Job:
    """One file's upload: what it is, and how far it got (owned by the calling thread)."""

    index: int
    name: str  # shown in progress and errors
    new: NewFile
    multipart: bool
    part_size: int
    path: Optional[str] = None
    size: Optional[int] = None
    target: Optional[MultipartTarget] = None  # multipart: upload id and key
    single: Optional[SignedUrl] = None  # single PUT: URL, method and key
    parts: dict[int, UploadedPart] = field(default_factory=dict)
    md5s: dict[int, bytes] = field(default_factory=dict)
    next_number: int = 1
    in_flight: int = 0
    all_submitted: bool = False
    result: Optional[UploadResult] = None
    resumed_parts: int = 0
    etag: Optional[str] = None  # a single PUT's ETag as storage reported it
    journaled: bool = False  # the journal durably holds this multipart upload's start
    unconfirmed: bool = False  # a single PUT cut off after its whole body was sent

    @property
    def key(self) -> Optional[str]:
        if self.target is not None:
            return self.target.key
        return self.single.key if self.single is not None else None

    @property
    def upload_id(self) -> Optional[str]:
        return self.target.upload_id if self.target is not None else None


@dataclass
class FileJob(_Job):
    """A regular file, read with positional reads."""

    identity: Optional[FileIdentity] = None  # with a journal
    snapshot: Optional[Snapshot] = None  # the version planned; every read is checked against it
    source: Optional[FileSource] = None
    resume: Optional[JournalRecord] = None
    probe: bool = False  # resumed from the journal: check the upload still exists first
    stale: Optional[MultipartTarget] = None  # a journal's unusable upload: cancel, start afresh

    def open(self) -> FileSource:
        if self.source is None:
            assert self.path is not None and self.size is not None
            self.source = FileSource(self.path, expect=self.snapshot)
        return self.source

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None

    def next_part(self) -> Optional[PartSpec]:
        assert self.size is not None
        plan = Plan(self.size, True, self.part_size)
        while self.next_number <= plan.part_count:
            spec = plan.part(self.next_number)
            self.next_number += 1
            if spec.number not in self.parts:  # skip parts the journal has
                return spec
        return None


@dataclass
class StreamJob(_Job):
    """A file object read front to back; ``prefetched`` holds the parts read to decide its kind."""

    stream: Optional[StreamSource] = None
    prefetched: collections.deque[bytearray] = field(default_factory=collections.deque)
    offset: int = 0

    def close(self) -> None:
        self.prefetched.clear()

    def next_chunk(self) -> Optional[tuple[PartSpec, bytearray]]:
        assert self.stream is not None
        data = self.prefetched.popleft() if self.prefetched else self.stream.read(self.part_size)
        if not data:
            return None
        if self.next_number > MAX_PARTS:
            raise PlanError(
                f"{self.name}: the stream is longer than {MAX_PARTS} parts of {self.part_size} "
                f"bytes; pass its size to upload_fileobj or raise part_size"
            )
        spec = PartSpec(self.next_number, self.offset, len(data))
        self.next_number += 1
        self.offset += len(data)
        return spec, data


Job = Union[FileJob, StreamJob]


@dataclass(frozen=True)
class _PartDone:
    part: UploadedPart
    md5: Optional[bytes]


@dataclass(frozen=True)
class _PartSigned:
    """A part ready to PUT: its URL and its body (with MD5, when checksums are on)."""

    spec: PartSpec
    signed: SignedUrl
    body: Any
    md5: Optional[bytes]
    verify: Optional[Callable[[], None]]  # checks the file still holds what was hashed


@dataclass
class _QueuedPart:
    """A part between being handed to a worker for signing and its PUT starting."""

    job: Job
    ready: Optional[_PartSigned] = None


@dataclass(frozen=True)
class _SingleDone:
    put_etag: Optional[str]
    md5: Optional[bytes]
    signed: SignedUrl  # may differ from the job's if the PUT had to be re-initiated


@dataclass(frozen=True)
class _Completed:
    location: Optional[str]


@dataclass(frozen=True)
class _Initiated:
    jobs: tuple[Job, ...]
    signed: tuple[SignedUrl, ...]


Outcome = Union[_PartDone, _PartSigned, _SingleDone, _Completed, _Initiated]


# --- the transfer -------------------------------------------------------------


class Transfer:
    """Runs a list of jobs to completion on ``executor``; use once."""

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
        # parts in flight (signing, signed, PUT) and completes
        streams = any(isinstance(job, StreamJob) for job in jobs)
        self._window = config.concurrency + (1 if streams else config.concurrency)
        self._small_window = config.small_file_concurrency  # single PUTs in flight
        # ready files that make it worth initiating the next batch ahead
        self._initiate_below = max(MAX_BATCH // 2, 2 * config.small_file_concurrency)
        self._small: collections.deque[Job] = collections.deque()  # not yet initiated
        self._ready: collections.deque[Job] = collections.deque()  # initiated, not started
        self._initiating = False
        self._large: collections.deque[Job] = collections.deque()
        self._to_complete: collections.deque[Job] = collections.deque()
        self._in_flight: dict[Future[Outcome], Job] = {}
        self._small_in_flight: set[Future[Outcome]] = set()  # small PUTs and initiates
        # parts in the order they were handed out, PUT in that order once signed
        self._queued_parts: collections.deque[_QueuedPart] = collections.deque()
        self._signing: dict[Future[Outcome], _QueuedPart] = {}
        self._part_puts: set[Future[Outcome]] = set()  # at most ``concurrency``
        self._blame: Optional[Job] = None  # the job the calling thread is working on

    def run(self) -> list[UploadResult]:
        """Upload every job; return results in job order, or raise TransferError."""
        try:
            for job in self.jobs:  # journal records to check or clear first
                if isinstance(job, FileJob) and job.stale is not None:
                    self._blame = job
                    self._cancel_stale(job)
                if isinstance(job, FileJob) and job.probe:
                    self._blame = job
                    self._probe(job)
            for job in self.jobs:
                self.progress.add_file(job.index, job.name, job.size, already=_resumed_bytes(job))
                if job.result is not None:  # completed in an earlier run (journal)
                    self.progress.file_done(job.index)
                else:
                    (self._large if job.multipart else self._small).append(job)
            while True:
                while True:
                    task = self._next_task()
                    if task is None:
                        break
                    job, work, kind = task
                    if kind != "put":  # a part's PUT continues its signing task
                        job.in_flight += 1
                    future = self.executor.submit(work)
                    self._in_flight[future] = job
                    if kind == "small":
                        self._small_in_flight.add(future)
                    elif kind == "put":
                        self._part_puts.add(future)
                    elif kind == "sign":
                        self._signing[future] = queued = _QueuedPart(job)
                        self._queued_parts.append(queued)
                if not self._in_flight:
                    break
                done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
                for future in done:
                    self._small_in_flight.discard(future)
                    self._part_puts.discard(future)
                    self._finished(self._in_flight.pop(future), future)
        except BaseException as exc:
            self._fail(exc)
        return [job.result for job in self.jobs if job.result is not None]

    # --- choosing the next task (calling thread) -------------------------------

    def _next_task(self) -> Optional[tuple[Job, Callable[[], Outcome], str]]:
        """The next task to submit, and its kind: "small" (counts in the small files'
        window), "put" (the next signed part's PUT), "sign" or "complete" (count in
        the parts' window)."""
        if len(self._small_in_flight) < self._small_window:
            small = self._next_small()
            if small is not None:
                return (*small, "small")
        queued = self._queued_parts
        if queued and queued[0].ready and len(self._part_puts) < self.config.concurrency:
            head = queued.popleft()
            assert head.ready is not None
            return head.job, partial(self._put_part, head.job, head.ready), "put"
        signed_waiting = len(queued) - len(self._signing)
        if len(self._in_flight) - len(self._small_in_flight) + signed_waiting >= self._window:
            return None
        if self._to_complete:
            job = self._to_complete.popleft()
            return job, partial(self._complete, job), "complete"
        return self._next_part()

    def _next_small(self) -> Optional[tuple[Job, Callable[[], Outcome]]]:
        if not self._initiating and self._small and len(self._ready) <= self._initiate_below:
            # Initiate the next batch on the pool while the ready files upload, so
            # the workers never wait for an initiate round trip.
            batch = tuple(self._small.popleft() for _ in range(min(MAX_BATCH, len(self._small))))
            self._initiating = True
            self._blame = batch[0]
            return batch[0], partial(self._initiate_singles, batch)
        if not self._ready:
            return None
        job = self._blame = self._ready.popleft()
        job.all_submitted = True
        return job, partial(self._put_single, job)

    def _next_part(self) -> Optional[tuple[Job, Callable[[], Outcome], str]]:
        while self._large:
            job = self._blame = self._large[0]
            if job.target is None:
                self._initiate_multipart(job)
            task = self._part_task(job)
            if task is not None:
                return (*task, "sign")
            self._large.popleft()
            job.all_submitted = True
            if job.in_flight == 0 and job.result is None:  # every part is already stored
                return job, partial(self._complete, job), "complete"
        return None

    def _probe(self, job: FileJob) -> None:
        """Before resuming an upload from the journal, check the API still knows it.

        Signing part 1 has no effect on the upload; a 404 means the upload
        id is unknown, cancelled or already completed (a journal from
        elsewhere, or one that missed its last line): the file starts afresh.
        """
        job.probe = False
        assert job.target is not None and job.size is not None
        length = min(job.part_size, job.size)
        try:
            self.api.sign(job.target, 1, length)
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
            job.part_size = fit_part_size(job.size, self.config.part_size)

    def _part_task(self, job: Job) -> Optional[tuple[Job, Callable[[], Outcome]]]:
        if isinstance(job, FileJob):
            job.open()
            spec = job.next_part()
            return None if spec is None else (job, partial(self._prepare_part, job, spec, None))
        chunk = job.next_chunk()
        if chunk is None:
            assert job.stream is not None
            job.stream.check_complete()
            job.size = job.offset
            self.progress.set_size(job.index, job.offset)
            return None
        spec, data = chunk
        return job, partial(self._prepare_part, job, spec, data)

    def _initiate_multipart(self, job: Job) -> None:
        waiting = (j for j in self._large if j.target is None and j is not job)
        batch = [job, *islice(waiting, MAX_BATCH - 1)]
        for each, target in zip(batch, self.api.initiate_multipart([j.new for j in batch])):
            each.target = target
        if self.journal is None:
            return
        for each in batch:  # every target is set first: one not recorded is aborted on failure
            if isinstance(each, FileJob):
                assert each.path is not None and each.identity is not None
                assert each.target is not None
                self.journal.start(
                    each.path,
                    each.identity,
                    filename=each.new.filename,
                    content_type=each.new.content_type,
                    key=each.target.key,
                    upload_id=each.target.upload_id,
                    part_size=each.part_size,
                )
                each.journaled = True

    def _cancel_stale(self, job: FileJob) -> None:
        """Cancel the upload an unusable journal record names, so it does not stay pending."""
        stale, job.stale = job.stale, None
        assert stale is not None
        try:
            self.api.cancel(stale)
        except ApiException as exc:  # unknown or finished already: nothing is pending
            logger.info("cancel of the journal's upload %s: %s", stale.upload_id, exc.status)

    # --- tasks (worker threads) ------------------------------------------------

    def _initiate_singles(self, batch: tuple[Job, ...]) -> _Initiated:
        self._check_cancelled()
        return _Initiated(batch, tuple(self.api.initiate_single([j.new for j in batch])))

    def _prepare_part(self, job: Job, spec: PartSpec, data: Optional[Buffer]) -> _PartSigned:
        self._check_cancelled()
        assert job.target is not None
        signed = self.api.sign(job.target, spec.number, spec.length)
        body: Any
        verify: Optional[Callable[[], None]] = None
        if data is None:
            assert isinstance(job, FileJob) and job.source is not None
            source = job.source
            body, md5 = self._file_body(source, spec)
            if not isinstance(body, bytes):  # sent from the file: it may change under the send
                verify = partial(_verify_part, source, spec, md5)
        else:
            body, md5 = data, hashlib.md5(data).digest() if self.config.checksum else None
        return _PartSigned(spec, signed, body, md5, verify)

    def _put_part(self, job: Job, ready: _PartSigned) -> _PartDone:
        self._check_cancelled()
        assert job.target is not None
        spec, signed, body, md5 = ready.spec, ready.signed, ready.body, ready.md5
        verify = ready.verify
        target = job.target
        etag, _ = self._put_signed(
            job,
            spec,
            signed,
            body,
            md5,
            lambda: self.api.sign(target, spec.number, spec.length),
            verify,
        )
        if isinstance(job, FileJob) and job.source is not None:
            # Sent straight from the file, and the kernel may still have been sending it
            # after the last check: was it the same file until storage answered?
            job.source.check_unchanged()
        if not etag:
            raise StorageError(f"storage stored part {spec.number} but sent no ETag")
        part = UploadedPart(spec.number, etag)
        if self.journal is not None and job.journaled:
            self.journal.part(job.target.upload_id, part, md5.hex() if md5 else None)
        self.progress.part_done(job.index, spec.number, spec.length)
        return _PartDone(part, md5)

    def _put_single(self, job: Job) -> _SingleDone:
        self._check_cancelled()
        assert job.single is not None
        signed = job.single
        body: Any
        spec = PartSpec(1, 0, job.size or 0)
        verify: Optional[Callable[[], None]] = None
        if isinstance(job, StreamJob):
            body = b"".join(job.prefetched)
            job.prefetched.clear()
            md5 = hashlib.md5(body).digest() if self.config.checksum else None
        else:
            source = job.open()
            body, md5 = self._file_body(source, spec)
            if not isinstance(body, bytes):
                verify = partial(_verify_part, source, spec, md5)

        def initiate_again() -> SignedUrl:
            # A single PUT's URL comes from initiation: initiate again for a fresh one.
            job.single = self.api.initiate_single([job.new])[0]
            return job.single

        try:
            etag, signed = self._put_signed(job, spec, signed, body, md5, initiate_again, verify)
            if isinstance(job, FileJob):
                self._accept_single(job, spec, md5, signed)
        except TransferCancelled as exc:
            job.unconfirmed = exc.body_sent  # storage may hold the object at job.single.key
            raise
        finally:
            if isinstance(job, FileJob):
                job.close()
        self.progress.part_done(job.index, 1, spec.length)
        return _SingleDone(etag, md5, signed)

    def _accept_single(
        self, job: FileJob, spec: PartSpec, md5: Optional[bytes], signed: SignedUrl
    ) -> None:
        """Decide whether a stored single PUT holds one version of the file.

        It does when storage checked the body against the MD5 of bytes read
        (and checked) before sending, or when the body was read into memory
        before it was sent: a change after that cannot reach the object. A
        body sent from the file without an MD5 could have taken changed bytes
        from the kernel's send queue; if the file changed before storage
        answered, the object may mix versions, and the API has no call to
        delete it: the error names its key.
        """
        assert job.source is not None
        if md5 is not None or spec.length <= _IN_MEMORY:
            return
        try:
            job.source.check_unchanged()
        except SourceChangedError as exc:
            raise SourceChangedError(
                errno.EIO,
                f"{exc.strerror}; it was sent without checksum=True and storage stored it under "
                f"key {signed.key!r}, which may hold a mix of two versions: the API has no call "
                f"to delete it, so upload the file again and do not use that key",
                job.path,
            ) from None

    def _file_body(self, source: FileSource, spec: PartSpec) -> tuple[Any, Optional[bytes]]:
        """A file range as a body, and its MD5 when checksums are on.

        Small bodies are read once into memory (and checked). Larger ones are
        hashed 1 MiB at a time and then sent by the kernel from the page cache
        (sendfile), so a part is never held whole and never copied through
        Python; the identity checks between chunks and before the tail of the
        body, and storage's MD5 check, catch a file that changed in between.
        """
        if spec.length <= _IN_MEMORY:
            data = source.read(spec)
            return data, hashlib.md5(data).digest() if self.config.checksum else None
        return source.range(spec), source.md5(spec) if self.config.checksum else None

    def _complete(self, job: Job) -> _Completed:
        self._check_cancelled()
        assert job.target is not None
        if isinstance(job, FileJob) and job.source is not None:
            job.source.check_path()  # the last line of defence against a changed file
        parts = [job.parts[n] for n in sorted(job.parts)]
        location = self.api.complete(job.target, parts)
        if self.journal is not None and job.journaled:
            try:
                self.journal.complete_multipart(job.target.upload_id, location)
            except JournalError as exc:  # the object is stored: that is what counts
                logger.warning("%s: stored, but %s", job.name, exc)
        return _Completed(location)

    def _put_signed(
        self,
        job: Job,
        spec: PartSpec,
        signed: SignedUrl,
        body: Any,
        md5: Optional[bytes],
        sign_again: Callable[[], SignedUrl],
        verify: Optional[Callable[[], None]] = None,
    ) -> tuple[Optional[str], SignedUrl]:
        """PUT ``body``; when storage rejects the signature (expired), get a new URL and retry.

        Re-signing is bounded by ``max_resigns`` and does not spend the retry
        budget. Returns the ETag and the URL that worked.
        """
        # Without a callback, count parts when acknowledged and send each body in one
        # piece: no per-chunk bookkeeping on the hot path.
        on_sent = (
            (lambda n: self.progress.sent(job.index, spec.number, n))
            if self.config.progress is not None
            else None
        )
        for resign in range(self.config.max_resigns + 1):
            try:
                stored = self.storage.put(
                    signed.url,
                    body,
                    method=signed.method,
                    content_type=job.new.content_type,
                    md5=md5,
                    deadline=self.deadline,
                    cancel=self.cancel,
                    on_sent=on_sent,
                    verify=verify,
                    # a stored object, or a part the journal keeps: worth its answer
                    keep_answer=not job.multipart or self.journal is not None,
                )
                return stored.etag, signed
            except SignatureRejected:
                if resign == self.config.max_resigns:
                    raise
                signed = sign_again()
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise TransferCancelled("transfer cancelled")

    # --- results (calling thread) ----------------------------------------------

    def _finished(self, job: Job, future: Future[Outcome]) -> None:
        job.in_flight -= 1
        self._blame = job
        outcome = future.result()  # a task's failure is raised here, then handled by _fail
        if isinstance(outcome, _PartSigned):
            job.in_flight += 1  # still in flight: its PUT waits for its turn and a slot
            self._signing.pop(future).ready = outcome
        elif isinstance(outcome, _PartDone):
            job.parts[outcome.part.number] = outcome.part
            if outcome.md5 is not None:
                job.md5s[outcome.part.number] = outcome.md5
            if job.all_submitted and job.in_flight == 0:
                self._to_complete.appendleft(job)
        elif isinstance(outcome, _Initiated):
            self._initiating = False
            for each, signed in zip(outcome.jobs, outcome.signed):
                each.single = signed
            self._ready.extend(outcome.jobs)
        elif isinstance(outcome, _SingleDone):
            job.single, job.etag = outcome.signed, outcome.put_etag
            if outcome.md5 is not None:
                job.md5s[1] = outcome.md5
            self._done(job, location=_without_query(outcome.signed.url))
        else:
            self._done(job, location=outcome.location)

    def _done(self, job: Job, location: Optional[str]) -> None:
        self._store_result(job, location)
        self.progress.file_done(job.index)

    def _store_result(self, job: Job, location: Optional[str]) -> None:
        job.close()
        if job.single is not None and self.journal is not None and isinstance(job, FileJob):
            assert job.path is not None and job.identity is not None
            md5 = job.md5s.get(1)
            try:
                self.journal.complete_single(
                    job.path,
                    job.identity,
                    filename=job.new.filename,
                    content_type=job.new.content_type,
                    key=job.single.key,
                    location=location,
                    md5_hex=md5.hex() if md5 else None,
                )
            except JournalError as exc:  # the object is stored: that is what counts
                logger.warning("%s: stored, but %s", job.name, exc)
        job.result = build_result(job, location)

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
                logger.warning("%s", _interrupted_summary(exc, error))
            raise exc
        raise error from exc

    def _clean_up(self, exc: BaseException) -> TransferError:
        job = self._blame
        self.cancel.set()
        for future in self._in_flight:
            future.cancel()
        # PUTs stalled on storage would hold the clean-up for their timeout: end them now.
        self.storage.interrupt(self.cancel, grace=_ANSWER_GRACE)
        running = [f for f in self._in_flight if not f.cancelled()]
        wait(running)
        for future in running:  # what did finish counts: stored files are successes
            self._settle(self._in_flight[future], future)
        aborted: set[int] = set()
        kept: set[int] = set()
        cleanup_errors: list[str] = []
        for open_job in self.jobs:
            if open_job.target is None or open_job.result is not None:
                continue
            if self.journal is not None and open_job.journaled:
                kept.add(open_job.index)
                continue
            try:
                self.api.cancel(open_job.target)
                aborted.add(open_job.index)
            except Exception as cancel_exc:  # report, but keep cleaning up the rest
                cleanup_errors.append(
                    f"abort of {open_job.upload_id} (key {open_job.key!r}) failed: "
                    f"{redact_url(str(cancel_exc))}"
                )
        for open_job in self.jobs:
            open_job.close()
        return _transfer_error(
            exc, job, self.jobs, aborted, kept, cleanup_errors, self.journal
        )

    def _settle(self, job: Job, future: Future[Outcome]) -> None:
        """Record what a task finished during the clean-up (no progress events: it is over)."""
        if future.exception() is not None:
            return  # a single PUT cut off after its body marked itself unconfirmed
        outcome = future.result()
        if isinstance(outcome, _PartDone):
            job.parts[outcome.part.number] = outcome.part
            if outcome.md5 is not None:
                job.md5s[outcome.part.number] = outcome.md5
        elif isinstance(outcome, _Initiated):
            for each, signed in zip(outcome.jobs, outcome.signed):
                each.single = signed  # nothing was sent to these URLs: nothing stored
        elif isinstance(outcome, _SingleDone):
            job.single, job.etag = outcome.signed, outcome.put_etag
            if outcome.md5 is not None:
                job.md5s[1] = outcome.md5
            self._store_result(job, _without_query(outcome.signed.url))
        elif isinstance(outcome, _Completed):
            self._store_result(job, outcome.location)
        # a _PartSigned was never sent: nothing of it is stored


# --- helpers ------------------------------------------------------------------


def build_result(job: Job, location: Optional[str]) -> UploadResult:
    """The typed result for a finished job, with its ETag checks."""
    key = job.key or ""
    size = job.size or 0
    if job.single is not None and not job.multipart:
        md5 = job.md5s.get(1)
        checksums = Checksums()
        if md5 is not None:
            etag = job.etag
            match = (normalize_etag(etag) == md5.hex()) if etag and looks_like_md5(etag) else None
            checksums = Checksums(md5=md5.hex(), expected_etag=md5.hex(), etag_match=match)
        return UploadResult(
            path=job.path,
            filename=job.new.filename,
            key=key,
            location=location,
            size=size,
            part_count=1,
            upload_id=None,
            multipart=False,
            checksums=checksums,
        )
    numbers = sorted(job.parts)
    checksums = Checksums()
    if numbers and all(n in job.md5s for n in numbers):
        digests = [job.md5s[n] for n in numbers]
        comparable = [n for n in numbers if looks_like_md5(job.parts[n].etag)]
        match = (
            all(normalize_etag(job.parts[n].etag) == job.md5s[n].hex() for n in numbers)
            if len(comparable) == len(numbers)
            else None
        )
        checksums = Checksums(
            part_md5s=tuple(d.hex() for d in digests),
            expected_etag=multipart_etag(digests),
            etag_match=match,
        )
    return UploadResult(
        path=job.path,
        filename=job.new.filename,
        key=key,
        location=location,
        size=size,
        part_count=len(numbers),
        upload_id=job.upload_id,
        multipart=True,
        checksums=checksums,
        resumed_parts=job.resumed_parts,
    )


def _resumed_bytes(job: Job) -> int:
    if job.result is not None:
        return job.size or 0
    if not job.parts or job.size is None:
        return 0
    plan = Plan(job.size, True, job.part_size)
    return sum(plan.part(n).length for n in job.parts)


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _transfer_error(
    exc: BaseException,
    job: Optional[Job],
    jobs: Sequence[Job],
    aborted: set[int],
    kept: set[int],
    cleanup_errors: list[str],
    journal: Optional[Journal],
) -> TransferError:
    name = job.name if job is not None else "upload"
    reason = redact_url(str(exc)) or type(exc).__name__
    message = f"{name}: {reason}"
    if job is not None and job.target is not None:
        if job.index in kept and journal is not None:
            message += f"; kept for resuming ({_journal_holds(journal, job)})"
        elif job.index in aborted:
            message += "; multipart upload aborted"
    elif job is not None and job.target is None and job.key is None and job.multipart:
        message += "; no upload was started for it"
    others = sorted(kept - ({job.index} if job is not None else set()))
    if others and journal is not None:
        message += f"; {len(others)} other upload(s) kept for resuming in {journal.path}"
    unconfirmed = tuple(j.key for j in jobs if j.unconfirmed and j.result is None and j.key)
    if unconfirmed:
        message += (
            "; cut off after its whole body was sent, so storage may hold it: "
            + ", ".join(repr(k) for k in unconfirmed)
        )
    if cleanup_errors:
        message += "; " + "; ".join(cleanup_errors)
    api_error = _api_error(exc)
    status = getattr(exc, "status", None)
    if not isinstance(status, int) and api_error is not None:
        status = api_error.status
    return TransferError(
        message,
        file=job.path if job is not None and job.path is not None else (job.name if job else None),
        upload_id=job.upload_id if job is not None else None,
        key=job.key if job is not None else None,
        completed_parts=sorted(job.parts) if job is not None else (),
        aborted=job is not None and job.index in aborted,
        status=status if isinstance(status, int) else None,
        results=[j.result for j in jobs if j.result is not None],
        api_error=api_error,
        unconfirmed=unconfirmed,
    )


def _journal_holds(journal: Journal, job: Job) -> str:
    record = journal.lookup(job.path) if job.path is not None else None
    held = sorted(record.parts) if record is not None and record.upload_id == job.upload_id else []
    parts = ",".join(str(n) for n in held) or "none yet"
    return f"journal {journal.path} holds parts: {parts}"


def _api_error(exc: BaseException) -> Optional[ApiException]:
    """The API's error behind ``exc``: itself, or the first one in its causes."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ApiException) and not isinstance(current, TransferError):
            return current
        current = current.__cause__ or current.__context__
    return None


def _interrupted_summary(exc: BaseException, error: TransferError) -> str:
    keys = [r.key for r in error.results]
    shown = ", ".join(repr(k) for k in keys[:10]) + (" ..." if len(keys) > 10 else "")
    text = f"upload interrupted ({type(exc).__name__}): {len(keys)} file(s) stored before it"
    if keys:
        text += f": {shown}"
    if error.unconfirmed:
        text += "; storage may also hold " + ", ".join(repr(k) for k in error.unconfirmed)
    return text


def _verify_part(source: FileSource, spec: PartSpec, md5: Optional[bytes]) -> None:
    """After storage found a body not matching its MD5: did the file change?

    Checks the identity, and hashes the range again: a change that the file
    system's timestamps are too coarse to show still changes the content.
    """
    source.check_unchanged()
    if md5 is not None and source.md5(spec) != md5:
        raise SourceChangedError(
            errno.EIO,
            f"content changed during the upload: part {spec.number} no longer has the MD5 it "
            f"was sent with (storage reported BadDigest)",
            source.path,
        )
