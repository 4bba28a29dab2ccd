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

Two things end a PUT that would otherwise wait: a watchdog thread abandons
any PUT that makes no progress (fewer than ``stall_speed`` bytes a second
over ``stall_time`` seconds, as curl's ``--speed-limit``/``--speed-time``),
which is then retried like a timeout; and :meth:`StorageClient.interrupt`
(the engine calls it on Ctrl-C or a fatal error) shuts the sockets of the
PUTs in flight, so a stalled storage server cannot hold a cancelled upload.
Both shut the socket down from the watchdog's side, since a thread blocked
in ``send`` or ``recv`` cannot be interrupted any other way.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import errno
import os
import random as _random
import re
import selectors
import socket
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

from lilt._redact import redact_text as redact_url
from lilt._redact import scrub_exception
from lilt._retry import RetryPolicy, RetrySchedule, retry_after_seconds
from lilt.transfer.source import BodyAborted, FileRegion

__all__ = [
    "PutResult",
    "SignatureRejected",
    "StorageClient",
    "StorageError",
    "Stalled",
    "TransferCancelled",
]

Buffer = Union[bytes, bytearray, memoryview]


class StreamedBody(Protocol):
    """A body not held in memory: its length, and fresh chunks for every attempt."""

    def __len__(self) -> int: ...

    def chunks(self, size: Optional[int] = None) -> Iterator[Union[FileRegion, bytes]]: ...


Body = Union[Buffer, StreamedBody]

#: bytes handed to the socket per write; also the granularity of progress events
SEND_CHUNK = 512 * 1024

# S3 answers these 400s when the body did not arrive intact: worth sending again.
_RETRYABLE_400_CODES = frozenset({"RequestTimeout", "BadDigest", "IncompleteBody"})
# ... and these when what arrived is not the body declared: was the source changed?
_BODY_MISMATCH_CODES = frozenset({"BadDigest", "IncompleteBody"})
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
    """The transfer is stopping (another file failed, or the user interrupted).

    ``body_sent`` is True when the PUT was cut off after its whole body had
    been handed to the network: storage may have stored it.
    """

    def __init__(self, message: str = "transfer cancelled", *, body_sent: bool = False) -> None:
        super().__init__(message)
        self.body_sent = body_sent


class Stalled(Exception):
    """Marks a PUT the watchdog abandoned; kept as the ``__cause__`` of its StorageError."""


@dataclass(frozen=True)
class PutResult:
    """A stored body: the ETag exactly as received (quotes kept) and the tries it took."""

    etag: Optional[str]
    attempts: int


@dataclass(frozen=True)
class _PutRequest:
    """What every try of one :meth:`StorageClient.put` sends, and how it is watched."""

    method: str
    url: str
    body: Body
    headers: dict[str, str]
    cancel: Optional[threading.Event]
    on_sent: Optional[Callable[[int], None]]
    verify: Optional[Callable[[], None]]
    keep_answer: bool


def _put_headers(body: Body, content_type: Optional[str], md5: Optional[bytes]) -> dict[str, str]:
    headers = {"Content-Length": str(len(body))}
    if content_type:
        headers["Content-Type"] = content_type
    if md5 is not None:
        headers["Content-MD5"] = content_md5(md5)
    return headers


def _raise_if_cancelled(exchange: _Exchange) -> None:
    """A try ended by the transfer's cancellation (not by a fault) ends the PUT."""
    if exchange.stop == "transfer cancelled":
        raise TransferCancelled(body_sent=exchange.body_done) from None


def _transient_failure(
    method: str, url: str, exc: BaseException, exchange: _Exchange, attempt: int
) -> StorageError:
    """The retryable error for a try that failed on the network (or was abandoned
    by the watchdog), without secrets in it or its cause."""
    scrub_exception(exc)
    cause: BaseException = exc
    if exchange.stop is not None:  # the watchdog abandoned it
        cause = Stalled(exchange.stop)
        cause.__cause__ = exc
    failure = StorageError(
        f"{method} {redact_url(url)} failed: {type(cause).__name__}: {redact_url(str(cause))}",
        attempts=attempt,
    )
    failure.__cause__ = cause
    return failure


def content_md5(digest: bytes) -> str:
    """The ``Content-MD5`` header value for a raw MD5 digest."""
    return base64.b64encode(digest).decode("ascii")


def check_presigned_url(url: str, *, allow_http: bool = True) -> None:
    """Refuse a URL that cannot be used safely, before anything is sent to it.

    Only ``https`` (and ``http`` when ``allow_http``) URLs are used: an API
    reached over https that hands out an ``http://`` storage URL would send
    every byte, and the URL's signature, in clear. And some AWS SDK versions
    presign with the CRC32 of an empty body; every PUT to such a URL fails
    with a confusing 400/403, so better to say why at once.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise StorageError(f"the storage URL is not http(s): {redact_url(url)}")
    if scheme == "http" and not allow_http:
        raise StorageError(
            f"the API is reached over https but gave a plain http storage URL, which would send "
            f"the file and its signature in clear: {redact_url(url)}; refused (pass "
            f"TransferConfig(allow_http_storage=True) to allow it)"
        )
    for name, _ in parse_qsl(urlsplit(url).query):
        lowered = name.lower()
        if lowered.startswith("x-amz-checksum-") or lowered == "x-amz-sdk-checksum-algorithm":
            raise StorageError(
                f"the presigned URL pins a checksum ({name}); the signer must presign with "
                f"checksum calculation 'when required': {redact_url(url)}"
            )


# --- one PUT in flight, and the watchdog that ends the stalled ones --------------------


class _Exchange:
    """One PUT attempt in flight: its socket once connected, the bytes it sent, its phase.

    Written by the sending thread (``sent``, ``sock``, ``body_done``), read
    and ended by the watchdog; ``stop`` says why it was ended (None while it runs).
    """

    __slots__ = (
        "body_done",
        "cancel",
        "deadline",
        "keep_answer",
        "samples",
        "sent",
        "sock",
        "started",
        "stop",
    )

    def __init__(self, cancel: Optional[threading.Event], now: float, *, keep_answer: bool) -> None:
        self.cancel = cancel
        self.keep_answer = keep_answer  # its answer is worth waiting for after an interrupt
        self.sock: Optional[socket.socket] = None
        self.sent = 0
        self.body_done = False
        self.stop: Optional[str] = None
        self.started = now
        self.deadline: Optional[float] = None  # an interrupted exchange's grace ends here
        self.samples: collections.deque[tuple[float, int]] = collections.deque()

    def attach(self, sock: Any) -> None:
        """Called by the connection as it sends: the socket the watchdog may shut down."""
        self.sock = sock
        if self.stop is not None:
            _shut(sock)

    def end(self, reason: str) -> None:
        if self.stop is None:
            self.stop = reason
        if self.sock is not None:
            _shut(self.sock)


def _shut(sock: Any) -> None:
    # shutdown, not close: it wakes a thread blocked in send or recv on this socket
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()  # the exchange of the PUT this thread is sending, if any


def _exchange() -> Optional[_Exchange]:
    return getattr(_current, "exchange", None)


# --- connections that send file regions with sendfile ----------------------------------


def send_region(sock: Any, region: FileRegion) -> None:
    """Send ``region`` on ``sock``: kernel to kernel where possible, else 1 MiB blocks.

    A file that ends before the region does (it was truncated during the
    send) stops the body at once with :class:`~lilt.transfer.source.BodyAborted`,
    rather than leaving storage to wait for bytes that never come.
    """
    exchange = _exchange()
    if isinstance(sock, ssl.SSLSocket) or not hasattr(os, "sendfile"):
        _send_region_in_blocks(sock, region, exchange)
        return
    offset, end = region.offset, region.offset + region.length
    timeout = sock.gettimeout()
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        while offset < end:
            try:
                # our own offsets: the shared descriptor's position is never moved
                sent = os.sendfile(sock.fileno(), region.fd, offset, min(end - offset, 1 << 30))
            except BlockingIOError:  # a socket with a timeout is non-blocking underneath
                if not selector.select(timeout):
                    raise socket.timeout("timed out") from None
                continue
            except OSError as exc:
                if offset == region.offset and exc.errno in _NO_SENDFILE:
                    _send_region_in_blocks(sock, region, exchange)
                    return
                raise
            if sent == 0:
                raise region.shrank(offset - region.offset)
            offset += sent
            if exchange is not None:
                exchange.sent += sent


_NO_SENDFILE = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSOCK})


def _send_region_in_blocks(sock: Any, region: FileRegion, exchange: Optional[_Exchange]) -> None:
    region.seek(region.offset)
    sent = 0
    while sent < region.length:
        block = region.read(1024 * 1024)
        if not block:
            raise region.shrank(sent)
        _send_counted(sock, block, exchange)
        sent += len(block)


def _send_counted(sock: Any, data: Any, exchange: Optional[_Exchange]) -> None:
    """``sock.sendall(data)``, in pieces the watchdog can see progress in."""
    if exchange is None:
        sock.sendall(data)
        return
    with memoryview(data) as view:
        for start in range(0, len(view), _PIECE):
            piece = view[start : start + _PIECE]
            sock.sendall(piece)
            exchange.sent += len(piece)


_PIECE = 64 * 1024


class _SendfileMixin:
    sock: Any

    def send(self, data: Any) -> None:
        exchange = _exchange()
        if exchange is not None and self.sock is not None and exchange.sock is not self.sock:
            exchange.attach(self.sock)
        if isinstance(data, FileRegion) and self.sock is not None:
            send_region(self.sock, data)
        elif exchange is not None and self.sock is not None:
            _send_counted(self.sock, data, exchange)
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
    files); this one just saves copying every byte through Python, and lets
    the watchdog and :meth:`StorageClient.interrupt` reach its sockets.
    """
    manager = urllib3.PoolManager(num_pools=4, maxsize=maxsize, block=False, retries=False)
    manager.pool_classes_by_scheme = {
        "http": _SendfileHTTPConnectionPool,
        "https": _SendfileHTTPSConnectionPool,
    }
    return manager


class _Watchdog:
    """The exchanges in flight, and a thread that ends those that stall.

    An exchange stalls when, over the last ``stall_time`` seconds, it sent
    fewer than ``stall_speed * stall_time`` bytes while sending its body, or
    got no answer in ``stall_time`` seconds once the body was sent. The
    thread runs only while exchanges are in flight.
    """

    def __init__(
        self, stall_time: Optional[float], stall_speed: int, clock: Callable[[], float]
    ) -> None:
        self.stall_time = stall_time
        self.stall_speed = stall_speed
        self._clock = clock
        self._lock = threading.Lock()
        self._active: set[_Exchange] = set()
        self._wake = threading.Condition(self._lock)
        self._thread: Optional[threading.Thread] = None

    def start(self, cancel: Optional[threading.Event], keep_answer: bool = False) -> _Exchange:
        """Register a new exchange; TransferCancelled if its transfer is already cancelled.

        Checked under the same lock :meth:`interrupt` takes, so no PUT can
        start after an interrupt has swept the ones in flight.
        """
        with self._lock:
            if cancel is not None and cancel.is_set():
                raise TransferCancelled("transfer cancelled")
            exchange = _Exchange(cancel, self._clock(), keep_answer=keep_answer)
            self._active.add(exchange)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="lilt-storage-watchdog", daemon=True
                )
                self._thread.start()
            return exchange

    def finish(self, exchange: _Exchange) -> None:
        with self._lock:
            self._active.discard(exchange)

    def interrupt(self, cancel: threading.Event, grace: float) -> None:
        """End the exchanges of ``cancel``'s transfer.

        Those still sending their body end at once (storage cannot have
        stored a body it did not get whole), and so do those whose answer
        does not matter (parts of an upload that will be aborted). The others,
        waiting for the answer to their whole body, get ``grace`` seconds to
        receive it, so an object (or a part a journal keeps) that is being
        stored is reported as stored rather than as unknown.
        """
        with self._lock:
            now = self._clock()
            for exchange in self._active:
                if exchange.cancel is not cancel:
                    continue
                if exchange.keep_answer and exchange.body_done and grace > 0:
                    exchange.deadline = now + grace
                else:
                    exchange.end("transfer cancelled")
            self._wake.notify_all()

    def _run(self) -> None:
        with self._lock:
            while self._active:
                self._check(self._clock())
                self._wake.wait(self._tick())

    def _tick(self) -> float:
        if self.stall_time is None:
            return 0.25
        return max(0.05, min(0.5, self.stall_time / 4))

    def _check(self, now: float) -> None:
        for exchange in self._active:
            if exchange.stop is not None:
                continue
            if exchange.deadline is not None and now >= exchange.deadline:
                exchange.end("transfer cancelled")
            elif self.stall_time is not None:
                reason = self._stalled(exchange, now, self.stall_time)
                if reason is not None:
                    exchange.end(reason)

    def _stalled(self, exchange: _Exchange, now: float, window: float) -> Optional[str]:
        samples = exchange.samples
        sent = exchange.sent
        samples.append((now, sent))
        while len(samples) > 1 and now - samples[1][0] >= window:
            samples.popleft()
        if exchange.body_done:
            if samples[0][1] == sent and now - samples[0][0] >= window:
                return f"no answer from storage for {window:g} s after the body was sent"
            return None
        if now - exchange.started < window or now - samples[0][0] < window:
            return None
        moved = sent - samples[0][1]
        if moved < self.stall_speed * window:
            return (
                f"stalled: {moved} bytes sent in {window:g} s (less than "
                f"{self.stall_speed} bytes a second)"
            )
        return None


class StorageClient:
    """Sends bodies to presigned URLs over keep-alive connections.

    ``http`` may be any ``urllib3.PoolManager`` (tests pass one that routes
    through a fault-injecting proxy); by default one is made with room for
    ``maxsize`` connections per host so every worker thread keeps its own
    connection alive. ``clock``, ``sleep`` and ``random`` are injectable so
    retry timing is deterministic in tests; without ``sleep`` a wait ends
    early when the transfer is cancelled.

    ``stall_time``/``stall_speed`` set the no-progress timeout (None: none),
    and ``allow_http`` whether plain ``http://`` URLs may be used. The
    watchdog and :meth:`interrupt` reach the sockets of the default pool
    (and of any made by :func:`storage_pool_manager`) only.
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
        stall_time: Optional[float] = 60.0,
        stall_speed: int = 1024,
        allow_http: bool = True,
    ) -> None:
        self.retry = retry
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self._owns_http = http is None
        self.http = http if http is not None else storage_pool_manager(maxsize)
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self.allow_http = allow_http
        # the watchdog keeps real time: it ends real sockets, whatever clock retries use
        self._watchdog = _Watchdog(stall_time, stall_speed, time.monotonic)

    def close(self) -> None:
        if self._owns_http:
            self.http.clear()

    def interrupt(self, cancel: threading.Event, grace: float = 0.0) -> None:
        """End the PUTs in flight for the transfer whose cancel event is ``cancel``.

        Their sockets are shut down, so they fail at once (with
        :class:`TransferCancelled`) instead of waiting for storage; a PUT
        whose whole body was sent gets ``grace`` seconds for its answer first.
        Set ``cancel`` before calling: a PUT about to start then does not.
        """
        self._watchdog.interrupt(cancel, grace)

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
        verify: Optional[Callable[[], None]] = None,
        keep_answer: bool = False,
    ) -> PutResult:
        """Store ``body`` at ``url``; retry transient failures; return the ETag.

        ``on_sent(n)`` is told the bytes this attempt has sent so far.
        ``deadline`` is a ``clock()`` value after which no retry starts.
        ``verify`` is called when storage says the body it got was not the
        one declared (``BadDigest``, ``IncompleteBody``): it raises
        :class:`~lilt.transfer.SourceChangedError` if the source changed, which
        then ends the PUT at once instead of sending the changed bytes again.
        ``keep_answer`` marks a PUT whose answer matters even when the transfer
        is interrupted (a single PUT; a part a journal keeps): on
        :meth:`interrupt` it may finish receiving it.
        """
        check_presigned_url(url, allow_http=self.allow_http)
        request = _PutRequest(
            method,
            url,
            body,
            _put_headers(body, content_type, md5),
            cancel,
            on_sent,
            verify,
            keep_answer,
        )
        attempts = RetrySchedule(self.retry, self._random, self._clock).start()
        while True:
            outcome = self._attempt(request, attempts.begin())
            if isinstance(outcome, PutResult):
                return outcome
            failure, hint = outcome
            delay = attempts.wait(hint, deadline=deadline)
            if delay is None:
                raise failure
            self._wait(delay, cancel)
            if cancel is not None and cancel.is_set():
                raise TransferCancelled("transfer cancelled")

    def _attempt(
        self, request: _PutRequest, attempt: int
    ) -> Union[PutResult, tuple[StorageError, Optional[float]]]:
        """One try: the stored result, or a retryable failure and the server's wait
        hint; anything that must not be retried is raised."""
        method, url = request.method, request.url
        exchange = self._watchdog.start(request.cancel, request.keep_answer)
        _current.exchange = exchange
        try:
            opener, target = self._route(url)
            response = opener.urlopen(
                method,
                target,
                body=_payload(request.body, request.on_sent, exchange),
                headers=request.headers,
                redirect=False,
                retries=False,
                timeout=self._timeout,
                preload_content=True,
                **({"assert_same_host": False} if opener is not self.http else {}),
            )
        except BodyAborted as exc:
            raise exc.error from None
        except _TRANSIENT_ERRORS as exc:
            _raise_if_cancelled(exchange)
            return _transient_failure(method, url, exc, exchange, attempt), None
        except u3.HTTPError as exc:
            _raise_if_cancelled(exchange)
            scrub_exception(exc)  # it stays reachable as the cause
            detail = f"{type(exc).__name__}: {redact_url(str(exc))}"
            raise StorageError(
                f"{method} {redact_url(url)} failed: {detail}", attempts=attempt
            ) from exc
        finally:
            _current.exchange = None
            self._watchdog.finish(exchange)
        status = response.status
        if 200 <= status < 300:
            return PutResult(response.headers.get("ETag"), attempt)
        failure = _status_error(method, url, status, response.data, attempt)
        if request.verify is not None and failure.code in _BODY_MISMATCH_CODES:
            request.verify()  # a changed source raises here, and is not sent again
        if not failure_is_retryable(failure, self.retry):
            raise failure
        return failure, retry_after_seconds(response.headers)

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


def _payload(body: Body, on_sent: Optional[Callable[[int], None]], exchange: _Exchange) -> Any:
    """What urllib3 sends for ``body`` in one attempt, reporting progress without copies.

    The last step marks the exchange's body as sent, so the watchdog knows
    the PUT now waits for storage's answer.
    """
    if isinstance(body, (bytes, bytearray, memoryview)):
        chunks: Iterator[Any] = iter((body,)) if on_sent is None else _sliced(body, on_sent)
    elif on_sent is None:
        chunks = body.chunks()  # one region: one sendfile call for the whole part
    else:
        chunks = _counted(body.chunks(SEND_CHUNK), on_sent)
    yield from chunks
    exchange.body_done = True


def _sliced(body: Buffer, on_sent: Callable[[int], None]) -> Iterator[memoryview]:
    with memoryview(body) as view:
        sent = 0
        total = len(view)
        while sent < total:
            chunk = view[sent : sent + SEND_CHUNK]
            yield chunk
            sent += len(chunk)
            on_sent(sent)


def _counted(
    chunks: Iterator[Union[FileRegion, bytes]], on_sent: Callable[[int], None]
) -> Iterator[Union[FileRegion, bytes]]:
    sent = 0
    for chunk in chunks:
        yield chunk
        sent += len(chunk)
        on_sent(sent)
