"""A fault-injecting HTTP/1.1 proxy for tests: what real networks do, on demand.

:class:`FaultProxy` listens on loopback and forwards every connection to one
upstream (an API server, a storage server), byte for byte. It understands
just enough HTTP/1.1 (request and response heads, ``Content-Length`` and
chunked bodies, keep-alive) to aim a :class:`Fault` at one request and to
record every request head it saw::

    from lilt.testing.proxy import Fault, FaultProxy

    with FaultProxy(("127.0.0.1", storage_port)) as proxy:
        proxy.inject(Fault.reset_mid_body(after=64 * 1024), method="PUT", times=2)
        proxy.inject(Fault.slow_down(), path=r"partNumber=3")
        proxy.randomly(seed=7, rate=0.2, faults=[Fault.stall(2.0), Fault.truncate(10)], limit=5)
        ...  # point the client at proxy.url
        assert proxy.counts["reset_mid_body"] == 2
        assert not any(r.header("Authorization") for r in proxy.requests)

The faults (:class:`FaultKind`): what the proxy does, and what the client sees.

``refuse``
    resets the connection as soon as the request head arrives; nothing goes
    upstream (:meth:`FaultProxy.refuse_connections` resets at accept time).
    The client sees its connection reset.
``delay``
    holds the whole request ``seconds`` before forwarding its first byte, as
    a congested network would; e.g. to let a presigned URL expire on the way.
``reset_before_body`` / ``reset_mid_body``
    forwards the request head (and ``after`` body bytes), then resets both
    sides. The client sees a reset while sending; the server an incomplete request.
``stall_body``
    stops reading the request body for ``seconds`` after ``after`` bytes: a
    storage server that stops reading mid-part. The client times out.
``drop_response``
    forwards the whole request, then closes without a response: processed,
    reply lost. The client sees the remote end disconnect.
``stall``
    holds the response ``seconds`` before its first byte (or after ``after``
    body bytes). The client sees a read timeout.
``truncate`` / ``reset_response``
    forwards the response head and ``after`` body bytes, then closes (FIN) or
    resets (RST). The client sees an incomplete read or a reset.
``drip``
    sends the response body ``chunk`` bytes every ``interval`` seconds, for
    at most ``seconds``: a slow server.
``http_error``
    answers ``status`` itself (e.g. S3's 503 ``SlowDown``); the request body
    is read and discarded and never goes upstream.

Which request gets which fault is decided by rules, checked in the order they
were added; the first that yields a fault wins, and the rules after it do not
see that request. A rule matches on method,
path (a regular expression searched in the request target) or any predicate,
and is bounded in count (``times``, ``limit``, a script's length) and may be
bounded in time (``within`` seconds). Random rules draw from their own
``random.Random(seed)``, so a given sequence of requests meets the same
faults on every run. Every wait the proxy makes is capped by ``max_stall``
and ends at once when the proxy stops.

Only the standard library is used, so the proxy works in any test suite.
It listens on loopback only and never rewrites a byte it forwards (the
``Host`` header stays as the client sent it, so presigned signatures verify).
"""

from __future__ import annotations

import contextlib
import enum
import re
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Callable, Optional, Union
from urllib.parse import parse_qsl, urlsplit

from lilt.testing._rules import Repeat, RuleBook, Script, Seeded

__all__ = ["Fault", "FaultKind", "FaultProxy", "RequestRecord"]

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_MAX_HEAD = 64 * 1024
_RECV = 256 * 1024
# Framing of a body that is not Content-Length delimited.
_CHUNKED = -1
_UNTIL_CLOSE = -2


class FaultKind(str, enum.Enum):
    """The faults a :class:`FaultProxy` can inject (see the module docstring)."""

    REFUSE = "refuse"
    DELAY = "delay"
    RESET_BEFORE_BODY = "reset_before_body"
    RESET_MID_BODY = "reset_mid_body"
    STALL_BODY = "stall_body"
    DROP_RESPONSE = "drop_response"
    STALL = "stall"
    TRUNCATE = "truncate"
    RESET_RESPONSE = "reset_response"
    DRIP = "drip"
    HTTP_ERROR = "http_error"

    def __str__(self) -> str:
        return self.value


_REQUEST_SIDE = frozenset({FaultKind.RESET_MID_BODY, FaultKind.STALL_BODY})
_BYTE_TRIGGERED = frozenset(
    {
        FaultKind.RESET_MID_BODY,
        FaultKind.STALL_BODY,
        FaultKind.STALL,
        FaultKind.TRUNCATE,
        FaultKind.RESET_RESPONSE,
        FaultKind.DRIP,
    }
)


@dataclass(frozen=True)
class Fault:
    """One fault to act out on one request. Build it with the class methods.

    ``after`` is a byte offset into the request body (request-side faults) or
    the response body (response-side faults); a fault whose offset lies past
    the end of the body never happens and is not counted.
    """

    kind: FaultKind
    after: int = 0
    seconds: float = 0.0
    chunk: int = 0
    interval: float = 0.0
    status: int = 0
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def __post_init__(self) -> None:
        if self.after < 0 or self.seconds < 0 or self.chunk < 0 or self.interval < 0:
            raise ValueError(f"fault values must not be negative: {self!r}")
        if self.kind is FaultKind.HTTP_ERROR and not 100 <= self.status <= 599:
            raise ValueError(f"http_error needs a status between 100 and 599, got {self.status}")
        if self.kind is FaultKind.DRIP and (self.chunk < 1 or self.interval <= 0):
            raise ValueError("drip needs chunk >= 1 and interval > 0")

    @classmethod
    def refuse(cls) -> Fault:
        """Reset the connection as soon as the request head arrives; nothing goes upstream."""
        return cls(FaultKind.REFUSE)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Hold the request ``seconds`` before forwarding any of it, then forward it whole."""
        return cls(FaultKind.DELAY, seconds=seconds)

    @classmethod
    def reset_before_body(cls) -> Fault:
        """Forward the request head, then reset both connections before any body byte."""
        return cls(FaultKind.RESET_BEFORE_BODY)

    @classmethod
    def reset_mid_body(cls, after: int) -> Fault:
        """Forward ``after`` bytes of the request body, then reset both connections."""
        return cls(FaultKind.RESET_MID_BODY, after=after)

    @classmethod
    def stall_body(cls, seconds: float, after: int = 0) -> Fault:
        """After ``after`` request body bytes, stop reading the client for ``seconds``."""
        return cls(FaultKind.STALL_BODY, after=after, seconds=seconds)

    @classmethod
    def drop_response(cls) -> Fault:
        """Forward the whole request, then close without a response (processed, reply lost)."""
        return cls(FaultKind.DROP_RESPONSE)

    @classmethod
    def stall(cls, seconds: float, after: int = 0) -> Fault:
        """Hold the response for ``seconds``: before its head, or after ``after`` body bytes."""
        return cls(FaultKind.STALL, after=after, seconds=seconds)

    @classmethod
    def truncate(cls, after: int = 0) -> Fault:
        """Forward the response head and ``after`` body bytes, then close (FIN)."""
        return cls(FaultKind.TRUNCATE, after=after)

    @classmethod
    def reset_response(cls, after: int = 0) -> Fault:
        """Forward the response head and ``after`` body bytes, then reset (RST)."""
        return cls(FaultKind.RESET_RESPONSE, after=after)

    @classmethod
    def drip(
        cls, chunk: int = 16, interval: float = 0.01, seconds: float = 2.0, after: int = 0
    ) -> Fault:
        """Send the response body ``chunk`` bytes every ``interval`` s, for at most ``seconds``."""
        return cls(FaultKind.DRIP, after=after, chunk=chunk, interval=interval, seconds=seconds)

    @classmethod
    def http_error(
        cls,
        status: int = 503,
        body: Union[bytes, str] = b"",
        headers: Union[Mapping[str, str], Sequence[tuple[str, str]]] = (),
        reason: str = "",
    ) -> Fault:
        """Answer ``status`` instead of forwarding; the request body is read and discarded."""
        items = tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)
        payload = body.encode() if isinstance(body, str) else bytes(body)
        return cls(FaultKind.HTTP_ERROR, status=status, reason=reason, headers=items, body=payload)

    @classmethod
    def slow_down(cls, retry_after: Optional[float] = None) -> Fault:
        """S3's ``503 SlowDown`` (with ``Retry-After`` when given)."""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            "<Message>Please reduce your request rate.</Message></Error>"
        )
        headers = [("Content-Type", "application/xml")]
        if retry_after is not None:
            headers.append(("Retry-After", f"{retry_after:g}"))
        return cls.http_error(503, body, headers, "Slow Down")

    @classmethod
    def internal_error(cls) -> Fault:
        """S3's ``500 InternalError``."""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
            "<Message>We encountered an internal error. Please try again.</Message></Error>"
        )
        return cls.http_error(500, body, [("Content-Type", "application/xml")])


@dataclass
class RequestRecord:
    """One request head the proxy saw, and what became of it.

    ``fault`` is the fault chosen for it (it may not have happened: see
    :attr:`FaultProxy.counts` for the ones that did), ``status`` the status
    of the response the client was sent (None: no response head reached it),
    ``body_bytes`` how many request body bytes went upstream.
    """

    index: int
    connection: int
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    fault: Optional[Fault] = None
    status: Optional[int] = None
    body_bytes: int = 0

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (the last value of a repeated name wins)."""
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    def header(self, name: str) -> Optional[str]:
        """The value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


Match = Callable[[RequestRecord], bool]


def _matching(
    method: Optional[str], path: Optional[str], match: Optional[Match], within: Optional[float]
) -> Match:
    """A request filter: method, path regex, a predicate and a time window, all optional."""
    wanted_method = method.upper() if method else None
    wanted_path = re.compile(path) if path else None
    until = None if within is None else time.monotonic() + within

    def matches(request: RequestRecord) -> bool:
        if until is not None and time.monotonic() > until:
            return False
        if wanted_method is not None and request.method.upper() != wanted_method:
            return False
        if wanted_path is not None and not wanted_path.search(request.target):
            return False
        return match is None or match(request)

    return matches


class _Stop(Exception):
    """End this connection now: with a reset (RST), or in order (FIN) when ``reset`` is False."""

    def __init__(self, why: str, *, reset: bool = True) -> None:
        super().__init__(why)
        self.reset = reset


class _Reader:
    """Buffered reads from one socket, keeping the raw bytes for forwarding."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(_RECV)
        if not data:
            return False
        self.buf += data
        return True

    def head(self) -> Optional[bytes]:
        """A message head (through the blank line); None on a clean end before any byte."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                return head
            if len(self.buf) > _MAX_HEAD:
                raise _Stop("message head too large")
            if not self._fill():
                if self.buf:
                    raise _Stop("connection closed inside a message head")
                return None

    def line(self) -> bytes:
        while True:
            end = self.buf.find(b"\n")
            if end >= 0:
                line = bytes(self.buf[: end + 1])
                del self.buf[: end + 1]
                return line
            if len(self.buf) > _MAX_HEAD or not self._fill():
                raise _Stop("connection closed inside a chunk header")

    def take(self, limit: int) -> bytes:
        """Between 1 and ``limit`` bytes; ``b""`` only at the end of the stream."""
        if not self.buf and not self._fill():
            return b""
        data = bytes(self.buf[:limit])
        del self.buf[:limit]
        return data

    def body(self, framing: int) -> Iterator[bytes]:
        """The raw bytes of a body with the given framing (a length, chunked, until close)."""
        if framing == _CHUNKED:
            yield from self._chunked()
            return
        remaining = framing
        while remaining != 0:
            data = self.take(_RECV if remaining < 0 else min(remaining, _RECV))
            if not data:
                if remaining > 0:
                    raise _Stop("connection closed inside a body")
                return
            remaining -= len(data) if remaining > 0 else 0
            yield data

    def _chunked(self) -> Iterator[bytes]:
        while True:
            line = self.line()
            yield line
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _Stop("malformed chunk size") from None
            if size == 0:
                while True:
                    trailer = self.line()
                    yield trailer
                    if trailer in (b"\r\n", b"\n"):
                        return
            remaining = size + 2  # the data and its CRLF
            while remaining:
                data = self.take(min(remaining, _RECV))
                if not data:
                    raise _Stop("connection closed inside a chunk")
                remaining -= len(data)
                yield data


def _parse_head(head: bytes) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    """The three parts of the start line and the header fields of a message head."""
    lines = head.decode("latin-1").split("\r\n")
    start = lines[0].split(" ", 2)
    if len(start) < 2:
        raise _Stop(f"malformed start line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return start[0], start[1], start[2] if len(start) > 2 else "", tuple(headers)


def _field(headers: Sequence[tuple[str, str]], name: str) -> Optional[str]:
    values = [v for k, v in headers if k.lower() == name]
    return ", ".join(values) if values else None


def _framing(headers: Sequence[tuple[str, str]], *, response: bool) -> int:
    encoding = _field(headers, "transfer-encoding")
    if encoding and "chunked" in encoding.lower():
        return _CHUNKED
    length = _field(headers, "content-length")
    if length is not None:
        try:
            return int(length.split(",")[0])
        except ValueError:
            raise _Stop(f"malformed Content-Length {length!r}") from None
    return _UNTIL_CLOSE if response else 0


def _wants_close(headers: Sequence[tuple[str, str]]) -> bool:
    value = _field(headers, "connection")
    return value is not None and "close" in value.lower()


class _Link:
    """One client connection, its upstream connection, and the requests in flight."""

    def __init__(
        self,
        number: int,
        client: socket.socket,
        upstream: socket.socket,
        on_closed: Callable[[_Link], None],
    ) -> None:
        self.number = number
        self.client = client
        self.upstream = upstream
        self.client_write = threading.Lock()
        self.state = threading.Condition()
        self.in_flight: deque[RequestRecord] = deque()
        self.closed = False
        # The two pump threads. Only the last one out closes the sockets: a
        # socket closed under a thread blocked in recv() frees its descriptor
        # number for reuse while that thread may still wait on it.
        self.users = 2
        self._on_closed = on_closed

    def _finish(self, reset: bool) -> None:
        """Wake both pump threads and send FIN (or arm the RST sent on close)."""
        with self.state:
            if self.closed:
                return
            self.closed = True
            self.state.notify_all()
        for sock in (self.client, self.upstream):
            try:
                if reset:
                    # RST instead of FIN when closed. SHUT_RD wakes a thread
                    # blocked in recv() on this socket without sending anything.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.shutdown(socket.SHUT_RD)
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def reset(self) -> None:
        """End both connections with a TCP reset."""
        self._finish(reset=True)

    def close(self) -> None:
        """End both connections in an orderly way (FIN)."""
        self._finish(reset=False)

    def release(self) -> None:
        """A pump thread is done; the last one closes the sockets."""
        with self.state:
            self.users -= 1
            last = self.users == 0
        if not last:
            return
        self.close()  # a no-op when already reset or closed
        self.client.close()
        self.upstream.close()
        self._on_closed(self)


class FaultProxy:
    """Forward TCP connections from loopback to ``upstream``, injecting faults.

    :param upstream: ``(host, port)``, ``"host:port"`` or ``"http://host:port"``.
    :param host: the loopback address to listen on (port 0: any free port).
    :param max_stall: the longest any stall or drip may last, in seconds.
    :param idle_timeout: socket timeout for every read and write; a connection
        idle for longer is closed, as servers do.
    :param connect_timeout: timeout for connecting to the upstream.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`);
    stopping closes every socket and joins every thread.
    """

    def __init__(
        self,
        upstream: Union[tuple[str, int], str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_stall: float = 30.0,
        idle_timeout: float = 60.0,
        connect_timeout: float = 5.0,
    ) -> None:
        if host not in _LOOPBACK:
            raise ValueError(f"FaultProxy listens on loopback only, not {host!r}")
        self.upstream = _address(upstream)
        self.max_stall = max_stall
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._rules: RuleBook[Fault, RequestRecord] = RuleBook()
        self._refuse_connections = 0
        self._records: list[RequestRecord] = []
        self._counts: Counter[str] = Counter()
        self._links: dict[int, _Link] = {}
        self._threads: set[threading.Thread] = set()
        self._connections = 0
        self._stopping = threading.Event()
        self.errors: list[str] = []
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((host, port))
            self._listener.listen(128)
            self._listener.settimeout(0.5)
        except BaseException:
            self._listener.close()
            raise
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"FaultProxy:{self.port}", daemon=True
        )
        self._started = False

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start accepting connections (idempotent); returns the proxy."""
        if not self._started:
            self._started = True
            self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every connection (waking any stall) and join the threads."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        if self._started:
            self._acceptor.join(timeout=10)
        self._listener.close()
        with self._lock:
            links = list(self._links.values())
        for link in links:
            link.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self._lock:
                threads = [t for t in self._threads if t is not threading.current_thread()]
            if not threads:
                break
            threads[0].join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            stuck = sorted(t.name for t in self._threads if t.is_alive())
            if stuck:
                self.errors.append(f"threads still running after stop: {', '.join(stuck)}")

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def url(self) -> str:
        """``http://host:port`` of the proxy."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- choosing faults --------------------------------------------------------

    def inject(
        self,
        fault: Fault,
        *,
        times: int = 1,
        skip: int = 0,
        method: Optional[str] = None,
        path: Optional[str] = None,
        match: Optional[Match] = None,
        within: Optional[float] = None,
    ) -> None:
        """Give ``fault`` to the next ``times`` matching requests, after letting ``skip`` pass."""
        rule = Repeat(fault, times, skip, _matching(method, path, match, within))
        with self._lock:
            self._rules.add(rule)

    def script(
        self,
        *faults: Optional[Fault],
        method: Optional[str] = None,
        path: Optional[str] = None,
        match: Optional[Match] = None,
        within: Optional[float] = None,
    ) -> None:
        """The next matching requests get these faults in order.

        None lets one request through untouched (no later rule is asked).
        """
        rule = Script(faults, _matching(method, path, match, within))
        with self._lock:
            self._rules.add(rule)

    def randomly(
        self,
        seed: int,
        rate: float,
        faults: Sequence[Fault],
        *,
        limit: int,
        method: Optional[str] = None,
        path: Optional[str] = None,
        match: Optional[Match] = None,
        within: Optional[float] = None,
    ) -> None:
        """Each matching request gets, with probability ``rate``, a fault drawn from
        ``faults``, at most ``limit`` times. Deterministic for a given seed and
        sequence of requests."""
        rule = Seeded(seed, rate, faults, limit, _matching(method, path, match, within))
        with self._lock:
            self._rules.add(rule)

    def refuse_connections(self, count: int = 1) -> None:
        """Reset the next ``count`` new connections as soon as they are accepted."""
        with self._lock:
            self._refuse_connections += count

    def clear(self) -> None:
        """Forget every rule (faults already under way still finish)."""
        with self._lock:
            self._rules.clear()
            self._refuse_connections = 0

    # -- what happened ---------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request head seen so far, in order of arrival."""
        with self._lock:
            return list(self._records)

    @property
    def counts(self) -> Counter[str]:
        """Faults acted out so far, by kind (:class:`FaultKind` values)."""
        with self._lock:
            return Counter(self._counts)

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._connections

    def _count(self, kind: FaultKind) -> None:
        with self._lock:
            self._counts[kind.value] += 1

    def _wait(self, seconds: float) -> None:
        """Sleep up to ``seconds`` (capped by max_stall); end the connection on stop."""
        if self._stopping.wait(min(seconds, self.max_stall)):
            raise _Stop("proxy stopping", reset=False)

    # -- the connection threads ---------------------------------------------

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(
            target=self._guarded,
            args=(target, *args),
            name=f"FaultProxy:{self.port}:{target.__name__}",
            daemon=True,
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _guarded(self, target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except Exception as exc:  # a bug in the proxy must not kill the test run silently
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._connections += 1
                number = self._connections
                refuse = self._refuse_connections > 0
                if refuse:
                    self._refuse_connections -= 1
            if refuse:
                self._count(FaultKind.REFUSE)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            self._spawn(self._serve, number, client)

    def _serve(self, number: int, client: socket.socket) -> None:
        """Connect upstream, then pump requests here and responses on a second thread."""
        try:
            upstream = socket.create_connection(self.upstream, timeout=self.connect_timeout)
        except OSError:
            # Upstream down: the client sees what it would see without the proxy.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        client.settimeout(self.idle_timeout)
        upstream.settimeout(self.idle_timeout)
        link = _Link(number, client, upstream, self._forget)
        with self._lock:
            stopping = self._stopping.is_set()
            if not stopping:
                self._links[number] = link
        if stopping:
            client.close()
            upstream.close()
            return
        self._spawn(self._pump_responses, link)
        try:
            self._pump_requests(link)
        except _Stop as stop:
            link.reset() if stop.reset else link.close()
        except OSError:
            link.reset()
        finally:
            link.release()

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.pop(link.number, None)

    def _decide(self, record: RequestRecord) -> Optional[Fault]:
        with self._lock:
            record.index = len(self._records)
            self._records.append(record)
            fault = self._rules.decide(record)
            record.fault = fault
        return fault

    def _pump_requests(self, link: _Link) -> None:
        reader = _Reader(link.client)
        while True:
            head = reader.head()
            if head is None:
                # The client closed (urllib3 never half-closes): nobody is left
                # to read a response, so end the upstream connection too.
                link.close()
                return
            method, target, version, headers = _parse_head(head)
            record = RequestRecord(-1, link.number, method, target, version, headers)
            fault = self._decide(record)
            kind = fault.kind if fault is not None else None
            framing = _framing(headers, response=False)

            if kind is FaultKind.REFUSE:
                self._count(FaultKind.REFUSE)
                link.reset()
                return
            if kind is FaultKind.HTTP_ERROR:
                assert fault is not None
                for _ in reader.body(framing):
                    pass
                self._answer(link, record, fault)
                if _wants_close(headers) or _wants_close(fault.headers):
                    raise _Stop("connection: close", reset=False)
                continue

            if kind is FaultKind.DELAY:
                assert fault is not None
                self._count(FaultKind.DELAY)
                self._wait(fault.seconds)
            with link.state:
                link.in_flight.append(record)
            if kind is FaultKind.RESET_BEFORE_BODY:
                # Counted first: a request without a body may be answered at
                # once, and the response side then resets the link itself.
                self._count(FaultKind.RESET_BEFORE_BODY)
                link.upstream.sendall(head)
                raise _Stop(kind.value)
            link.upstream.sendall(head)
            outlet = _Outlet(self, link.upstream, fault if kind in _REQUEST_SIDE else None)
            try:
                for data in reader.body(framing):
                    outlet.send(data)
                    record.body_bytes = outlet.sent
            finally:
                record.body_bytes = outlet.sent

    def _answer(self, link: _Link, record: RequestRecord, fault: Fault) -> None:
        """Send ``fault``'s canned response once every earlier response has gone out."""
        with link.state:
            while link.in_flight and not link.closed:
                link.state.wait(0.5)
            if link.closed:
                raise _Stop("connection closed")
        reason = fault.reason or _REASONS.get(fault.status, "Error")
        lines = [f"HTTP/1.1 {fault.status} {reason}"]
        names = {k.lower() for k, _ in fault.headers}
        lines += [f"{k}: {v}" for k, v in fault.headers]
        if "content-length" not in names:
            lines.append(f"Content-Length: {len(fault.body)}")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + fault.body
        with link.client_write:
            link.client.sendall(payload)
        record.status = fault.status
        self._count(FaultKind.HTTP_ERROR)

    def _pump_responses(self, link: _Link) -> None:
        reader = _Reader(link.upstream)
        try:
            while self._forward_response(link, reader):
                pass
            link.close()
        except _Stop as stop:
            link.reset() if stop.reset else link.close()
        except OSError:
            link.reset()
        finally:
            link.release()

    def _forward_response(self, link: _Link, reader: _Reader) -> bool:
        """Forward one response; False when the connection is over."""
        head = reader.head()
        if head is None:
            return False  # upstream closed: close the client too, as the server did
        with link.state:
            record = link.in_flight[0] if link.in_flight else None
        fault = record.fault if record is not None else None
        kind = fault.kind if fault is not None else None
        _, status_text, _, headers = _parse_head(head)
        status = int(status_text) if status_text.isdigit() else 0

        if 100 <= status < 200 and status != 101:  # interim: the final response follows
            with link.client_write:
                link.client.sendall(head)
            return True
        if kind is FaultKind.DROP_RESPONSE:
            self._count(FaultKind.DROP_RESPONSE)
            return False
        if kind is FaultKind.RESET_BEFORE_BODY:
            raise _Stop(kind.value)  # the client must see the reset, never this response
        if kind is FaultKind.STALL and fault is not None and fault.after == 0:
            self._count(FaultKind.STALL)
            self._wait(fault.seconds)
            fault = None
        method = record.method.upper() if record is not None else "GET"
        if method == "HEAD" or status in (204, 304):
            framing = 0
        elif status == 101:
            framing = _UNTIL_CLOSE
        else:
            framing = _framing(headers, response=True)
        response_fault = fault if kind in _BYTE_TRIGGERED - _REQUEST_SIDE else None
        with link.client_write:
            link.client.sendall(head)
            if record is not None:
                record.status = status
            outlet = _Outlet(self, link.client, response_fault)
            for data in reader.body(framing):
                outlet.send(data)
        with link.state:
            if link.in_flight:
                link.in_flight.popleft()
            link.state.notify_all()
        return not (framing == _UNTIL_CLOSE or _wants_close(headers))


class _Outlet:
    """Writes one body to a socket, acting out a fault when ``fault.after`` bytes are out."""

    def __init__(self, proxy: FaultProxy, sock: socket.socket, fault: Optional[Fault]) -> None:
        self.proxy = proxy
        self.sock = sock
        self.pending = fault
        self.sent = 0
        self.drip: Optional[Fault] = None
        self.drip_until = 0.0

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.pending is not None and self.sent == self.pending.after:
                self._act(self.pending)
            size = len(view)
            if self.pending is not None:
                size = min(size, self.pending.after - self.sent)
            drip = self.drip if time.monotonic() < self.drip_until else None
            if drip is not None:
                size = min(size, drip.chunk)
            self.sock.sendall(view[:size])
            self.sent += size
            view = view[size:]
            if drip is not None:
                self.proxy._wait(drip.interval)

    def _act(self, fault: Fault) -> None:
        self.pending = None
        self.proxy._count(fault.kind)
        if fault.kind in (FaultKind.RESET_MID_BODY, FaultKind.RESET_RESPONSE):
            raise _Stop(fault.kind.value)
        if fault.kind is FaultKind.TRUNCATE:
            # An orderly close: the client reads a short body, then the end of the stream.
            raise _Stop(fault.kind.value, reset=False)
        if fault.kind is FaultKind.DRIP:
            self.drip = fault
            self.drip_until = time.monotonic() + min(fault.seconds, self.proxy.max_stall)
        else:  # STALL, STALL_BODY
            self.proxy._wait(fault.seconds)


def _address(upstream: Union[tuple[str, int], str]) -> tuple[str, int]:
    if isinstance(upstream, tuple):
        return (upstream[0], int(upstream[1]))
    parts = urlsplit(upstream if "//" in upstream else f"//{upstream}")
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"upstream needs a host and a port, got {upstream!r}")
    return (parts.hostname, parts.port)


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
