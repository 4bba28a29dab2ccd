"""What the emulator remembers: upload records and the requests it received.

Both are what a test asserts on, so both are typed, immutable snapshots:
:class:`UploadRecord` (one per initiated upload, with its lifecycle status)
and :class:`ApiRequest` (one per API call, exactly as it arrived). The stores
are thread-safe, because the HTTP server answers requests on many threads.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Optional

__all__ = [
    "ApiRequest",
    "RecordStore",
    "RequestLog",
    "UploadMetadata",
    "UploadRecord",
    "UploadStatus",
]


class UploadStatus(str, enum.Enum):
    """An upload's lifecycle: ``pending`` at initiation, then ``uploaded`` (completed, or
    its single PUT stored) or ``cancelled`` (multipart upload aborted)."""

    PENDING = "pending"
    UPLOADED = "uploaded"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class UploadMetadata:
    """The optional ``metadata`` of an initiate request, as sent."""

    size: Optional[int] = None
    category: Optional[str] = None
    uuid: Optional[str] = None
    labels: Optional[tuple[str, ...]] = None


@dataclasses.dataclass(frozen=True)
class UploadRecord:
    """One upload the emulator handed out.

    ``kind`` is ``"single"`` (one presigned PUT) or ``"multipart"`` (then
    ``upload_id`` is the storage's multipart upload id). ``key`` is the
    object's key in the emulator's bucket.
    """

    id: int
    filename: str
    content_type: str
    key: str
    kind: Literal["single", "multipart"]
    status: UploadStatus
    created_at: datetime.datetime
    upload_id: Optional[str] = None
    metadata: UploadMetadata = UploadMetadata()

    def to_wire(self) -> dict[str, Any]:
        """The JSON object of ``GET /v2/upload`` and ``GET /v2/upload/{id}``."""
        stamp = self.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {
            "id": self.id,
            "filename": self.filename,
            "status": self.status.value,
            "created_at": stamp,
        }


class RecordStore:
    """Upload records by id (ids count from 1) and by multipart upload id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[int, UploadRecord] = {}
        self._by_upload_id: dict[str, int] = {}
        self._next_id = 1

    def reserve_id(self) -> int:
        """A fresh id, for building the record's key before the record exists."""
        with self._lock:
            record_id, self._next_id = self._next_id, self._next_id + 1
            return record_id

    def add(self, record: UploadRecord) -> UploadRecord:
        with self._lock:
            self._records[record.id] = record
            if record.upload_id is not None:
                self._by_upload_id[record.upload_id] = record.id
        return record

    def get(self, record_id: int) -> Optional[UploadRecord]:
        with self._lock:
            return self._records.get(record_id)

    def by_upload_id(self, upload_id: str) -> Optional[UploadRecord]:
        with self._lock:
            record_id = self._by_upload_id.get(upload_id)
            return None if record_id is None else self._records[record_id]

    def set_status(self, record_id: int, status: UploadStatus) -> UploadRecord:
        """Move a record to ``status``; return the new snapshot."""
        with self._lock:
            record = dataclasses.replace(self._records[record_id], status=status)
            self._records[record_id] = record
            return record

    def all(self) -> list[UploadRecord]:
        """Every record, by id."""
        with self._lock:
            return [self._records[i] for i in sorted(self._records)]


@dataclasses.dataclass(frozen=True)
class ApiRequest:
    """One request the emulator's API received, as it arrived, and its answer's status.

    ``target`` is the request target as sent (path and query, still
    percent-encoded); ``path`` is decoded; ``query`` keeps every decoded pair
    in order (repeated names too); ``headers`` keeps names as sent.
    ``operation`` is the route's name (see :data:`lilt.testing.faults.OPERATIONS`),
    None for an unknown route.
    ``fault`` names the injected fault's kind, if one was.
    """

    method: str
    path: str
    target: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    operation: Optional[str]
    status: int
    fault: Optional[str] = None

    def header(self, name: str) -> Optional[str]:
        """The value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def query_values(self, name: str) -> list[str]:
        """Every value of query parameter ``name``, in order."""
        return [v for k, v in self.query if k == name]

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


class RequestLog:
    """Thread-safe, append-only log of :class:`ApiRequest`, keeping the latest ``limit``
    (so an emulator left running for days does not grow without bound)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[ApiRequest] = deque(maxlen=limit)

    def append(self, entry: ApiRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def snapshot(self, operations: Optional[Iterable[str]] = None) -> list[ApiRequest]:
        """The requests so far, oldest first (only ``operations``, when given)."""
        with self._lock:
            entries: Sequence[ApiRequest] = list(self._entries)
        if operations is None:
            return list(entries)
        wanted = set(operations)
        return [e for e in entries if e.operation in wanted]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
