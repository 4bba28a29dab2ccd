"""The public entry points: ``Uploader`` and the one-call functions.

Everything that can be checked without the network is checked here, for
every file, before the first request: the path is a readable regular file,
the size fits S3's limits, the options are valid and the journal (if any)
describes the same file. Only then does :class:`~lilt.transfer.engine.Transfer`
start sending. So a typo in the fifth path of a batch fails at once, with no
upload left half-done on the server.
"""

from __future__ import annotations

import mimetypes
import os
import random as _random
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any, Callable, Optional, Union

import urllib3

from lilt.transfer._api import ApiOps, MultipartTarget, NewFile, UploadsApiLike
from lilt.transfer.config import StrPath, TransferConfig
from lilt.transfer.engine import FileJob, Job, StreamJob, Transfer
from lilt.transfer.journal import Journal, JournalRecord
from lilt.transfer.plan import plan_upload, stream_part_size
from lilt.transfer.results import Checksums, UploadResult
from lilt.transfer.source import FileSource, StreamSource
from lilt.transfer.storage import StorageClient

if TYPE_CHECKING:
    from lilt.api_client import ApiClient

__all__ = ["Uploader", "upload_file", "upload_fileobj", "upload_files"]

DEFAULT_CONTENT_TYPE = "application/octet-stream"

Client = Union["ApiClient", UploadsApiLike, None]


class Uploader:
    """A reusable managed uploader: one config, one worker pool, one storage connection pool.

    ``client`` is a :class:`lilt.ApiClient`, a :class:`lilt.UploadsApi` (or
    anything with its methods), or None for the default client configured
    from ``LILT_API_KEY``/``LILT_API_HOST``. Seams for tests and fault
    injection: ``executor`` (e.g. :class:`~lilt.transfer.SerialExecutor`; not
    shut down by :meth:`close` when given), ``http`` (the
    ``urllib3.PoolManager`` for storage PUTs), and ``clock``/``sleep``/
    ``random`` for retry timing. Use it as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        client: Client = None,
        config: Optional[TransferConfig] = None,
        *,
        executor: Optional[Executor] = None,
        http: Optional[urllib3.PoolManager] = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Optional[Callable[[float], None]] = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.config = config if config is not None else TransferConfig()
        if not isinstance(self.config, TransferConfig):
            raise TypeError(f"config must be a TransferConfig, got {type(self.config).__name__}")
        self._api = ApiOps(
            _uploads_api(client),
            retry=self.config.retry,
            sleep=sleep or time.sleep,
            random=random,
            clock=clock,
        )
        self._executor = executor
        self._owns_executor = executor is None
        self._clock = clock
        self.storage = StorageClient(
            retry=self.config.retry,
            timeout=self.config.storage_timeout,
            http=http,
            maxsize=self.config.concurrency + self.config.small_file_concurrency + 1,
            clock=clock,
            sleep=sleep,
            random=random,
        )

    # --- public calls --------------------------------------------------------

    def upload_file(
        self,
        path: StrPath,
        *,
        filename: Optional[str] = None,
        content_type: Optional[str] = None,
        category: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> UploadResult:
        """Upload one file; see :func:`lilt.upload_file`."""
        with self._journal() as journal:
            job = self._file_job(
                0,
                path,
                journal,
                filename=filename,
                content_type=content_type,
                category=category,
                labels=labels,
            )
            return self._run([job], journal)[0]

    def upload_files(
        self,
        paths: Iterable[StrPath],
        *,
        category: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> list[UploadResult]:
        """Upload many files on one pool; see :func:`lilt.upload_files`."""
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise TypeError("upload_files takes a list of paths; use upload_file for one")
        paths = list(paths)
        with self._journal() as journal:
            if journal is not None:
                seen = [os.path.realpath(p) for p in paths]
                if len(set(seen)) != len(seen):
                    raise ValueError(
                        "the same file is listed twice; a journal needs each file once"
                    )
            jobs: list[Job] = [
                self._file_job(i, p, journal, category=category, labels=labels)
                for i, p in enumerate(paths)
            ]
            return self._run(jobs, journal)

    def upload_fileobj(
        self,
        fileobj: IO[bytes],
        filename: Optional[str] = None,
        *,
        size: Optional[int] = None,
        content_type: Optional[str] = None,
        category: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> UploadResult:
        """Upload a binary stream; see :func:`lilt.upload_fileobj`."""
        if self.config.journal is not None:
            raise ValueError(
                "a resume journal needs a file path; use upload_file, or a "
                "TransferConfig without journal for streams"
            )
        name = filename or _stream_name(fileobj)
        stream = StreamSource(fileobj, name, size)
        job = self._stream_job(stream, name, content_type, category, labels)
        return self._run([job], None)[0]

    def close(self) -> None:
        """Release the worker threads (if this uploader made them) and storage connections."""
        if self._owns_executor and self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.storage.close()

    def __enter__(self) -> Uploader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- preflight -----------------------------------------------------------

    def _file_job(
        self,
        index: int,
        path: StrPath,
        journal: Optional[Journal],
        *,
        filename: Optional[str] = None,
        content_type: Optional[str] = None,
        category: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> FileJob:
        name = os.fspath(path)
        with FileSource(name) as source:  # missing, directory, unreadable: raised here
            size, mtime_ns = source.size, source.mtime_ns
            identity = source.identity() if journal is not None else None
        fname = filename or os.path.basename(name)
        plan = plan_upload(size, self.config)  # too many parts: raised here
        job = FileJob(
            index=index,
            name=name,
            path=name,
            size=size,
            mtime_ns=mtime_ns,
            identity=identity,
            new=NewFile(
                fname,
                content_type or _guess_type(fname),
                size,
                category,
                tuple(labels) if labels is not None else None,
            ),
            multipart=plan.multipart,
            part_size=plan.part_size,
        )
        if journal is not None and identity is not None:
            record = journal.resumable(name, identity)  # a changed file: raised here
            if record is not None:
                _resume(job, record)
        return job

    def _stream_job(
        self,
        stream: StreamSource,
        name: str,
        content_type: Optional[str],
        category: Optional[str],
        labels: Optional[Sequence[str]],
    ) -> StreamJob:
        config = self.config
        part_size = stream_part_size(stream.size, config)
        prefetched: list[bytearray] = []
        if stream.size is not None:
            multipart = stream.size > config.multipart_threshold
            if not multipart:
                prefetched.append(stream.read(stream.size + 1))  # one byte more proves the end
                stream.check_complete()
        else:
            # Unknown size: read up to threshold + 1 bytes to learn the kind (streams
            # cannot be re-read); the chunks become the first parts or the one body.
            total = 0
            while total <= config.multipart_threshold:
                chunk = stream.read(part_size)
                if not chunk:
                    break
                prefetched.append(chunk)
                total += len(chunk)
            multipart = total > config.multipart_threshold
        size = stream.size if stream.size is not None or multipart else stream.consumed
        job = StreamJob(
            index=0,
            name=name,
            size=size,
            multipart=multipart,
            part_size=part_size,
            new=NewFile(
                name,
                content_type or _guess_type(name),
                size,
                category,
                tuple(labels) if labels is not None else None,
            ),
            stream=stream,
        )
        job.prefetched.extend(prefetched)
        return job

    # --- running -------------------------------------------------------------

    def _run(self, jobs: Sequence[Job], journal: Optional[Journal]) -> list[UploadResult]:
        transfer = Transfer(
            jobs,
            api=self._api,
            storage=self.storage,
            config=self.config,
            executor=self._pool(),
            journal=journal,
            clock=self._clock,
        )
        return transfer.run()

    def _pool(self) -> Executor:
        if self._executor is None:
            # part PUTs and as many parts signing ahead, small-file PUTs and one
            # initiate batch; threads start as needed
            workers = 2 * self.config.concurrency + self.config.small_file_concurrency + 1
            self._executor = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="lilt-upload"
            )
        return self._executor

    def _journal(self) -> _JournalContext:
        return _JournalContext(self.config.journal)


class _JournalContext:
    """Opens the configured journal for one call (or yields None) and always closes it."""

    def __init__(self, path: Optional[StrPath]) -> None:
        self._path = path
        self._journal: Optional[Journal] = None

    def __enter__(self) -> Optional[Journal]:
        if self._path is not None:
            self._journal = Journal(self._path)
        return self._journal

    def __exit__(self, *exc: object) -> None:
        if self._journal is not None:
            self._journal.close()


# --- the one-call functions -------------------------------------------------------


def upload_file(
    path: StrPath,
    *,
    client: Client = None,
    config: Optional[TransferConfig] = None,
    filename: Optional[str] = None,
    content_type: Optional[str] = None,
    category: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
) -> UploadResult:
    """Upload the file at ``path``: one PUT up to the threshold, a multipart upload above it.

    ``filename`` (default: the path's base name) and ``content_type``
    (default: guessed from the name) are what the API is told; ``category``
    and ``labels`` go into the upload's metadata. Raises ``FileNotFoundError``,
    ``IsADirectoryError``, ``PermissionError``, :class:`~lilt.transfer.PlanError`
    or ``ValueError`` before any request, and :class:`lilt.exceptions.TransferError`
    (naming the file, upload id, key and stored parts) if the upload fails.
    """
    with Uploader(client, config) as uploader:
        return uploader.upload_file(
            path, filename=filename, content_type=content_type, category=category, labels=labels
        )


def upload_files(
    paths: Iterable[StrPath],
    *,
    client: Client = None,
    config: Optional[TransferConfig] = None,
    category: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
) -> list[UploadResult]:
    """Upload many files on one worker pool; results come back in the order of ``paths``.

    Uploads are initiated up to 100 per request, and small files interleave
    with the parts of large ones. Every path is checked before anything is
    sent. The first failure stops the rest: uploads not yet completed are
    aborted (kept, with a journal) and :class:`~lilt.exceptions.TransferError`
    names the failed file; files completed before it stay stored.
    """
    with Uploader(client, config) as uploader:
        return uploader.upload_files(paths, category=category, labels=labels)


def upload_fileobj(
    fileobj: IO[bytes],
    filename: Optional[str] = None,
    *,
    client: Client = None,
    config: Optional[TransferConfig] = None,
    size: Optional[int] = None,
    content_type: Optional[str] = None,
    category: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
) -> UploadResult:
    """Upload a binary stream, read front to back once.

    ``size`` is optional: a seekable stream's remaining size is measured, and
    a stream of unknown size is read in parts of ``part_size`` (so at most
    10,000 of them) with memory bounded by about
    ``max((concurrency + 1) * part_size, multipart_threshold + part_size)``.
    ``filename`` defaults to the base name of ``fileobj.name``.
    """
    with Uploader(client, config) as uploader:
        return uploader.upload_fileobj(
            fileobj,
            filename,
            size=size,
            content_type=content_type,
            category=category,
            labels=labels,
        )


# --- helpers ------------------------------------------------------------------------


def _uploads_api(client: Any) -> UploadsApiLike:
    import lilt

    if client is None:
        return lilt.UploadsApi()
    if isinstance(client, lilt.ApiClient):
        return lilt.UploadsApi(client)
    if all(
        hasattr(client, m)
        for m in (
            "initiate_s3_upload",
            "sign_upload_part",
            "complete_multipart_upload",
            "cancel_multipart_upload",
        )
    ):
        return client  # type: ignore[no-any-return]
    raise TypeError(
        f"client must be a lilt.ApiClient or lilt.UploadsApi, got {type(client).__name__}"
    )


def _resume(job: FileJob, record: JournalRecord) -> None:
    """Continue from the journal: same upload id, key, part size, name and content type."""
    job.new = NewFile(
        record.filename, record.content_type, job.size, job.new.category, job.new.labels
    )
    if record.completed:
        job.result = UploadResult(
            path=job.path,
            filename=record.filename,
            key=record.key,
            location=record.location,
            size=job.size or 0,
            part_count=max(len(record.parts), 1),
            upload_id=record.upload_id,
            multipart=record.upload_id is not None,
            checksums=Checksums(md5=record.md5s.get(1))
            if record.upload_id is None
            else Checksums(),
            resumed_parts=len(record.parts),
        )
        return
    assert record.upload_id is not None
    job.multipart = True
    job.part_size = record.part_size
    job.target = MultipartTarget(record.upload_id, record.key)
    job.parts = dict(record.parts)
    job.md5s = {n: bytes.fromhex(h) for n, h in record.md5s.items()}
    job.resumed_parts = len(job.parts)


def _guess_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


def _stream_name(fileobj: Any) -> str:
    name = getattr(fileobj, "name", None)
    if isinstance(name, str) and name:
        return os.path.basename(name)
    raise ValueError("upload_fileobj needs a filename for a stream without a name")
