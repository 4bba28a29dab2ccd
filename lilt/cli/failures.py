"""How a failure is told: one line on stderr, or the ``error`` object of a ``--json``
document; never headers, bodies or secrets.

API errors carry a status and a request id (what support needs); a transfer
error names the file and says whether its multipart upload was aborted, and
tells the API error behind it the same way.
"""

from __future__ import annotations

import sys
from typing import Any, Optional, TypeVar

from lilt.cli.exit_codes import EXIT_FAILED
from lilt.cli.output import one_line, print_json_error

T = TypeVar("T")


def is_reportable(exc: BaseException) -> bool:
    """True for the failures the command reports in one line (API errors, transfer errors,
    file errors); anything else is a bug, which ``LILT_LOG=debug`` shows as a traceback."""
    from lilt.exceptions import ApiException, TransferError

    return isinstance(exc, (ApiException, TransferError, OSError))


def report_failure(exc: BaseException, *, as_json: bool, **more: Any) -> int:
    """Tell ``exc`` on stderr, or as the JSON document (with ``more`` beside the error)."""
    if as_json:
        print_json_error(error_json(exc), **more)
    else:
        print(f"lilt: {describe(exc)}", file=sys.stderr)
    return EXIT_FAILED


def error_json(exc: BaseException) -> dict[str, Any]:
    """The ``error`` object of the JSON document for ``exc``."""
    error: dict[str, Any] = {
        "message": describe(exc),
        "type": type(exc).__name__,
        "status": _from_api_error(exc, "status", int),
        "exit_code": EXIT_FAILED,
    }
    request_id = _from_api_error(exc, "request_id", str)
    if request_id:
        error["request_id"] = request_id
    if _is_transfer_error(exc):
        error.update(
            file=getattr(exc, "file", None),
            upload_id=getattr(exc, "upload_id", None),
            key=getattr(exc, "key", None),
            completed_parts=list(getattr(exc, "completed_parts", ())),
            aborted=getattr(exc, "aborted", False),
        )
    return error


def describe(exc: BaseException) -> str:
    """One line saying what went wrong: no headers, no body dumps, no secrets."""
    from lilt._redact import redact_text
    from lilt.exceptions import ApiException

    if _is_transfer_error(exc):
        cause = _api_cause(exc) or exc.__cause__
        reason = describe(cause) if cause is not None else str(getattr(exc, "reason", exc))
        where = getattr(exc, "file", None) or "upload"
        if getattr(exc, "aborted", False):
            reason += "; its multipart upload was aborted"
        return redact_text(f"{where}: {reason}")
    if isinstance(exc, ApiException):
        detail = exc.message or exc.reason or type(exc).__name__
        status = f"API error {exc.status}" if exc.status else "API error"
        request = f" (request id {exc.request_id})" if exc.request_id else ""
        return redact_text(one_line(f"{status}: {detail}{request}"))
    if isinstance(exc, OSError) and exc.filename is not None:
        return one_line(f"{exc.filename}: {exc.strerror or exc}")
    return redact_text(one_line(str(exc) or type(exc).__name__))


def _is_transfer_error(exc: BaseException) -> bool:
    from lilt.exceptions import TransferError

    return isinstance(exc, TransferError)


def _from_api_error(exc: BaseException, name: str, kind: type[T]) -> Optional[T]:
    """Attribute ``name`` of the API error behind ``exc`` (or of ``exc`` itself), if a ``kind``."""
    cause = _api_cause(exc)
    value = getattr(cause if cause is not None else exc, name, None)
    return value if isinstance(value, kind) else None


def _api_cause(exc: BaseException) -> Optional[BaseException]:
    """The API error behind a TransferError (``api_error`` where it exists, else the cause)."""
    from lilt.exceptions import ApiException

    found = getattr(exc, "api_error", None)
    if isinstance(found, ApiException):
        return found
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, ApiException):
            return cause
        cause = cause.__cause__
    return None
