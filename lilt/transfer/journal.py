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
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from lilt.transfer.results import UploadedPart
from lilt.transfer.source import FileIdentity

if sys.platform != "win32":
    import fcntl

__all__ = ["Journal", "JournalError", "JournalRecord"]

VERSION = 1


class JournalError(ValueError):
    """The journal cannot be used: locked by another process, or it describes a changed file."""


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
        needs no upload). An unfinished multipart upload for content that has
        changed raises :class:`JournalError`: resuming would mix old and new bytes.
        """
        record = self.lookup(path)
        if record is None:
            return None
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
            os.write(self._descriptor(), b"\n")
        for line in raw.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the torn line
            if not isinstance(event, dict):
                continue
            try:
                self._apply(event)
            except (KeyError, TypeError, ValueError):
                continue  # a line this version cannot use; never fatal

    def _apply(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start":
            record = JournalRecord(
                path=event["path"],
                identity=_identity(event),
                filename=event["filename"],
                content_type=event["content_type"],
                key=event["key"],
                upload_id=event["upload_id"],
                part_size=int(event["part_size"]),
            )
            self._records[record.path] = record
            self._by_upload[event["upload_id"]] = record
        elif kind == "part":
            target = self._by_upload.get(event.get("upload_id", ""))
            if target is not None:
                number = int(event["part"])
                target.parts[number] = UploadedPart(number, event["etag"])
                if event.get("md5"):
                    target.md5s[number] = event["md5"]
        elif kind == "discard":  # the upload was cancelled: forget it, start afresh next time
            dropped = self._records.get(event.get("path", ""))
            if dropped is not None and dropped.upload_id == event.get("upload_id"):
                del self._records[dropped.path]
        elif kind == "complete":
            upload_id = event.get("upload_id")
            if upload_id:
                target = self._by_upload.get(upload_id)
                if target is not None:
                    target.completed = True
                    target.location = event.get("location")
            else:
                record = JournalRecord(
                    path=event["path"],
                    identity=_identity(event),
                    filename=event["filename"],
                    content_type=event["content_type"],
                    key=event["key"],
                    location=event.get("location"),
                    completed=True,
                )
                if event.get("md5"):
                    record.md5s[1] = event["md5"]
                self._records[record.path] = record

    # --- writing -------------------------------------------------------------

    def start(
        self,
        path: str,
        identity: FileIdentity,
        *,
        filename: str,
        content_type: str,
        key: str,
        upload_id: str,
        part_size: int,
    ) -> None:
        self._append(
            {
                "event": "start",
                "v": VERSION,
                "path": _canonical(path),
                **_identity_fields(identity),
                "filename": filename,
                "content_type": content_type,
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
        path: str,
        identity: FileIdentity,
        *,
        filename: str,
        content_type: str,
        key: str,
        location: Optional[str],
        md5_hex: Optional[str],
    ) -> None:
        self._append(
            {
                "event": "complete",
                "v": VERSION,
                "path": _canonical(path),
                **_identity_fields(identity),
                "filename": filename,
                "content_type": content_type,
                "key": key,
                "location": location,
                "md5": md5_hex,
            }
        )

    def discard(self, record: JournalRecord) -> None:
        """Forget ``record`` (its upload was cancelled): the file starts afresh next time."""
        self._append({"event": "discard", "path": record.path, "upload_id": record.upload_id})

    def _append(self, event: dict[str, Any]) -> None:
        line = (json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            fd = self._descriptor()
            os.write(fd, line)
            os.fsync(fd)
            self._apply(event)

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
    return {"size": identity.size, "mtime_ns": identity.mtime_ns, "sample": identity.sample}


def _identity(event: Mapping[str, Any]) -> FileIdentity:
    return FileIdentity(int(event["size"]), int(event["mtime_ns"]), str(event["sample"]))


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
