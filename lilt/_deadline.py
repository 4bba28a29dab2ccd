"""Deadlines for whole API calls, and connections that keep them.

urllib3's timeouts bound each socket operation: a read timeout is the longest
wait for the *next* bytes, so a server that drips its answer a byte at a time
holds a call for as long as it likes, and its ``total`` restarts with every
retry. A :class:`Deadline` is one instant for the whole call: connecting,
sending, the response head, the body and every retry end by it.

How it is kept, without a watchdog thread:

- :class:`rest.RESTClientObject <lilt.rest.RESTClientObject>` makes the
  deadline *current* on the calling thread (:func:`activate`) for as long as
  urllib3 works on the call;
- the connection classes below (:func:`guarded_pool_classes`) clamp the
  socket timeout to the time left before connecting and before every send,
  and their responses read through :class:`_GuardedReader`, which does the
  same before every ``recv``; the reader keeps the deadline, so a body read
  after the call returned (``_without_preload_content``) ends by it too;
- :class:`lilt._retry.LiltRetry` gives up when the next wait would end past it.

A deadline that passes while urllib3 is still working raises
:class:`DeadlineExceeded`, which is deliberately *not* a urllib3 or socket
error: urllib3 retries those, and a passed deadline must not be retried. Once
the head is in, a passed deadline is an ordinary socket timeout, which urllib3
reports as ``ReadTimeoutError`` to whoever is reading the body.

The same reader also notices a response head cut off by a closed connection
(http.client takes the end of the stream for the end of the head, so the
response would decode as an empty 200) and raises :class:`HeadCutShort`.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from typing import Any, Optional

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = [
    "Deadline",
    "DeadlineExceeded",
    "HeadCutShort",
    "activate",
    "current",
    "guarded_pool_classes",
    "restore",
]

_state = threading.local()


class Deadline:
    """An instant on the monotonic clock by which a call must end."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def clamp(self, timeout: Any, phase: str) -> float:
        """``timeout`` (a number, or None for none) cut to the time left.

        :raises DeadlineExceeded: when no time is left.
        """
        left = self.at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(self, phase)
        if isinstance(timeout, (int, float)) and timeout < left:
            return float(timeout)
        return left


class DeadlineExceeded(Exception):
    """The call's deadline passed while urllib3 was still working on it.

    Not a urllib3 or OSError subclass on purpose (urllib3 would retry it);
    :mod:`lilt.rest` turns it into :class:`~lilt.exceptions.ApiTimeoutError`.
    """

    def __init__(self, deadline: Deadline, phase: str) -> None:
        self.seconds = deadline.seconds
        self.phase = phase
        super().__init__(f"the call's deadline of {deadline.seconds:g} s passed while {phase}")


class HeadCutShort(http.client.RemoteDisconnected):
    """The connection closed before the response head was complete."""


def current() -> Optional[Deadline]:
    """The deadline of the call running on this thread, if it has one."""
    return getattr(_state, "deadline", None)


def activate(deadline: Deadline) -> Optional[Deadline]:
    """Make ``deadline`` current on this thread; returns the one it replaces."""
    previous = getattr(_state, "deadline", None)
    _state.deadline = deadline
    return previous


def restore(previous: Optional[Deadline]) -> None:
    _state.deadline = previous


def _seconds(timeout: Any) -> Optional[float]:
    """A socket timeout urllib3 stored on a connection: a number, or anything else for none."""
    return float(timeout) if isinstance(timeout, (int, float)) else None


class _GuardedReader(socket.SocketIO):
    """The socket stream of one response, with every ``recv`` bounded by the deadline.

    It is the very stream ``socket.makefile`` made (counted on its socket, so
    the socket's real close waits for it), given this class by :meth:`adopt`:
    a read goes through one Python layer, not a wrapper's and the stream's.
    """

    _deadline: Optional[Deadline]
    _socket: Any
    _read_timeout: Optional[float]
    in_head: bool
    head_cut: bool

    @classmethod
    def adopt(cls, stream: socket.SocketIO, sock: Any) -> _GuardedReader:
        """``stream`` (a plain ``SocketIO``, which is what ``socket.socket`` and
        urllib3's ``SSLTransport`` make) turned into a guarded reader."""
        stream.__class__ = cls
        assert isinstance(stream, cls)
        stream._deadline = getattr(_state, "deadline", None)
        stream._socket = sock
        stream._read_timeout = sock.gettimeout()
        stream.in_head = True
        stream.head_cut = False
        return stream

    def readinto(self, buffer: Any) -> Optional[int]:
        deadline = self._deadline
        if deadline is not None:
            left = deadline.at - time.monotonic()
            if left <= 0:
                raise self._expired(deadline)
            if self._read_timeout is None or left < self._read_timeout:
                self._socket.settimeout(left)
        try:
            count = super().readinto(buffer)
        except socket.timeout as exc:
            if deadline is not None and deadline.expired():
                raise self._expired(deadline) from exc
            raise
        if count == 0 and self.in_head:
            self.head_cut = True
        return count

    def _expired(self, deadline: Deadline) -> Exception:
        if self.in_head:
            return DeadlineExceeded(deadline, "waiting for the response head")
        # For whoever reads the body (urllib3 reports it as ReadTimeoutError).
        return socket.timeout(
            f"the call's deadline of {deadline.seconds:g} s passed while reading the response body"
        )


class _GuardedSocket:
    """What http.client's response is built from: a socket whose ``makefile``
    gives a buffered :class:`_GuardedReader` (one buffer, as makefile's own)."""

    __slots__ = ("reader", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader: Optional[_GuardedReader] = None

    def makefile(self, mode: str) -> io.BufferedReader:
        assert mode == "rb", mode  # http.client only ever reads its response
        stream = self.sock.makefile("rb", buffering=0)  # the socket stream, counted by the socket
        self.reader = _GuardedReader.adopt(stream, self.sock)
        return io.BufferedReader(self.reader)


class GuardedResponse(http.client.HTTPResponse):
    """http.client's response reading through a :class:`_GuardedReader`."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        guarded = _GuardedSocket(sock)
        super().__init__(guarded, *args, **kwargs)  # type: ignore[arg-type]
        assert guarded.reader is not None
        self._guard = guarded.reader

    def begin(self) -> None:
        super().begin()
        self._guard.in_head = False
        if self._guard.head_cut:
            raise HeadCutShort("the connection closed before the end of the response head")


class _GuardedConnection:
    """Mixin for urllib3 connections: connect and send by the current deadline."""

    response_class: type[http.client.HTTPResponse] = GuardedResponse
    sock: Optional[socket.socket]
    timeout: Any

    def connect(self) -> None:
        deadline: Optional[Deadline] = getattr(_state, "deadline", None)
        if deadline is not None:
            self.timeout = deadline.clamp(_seconds(self.timeout), "connecting")
        try:
            super().connect()  # type: ignore[misc]
        except Exception as exc:
            if deadline is not None and deadline.expired():
                raise DeadlineExceeded(deadline, "connecting") from exc
            raise

    def send(self, data: Any) -> None:
        deadline: Optional[Deadline] = getattr(_state, "deadline", None)
        if deadline is not None and self.sock is not None:
            # The socket waits at most its own timeout (urllib3 sets it from
            # self.timeout before each request); shorten it once less time is left.
            timeout = self.sock.gettimeout()
            left = deadline.clamp(timeout, "sending the request")
            if timeout is None or left < timeout:
                self.sock.settimeout(left)
        try:
            super().send(data)  # type: ignore[misc]
        except OSError as exc:
            if deadline is not None and deadline.expired():
                raise DeadlineExceeded(deadline, "sending the request") from exc
            raise


class GuardedHTTPConnection(_GuardedConnection, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


_GUARDED_POOLS: dict[type[Any], type[Any]] = {
    HTTPConnectionPool: GuardedHTTPConnectionPool,
    HTTPSConnectionPool: GuardedHTTPSConnectionPool,
}
_guarded_lock = threading.Lock()


def _guarded_pool(pool_class: type[Any]) -> type[Any]:
    """``pool_class`` whose connections keep deadlines (SOCKS pools get theirs made once)."""
    with _guarded_lock:
        guarded = _GUARDED_POOLS.get(pool_class)
        if guarded is None:
            base = pool_class.ConnectionCls
            connection = type(f"Guarded{base.__name__}", (_GuardedConnection, base), {})
            guarded = type(
                f"Guarded{pool_class.__name__}", (pool_class,), {"ConnectionCls": connection}
            )
            _GUARDED_POOLS[pool_class] = guarded
        return guarded


def guarded_pool_classes(pool_classes: dict[str, type[Any]]) -> dict[str, type[Any]]:
    """A pool manager's ``pool_classes_by_scheme`` with deadline-keeping connections."""
    return {scheme: _guarded_pool(cls) for scheme, cls in pool_classes.items()}
