"""A real HTTP server on 127.0.0.1 that records what arrived and answers from a script.

Tests queue replies (status, headers, body, delay); with nothing queued the
server answers like LILT would for the route. Every request is recorded with
its raw request line, headers and body, so tests assert on the wire itself.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional, Union


@dataclass(frozen=True)
class Recorded:
    method: str
    target: str  # path and query exactly as sent
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> Optional[str]:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Union[bytes, str, Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def default_reply(method: str, path: str, body: bytes) -> Reply:
    """What LILT answers on each route when the test scripted nothing."""
    if method == "GET" and path == "/v2/upload":
        return Reply(body=[{"id": 1, "filename": "a.txt", "status": "pending",
                            "created_at": "2026-01-02T03:04:05Z"}])
    if method == "GET" and path.startswith("/v2/upload/s3/multipart/"):
        return Reply(body={"url": "https://storage.example/part?X-Amz-Signature=abc",
                           "method": "PUT"})
    if method == "GET" and path.startswith("/v2/upload/s3/params"):
        return Reply(body={"url": "https://storage.example/o", "key": "k", "method": "PUT"})
    if method == "GET" and path.startswith("/v2/upload/"):
        return Reply(body={"id": int(path.rsplit("/", 1)[1]), "filename": "a.txt",
                           "status": "uploaded", "created_at": "2026-01-02T03:04:05Z"})
    if method == "POST" and path.endswith("/complete"):
        return Reply(body={"success": True, "location": "https://storage.example/o"})
    if method == "POST" and path in ("/v2/upload/s3/multipart", "/v2/upload/s3/params"):
        parsed = json.loads(body or b"{}")
        one = ({"uploadId": "U1", "key": "uploads/k"} if path.endswith("multipart")
               else {"url": "https://storage.example/o", "key": "uploads/k", "method": "PUT"})
        return Reply(body=[one] * len(parsed) if isinstance(parsed, list) else one)
    if method == "DELETE":
        return Reply(body={"success": True, "message": "aborted"})
    return Reply(status=404, body={"message": "no such route"})


class RecordingServer:
    """Start with ``with RecordingServer() as server:``; ``server.url`` is the base URL."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                method = self.command
                with outer._lock:
                    outer.requests.append(Recorded(method, self.path, dict(self.headers), body))
                    reply = (outer.replies.popleft() if outer.replies
                             else default_reply(method, self.path.split("?")[0], body))
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.payload()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_DELETE = do_PUT = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
