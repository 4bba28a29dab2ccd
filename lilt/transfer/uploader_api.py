"""The API calls the uploader makes, translated into the uploader's own small types.

The engine never touches request models or response shapes: it asks this
adapter to initiate a batch, sign a part, complete or cancel, and gets frozen
values back. That keeps the engine readable, checks every response for the
fields the upload cannot do without (a missing URL or upload id becomes a
clear error instead of an ``AttributeError`` three calls later), and lets
unit tests substitute any object with the same five ``UploadsApi`` methods.

Retries: one layer, this one. Every call goes to the API client inside
:func:`lilt._retry.caller_retries`, so its transport makes exactly one
attempt, and is retried here under the uploader's
:class:`~lilt._retry.RetryPolicy` (``TransferConfig.retry``): at most
``attempts`` attempts per call, whoever would have retried it. What is retried:

* a connection that was never made (refused, DNS, connect timeout): any call,
  since nothing reached the server;
* 429 and the policy's statuses (408, 5xx): any call, initiate and complete
  included (an upload is worth a possible duplicate initiation, a pending
  record nobody uses, rather than failing on one bad gateway);
* an answer that never came (reset, closed or timed out after the request
  was sent: "maybe processed"): sign, complete and cancel, which are safe to
  repeat (completing the same parts again, or cancelling a cancelled upload,
  changes nothing). An initiate is sent again too, because the file still
  needs an upload; first the API's pending list is searched for records the
  lost request may have created (same file name, created since it was
  sent), and they are logged: the API gives no way to cancel or adopt them,
  since its pending list has no upload id, key or metadata.
"""

from __future__ import annotations

import datetime
import logging
import random as _random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, TypeVar

from urllib3 import exceptions as u3

# the API accepts at most this many bodies in one initiate request (the operations' limit)
from lilt._endpoint import MAX_BULK_ITEMS as MAX_BATCH
from lilt._retry import RetryPolicy, RetrySchedule, caller_retries, retry_after_seconds
from lilt.exceptions import ApiConnectionError, ApiException, ApiSSLError, NotFoundException
from lilt.transfer.results import UploadedPart

T = TypeVar("T")

__all__ = [
    "MAX_BATCH",
    "FilenameError",
    "MultipartTarget",
    "NewFile",
    "SignedUrl",
    "UploaderApi",
    "UploadsApiLike",
    "check_filename",
]

#: how far the API's clock may be behind ours when looking for records a lost request made
_CLOCK_SLACK = datetime.timedelta(seconds=5)

logger = logging.getLogger("lilt.transfer")


class UploadsApiLike(Protocol):
    """The part of :class:`lilt.UploadsApi` the uploader uses."""

    def initiate_s3_upload(self, initiate_upload_body: Any) -> Any: ...

    def initiate_multipart_upload(self, initiate_multipart_upload_body: Any) -> Any: ...

    def sign_upload_part(self, upload_id: str, part_number: int, s3_key: str, size: int) -> Any: ...

    def complete_multipart_upload(
        self, upload_id: str, s3_key: str, complete_multipart_upload_body: Any
    ) -> Any: ...

    def cancel_multipart_upload(self, upload_id: str, s3_key: str) -> Any: ...


class FilenameError(ValueError):
    """A file name the API cannot be sent: empty, or not valid Unicode; raised before any request.

    A path's bytes that are not valid in the file system's encoding (and
    lone surrogates in a ``str``) have no UTF-8 form, and JSON bodies are
    UTF-8. Pass ``filename=`` with the name the upload should have.
    """


def check_filename(name: object, *, path: Optional[str] = None) -> str:
    """``name`` as the API will get it, or :class:`FilenameError` saying why it cannot be."""
    where = f" (for {path!r})" if path is not None and path != name else ""
    if not isinstance(name, str):
        raise FilenameError(f"the file name must be a str, got {type(name).__name__}{where}")
    if not name:
        raise FilenameError(f"the file name is empty{where}; pass filename=")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise FilenameError(
            f"the file name {name!r}{where} is not valid Unicode (bytes the file system's "
            f"encoding cannot decode, or a lone surrogate), so it cannot be sent to the API; "
            f"pass filename= with the name to use"
        ) from None
    return name


@dataclass(frozen=True)
class NewFile:
    """What the API is told about a file when its upload is initiated."""

    filename: str
    content_type: str
    size: Optional[int]
    category: Optional[str] = None
    labels: Optional[tuple[str, ...]] = None


@dataclass(frozen=True)
class SignedUrl:
    """A presigned storage URL, the HTTP method to use with it, and the object key."""

    url: str
    method: str
    key: str = ""


@dataclass(frozen=True)
class MultipartTarget:
    upload_id: str
    key: str


class ResponseShapeError(ApiException, ValueError):
    """The API answered 2xx without a field the upload needs."""

    def __init__(self, message: str) -> None:
        ApiException.__init__(self, status=None, reason=message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self.reason),), self.__dict__)

    def __str__(self) -> str:
        return str(self.reason)


class UploaderApi:
    """Initiate, sign, complete and cancel, over any ``UploadsApi``-like object."""

    def __init__(
        self,
        api: UploadsApiLike,
        *,
        retry: Optional[RetryPolicy] = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.retry = retry if retry is not None else RetryPolicy()
        self._sleep = sleep
        self._random = random
        self._clock = clock

    def _call(
        self,
        call: Callable[..., T],
        *args: Any,
        repeatable: bool,
        on_lost: Optional[Callable[[], object]] = None,
    ) -> T:
        """``call(*args)``, attempted at most ``retry.attempts`` times in all.

        ``repeatable`` calls are sent again when their answer was lost;
        others run ``on_lost`` first (when given) and are sent again, or
        raise (when not).
        """
        attempts = RetrySchedule(self.retry, self._random, self._clock).start()
        while True:
            attempts.begin()
            try:
                with caller_retries():
                    return call(*args)
            except ApiException as exc:
                if isinstance(exc, ApiSSLError):
                    raise  # TLS refused: trying again changes nothing
                connection = isinstance(exc, ApiConnectionError)
                lost = connection and not _never_sent(exc)  # sent, maybe processed
                if lost and not repeatable and on_lost is None:
                    raise
                status = exc.status
                if not connection and not (
                    status is not None and (status == 429 or self.retry.is_retryable_status(status))
                ):
                    raise
                delay = attempts.wait(retry_after_seconds(exc.headers or {}))
                if delay is None:
                    raise
                if lost and on_lost is not None:
                    on_lost()
                self._sleep(delay)

    def initiate_single(self, files: Sequence[NewFile]) -> list[SignedUrl]:
        from lilt.models import InitiateUploadBody, InitiateUploadBodyMetadata

        bodies = _bodies(files, InitiateUploadBody, InitiateUploadBodyMetadata)
        answers = self._initiate(self.api.initiate_s3_upload, files, bodies)
        return [
            SignedUrl(_field(a, "url"), _field(a, "method", "PUT").upper(), _field(a, "key"))
            for a in answers
        ]

    def initiate_multipart(self, files: Sequence[NewFile]) -> list[MultipartTarget]:
        from lilt.models import InitiateMultipartUploadBody, InitiateMultipartUploadBodyMetadata

        bodies = _bodies(files, InitiateMultipartUploadBody, InitiateMultipartUploadBodyMetadata)
        answers = self._initiate(self.api.initiate_multipart_upload, files, bodies)
        return [MultipartTarget(_field(a, "upload_id"), _field(a, "key")) for a in answers]

    def _initiate(self, call: Any, files: Sequence[NewFile], bodies: list[Any]) -> list[Any]:
        sent_at = datetime.datetime.now(datetime.timezone.utc)
        names = {f.filename for f in files}
        return self._batch(
            lambda b: self._call(
                call, b, repeatable=False, on_lost=lambda: self.report_lost(names, sent_at)
            ),
            bodies,
        )

    def report_lost(self, names: set[str], sent_at: datetime.datetime) -> list[int]:
        """Log the pending records a lost initiate may have created; return their ids.

        The API cannot cancel them (its list has no upload id or key), so
        naming them is all that can be done; sending the initiate again then
        gives the file an upload of its own.
        """
        lister = getattr(self.api, "get_pending_uploads", None)
        if lister is None:
            return []
        try:
            records = self._call(lister, repeatable=True)
        except ApiException as exc:
            logger.warning("an initiate's answer was lost, and the pending list failed: %s", exc)
            return []
        since = sent_at - _CLOCK_SLACK
        found = [
            r
            for r in records or ()
            if getattr(r, "filename", None) in names
            and getattr(r, "status", "pending") == "pending"
            and _created_since(getattr(r, "created_at", None), since)
        ]
        ids = [r.id for r in found if isinstance(getattr(r, "id", None), int)]
        if ids:
            logger.warning(
                "an initiate's answer was lost; it may have created pending upload record(s) %s "
                "(%s), which the API gives no way to cancel; sending it again",
                ", ".join(str(i) for i in ids),
                ", ".join(sorted({str(r.filename) for r in found})),
            )
        return ids

    def sign(self, target: MultipartTarget, number: int, size: int) -> SignedUrl:
        answer = self._call(
            self.api.sign_upload_part, target.upload_id, number, target.key, size, repeatable=True
        )
        return SignedUrl(_field(answer, "url"), _field(answer, "method", "PUT").upper(), target.key)

    def complete(self, target: MultipartTarget, parts: Sequence[UploadedPart]) -> Optional[str]:
        from lilt.models import CompleteMultipartUploadBody, CompleteMultipartUploadBodyPartsInner

        body = CompleteMultipartUploadBody(
            parts=[
                # wire names: what both pydantic and mypy accept for aliased fields
                CompleteMultipartUploadBodyPartsInner(ETag=p.etag, PartNumber=p.number)
                for p in parts
            ]
        )
        answer = self._call(
            self.api.complete_multipart_upload, target.upload_id, target.key, body, repeatable=True
        )
        if answer is not None and getattr(answer, "success", None) is False:
            raise ResponseShapeError(
                f"complete_multipart_upload answered success=false for upload {target.upload_id}"
            )
        location = getattr(answer, "location", None) if answer is not None else None
        return location if isinstance(location, str) else None

    def cancel(self, target: MultipartTarget) -> None:
        """Cancel the upload; one already cancelled after a lost answer counts as cancelled."""
        lost: list[bool] = []

        def attempt() -> None:
            try:
                self.api.cancel_multipart_upload(target.upload_id, target.key)
            except NotFoundException:
                if not lost:
                    raise
            except ApiConnectionError as exc:
                if not _never_sent(exc):
                    lost.append(True)  # it may have been cancelled: a 404 next is success
                raise

        self._call(attempt, repeatable=True)

    @staticmethod
    def _batch(call: Any, bodies: list[Any]) -> list[Any]:
        # One file goes as one object (what every LILT API version accepts);
        # several as a list, which the API answers with a list in the same order.
        if len(bodies) == 1:
            return [call(bodies[0])]
        answers = call(bodies)
        if not isinstance(answers, list) or len(answers) != len(bodies):
            got = len(answers) if isinstance(answers, list) else type(answers).__name__
            raise ResponseShapeError(f"bulk initiate of {len(bodies)} files answered {got} items")
        return answers


def _bodies(files: Sequence[NewFile], body: Any, metadata: Any) -> list[Any]:
    """Initiate bodies (single and multipart have twin model classes) for ``files``."""
    return [
        body(
            filename=f.filename,
            type=f.content_type,
            metadata=metadata(
                size=f.size,
                category=f.category,
                labels=list(f.labels) if f.labels is not None else None,
            ),
        )
        for f in files
    ]


def _never_sent(exc: BaseException) -> bool:
    """True when the request provably never reached the server: no connection was made.

    Anything else (a reset, a closed connection, a read timeout) may have
    happened after the server received and processed the request.
    """
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (u3.NewConnectionError, u3.ConnectTimeoutError)):
            return True
        if isinstance(current, (ConnectionRefusedError, u3.NameResolutionError)):
            return True
        if isinstance(current, BaseException):
            pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
    return False


def _created_since(created: Any, since: datetime.datetime) -> bool:
    if not isinstance(created, datetime.datetime):
        return True  # no time to go by: the name alone decides
    if created.tzinfo is None:
        created = created.replace(tzinfo=datetime.timezone.utc)
    return bool(created >= since)


def _field(answer: Any, name: str, default: Optional[str] = None) -> str:
    value = getattr(answer, name, None)
    if isinstance(value, str) and value:
        return value
    if default is not None:
        return default
    raise ResponseShapeError(f"the API response has no {name!r}: {type(answer).__name__}")
