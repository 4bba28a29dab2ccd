"""The one HTTP server the tests talk to: real sockets on 127.0.0.1.

:class:`Upstream` is a ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive) that
records every request it fully received (:class:`Seen`) and answers from a
queue of :class:`Reply` values, falling back to a handler. With ``tls`` it
serves HTTPS with the given ``ssl.SSLContext``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Union


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> Optional[str]:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass
class Reply:
    status: int = 200
    body: Union[bytes, str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    # seconds to wait before answering (bounded by the test that sets it)
    delay: float = 0.0
    chunked: bool = False

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def echo(seen: Seen) -> Reply:
    """Default handler: the SHA-256 and length of the request body, as JSON."""
    return Reply(
        body={"sha256": hashlib.sha256(seen.body).hexdigest(), "length": len(seen.body)},
        headers={"Content-Type": "application/json"},
    )


class Upstream:
    """``with Upstream() as up:`` then talk to ``up.url``; ``up.seen`` lists requests."""

    def __init__(
        self,
        handler: Callable[[Seen], Reply] = echo,
        *,
        tls: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.seen: list[Seen] = []
        self.replies: deque[Reply] = deque()
        self.handler = handler
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.scheme = "https" if tls is not None else "http"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 15  # idle keep-alive connections end on their own

            def _handle(self) -> None:
                body = _read_body(self)
                seen = Seen(self.command, self.path, dict(self.headers), body)
                with outer._lock:
                    outer.seen.append(seen)
                    reply = outer.replies.popleft() if outer.replies else None
                if reply is None:
                    reply = outer.handler(seen)
                if reply.delay:
                    outer._stopping.wait(reply.delay)
                payload = reply.payload()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(payload), 7):
                        piece = payload[start : start + 7]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    if self.command != "HEAD":
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

            def handle(self) -> None:
                # The fault tests break connections on purpose.
                with contextlib.suppress(OSError, ValueError):
                    super().handle()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                sock, addr = super().get_request()
                if tls is not None:
                    sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                return sock, addr

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        pieces = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(pieces)
            pieces.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    data = handler.rfile.read(length) if length else b""
    if len(data) != length:
        raise ConnectionError("request body cut short")
    return data


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
