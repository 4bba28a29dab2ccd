"""A fault-injecting HTTP/1.1 proxy for tests: what real networks do, on demand.

:class:`FaultProxy` listens on loopback and forwards every connection to one
upstream (an API server, a storage server), message by message, so it can
aim a :class:`Fault` at one request and record every request head it saw::

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

HTTP itself is h11's job (heads, framing, keep-alive, the rules for 1xx,
``HEAD``, 204 and 304) and the accept loop and its threads are
:mod:`socketserver`'s; this module holds the faults. It needs h11, which
``pip install 'lilt[emulator]'`` installs. Each message goes on as it came:
the same method, target and status, the same header fields in the same case
(``Host`` too, so presigned signatures verify) and the same body bytes; only
the framing may be rewritten (a chunked body is re-chunked, and a response
without a length goes to the client chunked). It listens on loopback only,
speaks HTTP/1.1 in clear, one request at a time per connection (no
pipelining, which urllib3 does not do), and resets a connection that
switches protocols (``Upgrade``, ``CONNECT``).
"""

from __future__ import annotations

import enum
import re
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Callable, Optional, Union
from urllib.parse import parse_qsl, urlsplit

try:
    import h11
except ModuleNotFoundError as exc:  # pragma: no cover - the emulator extra installs it
    if exc.name != "h11":
        raise
    raise ImportError("lilt.testing.proxy needs h11: pip install 'lilt[emulator]'") from exc

from lilt.testing._rules import Repeat, RuleBook, Script, Seeded

__all__ = ["Fault", "FaultKind", "FaultProxy", "RequestRecord"]

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_MAX_HEAD = 64 * 1024
_RECV = 256 * 1024


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


@dataclass(frozen=True)
class Fault:
    """One fault to act out on one request. Build it with the class methods.

    ``after`` is a byte offset into the request body (request-side faults) or
    the response body (response-side faults), counting the body's content (not
    the chunk framing of a chunked body); a fault whose offset lies past the
    end of the body never happens and is not counted.
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
        if self.kind is FaultKind.HTTP_ERROR and not 200 <= self.status <= 599:
            raise ValueError(f"http_error needs a status between 200 and 599, got {self.status}")
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
        """Answer ``status`` (200 to 599) instead of forwarding; the request body is read
        and discarded. ``Content-Length`` is added unless ``headers`` has one."""
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
    ``body_bytes`` how many bytes of the request body's content went upstream,
    ``connection`` which client connection it came on (numbered from 1).
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


_MESSAGES = (h11.Request, h11.InformationalResponse, h11.Response)


class _Link:
    """One client connection: its socket, the upstream socket once a request needs it,
    and h11's view of each side.

    Two threads share it, one per direction. h11's state is changed under
    ``state`` (never held across socket I/O); ``client_write`` keeps whole
    events in order on the way to the client.
    """

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: Optional[socket.socket] = None
        # the proxy is the server of its client and the client of the upstream
        self.client_side = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        self.server_side = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        self.state = threading.Condition()
        self.client_write = threading.Lock()
        self.record: Optional[RequestRecord] = None  # the request of the current exchange
        self.closed = False

    def connect(self, address: tuple[str, int], connect_timeout: float, timeout: float) -> None:
        upstream = socket.create_connection(address, timeout=connect_timeout)
        upstream.settimeout(timeout)
        _no_delay(upstream)
        with self.state:
            if not self.closed:
                self.upstream = upstream
                return
        upstream.close()
        raise _Stop("connection closed", reset=False)

    def receive(self, side: h11.Connection, sock: socket.socket) -> h11.Event:
        """The next event ``side`` reads from ``sock``; waits while h11 pauses it
        (its peer is ahead of the exchange in progress)."""
        while True:
            with self.state:
                while True:
                    if self.closed:
                        raise _Stop("connection closed", reset=False)
                    if h11.SWITCHED_PROTOCOL in (side.our_state, side.their_state):
                        raise _Stop("protocol switch")
                    event = side.next_event()
                    if event is not h11.PAUSED:
                        break
                    self.state.wait()
            if event is not h11.NEED_DATA:
                assert isinstance(event, h11.Event)
                return event
            data = sock.recv(_RECV)
            with self.state:
                side.receive_data(data)

    def to_server(self, event: h11.Event) -> None:
        assert self.upstream is not None
        with self.state:
            data = self.server_side.send_with_data_passthrough(_as_sent(event))
        for piece in data or ():
            self.upstream.sendall(piece)

    def to_client(self, event: h11.Event) -> None:
        with self.client_write:
            with self.state:
                data = self.client_side.send_with_data_passthrough(_as_sent(event))
            for piece in data or ():
                self.client.sendall(piece)

    def next_exchange(self) -> bool:
        """Once both messages of this exchange are complete, get both sides ready for the
        next one. False: the connection is not kept alive, close it after this exchange."""
        with self.state:
            client, server = self.client_side, self.server_side
            states = {client.our_state, client.their_state, server.our_state, server.their_state}
            if h11.MUST_CLOSE in states:
                return False
            if _both(client, h11.DONE) and not (states - {h11.DONE, h11.IDLE}):
                client.start_next_cycle()
                if _both(server, h11.DONE):
                    server.start_next_cycle()
                self.record = None
                self.state.notify_all()
            return True

    def end(self, *, reset: bool) -> None:
        """Wake both threads and send FIN (or arm the RST sent on close). Idempotent."""
        with self.state:
            if self.closed:
                return
            self.closed = True
            self.state.notify_all()
            sockets = [s for s in (self.client, self.upstream) if s is not None]
        for sock in sockets:
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

    def close(self) -> None:
        """Release the sockets (only once no thread uses them: a closed descriptor's
        number is reused at once)."""
        self.end(reset=False)  # a no-op when already ended
        self.client.close()
        if self.upstream is not None:
            self.upstream.close()


def _both(side: h11.Connection, state: type) -> bool:
    return side.our_state is state and side.their_state is state


def _as_sent(event: h11.Event) -> h11.Event:
    """``event`` as h11 can send it: h11 writes HTTP/1.1 only, so an HTTP/1.0 peer's
    message goes on as HTTP/1.1 (h11 on the client's side still frames the answer
    for HTTP/1.0)."""
    if not isinstance(event, _MESSAGES) or event.http_version == b"1.1":
        return event
    if isinstance(event, h11.Request):
        return h11.Request(
            method=event.method, target=event.target, headers=event.headers.raw_items()
        )
    return type(event)(
        status_code=event.status_code, reason=event.reason, headers=event.headers.raw_items()
    )


def _record(connection: int, request: h11.Request) -> RequestRecord:
    return RequestRecord(
        index=-1,
        connection=connection,
        method=request.method.decode("ascii"),
        target=request.target.decode("latin-1"),
        version="HTTP/" + request.http_version.decode("ascii"),
        headers=tuple(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw_items()
        ),
    )


class _Server(socketserver.ThreadingTCPServer):
    """The accept loop: a thread per connection, all joined by ``server_close()``."""

    allow_reuse_address = True
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def __init__(self, proxy: FaultProxy, address: tuple[str, int]) -> None:
        self.proxy = proxy
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def verify_request(self, request: object, client_address: object) -> bool:  # noqa: ARG002
        assert isinstance(request, socket.socket)
        return self.proxy._admit(request)

    def shutdown_request(self, request: object) -> None:
        # The connection was ended as its fault required (FIN or RST): add nothing.
        assert isinstance(request, socket.socket)
        request.close()

    def handle_error(self, request: object, client_address: object) -> None:  # noqa: ARG002
        self.proxy._bug(sys.exc_info()[1])


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.proxy._serve(self.request)


class FaultProxy:
    """Forward TCP connections from loopback to ``upstream``, injecting faults.

    :param upstream: ``(host, port)``, ``"host:port"`` or ``"http://host:port"``.
    :param host: the loopback address to listen on (port 0: any free port).
    :param max_stall: the longest any stall or drip may last, in seconds.
    :param idle_timeout: socket timeout for every read and write; a connection
        idle for longer is closed, as servers do.
    :param connect_timeout: timeout for connecting to the upstream.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`);
    stopping closes every socket and joins every thread. The upstream is
    connected when a connection's first request is to be forwarded, so a
    client of a proxy whose upstream is down sees its request reset.
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
        self._connections = 0
        self._served = 0
        self._stopping = threading.Event()
        self.errors: list[str] = []
        self._server = _Server(self, (host, port))
        self.host = host
        self.port: int = self._server.server_address[1]
        self._accepting = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"FaultProxy:{self.port}",
            daemon=True,
        )

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start accepting connections (idempotent); returns the proxy."""
        if self._accepting.ident is None:
            self._accepting.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every connection (waking any stall) and join the threads."""
        self._stopping.set()
        if self._accepting.ident is not None:
            self._server.shutdown()  # returns once the accept loop has ended
            self._accepting.join()
        with self._lock:
            links = list(self._links.values())
        for link in links:
            link.end(reset=False)
        self._server.server_close()  # closes the listener, joins every connection's thread

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

    def _bug(self, error: Optional[BaseException]) -> None:
        """A bug in the proxy must not kill the test run silently: tests check ``errors``."""
        with self._lock:
            self.errors.append(f"{type(error).__name__}: {error}")

    def _wait(self, seconds: float) -> None:
        """Sleep up to ``seconds`` (capped by max_stall); end the connection on stop."""
        if self._stopping.wait(min(seconds, self.max_stall)):
            raise _Stop("proxy stopping", reset=False)

    # -- connections ------------------------------------------------------------

    def _admit(self, client: socket.socket) -> bool:
        """Count a new connection; False (after arming a reset) when it is to be refused."""
        with self._lock:
            self._connections += 1
            refuse = self._refuse_connections > 0
            if refuse:
                self._refuse_connections -= 1
                self._counts[FaultKind.REFUSE.value] += 1
        if refuse:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return not refuse

    def _serve(self, client: socket.socket) -> None:
        """One client connection: requests are pumped on this thread, responses on a second."""
        client.settimeout(self.idle_timeout)
        _no_delay(client)
        link = _Link(client)
        with self._lock:
            if self._stopping.is_set():
                client.close()
                return
            self._served += 1
            number = self._served
            self._links[number] = link
        threading.current_thread().name = f"FaultProxy:{self.port}:{number}"
        responses = threading.Thread(
            target=self._pump_responses, args=(link,), name=f"FaultProxy:{self.port}:{number}:r"
        )
        try:
            self._pump_requests(link, number, responses.start)
            link.end(reset=False)  # the client closed: nobody is left to read a response
        except _Stop as stop:
            link.end(reset=stop.reset)
        except (OSError, h11.RemoteProtocolError):
            link.end(reset=True)
        finally:
            link.end(reset=False)
            if responses.ident is not None:
                responses.join()
            link.close()
            with self._lock:
                self._links.pop(number, None)

    def _decide(self, record: RequestRecord) -> Optional[Fault]:
        with self._lock:
            record.index = len(self._records)
            self._records.append(record)
            fault = self._rules.decide(record)
            record.fault = fault
        return fault

    def _pump_requests(self, link: _Link, number: int, start_responses: Callable[[], None]) -> None:
        """Forward each request upstream, acting out its request-side fault."""
        while True:
            event = link.receive(link.client_side, link.client)
            if isinstance(event, h11.ConnectionClosed):
                return
            assert isinstance(event, h11.Request)
            record = _record(number, event)
            fault = self._decide(record)
            kind = fault.kind if fault is not None else None
            if kind is FaultKind.REFUSE:
                self._count(FaultKind.REFUSE)
                raise _Stop(kind.value)
            if kind is FaultKind.HTTP_ERROR:
                assert fault is not None
                self._answer(link, record, fault)
                continue
            if kind is FaultKind.DELAY:
                assert fault is not None
                self._count(FaultKind.DELAY)
                self._wait(fault.seconds)
            if link.upstream is None:
                # Upstream down: the OSError resets the client's connection.
                link.connect(self.upstream, self.connect_timeout, self.idle_timeout)
                start_responses()
            with link.state:
                link.record = record
            if kind is FaultKind.RESET_BEFORE_BODY:
                # Counted first: a request without a body may be answered at
                # once, and the response side then resets the link itself.
                self._count(FaultKind.RESET_BEFORE_BODY)
                link.to_server(event)
                raise _Stop(kind.value)
            link.to_server(event)
            outlet = _Outlet(self, fault if kind in _REQUEST_SIDE else None, link.to_server)
            try:
                outlet.forward(lambda: link.receive(link.client_side, link.client))
            finally:
                record.body_bytes = outlet.sent
            link.next_exchange()

    def _answer(self, link: _Link, record: RequestRecord, fault: Fault) -> None:
        """Answer ``fault``'s status here; the request body is read and discarded."""
        while not isinstance(link.receive(link.client_side, link.client), h11.EndOfMessage):
            pass
        headers = list(fault.headers)
        if not any(name.lower() == "content-length" for name, _ in headers):
            headers.append(("Content-Length", str(len(fault.body))))
        reason = fault.reason or _phrase(fault.status)
        link.to_client(h11.Response(status_code=fault.status, headers=headers, reason=reason))
        if fault.body and record.method != "HEAD":
            link.to_client(h11.Data(data=fault.body))
        link.to_client(h11.EndOfMessage())
        record.status = fault.status
        self._count(FaultKind.HTTP_ERROR)
        if not link.next_exchange():
            raise _Stop("connection: close", reset=False)

    def _pump_responses(self, link: _Link) -> None:
        try:
            while self._forward_response(link):
                pass
            link.end(reset=False)
        except _Stop as stop:
            link.end(reset=stop.reset)
        except (OSError, h11.RemoteProtocolError):
            link.end(reset=True)
        except Exception as exc:
            self._bug(exc)
            link.end(reset=False)

    def _forward_response(self, link: _Link) -> bool:
        """Forward one response, acting out its response-side fault; False when the
        connection is over."""
        upstream = link.upstream
        assert upstream is not None
        event = link.receive(link.server_side, upstream)
        if isinstance(event, h11.ConnectionClosed):
            return False  # upstream closed: close the client too, as the server did
        if isinstance(event, h11.InformationalResponse):
            link.to_client(event)
            return True
        assert isinstance(event, h11.Response)
        record = link.record
        fault = record.fault if record is not None else None
        kind = fault.kind if fault is not None else None
        if kind is FaultKind.DROP_RESPONSE:
            self._count(FaultKind.DROP_RESPONSE)
            return False
        if kind is FaultKind.RESET_BEFORE_BODY:
            raise _Stop(kind.value)  # the client must see the reset, never this response
        if kind is FaultKind.STALL and fault is not None and fault.after == 0:
            self._count(FaultKind.STALL)
            self._wait(fault.seconds)
            fault = None
        link.to_client(event)
        if record is not None:
            record.status = event.status_code
        outlet = _Outlet(self, fault if kind in _RESPONSE_SIDE else None, link.to_client)
        outlet.forward(lambda: link.receive(link.server_side, upstream))
        return link.next_exchange()


_REQUEST_SIDE = frozenset({FaultKind.RESET_MID_BODY, FaultKind.STALL_BODY})
_RESPONSE_SIDE = frozenset(
    {FaultKind.STALL, FaultKind.TRUNCATE, FaultKind.RESET_RESPONSE, FaultKind.DRIP}
)


class _Outlet:
    """Forwards one message body, acting out a fault once ``fault.after`` bytes of it are out."""

    def __init__(
        self, proxy: FaultProxy, fault: Optional[Fault], write: Callable[[h11.Event], None]
    ) -> None:
        self.proxy = proxy
        self.write = write
        self.pending = fault
        self.sent = 0
        self.drip: Optional[Fault] = None
        self.drip_until = 0.0

    def forward(self, receive: Callable[[], h11.Event]) -> None:
        """Forward the body events ``receive`` gives, through its end."""
        while True:
            event = receive()
            if isinstance(event, h11.Data):
                self.send(event.data)
                continue
            self.write(event)
            if isinstance(event, h11.EndOfMessage):
                return

    def send(self, data: bytes) -> None:
        while data:
            if self.pending is not None and self.sent == self.pending.after:
                self._act(self.pending)
            size = len(data)
            if self.pending is not None:
                size = min(size, self.pending.after - self.sent)
            drip = self.drip if time.monotonic() < self.drip_until else None
            if drip is not None:
                size = min(size, drip.chunk)
            piece, data = (data, b"") if size == len(data) else (data[:size], data[size:])
            self.write(h11.Data(data=piece))
            self.sent += size
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


def _no_delay(sock: socket.socket) -> None:
    """Send each write at once: a head and its body go out as separate writes, and
    Nagle's algorithm would hold the body until the peer's delayed ACK (~40 ms)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _address(upstream: Union[tuple[str, int], str]) -> tuple[str, int]:
    if isinstance(upstream, tuple):
        return (upstream[0], int(upstream[1]))
    parts = urlsplit(upstream if "//" in upstream else f"//{upstream}")
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"upstream needs a host and a port, got {upstream!r}")
    return (parts.hostname, parts.port)
