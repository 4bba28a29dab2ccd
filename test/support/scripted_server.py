"""A TCP server on 127.0.0.1 that answers with whatever bytes a test scripts.

:class:`support.http_server.Upstream` speaks correct HTTP; the hostile-server
tests need what it cannot send: a response head dripped one byte at a time, a
head cut off by a closed connection, malformed header lines, a body larger
than the client will take. Each connection reads one request (head, and body
by ``Content-Length``), records it in ``seen`` (a :class:`~support.http_server.Seen`) and hands it to the script,
``script(request, connection)``, which writes what it likes through
:class:`Connection` and returns True to keep the connection for another request.

Every wait a script makes goes through :meth:`Connection.pause`, which ends at
once when the server stops, so a test that fails never leaves a thread dripping.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Callable, Optional

from support.http_server import Seen

MAX_HEAD = 256 * 1024


class Connection:
    """One accepted connection, as the script sees it."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self._stopping = stopping
        #: body bytes this connection managed to write (what the client accepted)
        self.sent = 0

    def send(self, data: bytes) -> bool:
        """Write ``data``; False once the client has gone or the server stops."""
        if self._stopping.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        self.sent += len(data)
        return True

    def drip(self, data: bytes, interval: float, chunk: int = 1) -> bool:
        """Write ``data`` ``chunk`` bytes every ``interval`` seconds."""
        for start in range(0, len(data), chunk):
            if not self.send(data[start : start + chunk]) or self.pause(interval):
                return False
        return True

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds``; True if the server is stopping (the script should return)."""
        return self._stopping.wait(seconds)


Script = Callable[[Seen, Connection], Optional[bool]]


def head(
    status: str = "200 OK", headers: tuple[tuple[str, str], ...] = (), length: Optional[int] = None
) -> bytes:
    """A response head; ``length`` adds Content-Length."""
    lines = [f"HTTP/1.1 {status}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class ScriptedServer:
    """``with ScriptedServer(script) as server:`` then talk to ``server.url``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen: list[Seen] = []
        self.connections: list[Connection] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)  # accept() polls, so stopping never waits on it
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sent(self) -> int:
        """Bytes written by every script so far."""
        with self._lock:
            return sum(c.sent for c in self.connections)

    def __enter__(self) -> ScriptedServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(timeout=10)
        for thread in list(self._threads):
            thread.join(timeout=10)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            connection = Connection(sock, self._stopping)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            with self._lock:
                self.connections.append(connection)
                self._threads.append(thread)
            thread.start()

    def _serve(self, connection: Connection) -> None:
        sock = connection.sock
        sock.settimeout(15)  # an idle client connection ends on its own
        buffered = b""
        try:
            while not self._stopping.is_set():
                request, buffered = _read_request(sock, buffered)
                if request is None:
                    return
                with self._lock:
                    self.seen.append(request)
                if not self.script(request, connection):
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                sock.close()


def _read_request(sock: socket.socket, buffered: bytes) -> tuple[Optional[Seen], bytes]:
    while b"\r\n\r\n" not in buffered:
        if len(buffered) > MAX_HEAD:
            return None, b""
        data = sock.recv(65536)
        if not data:
            return None, b""
        buffered += data
    raw_head, rest = buffered.split(b"\r\n\r\n", 1)
    lines = raw_head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), 0))
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            return None, b""
        rest += data
    return Seen(method, target, headers, rest[:length]), rest[length:]
