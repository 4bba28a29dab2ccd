"""A latency link for benchmarks: TCP forwarders that delay every segment, each way.

    python test/benchmarks/_latency.py ONE_WAY_MS HOST:PORT [HOST:PORT ...]

listens on one free 127.0.0.1 port per upstream, prints ``{"ports": [...]}``
and forwards until its stdin closes; a ``stats`` line on stdin is answered
with one JSON line of counters per upstream (connections, requests, round
trips, bytes). :class:`LatencyLink` runs it as a child process from a test.

What the link models: a path with a fixed one-way propagation delay and
ample bandwidth.

* Every chunk of bytes read from one side is written to the other side
  ``delay`` seconds after it arrived, in order; the two directions are
  independent, so a request and its response cost one round trip
  (``2 * delay``), a ``100-continue`` exchange a second one, and bandwidth
  is not limited by the delay (bytes keep flowing while earlier ones are in
  the pipe).
* A new connection costs one round trip before its first byte arrives, as
  TCP's handshake does: the client's ``connect`` returns at once on loopback,
  so bytes it sends are held until ``2 * delay`` after the accept, then
  delayed as usual.
* Each direction holds at most ``window`` bytes in flight (4 MiB, about the
  largest send buffer Linux grants by default); beyond that it stops reading,
  so a slow reader pushes back on the sender as a real TCP window does.
  With 8 connections at 40 ms that still allows 800 MiB/s, far above what
  the storage server here can take.

Not modelled: TCP slow start, loss, TLS handshakes. Every contender crosses
the same link, and all of them keep their connections alive.

Why a forwarder of its own rather than the fault proxy's ``delay`` rule:
that rule holds a whole request once before its first byte goes upstream.
Responses, ``100-continue`` replies, connection set-up and the bytes of a
body already on their way are not delayed, so a round trip there costs
whatever the request's size and shape make of it. Here every byte pays the
same propagation delay in each direction, which is what a wide-area link
does; the forwarder runs in a process of its own, on one asyncio loop, so
its timers do not compete with the client's or the emulator's threads.

Timers: asyncio's epoll loop rounds waits up to the next millisecond, so
each flush is aimed half a millisecond early and sends what is due within
the next half millisecond; bytes leave within about ±0.5 ms of their due
time. The benchmark measures the round trip through the link before using
it (:func:`measure_rtt`).

Standard library only; listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Callable, Optional

WINDOW = 4 * 1024 * 1024
_EARLY = 0.0005  # see "Timers" above
_EOF = b""


@dataclass
class LinkStats:
    """What crossed one link, counted by the forwarder."""

    connections: int = 0
    requests: int = 0  # HTTP request heads sent by clients
    round_trips: int = 0  # times the server answered after the client had spoken
    bytes_up: int = 0
    bytes_down: int = 0


class _RequestCounter:
    """Counts HTTP/1.1 request heads in a client's byte stream (Content-Length bodies)."""

    def __init__(self, stats: LinkStats) -> None:
        self.stats = stats
        self.head = bytearray()
        self.body_left = 0
        self.lost = False  # a body framing we do not follow (chunked): stop counting

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self.lost:
            if self.body_left:
                step = min(self.body_left, len(view))
                self.body_left -= step
                view = view[step:]
                continue
            self.head += view
            view = memoryview(b"")
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = bytes(self.head[:end]), bytes(self.head[end + 4 :])
            self.head = bytearray()
            self.stats.requests += 1
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    self.lost = True
            self.body_left = length
            view = memoryview(rest)


class _Pipe:
    """One direction of one connection: bytes leave ``delay`` seconds after they arrived."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        delay: float,
        not_before: float,
        on_end: Callable[[], None],
    ) -> None:
        self.loop = loop
        self.on_end = on_end
        self.delay = delay
        self.not_before = not_before
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.queued = 0
        self.source: Optional[asyncio.Transport] = None
        self.dest: Optional[asyncio.Transport] = None
        self.timer: Optional[asyncio.TimerHandle] = None
        self.reading_paused = False
        self.dest_full = False  # the destination's transport buffer is above its limit
        self.closed = False

    def push(self, data: bytes) -> None:
        due = max(self.loop.time(), self.not_before) + self.delay
        self.queue.append((due, data))
        self.queued += len(data)
        self._throttle()
        self._arm()

    def connect(self, dest: asyncio.Transport) -> None:
        self.dest = dest
        self._arm()

    def _arm(self) -> None:
        if self.timer is None and self.queue and self.dest is not None:
            self.timer = self.loop.call_at(self.queue[0][0] - _EARLY, self._flush)

    def _flush(self) -> None:
        self.timer = None
        dest = self.dest
        assert dest is not None
        horizon = self.loop.time() + _EARLY
        while self.queue and self.queue[0][0] <= horizon:
            _, data = self.queue.popleft()
            if self.closed:
                continue
            if not data:  # the end of this direction
                self.closed = True
                if not dest.is_closing() and dest.can_write_eof():
                    dest.write_eof()
                self.on_end()
                continue
            self.queued -= len(data)
            if not dest.is_closing():
                dest.write(data)
        self._throttle()
        self._arm()

    def _throttle(self) -> None:
        """Stop reading the source while the delay queue holds a window or the destination
        cannot take more; read again once half the window drained and it can."""
        if self.source is None:
            return
        if not self.reading_paused and (self.dest_full or self.queued > WINDOW):
            self.source.pause_reading()
            self.reading_paused = True
        elif self.reading_paused and not self.dest_full and self.queued <= WINDOW // 2:
            self.source.resume_reading()
            self.reading_paused = False

    def destination_full(self, full: bool) -> None:
        self.dest_full = full
        self._throttle()


class _Side(asyncio.Protocol):
    """One socket of a forwarded connection: what it reads goes into ``outgoing``, what
    ``incoming`` delivers is written to it."""

    def __init__(self, conn: _Connection, from_server: bool) -> None:
        self._bind(conn, from_server)

    def _bind(self, conn: _Connection, from_server: bool) -> None:
        self.conn = conn
        self.from_server = from_server
        self.outgoing, self.incoming = (conn.down, conn.up) if from_server else (conn.up, conn.down)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.set_write_buffer_limits(high=WINDOW)
        self.outgoing.source = transport
        self.incoming.connect(transport)

    def data_received(self, data: bytes) -> None:
        self.conn.seen(data, self.from_server)
        self.outgoing.push(data)

    def eof_received(self) -> bool:
        self.outgoing.push(_EOF)
        return True  # keep the other direction open (half-close)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if exc is not None:
            self.conn.abort()
        else:
            self.outgoing.push(_EOF)

    def pause_writing(self) -> None:
        self.incoming.destination_full(True)

    def resume_writing(self) -> None:
        self.incoming.destination_full(False)


class _ClientSide(_Side):
    """The accepted socket: makes the connection and dials the upstream."""

    def __init__(self, link: _Link) -> None:
        self.link = link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        conn = _Connection(self.link, transport)
        self.link.stats.connections += 1
        self._bind(conn, from_server=False)
        super().connection_made(transport)
        asyncio.get_running_loop().create_task(conn.dial())


class _Connection:
    """Both directions of one forwarded connection."""

    def __init__(self, link: _Link, client: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        self.link = link
        self.client = client
        self.server: Optional[asyncio.Transport] = None
        self.up = _Pipe(loop, link.delay, not_before=accepted + 2 * link.delay, on_end=self.ended)
        self.down = _Pipe(loop, link.delay, not_before=0.0, on_end=self.ended)
        self.counter = _RequestCounter(link.stats)
        self.client_spoke = False
        self.ends = 0

    async def dial(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_connection(
                lambda: _Side(self, from_server=True), *self.link.upstream
            )
        except OSError:
            self.client.abort()
            return
        self.server = transport  # type: ignore[assignment]

    def seen(self, data: bytes, from_server: bool) -> None:
        stats = self.link.stats
        if from_server:
            stats.bytes_down += len(data)
            if self.client_spoke:
                stats.round_trips += 1
                self.client_spoke = False
        else:
            stats.bytes_up += len(data)
            self.client_spoke = True
            self.counter.feed(data)

    def ended(self) -> None:
        """One direction delivered its end; when both have, close both sockets."""
        self.ends += 1
        if self.ends == 2:
            for transport in (self.client, self.server):
                if transport is not None:
                    transport.close()

    def abort(self) -> None:
        for transport in (self.client, self.server):
            if transport is not None:
                transport.abort()


class _Link:
    """One listening port forwarding to one upstream with ``delay`` seconds each way."""

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        self.stats = LinkStats()

    def accept(self) -> asyncio.Protocol:
        return _ClientSide(self)


async def _serve(delay: float, upstreams: list[tuple[str, int]]) -> None:
    loop = asyncio.get_running_loop()
    links = [_Link(upstream, delay) for upstream in upstreams]
    servers = [
        await loop.create_server(link.accept, "127.0.0.1", 0, backlog=1024) for link in links
    ]
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    print(json.dumps({"ports": ports}), flush=True)
    done = loop.create_future()

    def command() -> None:
        line = sys.stdin.readline()
        if not line:
            if not done.done():
                done.set_result(None)
        elif line.strip() == "stats":
            print(json.dumps([asdict(link.stats) for link in links]), flush=True)

    loop.add_reader(sys.stdin.fileno(), command)
    await done
    for server in servers:
        server.close()


# --- the controller, used from the benchmark process ---------------------------------


class LatencyLink:
    """Forwarders with ``rtt_ms / 2`` of delay each way in front of ``upstreams``, in a child.

    ``urls[i]`` is ``http://127.0.0.1:PORT`` for ``upstreams[i]``. ``stats()``
    returns the counters of every link so far (take differences around a run).
    """

    def __init__(self, rtt_ms: float, upstreams: list[tuple[str, int]]) -> None:
        self.rtt_ms = rtt_ms
        self.upstreams = upstreams
        self.urls: list[str] = []
        self._proc: Optional[subprocess.Popen[str]] = None

    def __enter__(self) -> LatencyLink:
        one_way = self.rtt_ms / 2
        targets = [f"{host}:{port}" for host, port in self.upstreams]
        self._proc = subprocess.Popen(
            [sys.executable, __file__, str(one_way), *targets],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        ports = json.loads(self._proc.stdout.readline())["ports"]
        self.urls = [f"http://127.0.0.1:{port}" for port in ports]
        return self

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None

    def stats(self) -> list[LinkStats]:
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        self._proc.stdin.write("stats\n")
        self._proc.stdin.flush()
        return [LinkStats(**s) for s in json.loads(self._proc.stdout.readline())]

    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def difference(after: LinkStats, before: LinkStats) -> LinkStats:
    return LinkStats(**{k: v - getattr(before, k) for k, v in asdict(after).items()})


@dataclass(frozen=True)
class RttCheck:
    """Round trips through a link, measured with HTTP requests on one kept-alive connection."""

    direct_ms: float  # median request time straight to the server
    linked_ms: float  # median request time through the link
    added_ms: float  # linked - direct: the link's round trip
    spread_ms: tuple[float, float]  # 10th and 90th percentile of the added time
    connect_first_ms: float  # new connection to first answer, through the link (2 RTT + server)


def measure_rtt(direct: str, linked: str, path: str = "/", samples: int = 40) -> RttCheck:
    """Time ``GET path`` straight to a server and through a link to it; the difference is
    what the link adds to one round trip."""

    def times(base: str) -> list[float]:
        host, port = base.rsplit("//", 1)[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        out = []
        for _ in range(samples + 1):
            start = time.perf_counter()
            conn.request("GET", path)
            conn.getresponse().read()
            out.append(time.perf_counter() - start)
        conn.close()
        return out[1:]  # the first includes connecting

    def first(base: str) -> float:
        host, port = base.rsplit("//", 1)[1].split(":")
        start = time.perf_counter()
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", path)
        conn.getresponse().read()
        conn.close()
        return time.perf_counter() - start

    plain, linked_times = times(direct), times(linked)
    base = statistics.median(plain)
    added = sorted(t - base for t in linked_times)
    return RttCheck(
        direct_ms=base * 1e3,
        linked_ms=statistics.median(linked_times) * 1e3,
        added_ms=statistics.median(added) * 1e3,
        spread_ms=(added[len(added) // 10] * 1e3, added[(len(added) * 9) // 10] * 1e3),
        connect_first_ms=statistics.median(first(linked) for _ in range(5)) * 1e3,
    )


def main(argv: list[str]) -> None:
    delay = float(argv[0]) / 1000
    upstreams = []
    for target in argv[1:]:
        host, port = target.rsplit(":", 1)
        upstreams.append((host, int(port)))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(delay, upstreams))
    os._exit(0)  # connections still open are of no interest once the benchmark is done


if __name__ == "__main__":
    main(sys.argv[1:])
