"""What a failed transfer tells its caller: the :class:`TransferError` and its message.

The engine's clean-up (:meth:`lilt.transfer.engine.Transfer._fail`) settles
what finished and aborts what is left open; this module turns that outcome
into one error naming the file, its upload, what was aborted or kept for
resuming, what storage may hold although unconfirmed, and the files stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from lilt._redact import redact_text
from lilt.exceptions import ApiException, TransferError
from lilt.transfer.jobs import Job, MultipartJob, SingleJob
from lilt.transfer.journal import Journal

__all__ = ["CleanUp", "interrupted_summary", "transfer_error"]


@dataclass
class CleanUp:
    """What the clean-up did with the multipart uploads still open (by job index)."""

    aborted: set[int] = field(default_factory=set)
    kept: set[int] = field(default_factory=set)  # the journal holds them for resuming
    errors: list[str] = field(default_factory=list)  # aborts that failed


def transfer_error(
    exc: BaseException,
    job: Optional[Job],
    jobs: Sequence[Job],
    cleanup: CleanUp,
    journal: Optional[Journal],
) -> TransferError:
    """The error for ``exc``, raised while the calling thread worked on ``job`` (if any)."""
    unconfirmed = tuple(
        j.key
        for j in jobs
        if isinstance(j, SingleJob) and j.unconfirmed and j.result is None and j.key
    )
    api_error = _api_error(exc)
    status = getattr(exc, "status", None)
    if not isinstance(status, int) and api_error is not None:
        status = api_error.status
    multipart = job if isinstance(job, MultipartJob) else None
    return TransferError(
        _message(exc, job, cleanup, journal, unconfirmed),
        file=job.path if job is not None and job.path is not None else (job.name if job else None),
        upload_id=multipart.upload_id if multipart is not None else None,
        key=job.key if job is not None else None,
        completed_parts=sorted(multipart.parts) if multipart is not None else (),
        aborted=job is not None and job.index in cleanup.aborted,
        status=status if isinstance(status, int) else None,
        results=[j.result for j in jobs if j.result is not None],
        api_error=api_error,
        unconfirmed=unconfirmed,
    )


def _message(
    exc: BaseException,
    job: Optional[Job],
    cleanup: CleanUp,
    journal: Optional[Journal],
    unconfirmed: tuple[str, ...],
) -> str:
    name = job.name if job is not None else "upload"
    reason = redact_text(str(exc)) or type(exc).__name__
    message = f"{name}: {reason}"
    if isinstance(job, MultipartJob) and job.target is not None:
        if job.index in cleanup.kept and journal is not None:
            message += f"; kept for resuming ({_journal_holds(journal, job)})"
        elif job.index in cleanup.aborted:
            message += "; multipart upload aborted"
    elif isinstance(job, MultipartJob):
        message += "; no upload was started for it"
    others = sorted(cleanup.kept - ({job.index} if job is not None else set()))
    if others and journal is not None:
        message += f"; {len(others)} other upload(s) kept for resuming in {journal.path}"
    if unconfirmed:
        message += "; cut off after its whole body was sent, so storage may hold it: " + ", ".join(
            repr(k) for k in unconfirmed
        )
    if cleanup.errors:
        message += "; " + "; ".join(cleanup.errors)
    return message


def interrupted_summary(exc: BaseException, error: TransferError) -> str:
    """One line for the log when Ctrl-C (or the like) ends a transfer that stored files."""
    keys = [r.key for r in error.results]
    shown = ", ".join(repr(k) for k in keys[:10]) + (" ..." if len(keys) > 10 else "")
    text = f"upload interrupted ({type(exc).__name__}): {len(keys)} file(s) stored before it"
    if keys:
        text += f": {shown}"
    if error.unconfirmed:
        text += "; storage may also hold " + ", ".join(repr(k) for k in error.unconfirmed)
    return text


def _journal_holds(journal: Journal, job: MultipartJob) -> str:
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
