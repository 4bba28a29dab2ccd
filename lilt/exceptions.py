"""Exceptions raised by the SDK.

The generated client's tree is kept name for name; everything new is a
subclass of a generated class, so existing ``except`` clauses keep working::

    OpenApiException
    ├── ApiTypeError            (also TypeError)
    ├── ApiValueError           (also ValueError)   bad input, raised before any I/O
    ├── ApiAttributeError       (also AttributeError)
    ├── ApiKeyError             (also KeyError)
    └── ApiException                                 anything that reached the wire
        ├── BadRequestException             400
        ├── UnauthorizedException           401
        ├── ForbiddenException              403
        ├── NotFoundException               404
        ├── ConflictException               409
        ├── UnprocessableEntityException    422
        ├── RateLimitError                  429, with ``retry_after``
        ├── ServiceException                5xx
        ├── ResponseDecodeError             2xx body not of the declared type (also ValueError)
        ├── ResponseTooLargeError           body over Configuration.max_response_bytes
        ├── ApiConnectionError              no usable response (also urllib3 MaxRetryError,
        │   │                               ProtocolError)
        │   ├── ApiTimeoutError             connect or read timeout (also urllib3 ReadTimeoutError)
        │   └── ApiSSLError                 TLS failure (also urllib3 SSLError)
        ├── ResponseShapeError              the uploader got a 2xx without a field it needs
        │                                   (also ValueError)
        └── TransferError                   a managed upload failed: file, upload id, key, parts

The managed uploader (:mod:`lilt.transfer`) also raises these, before any
request, or as the ``__cause__`` of a ``TransferError``; the last three are
its own internal signals::

    ValueError
    ├── FilenameError                       a file name the API cannot be sent
    ├── PlanError                           content beyond S3's part limits
    └── JournalError                        a journal locked, for a changed file, or unwritable
    OSError
    └── SourceChangedError                  the file changed while it was uploaded
    Exception
    ├── StorageError                        storage refused or never answered a PUT
    │   └── SignatureRejected               a 403 a fresh signature may cure
    ├── TransferCancelled                   a PUT cut off because the transfer is stopping
    │   └── SingleCutOff                    ... after a single PUT's whole body was sent
    ├── Stalled                             a PUT abandoned by the watchdog (a ``__cause__``)
    └── BodyAborted                         a body stopped because its source changed

Exceptions never hold credentials or presigned signatures: ``reason``,
``body`` and ``headers`` pass through :mod:`lilt._redact` when the exception
is made (a server may echo the key back), the urllib3 errors kept as
``__cause__`` are scrubbed in place, and so ``str``, ``repr``, every attribute
and a pickle are clean. ``str(e)`` shows excerpts: a server decides how long
its reason, headers and body are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Optional

from urllib3 import HTTPHeaderDict
from urllib3 import exceptions as _u3

from lilt._redact import known_secrets, redact_headers, redact_text

if TYPE_CHECKING:
    from lilt.models.error import Error

__all__ = [
    "ApiAttributeError",
    "ApiConnectionError",
    "ApiException",
    "ApiKeyError",
    "ApiSSLError",
    "ApiTimeoutError",
    "ApiTypeError",
    "ApiValueError",
    "BadRequestException",
    "ConflictException",
    "ForbiddenException",
    "NotFoundException",
    "OpenApiException",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServiceException",
    "TransferError",
    "UnauthorizedException",
    "UnprocessableEntityException",
    "render_path",
]

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amz-request-id", "x-correlation-id")
#: the most characters ``str(e)`` shows of a reason, of the headers and of a body
REASON_EXCERPT = 500
HEADERS_EXCERPT = 2_000
BODY_EXCERPT = 2_000
#: read past an excerpt's end before redacting, so no secret is cut in half
_REDACTION_MARGIN = 1_024


def _excerpt(value: object, limit: int) -> str:
    """``str(value)`` redacted and cut to ``limit`` characters, saying how much was left out."""
    text = str(value)
    window = redact_text(text[: limit + _REDACTION_MARGIN])
    if len(text) <= limit and len(window) <= limit:
        return window
    return f"{window[:limit]}... [{len(text) - limit} more characters]"


class OpenApiException(Exception):
    """The base exception class for all OpenAPIExceptions."""


def render_path(path_to_item: Sequence[Any]) -> str:
    """Return a string representation of a path, e.g. ``['a'][0]``."""
    result = ""
    for pth in path_to_item:
        result += f"[{pth}]" if isinstance(pth, int) else f"['{pth}']"
    return result


def _with_path(msg: str, path_to_item: Optional[Sequence[Any]]) -> str:
    return f"{msg} at {render_path(path_to_item)}" if path_to_item else msg


class ApiTypeError(OpenApiException, TypeError):
    def __init__(
        self,
        msg: str,
        path_to_item: Optional[Sequence[Any]] = None,
        valid_classes: Optional[tuple[type, ...]] = None,
        key_type: Optional[bool] = None,
    ) -> None:
        self.path_to_item = path_to_item
        self.valid_classes = valid_classes
        self.key_type = key_type
        super().__init__(_with_path(msg, path_to_item))


class ApiValueError(OpenApiException, ValueError):
    def __init__(self, msg: str, path_to_item: Optional[Sequence[Any]] = None) -> None:
        self.path_to_item = path_to_item
        super().__init__(_with_path(msg, path_to_item))


class ApiAttributeError(OpenApiException, AttributeError):
    def __init__(self, msg: str, path_to_item: Optional[Sequence[Any]] = None) -> None:
        self.path_to_item = path_to_item
        super().__init__(_with_path(msg, path_to_item))


class ApiKeyError(OpenApiException, KeyError):
    def __init__(self, msg: str, path_to_item: Optional[Sequence[Any]] = None) -> None:
        self.path_to_item = path_to_item
        super().__init__(_with_path(msg, path_to_item))


class ApiException(OpenApiException):
    """An HTTP exchange failed or answered with a non-2xx status.

    ``status``, ``reason``, ``body``, ``data`` and ``headers`` are as in the
    generated client, with secrets removed. Added: ``error`` (the LILT
    ``{"message": ...}`` body parsed into :class:`lilt.models.Error`, or None),
    ``message`` (its text) and ``request_id`` (from the response headers, when
    the server sent one).
    """

    def __init__(
        self,
        status: Optional[int] = None,
        reason: Optional[str] = None,
        http_resp: Any = None,
        *,
        body: Optional[str] = None,
        data: Any = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.body = body
        self.data = data
        self.headers: Any = None
        if http_resp is not None:
            if self.status is None:
                self.status = http_resp.status
            if self.reason is None:
                self.reason = http_resp.reason
            if self.body is None:
                raw = getattr(http_resp, "data", None)
                if isinstance(raw, (bytes, bytearray)):
                    # Never lose the body: undecodable bytes become U+FFFD.
                    self.body = bytes(raw).decode("utf-8", errors="replace")
            self.headers = http_resp.getheaders()
        # Scrubbed once, here: whatever the server echoed back (a key, a Basic
        # token, a presigned URL) is gone from every attribute, str and pickle.
        secrets = known_secrets()
        if isinstance(self.reason, str):
            self.reason = redact_text(self.reason, secrets)
        if isinstance(self.body, str):
            self.body = redact_text(self.body, secrets)
        self.headers = _scrubbed_headers(self.headers, secrets)
        self.error: Optional[Error] = _parse_error_body(self.body)
        # Not super(): the transport subclasses also inherit urllib3 classes
        # whose constructors take other arguments.
        Exception.__init__(self, self.status, self.reason)

    @property
    def message(self) -> Optional[str]:
        """The server's error message from a LILT ``{"message": ...}`` body."""
        return self.error.message if self.error is not None else None

    @property
    def request_id(self) -> Optional[str]:
        """The request id the server sent back, if any, for support tickets."""
        if not self.headers:
            return None
        for name in REQUEST_ID_HEADERS:
            value = self.headers.get(name)
            if value:
                return str(value)
        return None

    @classmethod
    def from_response(cls, *, http_resp: Any, body: Optional[str], data: Any) -> NoReturn:
        """Raise the subclass that matches the response status (it never returns)."""
        status = http_resp.status
        exc_class = _STATUS_CLASSES.get(status)
        if exc_class is None:
            exc_class = ServiceException if 500 <= status <= 599 else ApiException
        raise exc_class(http_resp=http_resp, body=body, data=data)

    def __str__(self) -> str:
        # The generated client's format, with each part cut to an excerpt: a
        # server decides how long its reason, headers and body are.
        error_message = f"({self.status})\nReason: {_excerpt(self.reason, REASON_EXCERPT)}\n"
        if self.headers:
            headers = type(self.headers)(redact_headers(self.headers))
            error_message += f"HTTP response headers: {_excerpt(headers, HEADERS_EXCERPT)}\n"
        if self.data or self.body:
            body = _excerpt(self.data or self.body, BODY_EXCERPT)
            error_message += f"HTTP response body: {body}\n"
        return error_message

    def __repr__(self) -> str:
        reason = _excerpt(self.reason, REASON_EXCERPT)
        return f"{type(self).__name__}(status={self.status!r}, reason={reason!r})"


def _scrubbed_headers(headers: Any, secrets: list[str]) -> Any:
    """``headers`` with secrets removed from the values (the same object when it had none)."""
    if not headers:
        return headers
    pairs = list(headers.iteritems() if hasattr(headers, "iteritems") else headers.items())
    cleaned = [(name, redact_text(str(value), secrets)) for name, value in pairs]
    if all(new == value for (_, new), (_, value) in zip(cleaned, pairs)):
        return headers
    if isinstance(headers, HTTPHeaderDict):
        result = HTTPHeaderDict()
        for name, value in cleaned:
            result.add(name, value)
        return result
    return dict(cleaned)


def _parse_error_body(body: Optional[str]) -> Optional[Error]:
    """Parse ``{"message": "..."}``; anything else (HTML, empty, lists) gives None."""
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("message"), (str, type(None))):
        return None
    from lilt.models.error import Error  # models import pydantic: keep it off the import path

    return Error(message=parsed.get("message"))


class BadRequestException(ApiException):
    pass


class NotFoundException(ApiException):
    pass


class UnauthorizedException(ApiException):
    pass


class ForbiddenException(ApiException):
    pass


class ServiceException(ApiException):
    pass


class ConflictException(ApiException):
    """Exception for HTTP 409 Conflict."""


class UnprocessableEntityException(ApiException):
    """Exception for HTTP 422 Unprocessable Entity."""


class RateLimitError(ApiException):
    """HTTP 429: the quota is exhausted.

    ``retry_after`` is the server's wait hint in seconds, taken from
    ``Retry-After`` or LILT's ``X-RateLimit-Reset``; None when it sent neither.
    """

    @property
    def retry_after(self) -> Optional[float]:
        from lilt._retry import retry_after_seconds

        return retry_after_seconds(self.headers) if self.headers else None


class ResponseDecodeError(ApiException, ValueError):
    """A 2xx response whose body is not the declared type (HTML, empty, bad JSON, wrong types).

    The status, headers and raw body are kept; ``__cause__`` is the decoding error.
    """


class ResponseTooLargeError(ApiException):
    """The response body is larger than ``Configuration.max_response_bytes``.

    The body was not read whole: ``body`` holds at most its first few KiB.
    ``limit`` is the limit in bytes; ``declared_size`` the ``Content-Length``
    the server announced (None when it announced none and the body ran over
    the limit while it was read). ``status`` and ``headers`` are the response's.
    """

    def __init__(
        self,
        status: Optional[int] = None,
        reason: Optional[str] = None,
        http_resp: Any = None,
        *,
        body: Optional[str] = None,
        data: Any = None,
        limit: int = 0,
        declared_size: Optional[int] = None,
    ) -> None:
        self.limit = limit
        self.declared_size = declared_size
        if reason is None:
            size = f"{declared_size} bytes" if declared_size is not None else "more"
            reason = f"Response body too large: {size}, the limit is {limit} bytes"
        super().__init__(status, reason, http_resp, body=body, data=data)


class ApiConnectionError(  # type: ignore[misc]  # .reason is a str, as for every ApiException
    ApiException, _u3.MaxRetryError, _u3.ProtocolError
):
    """The request got no usable response: refused, reset, truncated or failed retries.

    Also an instance of urllib3's ``MaxRetryError`` and ``ProtocolError``, which
    the generated client let escape, so code that catches those keeps working.
    ``status`` is 0 as for the generated client's wrapped ``SSLError``; the
    original urllib3 error (its URL redacted) is ``__cause__``.
    """

    label: ClassVar[str] = "ConnectionError"

    def __init__(self, detail: str, *, url: Optional[str] = None) -> None:
        self.detail = redact_text(detail)
        ApiException.__init__(self, status=0, reason=f"{self.label}\n{self.detail}")
        self.url = redact_text(url) if url else None
        self.pool = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.detail,), {"url": self.url})


class ApiTimeoutError(ApiConnectionError, _u3.ReadTimeoutError):  # type: ignore[misc]
    """A connect or read timeout expired (also urllib3 ``ReadTimeoutError``)."""

    label = "TimeoutError"


class ApiSSLError(ApiConnectionError, _u3.SSLError):  # type: ignore[misc]
    """TLS failed, e.g. the certificate is not trusted (also urllib3 ``SSLError``)."""

    label = "SSLError"


class TransferError(ApiException):
    """A managed upload failed.

    Names what a caller needs to resume or clean up: the local ``file``, the
    ``upload_id`` and ``key`` (None for single-PUT uploads or before
    initiation), the part numbers already stored (``completed_parts``) and
    whether the multipart upload was aborted on the server (``aborted``).
    ``results`` holds the :class:`~lilt.transfer.UploadResult` of every file
    of the call that was stored before or while it failed (their objects stay
    stored), and ``unconfirmed`` the keys of single PUTs cut off after their
    whole body was sent, which storage may hold. ``api_error`` is the API's
    own exception behind the failure, when there is one (an
    ``UnauthorizedException`` for a wrong key, ...), with its ``status`` also
    in ``status`` and its text in ``message``. The underlying error is
    ``__cause__``. Picklable; nothing in it carries a credential.
    """

    def __init__(
        self,
        message: str,
        *,
        file: Optional[str] = None,
        upload_id: Optional[str] = None,
        key: Optional[str] = None,
        completed_parts: Sequence[int] = (),
        aborted: bool = False,
        status: Optional[int] = None,
        results: Sequence[Any] = (),
        api_error: Optional[ApiException] = None,
        unconfirmed: Sequence[str] = (),
    ) -> None:
        ApiException.__init__(self, status=status, reason=redact_text(message))
        self.file = file
        self.upload_id = upload_id
        self.key = key
        self.completed_parts = tuple(completed_parts)
        self.aborted = aborted
        self.results = tuple(results)
        self.api_error = api_error
        self.unconfirmed = tuple(unconfirmed)
        if api_error is not None:
            self.error = api_error.error
            self.headers = api_error.headers

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason or "",), self.__dict__)

    def __str__(self) -> str:
        parts = ",".join(str(n) for n in self.completed_parts) or "none"
        return redact_text(
            f"{self.reason} (file={self.file!r}, upload_id={self.upload_id!r}, "
            f"key={self.key!r}, completed_parts=[{parts}], aborted={self.aborted})"
        )


_STATUS_CLASSES: Mapping[int, type[ApiException]] = {
    400: BadRequestException,
    401: UnauthorizedException,
    403: ForbiddenException,
    404: NotFoundException,
    409: ConflictException,
    422: UnprocessableEntityException,
    429: RateLimitError,
}
