"""PUTs to presigned storage URLs, with retries, on a connection pool of their own.

Why a pool of its own rather than the API client's: the storage host is a
different host with different limits, and nothing configured for the LILT API
(``Authorization``, the ``key`` query, default headers, cookies) may ever reach
it. Every storage request here is built from nothing but the presigned URL,
the method the API returned (used as given), ``Content-Type``,
``Content-Length`` and ``Content-MD5``.

Failures are sorted three ways:

* transient (connection errors, timeouts, 408, 429, 5xx, and S3's 400
  ``RequestTimeout``/``BadDigest``/``IncompleteBody``, which mean the body did
  not arrive intact): retried with the shared :class:`~lilt._retry.RetryPolicy`,
  full-jitter backoff, ``Retry-After``/``X-RateLimit-Reset`` honoured, within
  the policy's budget and the caller's deadline;
* a 403 for an expired or invalid signature: :class:`SignatureRejected`, so
  the caller gets a fresh URL and tries again without spending the retry
  budget (re-signing is bounded by the caller);
* anything else: :class:`StorageError` at once.
"""

from __future__ import annotations

import base64
import os
import random as _random
import re
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Union
from urllib.parse import parse_qsl, urlsplit

import urllib3
from urllib3 import exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from lilt._redact import redact_url
from lilt._retry import RetryPolicy, retry_after_seconds
from lilt.transfer.source import FileRegion

__all__ = ["PutResult", "SignatureRejected", "StorageClient", "StorageError", "TransferCancelled"]

Buffer = Union[bytes, bytearray, memoryview]


class StreamedBody(Protocol):
    """A body not held in memory: its length, and fresh chunks for every attempt."""

    def __len__(self) -> int: ...

    def chunks(self, size: Optional[int] = None) -> Iterator[FileRegion]: ...


Body = Union[Buffer, StreamedBody]

#: bytes handed to the socket per write; also the granularity of progress events
SEND_CHUNK = 512 * 1024

# S3 answers these 400s when the body did not arrive intact: worth sending again.
_RETRYABLE_400_CODES = frozenset({"RequestTimeout", "BadDigest", "IncompleteBody"})
# 403 codes that a fresh signature can cure.
_RESIGN_403_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "TokenRefreshRequired",
        "RequestExpired",
        "RequestTimeTooSkewed",
    }
)
_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    u3.TimeoutError,  # connect and read timeouts, refused connections
    u3.ProtocolError,  # resets, broken pipes, remote disconnects
    ConnectionError,
    TimeoutError,  # a socket timeout while sending a file region
)
_XML_FIELD = re.compile(r"<(Code|Message)>([^<]*)</\1>")


class StorageError(Exception):
    """Storage refused or never answered a PUT.

    ``status`` is the HTTP status (None when no response arrived), ``code``
    and ``detail`` the S3 error ``Code``/``Message``, ``attempts`` how many
    tries were made. The URL in the message is redacted.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        detail: Optional[str] = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.detail = detail
        self.attempts = attempts


class SignatureRejected(StorageError):
    """Storage answered 403 for an expired or invalid signature: sign again and retry."""


class TransferCancelled(Exception):
    """The transfer is stopping (another file failed, or the user interrupted)."""


@dataclass(frozen=True)
class PutResult:
    """A stored body: the ETag exactly as received (quotes kept) and the tries it took."""

    etag: Optional[str]
    status: int
    attempts: int


def content_md5(digest: bytes) -> str:
    """The ``Content-MD5`` header value for a raw MD5 digest."""
    return base64.b64encode(digest).decode("ascii")


def check_presigned_url(url: str) -> None:
    """Refuse a URL whose signature pins a checksum of some other body.

    Some AWS SDK versions presign with the CRC32 of an empty body; every PUT
    to such a URL fails with a confusing 400/403. Better to say why at once.
    """
    for name, _ in parse_qsl(urlsplit(url).query):
        lowered = name.lower()
        if lowered.startswith("x-amz-checksum-") or lowered == "x-amz-sdk-checksum-algorithm":
            raise StorageError(
                f"the presigned URL pins a checksum ({name}); the signer must presign with "
                f"checksum calculation 'when required': {redact_url(url)}"
            )


# --- connections that send file regions with sendfile ----------------------------------


def send_region(sock: Any, region: FileRegion) -> None:
    """Send ``region`` on ``sock``: kernel to kernel where possible, else 1 MiB blocks."""
    if isinstance(sock, ssl.SSLSocket) or not hasattr(os, "sendfile"):
        region.seek(region.offset)
        while block := region.read(1024 * 1024):
            sock.sendall(block)
        return
    # socket.sendfile handles partial sends and the socket timeout; it moves our
    # region's own position only, never the shared descriptor's
    sock.sendfile(region, region.offset, region.length)


class _SendfileMixin:
    sock: Any

    def send(self, data: Any) -> None:
        if isinstance(data, FileRegion) and self.sock is not None:
            send_region(self.sock, data)
        else:
            super().send(data)  # type: ignore[misc]


class SendfileHTTPConnection(_SendfileMixin, HTTPConnection):
    """urllib3's connection, sending :class:`FileRegion` body chunks with sendfile."""


class SendfileHTTPSConnection(_SendfileMixin, HTTPSConnection):
    """The TLS variant (regions are read in blocks: TLS needs the bytes in user space)."""


class _SendfileHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = SendfileHTTPConnection


class _SendfileHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = SendfileHTTPSConnection


def storage_pool_manager(maxsize: int) -> urllib3.PoolManager:
    """A PoolManager for storage hosts whose connections send file regions with sendfile.

    Any other ``urllib3.PoolManager`` works too (regions are then read like
    files); this one just saves copying every byte through Python.
    """
    manager = urllib3.PoolManager(num_pools=4, maxsize=maxsize, block=False, retries=False)
    manager.pool_classes_by_scheme = {
        "http": _SendfileHTTPConnectionPool,
        "https": _SendfileHTTPSConnectionPool,
    }
    return manager


class StorageClient:
    """Sends bodies to presigned URLs over keep-alive connections.

    ``http`` may be any ``urllib3.PoolManager`` (tests pass one that routes
    through a fault-injecting proxy); by default one is made with room for
    ``maxsize`` connections per host so every worker thread keeps its own
    connection alive. ``clock``, ``sleep`` and ``random`` are injectable so
    retry timing is deterministic in tests; without ``sleep`` a wait ends
    early when the transfer is cancelled.
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy,
        timeout: tuple[float, float] = (10.0, 120.0),
        http: Optional[urllib3.PoolManager] = None,
        maxsize: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Optional[Callable[[float], None]] = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.retry = retry
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self._owns_http = http is None
        self.http = http if http is not None else storage_pool_manager(maxsize)
        self._clock = clock
        self._sleep = sleep
        self._random = random

    def close(self) -> None:
        if self._owns_http:
            self.http.clear()

    def put(
        self,
        url: str,
        body: Body,
        *,
        method: str = "PUT",
        content_type: Optional[str] = None,
        md5: Optional[bytes] = None,
        deadline: Optional[float] = None,
        cancel: Optional[threading.Event] = None,
        on_sent: Optional[Callable[[int], None]] = None,
    ) -> PutResult:
        """Store ``body`` at ``url``; retry transient failures; return the ETag.

        ``on_sent(n)`` is told the bytes this attempt has sent so far.
        ``deadline`` is a ``clock()`` value after which no retry starts.
        """
        check_presigned_url(url)
        headers = {"Content-Length": str(len(body))}
        if content_type:
            headers["Content-Type"] = content_type
        if md5 is not None:
            headers["Content-MD5"] = content_md5(md5)
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            if cancel is not None and cancel.is_set():
                raise TransferCancelled("transfer cancelled")
            try:
                opener, target = self._route(url)
                response = opener.urlopen(
                    method,
                    target,
                    body=_payload(body, on_sent),
                    headers=headers,
                    redirect=False,
                    retries=False,
                    timeout=self._timeout,
                    preload_content=True,
                    **({"assert_same_host": False} if opener is not self.http else {}),
                )
            except _TRANSIENT_ERRORS as exc:
                failure: StorageError = StorageError(
                    f"{method} {redact_url(url)} failed: {type(exc).__name__}: "
                    f"{redact_url(str(exc))}",
                    attempts=attempt,
                )
                failure.__cause__ = exc
                hint = None
            except u3.HTTPError as exc:
                detail = f"{type(exc).__name__}: {redact_url(str(exc))}"
                raise StorageError(
                    f"{method} {redact_url(url)} failed: {detail}", attempts=attempt
                ) from exc
            else:
                status = response.status
                if 200 <= status < 300:
                    return PutResult(response.headers.get("ETag"), status, attempt)
                failure = _status_error(method, url, status, response.data, attempt)
                if not failure_is_retryable(failure, self.retry):
                    raise failure
                hint = retry_after_seconds(response.headers)
            delay = self.retry.wait(attempt, self._random, hint)
            now = self._clock()
            if delay is None or _over(now + delay, started, self.retry.budget, deadline):
                raise failure
            self._wait(delay, cancel)

    def _route(self, url: str) -> tuple[Any, str]:
        """The connection pool for ``url``'s host, and the request target to send it.

        ``PoolManager.urlopen`` re-parses and re-percent-encodes the whole URL
        character by character in Python, twice; a presigned URL's long query is
        already encoded, and that work was a third of the client's CPU per small
        file. So the URL is split once here and the host's pool used directly.
        Proxy managers (which need absolute URLs) and look-alikes without
        ``connection_from_host`` get the URL as is.
        """
        parts = urlsplit(url)
        pick = getattr(self.http, "connection_from_host", None)
        if pick is None or isinstance(self.http, urllib3.ProxyManager) or not parts.hostname:
            return self.http, url
        pool = pick(parts.hostname, port=parts.port, scheme=parts.scheme or "http")
        return pool, f"{parts.path or '/'}{'?' + parts.query if parts.query else ''}"

    def _wait(self, delay: float, cancel: Optional[threading.Event]) -> None:
        if self._sleep is not None:
            self._sleep(delay)
        elif cancel is not None:
            cancel.wait(delay)
        else:
            time.sleep(delay)


def failure_is_retryable(error: StorageError, policy: RetryPolicy) -> bool:
    if isinstance(error, SignatureRejected):
        return False
    if error.status is None:
        return True
    if error.status == 400:
        return error.code in _RETRYABLE_400_CODES
    return policy.is_retryable_status(error.status)


def _over(when: float, started: float, budget: Optional[float], deadline: Optional[float]) -> bool:
    if budget is not None and when - started > budget:
        return True
    return deadline is not None and when > deadline


def _status_error(method: str, url: str, status: int, body: bytes, attempts: int) -> StorageError:
    text = body[:4096].decode("utf-8", "replace")
    fields = dict(_XML_FIELD.findall(text))
    code = fields.get("Code")
    detail = fields.get("Message")
    message = f"{method} {redact_url(url)} answered {status}"
    if code or detail:
        message += f" {code or ''}: {redact_url(detail or '')}".rstrip(": ")
    kind = StorageError
    if status == 403 and _signature_problem(code, detail, text):
        kind = SignatureRejected
    return kind(message, status=status, code=code, detail=detail, attempts=attempts)


def _signature_problem(code: Optional[str], detail: Optional[str], text: str) -> bool:
    if code in _RESIGN_403_CODES:
        return True
    lowered = (detail or "").lower()
    if code == "AccessDenied" and ("expired" in lowered or "signature" in lowered):
        return True
    # A bare 403 says nothing; one fresh signature is worth a try (the caller bounds it).
    return not text.strip()


def _payload(body: Body, on_sent: Optional[Callable[[int], None]]) -> Any:
    """What urllib3 sends for ``body`` in one attempt, reporting progress without copies."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        if on_sent is None or not len(body):
            return body
        return _sliced(body, on_sent)
    if on_sent is None:
        return body.chunks()  # one region: one sendfile call for the whole part
    return _counted(body.chunks(SEND_CHUNK), on_sent)


def _sliced(body: Buffer, on_sent: Callable[[int], None]) -> Iterator[memoryview]:
    with memoryview(body) as view:
        sent = 0
        total = len(view)
        while sent < total:
            chunk = view[sent : sent + SEND_CHUNK]
            yield chunk
            sent += len(chunk)
            on_sent(sent)


def _counted(chunks: Iterator[FileRegion], on_sent: Callable[[int], None]) -> Iterator[FileRegion]:
    sent = 0
    for chunk in chunks:
        yield chunk
        sent += len(chunk)
        on_sent(sent)
