"""The API calls the uploader makes, translated into the uploader's own small types.

The engine never touches request models or response shapes: it asks this
adapter to initiate a batch, sign a part, complete or cancel, and gets frozen
values back. That keeps the engine readable, checks every response for the
fields the upload cannot do without (a missing URL or upload id becomes a
clear error instead of an ``AttributeError`` three calls later), and lets
unit tests substitute any object with the same five ``UploadsApi`` methods.

Retries: the API client retries what is safe for any caller (GETs and
DELETEs on 5xx, every method on 429 and refused connections). The POSTs made
here, initiate and complete, are also retried on 5xx and 408 under the
uploader's :class:`~lilt._retry.RetryPolicy`: an upload is worth a possible
duplicate initiation (a pending record nobody uses) rather than failing a
transfer on one bad gateway. Complete is also retried when its answer never
arrived (connection reset, lost or timed-out response): completing the same
parts again is harmless, while giving up would report a stored object as failed.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, TypeVar

from lilt._retry import RetryPolicy, retry_after_seconds
from lilt.exceptions import ApiConnectionError, ApiException
from lilt.transfer.results import UploadedPart

T = TypeVar("T")

__all__ = ["ApiOps", "NewFile", "SignedUrl", "MultipartTarget", "UploadsApiLike"]

#: the API accepts at most this many bodies in one initiate request
MAX_BATCH = 100


class UploadsApiLike(Protocol):
    """The part of :class:`lilt.UploadsApi` the uploader uses."""

    def initiate_s3_upload(self, initiate_upload_body: Any) -> Any: ...

    def initiate_multipart_upload(self, initiate_multipart_upload_body: Any) -> Any: ...

    def sign_upload_part(self, upload_id: str, part_number: int, s3_key: str, size: int) -> Any: ...

    def complete_multipart_upload(
        self, upload_id: str, s3_key: str, complete_multipart_upload_body: Any
    ) -> Any: ...

    def cancel_multipart_upload(self, upload_id: str, s3_key: str) -> Any: ...


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

    def __str__(self) -> str:
        return str(self.reason)


class ApiOps:
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

    def _post(self, call: Callable[..., T], *args: Any, idempotent: bool = False) -> T:
        """``call(*args)``, retried on 5xx/408 (the API client retries POSTs on 429 only).

        An ``idempotent`` call is also retried when no answer came back at all.
        """
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return call(*args)
            except ApiException as exc:
                status = exc.status
                unanswered = idempotent and isinstance(exc, ApiConnectionError)
                if not unanswered and (
                    status is None or status == 429 or not self.retry.is_retryable_status(status)
                ):
                    raise
                delay = self.retry.wait(
                    attempt, self._random, retry_after_seconds(exc.headers or {})
                )
                budget = self.retry.budget
                if delay is None or (
                    budget is not None and self._clock() + delay - started > budget
                ):
                    raise
                self._sleep(delay)

    def initiate_single(self, files: Sequence[NewFile]) -> list[SignedUrl]:
        from lilt.models import InitiateUploadBody, InitiateUploadBodyMetadata

        bodies = _bodies(files, InitiateUploadBody, InitiateUploadBodyMetadata)
        answers = self._batch(lambda b: self._post(self.api.initiate_s3_upload, b), bodies)
        return [
            SignedUrl(_field(a, "url"), _field(a, "method", "PUT").upper(), _field(a, "key"))
            for a in answers
        ]

    def initiate_multipart(self, files: Sequence[NewFile]) -> list[MultipartTarget]:
        from lilt.models import InitiateMultipartUploadBody, InitiateMultipartUploadBodyMetadata

        bodies = _bodies(files, InitiateMultipartUploadBody, InitiateMultipartUploadBodyMetadata)
        answers = self._batch(lambda b: self._post(self.api.initiate_multipart_upload, b), bodies)
        return [MultipartTarget(_field(a, "upload_id"), _field(a, "key")) for a in answers]

    def sign(self, target: MultipartTarget, number: int, size: int) -> SignedUrl:
        answer = self.api.sign_upload_part(target.upload_id, number, target.key, size)
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
        answer = self._post(
            self.api.complete_multipart_upload, target.upload_id, target.key, body, idempotent=True
        )
        if answer is not None and getattr(answer, "success", None) is False:
            raise ResponseShapeError(
                f"complete_multipart_upload answered success=false for upload {target.upload_id}"
            )
        location = getattr(answer, "location", None) if answer is not None else None
        return location if isinstance(location, str) else None

    def cancel(self, target: MultipartTarget) -> None:
        self.api.cancel_multipart_upload(target.upload_id, target.key)

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


def _field(answer: Any, name: str, default: Optional[str] = None) -> str:
    value = getattr(answer, name, None)
    if isinstance(value, str) and value:
        return value
    if default is not None:
        return default
    raise ResponseShapeError(f"the API response has no {name!r}: {type(answer).__name__}")
