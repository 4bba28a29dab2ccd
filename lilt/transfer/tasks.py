"""The task bodies: the I/O that worker threads do for the engine.

Each task takes what it needs as arguments and returns an outcome record
(:class:`Initiated`, :class:`PartSigned`, ...); the calling thread applies it
to the job (:mod:`lilt.transfer.engine`). A task never writes to a job. It
reads only what is fixed before it is submitted and not changed while it
runs: a job's ``index``, ``name``, ``new_file``, ``size`` (a single PUT's),
``journaled`` and ``content`` (a file's path and snapshot), and the targets,
URLs, parts and open files passed to it. A single PUT opens its own copy of
its file; a multipart upload's file is opened by the calling thread before
its first part is handed out, and closed only after its last task finished
(or in the clean-up, after every task stopped). What tasks do share is
thread-safe by design: the progress tracker and the journal (each behind its
own lock), the storage client and the API calls, and the cancel event.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional, Union

from lilt.transfer.config import TransferConfig
from lilt.transfer.jobs import FileContent, MultipartJob, SingleJob
from lilt.transfer.journal import Journal, JournalError
from lilt.transfer.plan import PartSpec
from lilt.transfer.progress import ProgressTracker
from lilt.transfer.results import UploadedPart
from lilt.transfer.source import FileSource, SourceChangedError
from lilt.transfer.storage_client import (
    Body,
    SignatureRejected,
    StorageClient,
    StorageError,
    TransferCancelled,
)
from lilt.transfer.uploader_api import MultipartTarget, NewFile, SignedUrl, UploaderApi

__all__ = [
    "Completed",
    "Initiated",
    "PartSigned",
    "PartStored",
    "SingleCutOff",
    "SingleStored",
    "Tasks",
]

logger = logging.getLogger("lilt.transfer")

#: bodies up to this size are read into memory; larger ones go by sendfile
IN_MEMORY = 256 * 1024


# --- outcomes: what a task hands back to the calling thread -----------------------


@dataclass(frozen=True)
class Initiated:
    """Single-PUT URLs for a batch of files, in the batch's order."""

    signed: tuple[SignedUrl, ...]


@dataclass(frozen=True)
class PartSigned:
    """A part ready to PUT: its URL and its body (with MD5, when checksums are on)."""

    spec: PartSpec
    signed: SignedUrl
    body: Body
    md5: Optional[bytes]
    verify: Optional[Callable[[], None]]  # checks the file still holds what was hashed


@dataclass(frozen=True)
class PartStored:
    part: UploadedPart
    md5: Optional[bytes]


@dataclass(frozen=True)
class SingleStored:
    etag: Optional[str]
    md5: Optional[bytes]
    signed: SignedUrl  # may differ from the job's if the PUT had to be re-initiated


@dataclass(frozen=True)
class Completed:
    location: Optional[str]


class SingleCutOff(TransferCancelled):
    """A single PUT cancelled after its whole body was sent: storage may hold ``signed.key``."""

    def __init__(self, signed: SignedUrl) -> None:
        super().__init__("transfer cancelled", body_sent=True)
        self.signed = signed


# --- the task bodies (worker threads) ----------------------------------------------


@dataclass(frozen=True)
class Tasks:
    """The bodies of the tasks one transfer submits to its pool, and what they share."""

    api: UploaderApi
    storage: StorageClient
    config: TransferConfig
    journal: Optional[Journal]
    progress: ProgressTracker
    cancel: threading.Event
    deadline: Optional[float]  # a ``clock()`` value after which no retry starts

    def initiate_singles(self, files: Sequence[NewFile]) -> Initiated:
        self._check_cancelled()
        return Initiated(tuple(self.api.initiate_single(files)))

    def sign_part(
        self,
        target: MultipartTarget,
        spec: PartSpec,
        source: Union[FileSource, bytearray],
    ) -> PartSigned:
        """Sign a part and make its body: read and hashed once, from the file or the bytes read."""
        self._check_cancelled()
        signed = self.api.sign(target, spec.number, spec.length)
        body: Body
        verify: Optional[Callable[[], None]] = None
        if isinstance(source, FileSource):
            body, md5 = self._file_body(source, spec)
            if not isinstance(body, bytes):  # sent from the file: it may change under the send
                verify = partial(_verify_part, source, spec, md5)
        else:
            body, md5 = source, hashlib.md5(source).digest() if self.config.checksum else None
        return PartSigned(spec, signed, body, md5, verify)

    def put_part(
        self,
        job: MultipartJob,
        target: MultipartTarget,
        ready: PartSigned,
        source: Optional[FileSource],
    ) -> PartStored:
        self._check_cancelled()
        spec = ready.spec
        etag, _ = self._put_signed(
            job,
            spec,
            ready.signed,
            ready.body,
            ready.md5,
            lambda: self.api.sign(target, spec.number, spec.length),
            ready.verify,
        )
        if source is not None:
            # Sent straight from the file, and the kernel may still have been sending it
            # after the last check: was it the same file until storage answered?
            source.check_unchanged()
        if not etag:
            raise StorageError(f"storage stored part {spec.number} but sent no ETag")
        part = UploadedPart(spec.number, etag)
        if self.journal is not None and job.journaled:
            self.journal.part(target.upload_id, part, ready.md5.hex() if ready.md5 else None)
        self.progress.part_done(job.index, spec.number, spec.length)
        return PartStored(part, ready.md5)

    def put_single(
        self, job: SingleJob, signed: SignedUrl, chunks: Sequence[bytearray]
    ) -> SingleStored:
        """PUT the whole content: a file (opened here, closed when done) or ``chunks`` read."""
        self._check_cancelled()
        spec = PartSpec(1, 0, job.size)

        def initiate_again() -> SignedUrl:
            # A single PUT's URL comes from initiation: initiate again for a fresh one.
            nonlocal signed
            signed = self.api.initiate_single([job.new_file])[0]
            return signed

        content = job.content
        source = None
        if isinstance(content, FileContent):
            source = FileSource(content.path, expect=content.snapshot)
        try:
            body: Body
            verify: Optional[Callable[[], None]] = None
            if source is None:
                body = b"".join(chunks)
                md5 = hashlib.md5(body).digest() if self.config.checksum else None
            else:
                body, md5 = self._file_body(source, spec)
                if not isinstance(body, bytes):
                    verify = partial(_verify_part, source, spec, md5)
            try:
                etag, signed = self._put_signed(
                    job, spec, signed, body, md5, initiate_again, verify
                )
            except TransferCancelled as exc:
                if exc.body_sent:  # storage may hold the object: the calling thread names it
                    raise SingleCutOff(signed) from exc
                raise
            if source is not None:
                _accept_single(source, spec, md5, signed)
        finally:
            if source is not None:
                source.close()
        self.progress.part_done(job.index, 1, spec.length)
        return SingleStored(etag, md5, signed)

    def complete(
        self,
        job: MultipartJob,
        target: MultipartTarget,
        parts: Sequence[UploadedPart],
        source: Optional[FileSource],
    ) -> Completed:
        self._check_cancelled()
        if source is not None:
            source.check_path()  # the last line of defence against a changed file
        location = self.api.complete(target, parts)
        if self.journal is not None and job.journaled:
            try:
                self.journal.complete_multipart(target.upload_id, location)
            except JournalError as exc:  # the object is stored: that is what counts
                logger.warning("%s: stored, but %s", job.name, exc)
        return Completed(location)

    def _put_signed(
        self,
        job: Union[SingleJob, MultipartJob],
        spec: PartSpec,
        signed: SignedUrl,
        body: Body,
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
                    content_type=job.new_file.content_type,
                    md5=md5,
                    deadline=self.deadline,
                    cancel=self.cancel,
                    on_sent=on_sent,
                    verify=verify,
                    # a stored object, or a part the journal keeps: worth its answer
                    keep_answer=isinstance(job, SingleJob) or job.journaled,
                )
                return stored.etag, signed
            except SignatureRejected:
                if resign == self.config.max_resigns:
                    raise
                signed = sign_again()
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _file_body(self, source: FileSource, spec: PartSpec) -> tuple[Body, Optional[bytes]]:
        """A file range as a body, and its MD5 when checksums are on.

        Small bodies are read once into memory (and checked). Larger ones are
        hashed 1 MiB at a time and then sent by the kernel from the page cache
        (sendfile), so a part is never held whole and never copied through
        Python; the identity checks between chunks and before the tail of the
        body, and storage's MD5 check, catch a file that changed in between.
        """
        if spec.length <= IN_MEMORY:
            data = source.read(spec)
            return data, hashlib.md5(data).digest() if self.config.checksum else None
        return source.range(spec), source.md5(spec) if self.config.checksum else None

    def _check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise TransferCancelled("transfer cancelled")


def _accept_single(
    source: FileSource, spec: PartSpec, md5: Optional[bytes], signed: SignedUrl
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
    if md5 is not None or spec.length <= IN_MEMORY:
        return
    try:
        source.check_unchanged()
    except SourceChangedError as exc:
        raise SourceChangedError(
            errno.EIO,
            f"{exc.strerror}; it was sent without checksum=True and storage stored it under "
            f"key {signed.key!r}, which may hold a mix of two versions: the API has no call "
            f"to delete it, so upload the file again and do not use that key",
            source.path,
        ) from None


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
