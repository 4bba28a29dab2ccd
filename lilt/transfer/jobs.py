"""What to upload: one record per file, typed by how it is uploaded.

A file goes up in one PUT (:class:`SingleJob`) or as a multipart upload
(:class:`MultipartJob`); which one is decided before the transfer starts
(by the plan, or by the journal an upload is resumed from) and never changes,
so each type carries only the fields its kind of upload has. Its bytes come
from a regular file (:class:`FileContent`, with the plan that cuts it into
parts) or from a stream read front to back (:class:`StreamContent`).

Jobs belong to the calling thread: only it changes them (the scheduler in
:mod:`lilt.transfer.engine`, applying what tasks return). Worker threads
(:mod:`lilt.transfer.tasks`) read the fields that are fixed before a task is
submitted (index, name, ``new_file``, the target, the open file) and never
write to a job.

Every :class:`~lilt.transfer.results.UploadResult` is built here, by
:func:`upload_result`.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Optional, Union

from lilt.transfer.config import MAX_PARTS
from lilt.transfer.journal import JournalRecord
from lilt.transfer.plan import PartSpec, Plan, PlanError
from lilt.transfer.results import (
    Checksums,
    UploadedPart,
    UploadResult,
    looks_like_md5,
    multipart_etag,
    normalize_etag,
)
from lilt.transfer.source import FileIdentity, FileSource, Snapshot, StreamSource
from lilt.transfer.uploader_api import MultipartTarget, NewFile, SignedUrl

__all__ = [
    "FileContent",
    "Job",
    "MultipartJob",
    "SingleJob",
    "StreamContent",
    "journaled_result",
    "upload_result",
]


@dataclass
class FileContent:
    """A regular file, read with positional reads, and the plan that cuts it into parts.

    ``snapshot`` is the version planned: every read is checked against it.
    """

    path: str
    snapshot: Snapshot
    plan: Plan
    identity: Optional[FileIdentity] = None  # with a journal
    source: Optional[FileSource] = None  # a multipart upload's file, open while parts are read

    def open(self) -> FileSource:
        if self.source is None:
            self.source = FileSource(self.path, expect=self.snapshot)
        return self.source

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None


@dataclass
class StreamContent:
    """A file object read front to back; ``prefetched`` holds what was read to decide its kind.

    Those chunks become a single PUT's body, or a multipart upload's first parts.
    """

    stream: StreamSource
    part_size: int
    prefetched: collections.deque[bytearray] = field(default_factory=collections.deque)
    offset: int = 0  # bytes handed out as parts so far

    def take_prefetched(self) -> list[bytearray]:
        """The chunks read ahead, handed over once (a single PUT's body)."""
        chunks = list(self.prefetched)
        self.prefetched.clear()
        return chunks

    def close(self) -> None:
        self.prefetched.clear()


Content = Union[FileContent, StreamContent]


@dataclass
class SingleJob:
    """One PUT of the whole content, to the URL its initiation returns."""

    index: int
    name: str  # shown in progress and errors
    new_file: NewFile
    content: Content
    size: int
    stale: Optional[MultipartTarget] = None  # a journal's unusable upload: cancel it first
    signed: Optional[SignedUrl] = None  # set once initiated (again, if a PUT had to be)
    etag: Optional[str] = None  # the ETag as storage reported it
    md5: Optional[bytes] = None
    unconfirmed: bool = False  # cut off after its whole body was sent: storage may hold it
    result: Optional[UploadResult] = None

    @property
    def path(self) -> Optional[str]:
        return self.content.path if isinstance(self.content, FileContent) else None

    @property
    def key(self) -> Optional[str]:
        return self.signed.key if self.signed is not None else None

    def close(self) -> None:
        self.content.close()

    def finish(self, location: Optional[str]) -> UploadResult:
        """The result of the stored PUT, with its ETag check."""
        checksums = Checksums()
        if self.md5 is not None:
            etag, digest = self.etag, self.md5.hex()
            match = (normalize_etag(etag) == digest) if etag and looks_like_md5(etag) else None
            checksums = Checksums(md5=digest, expected_etag=digest, etag_match=match)
        return upload_result(
            self,
            key=self.key or "",
            location=location,
            part_count=1,
            upload_id=None,
            checksums=checksums,
        )


@dataclass
class MultipartJob:
    """A multipart upload: parts PUT to signed URLs, then one complete call."""

    index: int
    name: str  # shown in progress and errors
    new_file: NewFile
    content: Content
    size: Optional[int]  # a stream of unknown size: known once read to its end
    stale: Optional[MultipartTarget] = None  # a journal's unusable upload: cancel it first
    target: Optional[MultipartTarget] = None  # upload id and key, once initiated
    parts: dict[int, UploadedPart] = field(default_factory=dict)  # stored parts
    md5s: dict[int, bytes] = field(default_factory=dict)
    next_number: int = 1
    in_flight: int = 0  # tasks submitted and not finished (parts signing or PUT, complete)
    all_submitted: bool = False  # every part's task was submitted
    resumed_parts: int = 0
    journaled: bool = False  # the journal durably holds this upload's start
    probe: bool = False  # resumed from the journal: check the upload still exists first
    result: Optional[UploadResult] = None

    @property
    def path(self) -> Optional[str]:
        return self.content.path if isinstance(self.content, FileContent) else None

    @property
    def key(self) -> Optional[str]:
        return self.target.key if self.target is not None else None

    @property
    def upload_id(self) -> Optional[str]:
        return self.target.upload_id if self.target is not None else None

    def close(self) -> None:
        self.content.close()

    def next_file_part(self, plan: Plan) -> Optional[PartSpec]:
        """The next part of a file not stored yet (the journal may hold some), by ``plan``."""
        while self.next_number <= plan.part_count:
            spec = plan.part(self.next_number)
            self.next_number += 1
            if spec.number not in self.parts:
                return spec
        return None

    def next_stream_part(self, content: StreamContent) -> Optional[tuple[PartSpec, bytearray]]:
        """The next part of a stream and its bytes, or None at its end."""
        if content.prefetched:
            data = content.prefetched.popleft()
        else:
            data = content.stream.read(content.part_size)
        if not data:
            return None
        if self.next_number > MAX_PARTS:
            raise PlanError(
                f"{self.name}: the stream is longer than {MAX_PARTS} parts of "
                f"{content.part_size} bytes; pass its size to upload_fileobj or raise part_size"
            )
        spec = PartSpec(self.next_number, content.offset, len(data))
        self.next_number += 1
        content.offset += len(data)
        return spec, data

    def resumed_bytes(self) -> int:
        """Bytes of the parts the journal already holds."""
        if not self.parts or not isinstance(self.content, FileContent):
            return 0
        plan = self.content.plan
        return sum(plan.part(n).length for n in self.parts)

    def finish(self, location: Optional[str]) -> UploadResult:
        """The result of the completed upload, with the ETag checks of its parts."""
        numbers = sorted(self.parts)
        checksums = Checksums()
        if numbers and all(n in self.md5s for n in numbers):
            digests = [self.md5s[n] for n in numbers]
            comparable = [n for n in numbers if looks_like_md5(self.parts[n].etag)]
            match = (
                all(normalize_etag(self.parts[n].etag) == self.md5s[n].hex() for n in numbers)
                if len(comparable) == len(numbers)
                else None
            )
            checksums = Checksums(
                part_md5s=tuple(d.hex() for d in digests),
                expected_etag=multipart_etag(digests),
                etag_match=match,
            )
        return upload_result(
            self,
            key=self.key or "",
            location=location,
            part_count=len(numbers),
            upload_id=self.upload_id,
            checksums=checksums,
            resumed_parts=self.resumed_parts,
        )


Job = Union[SingleJob, MultipartJob]


def journaled_result(job: Job, record: JournalRecord) -> UploadResult:
    """The result of an upload the journal records as completed in an earlier run."""
    single = record.upload_id is None
    return upload_result(
        job,
        key=record.key,
        location=record.location,
        part_count=max(len(record.parts), 1),
        upload_id=record.upload_id,
        checksums=Checksums(md5=record.md5s.get(1)) if single else Checksums(),
        resumed_parts=max(len(record.parts), 1),  # all of it: nothing left to send
    )


def upload_result(
    job: Job,
    *,
    key: str,
    location: Optional[str],
    part_count: int,
    upload_id: Optional[str],
    checksums: Checksums,
    resumed_parts: int = 0,
) -> UploadResult:
    """The one place an :class:`UploadResult` is made: the rest comes from the job."""
    return UploadResult(
        path=job.path,
        filename=job.new_file.filename,
        key=key,
        location=location,
        size=job.size or 0,
        part_count=part_count,
        upload_id=upload_id,
        multipart=upload_id is not None,
        checksums=checksums,
        resumed_parts=resumed_parts,
    )
