"""``TransferConfig``: every knob of the managed uploader in one frozen value.

One immutable value rather than keyword arguments scattered over functions:
an :class:`~lilt.transfer.Uploader` is built with one, can be shared across
threads, and ``dataclasses.replace(config, concurrency=2)`` derives variants.
Every field is validated when the value is built, so a bad option fails
before any file is opened or any request is sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Union

from lilt._retry import RetryPolicy

if TYPE_CHECKING:
    from lilt.transfer.progress import ProgressCallback

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: S3 limits (AWS "multipart upload limits"); S3-compatible servers share them.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_SINGLE_PUT = 5 * GiB

StrPath = Union[str, "os.PathLike[str]"]


def _default_retry() -> RetryPolicy:
    return RetryPolicy()


@dataclass(frozen=True)
class TransferConfig:
    """How files are uploaded.

    Attributes:
        multipart_threshold: files larger than this many bytes use a multipart
            upload; files of this size or smaller use one PUT. 16 MiB (two
            parts) by default: below that the extra initiate, sign and complete
            round trips cost more than parallel parts gain.
        part_size: bytes per part. 8 MiB, the API's documented size; at least
            5 MiB (S3's minimum for every part but the last). It grows
            automatically only when a file would need more than 10,000 parts.
        concurrency: parts in flight at once, shared by every file of a call.
            Peak memory is at most ``(concurrency + 1) * part_size`` (for files
            much less: parts are sent from the file, not held).
        small_file_concurrency: files of ``multipart_threshold`` bytes or less
            (one PUT each) in flight at once, besides the parts. 64 by default:
            such an upload mostly waits for a round trip and holds at most
            256 KiB in memory (larger ones are sent from the file), so many
            overlap cheaply; over a 40 ms link 1,000 files of 16 KiB take
            about a quarter of the time they take with 8 (see
            docs/benchmarks.md for 16 to 128).
        retry: the retry policy for storage PUTs (attempts, backoff with full
            jitter, per-request budget); the same value type the API client uses.
        time_budget: seconds from the start of a call after which no further
            retry is started (None: no overall limit). Healthy requests are
            never cut off; only waiting to try again is.
        journal: path of a resume journal (JSON lines). With a journal, a
            failed or interrupted upload is kept on the server rather than
            aborted, and running the same upload again skips finished parts.
        progress: called with a :class:`~lilt.transfer.ProgressEvent` as bytes
            are sent; calls are serialised and counts never go backwards.
        checksum: send ``Content-MD5`` with every PUT (storage rejects a part
            corrupted in transit) and compute the expected ETags. Costs about
            1.4 CPU-seconds per GiB, spread over the worker threads.
        max_resigns: how often one part may be re-signed after storage rejects
            its URL as expired or invalid (403). Re-signing does not spend the
            retry budget, so it needs its own bound.
        storage_timeout: (connect, read) seconds for each storage request, or
            one number for both. Never a total: a large part may rightly take
            minutes, so the number bounds each wait for the server, as ``read``
            does.
        stall_timeout: the no-progress timeout of storage requests, as curl's
            ``--speed-time``: a PUT that sends fewer than ``stall_speed`` bytes
            a second over this many seconds, or gets no answer this long after
            its body was sent, is abandoned (its socket closed) and retried
            like a timeout, within the retry policy. 60 s by default; None
            turns it off (then only ``storage_timeout`` ends a slow PUT).
        stall_speed: bytes a second below which a PUT counts as stalled (1 KiB,
            as low as any working link goes; curl's ``--speed-limit``).
        allow_http_storage: use presigned URLs that say ``http://`` although the
            API was reached over ``https://``. Off by default: such a URL would
            send the file, and the signature that lets anyone write it, in clear.
    """

    multipart_threshold: int = 16 * MiB
    part_size: int = 8 * MiB
    concurrency: int = 8
    small_file_concurrency: int = 64
    retry: RetryPolicy = field(default_factory=_default_retry)
    time_budget: Optional[float] = None
    journal: Optional[StrPath] = None
    progress: Optional[ProgressCallback] = None
    checksum: bool = True
    max_resigns: int = 3
    storage_timeout: Union[float, tuple[float, float]] = (10.0, 120.0)
    stall_timeout: Optional[float] = 60.0
    stall_speed: int = 1024
    allow_http_storage: bool = False

    def __post_init__(self) -> None:
        _require_int("multipart_threshold", self.multipart_threshold)
        _require_int("part_size", self.part_size)
        _require_int("concurrency", self.concurrency)
        _require_int("small_file_concurrency", self.small_file_concurrency)
        _require_int("max_resigns", self.max_resigns)
        if not 0 <= self.multipart_threshold <= MAX_SINGLE_PUT:
            raise ValueError(
                f"multipart_threshold must be between 0 and {MAX_SINGLE_PUT} bytes (5 GiB, "
                f"the largest single PUT), got {self.multipart_threshold}"
            )
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise ValueError(
                f"part_size must be between {MIN_PART_SIZE} bytes (5 MiB) and {MAX_PART_SIZE} "
                f"bytes (5 GiB), the S3 limits for a part; got {self.part_size}"
            )
        if not 1 <= self.concurrency <= 256:
            raise ValueError(f"concurrency must be between 1 and 256, got {self.concurrency}")
        if not 1 <= self.small_file_concurrency <= 256:
            raise ValueError(
                "small_file_concurrency must be between 1 and 256, "
                f"got {self.small_file_concurrency}"
            )
        if self.max_resigns < 0:
            raise ValueError(f"max_resigns must not be negative, got {self.max_resigns}")
        if not isinstance(self.retry, RetryPolicy):
            raise ValueError(f"retry must be a lilt RetryPolicy, got {type(self.retry).__name__}")
        if self.time_budget is not None and not (
            isinstance(self.time_budget, (int, float)) and self.time_budget > 0
        ):
            raise ValueError(
                f"time_budget must be a positive number or None, got {self.time_budget!r}"
            )
        if self.progress is not None and not callable(self.progress):
            raise ValueError("progress must be a callable taking a ProgressEvent, or None")
        if self.journal is not None and not isinstance(self.journal, (str, os.PathLike)):
            raise ValueError(f"journal must be a path or None, got {type(self.journal).__name__}")
        timeout = self.storage_timeout
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            object.__setattr__(self, "storage_timeout", (float(timeout), float(timeout)))
        connect, read = self.storage_timeout  # type: ignore[misc]
        if connect <= 0 or read <= 0:
            raise ValueError(f"storage_timeout values must be positive, got {self.storage_timeout}")
        if self.stall_timeout is not None and not (
            isinstance(self.stall_timeout, (int, float))
            and not isinstance(self.stall_timeout, bool)
            and self.stall_timeout > 0
        ):
            raise ValueError(
                f"stall_timeout must be a positive number of seconds or None, "
                f"got {self.stall_timeout!r}"
            )
        _require_int("stall_speed", self.stall_speed)
        if self.stall_speed < 0:
            raise ValueError(f"stall_speed must not be negative, got {self.stall_speed}")
        if not isinstance(self.allow_http_storage, bool):
            raise ValueError("allow_http_storage must be True or False")


def _require_int(name: str, value: object) -> None:
    # bool is an int subclass; True as a part size is a bug, not a request for 1 byte.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
