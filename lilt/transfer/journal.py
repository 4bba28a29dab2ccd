"""The resume journal: an append-only JSON-lines file, fsynced per finished part.

The API has no "list parts" call, so the only durable record of which parts
storage already holds is the one kept here. Each line is one event:

``start``
    a multipart upload began: the file's path and identity (size, mtime,
    sampled hash), part size, upload id, key, name and content type.
``part``
    storage acknowledged part N of an upload with this ETag (and MD5).
``complete``
    the upload was completed (multipart) or stored (single PUT, which has no
    upload id and writes only this line, with the file's identity).

Appending and fsyncing each line means a crash loses at most the part in
flight, and a torn last line is skipped on reading. Re-uploading a part
whose line was lost is harmless: S3 keeps the last write of a part number.
The journal refuses to resume onto a file whose identity changed, since that
would splice old and new content into one object.

Every write is checked: a short write is completed, and a failed write or
``fsync`` (a full disk, an I/O error) raises :class:`JournalError` and
leaves the journal refusing further writes, since after a failed ``fsync``
nothing written since the last good one can be trusted to be on disk. The
engine then stops the upload, and keeps on the server only the uploads
whose start the journal did record (their parts recorded so far are what a
later run resumes from).

A journal edited by hand or written by something else is read defensively:
a line that is not JSON, or an event of an unknown kind, is skipped; a
``start`` whose values are of the wrong type or out of range (part size 0,
part numbers beyond the file) marks its upload as unusable
(``JournalRecord.problem``) rather than failing with a raw ``ValueError``,
so the uploader can cancel that upload and start the file afresh.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from lilt.transfer.config import MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE
from lilt.transfer.results import UploadedPart
from lilt.transfer.source import FileIdentity

if sys.platform != "win32":
    import fcntl

__all__ = ["Journal", "JournalError", "JournalRecord"]

VERSION = 1


class JournalError(ValueError):
    """The journal cannot be used: locked by another process, it describes a changed file,
    or it cannot be written (a full disk, an I/O error)."""


@dataclass(frozen=True)
class JournalFile:
    """The file a journal line is about: where it is, which version of it, and
    the name and type it is uploaded under (what a start and a finished single
    upload both record)."""

    path: str
    identity: FileIdentity
    filename: str
    content_type: str

    def fields(self) -> dict[str, Any]:
        return {
            "path": _canonical(self.path),
            **_identity_fields(self.identity),
            "filename": self.filename,
            "content_type": self.content_type,
        }


@dataclass
class JournalRecord:
    """What the journal knows about one file's latest upload."""

    path: str
    identity: FileIdentity
    filename: str
    content_type: str
    key: str
    upload_id: Optional[str] = None
    part_size: int = 0
    parts: dict[int, UploadedPart] = field(default_factory=dict)
    md5s: dict[int, str] = field(default_factory=dict)
    location: Optional[str] = None
    completed: bool = False
    problem: Optional[str] = None  # why this upload cannot be resumed (bad values), if it cannot

    def check_fits(self, size: int) -> Optional[str]:
        """Why this record cannot describe an upload of ``size`` bytes, or None.

        Sets :attr:`problem` too, so one look decides.
        """
        if self.problem is None and self.upload_id is not None:
            self.problem = _layout_problem(self.part_size, size, self.parts)
        return self.problem


class Journal:
    """One journal file, shared by every file of the uploads that use it.

    Thread-safe: worker threads record parts concurrently. Only one process
    may hold a journal at a time (an advisory lock where the OS has one).
    """

    def __init__(self, path: Union[str, os.PathLike[str]]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._records: dict[str, JournalRecord] = {}
        self._by_upload: dict[str, JournalRecord] = {}
        #: why writing failed, once it has; no write is attempted after that
        self.broken: Optional[str] = None
        existed = os.path.exists(self.path)
        self._fd: Optional[int] = os.open(
            self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600
        )
        try:
            self._lock_file()
            self._load()
            if not existed:
                _fsync_dir(os.path.dirname(os.path.abspath(self.path)))
        except BaseException:
            self.close()
            raise

    # --- reading -------------------------------------------------------------

    def lookup(self, path: str) -> Optional[JournalRecord]:
        """The latest record for ``path`` (made absolute), or None."""
        return self._records.get(_canonical(path))

    def records(self) -> list[JournalRecord]:
        """Every file's latest record (for listing and cleaning up what the journal keeps)."""
        with self._lock:
            return list(self._records.values())

    def resumable(self, path: str, identity: FileIdentity) -> Optional[JournalRecord]:
        """The record to continue from for this file, or None to start afresh.

        A completed record for the same content is returned too (the file
        needs no upload), and so is an unusable one (``problem`` set: the
        caller cancels its upload and starts afresh). An unfinished multipart
        upload for content that has changed raises :class:`JournalError`:
        resuming would mix old and new bytes.
        """
        record = self.lookup(path)
        if record is None:
            return None
        if not record.completed and record.check_fits(identity.size) is not None:
            return record
        change = record.identity.describe_change(identity)
        if change is None:
            return record
        if record.completed:
            return None  # stored earlier; the new content is a new upload
        raise JournalError(
            f"{record.path}: {change} since the journal {self.path!r} recorded multipart upload "
            f"{record.upload_id!r} (key {record.key!r}); refusing to resume onto a changed file. "
            f"Cancel it with `lilt uploads cancel {record.upload_id} {record.key}` and remove "
            f"the journal to start over."
        )

    def _load(self) -> None:
        with open(self.path, "rb") as handle:
            raw = handle.read()
        if raw and not raw.endswith(b"\n"):
            # A torn last line from a crash: end it so the next record starts clean.
            self._write_all(self._descriptor(), b"\n")
        for line in raw.splitlines():
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                continue  # the torn line
            if not isinstance(event, dict):
                continue
            try:
                self._apply(event)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # a line this version cannot use; never fatal

    def _apply(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start":
            record = _record(event, single=False)
            self._records[record.path] = record
            if record.upload_id is not None:
                self._by_upload[record.upload_id] = record
        elif kind == "part":
            target = self._by_upload.get(_text(event.get("upload_id")) or "")
            if target is None:
                return
            number: Any = event.get("part")
            etag, md5 = _text(event.get("etag")), event.get("md5")
            if not _whole(number) or not 1 <= number <= MAX_PARTS:
                target.problem = target.problem or f"a part number is invalid: {number!r}"
            elif etag is None:
                target.problem = target.problem or f"part {number} has no ETag"
            else:
                target.parts[number] = UploadedPart(number, etag)
                if _is_md5(md5):
                    target.md5s[number] = str(md5)
        elif kind == "discard":  # the upload was cancelled: forget it, start afresh next time
            dropped = self._records.get(_text(event.get("path")) or "")
            if dropped is not None and dropped.upload_id == event.get("upload_id"):
                del self._records[dropped.path]
        elif kind == "complete":
            upload_id = event.get("upload_id")
            if upload_id:
                target = self._by_upload.get(_text(upload_id) or "")
                if target is not None:
                    target.completed = True
                    location = event.get("location")
                    target.location = location if isinstance(location, str) else None
            else:  # a single PUT's: the record is the whole story, or the line is skipped
                record = _record(event, single=True)
                if record.problem is not None:
                    raise ValueError(record.problem)
                self._records[record.path] = record

    # --- writing -------------------------------------------------------------

    def start(
        self,
        file: JournalFile,
        *,
        key: str,
        upload_id: str,
        part_size: int,
    ) -> None:
        self._append(
            {
                "event": "start",
                "v": VERSION,
                **file.fields(),
                "key": key,
                "upload_id": upload_id,
                "part_size": part_size,
            }
        )

    def part(self, upload_id: str, part: UploadedPart, md5_hex: Optional[str]) -> None:
        self._append(
            {
                "event": "part",
                "upload_id": upload_id,
                "part": part.number,
                "etag": part.etag,
                "md5": md5_hex,
            }
        )

    def complete_multipart(self, upload_id: str, location: Optional[str]) -> None:
        self._append({"event": "complete", "upload_id": upload_id, "location": location})

    def complete_single(
        self,
        file: JournalFile,
        *,
        key: str,
        location: Optional[str],
        md5_hex: Optional[str],
    ) -> None:
        self._append(
            {
                "event": "complete",
                "v": VERSION,
                **file.fields(),
                "key": key,
                "location": location,
                "md5": md5_hex,
            }
        )

    def discard(self, record: JournalRecord) -> None:
        """Forget ``record`` (its upload was cancelled): the file starts afresh next time."""
        self._append({"event": "discard", "path": record.path, "upload_id": record.upload_id})

    def _append(self, event: dict[str, Any]) -> None:
        """Write one line and fsync it, or raise JournalError (and write nothing more after)."""
        line = (json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            if self.broken is not None:
                raise JournalError(
                    f"the journal {self.path!r} cannot record progress: {self.broken}"
                )
            fd = self._descriptor()
            try:
                self._write_all(fd, line)
                os.fsync(fd)
            except OSError as exc:
                self.broken = f"{exc.strerror or exc} (errno {exc.errno})"
                raise JournalError(
                    f"the journal {self.path!r} cannot record progress: {self.broken}"
                ) from exc
            self._apply(event)

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        """``os.write`` until every byte is written; a write that makes no progress is an error."""
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.EIO, "the journal write made no progress")
            view = view[written:]

    # --- lifecycle -----------------------------------------------------------

    def _descriptor(self) -> int:
        if self._fd is None:
            raise ValueError(f"journal {self.path!r} is closed")
        return self._fd

    def _lock_file(self) -> None:
        if sys.platform == "win32":  # pragma: no cover - no advisory locks
            return
        try:
            fcntl.flock(self._descriptor(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise JournalError(
                f"journal {self.path!r} is in use by another upload (locked)"
            ) from exc

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # also releases the lock

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _canonical(path: str) -> str:
    return os.path.realpath(path)


def _identity_fields(identity: FileIdentity) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "size": identity.size,
        "mtime_ns": identity.mtime_ns,
        "sample": identity.sample,
    }
    for name in ("ctime_ns", "inode", "device"):
        value = getattr(identity, name)
        if value is not None:
            fields[name] = value
    return fields


def _record(event: Mapping[str, Any], *, single: bool) -> JournalRecord:
    """The record a ``start`` line begins, or the one a single PUT's ``complete`` line is.

    A value that is missing or invalid goes to ``problem`` (the first one
    found), so the record is known but not resumed.
    """
    path = _required_text(event, "path")  # without a path it belongs to no file
    upload_id = None if single else _text(event.get("upload_id"))
    key = _text(event.get("key"))
    problem = None
    try:
        identity = _identity(event)
    except (KeyError, TypeError, ValueError):
        identity = FileIdentity(-1, -1, "")
        problem = "the file's identity is missing or invalid"
    part_size: Any = 0 if single else event.get("part_size")
    if not _whole(part_size):
        problem = problem or f"the part size is not a whole number: {part_size!r}"
        part_size = 0
    if (upload_id is None and not single) or key is None:
        problem = problem or "the upload id or key is missing"
    filename, content_type = _text(event.get("filename")), _text(event.get("content_type"))
    if filename is None or content_type is None:
        problem = problem or "the file name or content type is missing"
    record = JournalRecord(
        path=path,
        identity=identity,
        filename=filename or "",
        content_type=content_type or "",
        key=key or "",
        upload_id=upload_id,
        part_size=part_size,
        location=_text(event.get("location")) if single else None,
        completed=single,
        problem=problem,
    )
    if single and _is_md5(event.get("md5")):
        record.md5s[1] = event["md5"]
    return record


def _identity(event: Mapping[str, Any]) -> FileIdentity:
    size, mtime_ns, sample = event["size"], event["mtime_ns"], event["sample"]
    if not (_whole(size) and _whole(mtime_ns) and isinstance(sample, str)) or size < 0:
        raise ValueError("invalid identity")
    extra = {name: event.get(name) for name in ("ctime_ns", "inode", "device")}
    if any(value is not None and not _whole(value) for value in extra.values()):
        raise ValueError("invalid identity")
    return FileIdentity(size, mtime_ns, sample, **extra)


def _layout_problem(part_size: int, size: int, parts: Mapping[int, UploadedPart]) -> Optional[str]:
    """Why an upload in parts of ``part_size`` cannot hold ``size`` bytes with these parts."""
    if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
        return (
            f"its part size {part_size} is outside the S3 limits ({MIN_PART_SIZE} to "
            f"{MAX_PART_SIZE} bytes)"
        )
    count = max(1, -(-size // part_size))
    if count > MAX_PARTS:
        return f"{size} bytes do not fit in {MAX_PARTS} parts of {part_size} bytes"
    beyond = sorted(n for n in parts if n > count)
    if beyond:
        return f"it records part {beyond[0]}, beyond the file's {count} parts"
    return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _required_text(event: Mapping[str, Any], name: str) -> str:
    value = _text(event.get(name))
    if value is None:
        raise ValueError(f"{name} is missing")
    return value


def _is_md5(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 32 and set(value) <= _HEX


_HEX = frozenset("0123456789abcdef")


def _fsync_dir(directory: str) -> None:
    # Make the new journal's directory entry durable too (POSIX only).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
