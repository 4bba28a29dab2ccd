"""The public entry points: ``Uploader`` and the one-call functions.

Everything that can be checked without the network is checked here, for
every file, before the first request: the path is a readable regular file
(``str``, ``bytes`` or path-like), its name can be sent to the API, the size
fits S3's limits, the options are valid and the journal (if any) describes
the same file. Only then does :class:`~lilt.transfer.engine.Transfer` start
sending. So a typo in the fifth path of a batch fails at once, with no
upload left half-done on the server.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random as _random
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, Callable, Optional, Union
from urllib.parse import urlsplit

import urllib3

from lilt._content_type import choose_content_type
from lilt.exceptions import TransferError
from lilt.transfer.config import StrPath, TransferConfig
from lilt.transfer.engine import Transfer
from lilt.transfer.jobs import (
    FileContent,
    Job,
    MultipartJob,
    SingleJob,
    StreamContent,
    journaled_result,
)
from lilt.transfer.journal import Journal, JournalRecord
from lilt.transfer.plan import Plan, PlanError, plan_upload, stream_part_size
from lilt.transfer.progress import ProgressCallback, ProgressEvent
from lilt.transfer.results import UploadResult
from lilt.transfer.source import FileSource, StreamSource, file_identity
from lilt.transfer.storage_client import StorageClient
from lilt.transfer.uploader_api import (
    FilenameError,
    MultipartTarget,
    NewFile,
    UploaderApi,
    UploadsApiLike,
    check_filename,
)
from lilt.transfer.walk import LocalFile, OnSkip, SkippedPath, walk

if TYPE_CHECKING:
    from lilt.api_client import ApiClient

__all__ = ["Uploader", "upload_file", "upload_fileobj", "upload_files", "upload_folder"]

#: files of a folder are uploaded this many at a time (one engine run each), so
#: what is held per file stays bounded however large the tree is
WINDOW = 1000

logger = logging.getLogger("lilt.transfer")

Client = Union["ApiClient", UploadsApiLike, None]
#: a path as ``upload_file`` takes it (bytes paths are decoded as ``os.fsdecode`` does)
AnyPath = Union[StrPath, bytes, "os.PathLike[bytes]"]


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
        self._own_client: Any = None
        if client is None and _default_client() is None:
            import lilt

            # The environment as it is now: a second emulator, another key.
            client = self._own_client = lilt.ApiClient(lilt.Configuration())
        api = _uploads_api(client)
        self._api = UploaderApi(
            api,
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
            timeout=self.config.storage_timeout,  # type: ignore[arg-type]  # a pair by now
            http=http,
            maxsize=self.config.concurrency + self.config.small_file_concurrency + 1,
            clock=clock,
            sleep=sleep,
            random=random,
            stall_time=self.config.stall_timeout,
            stall_speed=self.config.stall_speed,
            # an https API must not hand out plain-http storage URLs, unless allowed
            allow_http=self.config.allow_http_storage or _api_scheme(api) != "https",
        )

    # --- public calls --------------------------------------------------------

    def upload_file(
        self,
        path: AnyPath,
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
        paths: Iterable[AnyPath],
        *,
        category: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> list[UploadResult]:
        """Upload many files on one pool; see :func:`lilt.upload_files`."""
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise TypeError("upload_files takes a list of paths; use upload_file for one")
        paths = [os.fsdecode(p) for p in paths]
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

    def upload_folder(
        self,
        folder: StrPath,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        category: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
        on_skip: Optional[OnSkip] = None,
    ) -> list[UploadResult]:
        """Upload every file under ``folder``; see :func:`lilt.upload_folder`.

        A failure in a later window of files raises a ``TransferError`` whose
        ``results`` also hold the files earlier windows stored.
        """
        skipped = on_skip if on_skip is not None else _log_skip
        files = walk(folder, include=include, exclude=exclude, on_skip=skipped)
        stored: list[UploadResult] = []
        try:
            for result in self.iter_upload(
                files, category=category, labels=labels, on_skip=skipped
            ):
                stored.append(result)
        except TransferError as exc:
            exc.results = (*stored, *exc.results)
            raise
        return stored

    def iter_upload(
        self,
        files: Iterable[LocalFile],
        *,
        content_type: Optional[str] = None,
        category: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
        on_skip: Optional[OnSkip] = None,
        expected: Optional[tuple[int, int]] = None,
        restart_changed: bool = False,
    ) -> Iterator[UploadResult]:
        """Upload ``files`` (read lazily, e.g. from :func:`~lilt.transfer.walk.walk`) and yield
        each result, a window of files at a time.

        At most :data:`WINDOW` files are held at once (each costs a few hundred
        bytes while its window runs), so any number of files can stream through;
        all of them share the worker pool, the storage connections and the
        journal. Files are checked just before their window starts: with
        ``on_skip``, one that cannot be read (gone, unreadable, too large) is
        reported there and left out; without, the error is raised. ``expected``
        is ``(files, bytes)`` when known in advance (a progress bar's totals).
        With a journal and ``restart_changed``, a kept upload of a file that
        has changed since is cancelled and the file starts afresh, instead of
        :class:`~lilt.transfer.JournalError`.
        """
        progress = _WindowedProgress(self.config.progress, expected)
        config = self.config
        if config.progress is not None:
            config = dataclasses.replace(config, progress=progress)
        source = iter(files)
        with self._journal() as journal:
            upcoming = list(islice(source, WINDOW))
            while upcoming:
                # Read one window ahead: the progress total is final only in the last one.
                window, upcoming = upcoming, list(islice(source, WINDOW))
                jobs: list[Job] = []
                for file in window:
                    if journal is not None and restart_changed:
                        self._restart_if_changed(journal, file.path)
                    try:
                        jobs.append(
                            self._file_job(
                                len(jobs),
                                file.path,
                                journal,
                                filename=file.filename,
                                content_type=content_type,
                                category=category,
                                labels=labels,
                            )
                        )
                    except (OSError, PlanError, FilenameError) as exc:
                        if on_skip is None:
                            raise
                        on_skip(SkippedPath(file.path, _describe(exc), error=True))
                if jobs:
                    progress.next_window(len(jobs), last=not upcoming)
                    yield from self._run(jobs, journal, config)

    def _restart_if_changed(self, journal: Journal, path: str) -> None:
        record = journal.lookup(path)
        if record is None or record.completed or record.upload_id is None:
            return
        try:
            change = record.identity.describe_change(file_identity(path))
        except OSError:
            return  # reported when the file is checked
        if change is None:
            return
        logger.warning(
            "%s: %s since upload %s was kept; cancelling it and starting afresh",
            path,
            change,
            record.upload_id,
        )
        try:
            self._api.cancel(MultipartTarget(record.upload_id, record.key))
        except Exception as exc:  # already gone on the server is fine; the rest is logged
            logger.warning("could not cancel upload %s: %s", record.upload_id, exc)
        journal.discard(record)

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
        name = check_filename(filename if filename is not None else _stream_name(fileobj))
        stream = StreamSource(fileobj, name, size)
        job = self._stream_job(stream, name, content_type, category, labels)
        return self._run([job], None)[0]

    def close(self) -> None:
        """Release the worker threads (if this uploader made them) and storage connections."""
        if self._owns_executor and self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.storage.close()
        if self._own_client is not None:
            self._own_client.close()

    def __enter__(self) -> Uploader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- preflight -----------------------------------------------------------

    def _file_job(
        self,
        index: int,
        path: AnyPath,
        journal: Optional[Journal],
        *,
        filename: Optional[str] = None,
        content_type: Optional[str] = None,
        category: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> Job:
        name = os.fsdecode(path)  # bytes paths: str with surrogate escapes, as os does
        fname = check_filename(
            filename if filename is not None else os.path.basename(name), path=name
        )
        with FileSource(name) as source:  # missing, directory, unreadable: raised here
            snapshot = source.snapshot
            identity = source.identity() if journal is not None else None
        size = snapshot.size
        plan = plan_upload(size, self.config)  # too many parts: raised here
        content = FileContent(name, snapshot, plan, identity)
        stale = None
        if journal is not None and identity is not None:
            record = journal.resumable(name, identity)  # a changed file: raised here
            if record is not None and record.problem is None:
                return _journaled_job(index, name, content, record, category, labels)
            if record is not None:
                stale = _unusable(name, record, journal)
        new_file = _new_file(fname, content_type, size, category, labels)
        job = _new_job(index, name, new_file, content)
        job.stale = stale
        return job

    def _stream_job(
        self,
        stream: StreamSource,
        name: str,
        content_type: Optional[str],
        category: Optional[str],
        labels: Optional[Sequence[str]],
    ) -> Job:
        config = self.config
        content = StreamContent(stream, stream_part_size(stream.size, config))
        if stream.size is not None:
            multipart = stream.size > config.multipart_threshold
            if not multipart:
                # one byte more proves the end
                content.prefetched.append(stream.read(stream.size + 1))
                stream.check_complete()
        else:
            # Unknown size: read up to threshold + 1 bytes to learn the kind (streams
            # cannot be re-read); the chunks become the first parts or the one body.
            total = 0
            while total <= config.multipart_threshold:
                chunk = stream.read(content.part_size)
                if not chunk:
                    break
                content.prefetched.append(chunk)
                total += len(chunk)
            multipart = total > config.multipart_threshold
        if multipart:
            new_file = _new_file(name, content_type, stream.size, category, labels)
            return MultipartJob(0, name, new_file, content, size=stream.size)
        new_file = _new_file(name, content_type, stream.consumed, category, labels)
        return SingleJob(0, name, new_file, content, size=stream.consumed)

    # --- running -------------------------------------------------------------

    def _run(
        self,
        jobs: Sequence[Job],
        journal: Optional[Journal],
        config: Optional[TransferConfig] = None,
    ) -> list[UploadResult]:
        transfer = Transfer(
            jobs,
            api=self._api,
            storage=self.storage,
            config=config if config is not None else self.config,
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
    path: AnyPath,
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
    paths: Iterable[AnyPath],
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


def upload_folder(
    folder: StrPath,
    *,
    client: Client = None,
    config: Optional[TransferConfig] = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    category: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
    on_skip: Optional[OnSkip] = None,
) -> list[UploadResult]:
    """Upload every file under ``folder`` (recursively), a window of files at a time.

    Each file is sent with its path relative to the folder's parent as its
    name (``photos/2024/a.jpg``). ``include``/``exclude`` are shell patterns;
    symbolic links are followed without ever looping; hidden files are
    included; empty folders upload nothing (the rules:
    :mod:`lilt.transfer.walk`). Entries left out, and files that could not be
    read, go to ``on_skip`` (default: a warning on the ``lilt.transfer``
    logger). Results come in walk order and say which path became which key.
    """
    with Uploader(client, config) as uploader:
        return uploader.upload_folder(
            folder,
            include=include,
            exclude=exclude,
            category=category,
            labels=labels,
            on_skip=on_skip,
        )


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


def _default_client() -> Any:
    """The client set with ``ApiClient.set_default`` (or made by ``UploadsApi()``), if any."""
    from lilt.api_client import ApiClient

    return ApiClient._default


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


def _new_file(
    filename: str,
    content_type: Optional[str],
    size: Optional[int],
    category: Optional[str],
    labels: Optional[Sequence[str]],
) -> NewFile:
    """What the API is told about a file (the content type guessed from its name if not given)."""
    return NewFile(
        filename,
        content_type or _guess_type(filename),
        size,
        category,
        tuple(labels) if labels is not None else None,
    )


def _new_job(index: int, name: str, new_file: NewFile, content: FileContent) -> Job:
    """A file's job as planned: one PUT, or a multipart upload."""
    plan = content.plan
    if plan.multipart:
        return MultipartJob(index, name, new_file, content, size=plan.size)
    return SingleJob(index, name, new_file, content, size=plan.size)


def _unusable(name: str, record: JournalRecord, journal: Journal) -> Optional[MultipartTarget]:
    """A journal record that cannot be resumed (``problem``): the file is uploaded afresh.

    Returns the upload it names, if any, to cancel when the transfer starts.
    """
    named = bool(record.upload_id and record.key)
    logger.warning(
        "%s: the journal %s cannot resume %s (%s); %suploading the file afresh",
        name,
        journal.path,
        f"upload {record.upload_id}" if named else "the upload it records",
        record.problem,
        "cancelling it and " if named else "",
    )
    if record.upload_id and record.key:
        return MultipartTarget(record.upload_id, record.key)
    return None


def _journaled_job(
    index: int,
    name: str,
    content: FileContent,
    record: JournalRecord,
    category: Optional[str],
    labels: Optional[Sequence[str]],
) -> Job:
    """Continue from the journal: same upload id, key, part size, name and content type.

    An upload completed in an earlier run has its result already. Otherwise
    the multipart upload goes on; the API is asked first (``probe``) whether
    it still exists.
    """
    size = content.plan.size
    # the journal's name and content type: the upload was initiated with them
    new_file = _new_file(record.filename, record.content_type, size, category, labels)
    if record.completed:
        job = _new_job(index, name, new_file, content)
        job.result = journaled_result(job, record)
        return job
    assert record.upload_id is not None  # a record without one is single, so completed
    content.plan = Plan(size=size, multipart=True, part_size=record.part_size)
    parts = dict(record.parts)
    return MultipartJob(
        index,
        name,
        new_file,
        content,
        size=size,
        target=MultipartTarget(record.upload_id, record.key),
        parts=parts,
        md5s={n: bytes.fromhex(h) for n, h in record.md5s.items()},
        resumed_parts=len(parts),
        journaled=True,
        probe=True,
    )


def _guess_type(name: str) -> str:
    return choose_content_type(filename=name)


def _stream_name(fileobj: Any) -> str:
    name = getattr(fileobj, "name", None)
    if isinstance(name, (str, bytes)) and name:
        return os.path.basename(os.fsdecode(name))
    raise ValueError("upload_fileobj needs a filename for a stream without a name")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _log_skip(skipped: SkippedPath) -> None:
    level = logging.WARNING if skipped.error else logging.INFO
    logger.log(level, "skipped %s: %s", skipped.path, skipped.reason)


class _WindowedProgress:
    """One call's progress over many engine runs: counts carry on from window to window.

    The total size is known from the start only when the caller counted it
    (``expected``); otherwise it is None until the last window begins.
    """

    def __init__(
        self, callback: Optional[ProgressCallback], expected: Optional[tuple[int, int]]
    ) -> None:
        self._callback = callback
        self._expected = expected
        self._base: Optional[ProgressEvent] = None
        self._last: Optional[ProgressEvent] = None
        self._files = 0
        self._final = True

    def next_window(self, files: int, *, last: bool) -> None:
        if self._last is not None:
            self._base = self._last
        self._files += files
        self._final = last

    def __call__(self, event: ProgressEvent) -> None:
        if self._callback is None:
            return
        base = self._base
        total_size = event.total_size
        if base is not None:
            event = dataclasses.replace(
                event,
                total_bytes=base.total_bytes + event.total_bytes,
                stored_bytes=base.stored_bytes + event.stored_bytes,
                resumed_bytes=base.resumed_bytes + event.resumed_bytes,
                files_done=base.files_done + event.files_done,
            )
            if total_size is not None:
                total_size = None if base.total_size is None else base.total_size + total_size
        self._last = event = dataclasses.replace(
            event, file_count=self._files, total_size=total_size
        )
        if self._expected is not None:
            files, size = self._expected
            event = dataclasses.replace(
                event, file_count=max(files, self._files), total_size=max(size, event.total_bytes)
            )
        elif not self._final:
            event = dataclasses.replace(event, total_size=None)
        self._callback(event)


def _api_scheme(api: Any) -> Optional[str]:
    """The scheme of the API host ``api`` sends to, when it is a lilt client (else None)."""
    configuration = getattr(getattr(api, "api_client", None), "configuration", None)
    host = getattr(configuration, "host", None)
    return urlsplit(host).scheme.lower() if isinstance(host, str) else None
