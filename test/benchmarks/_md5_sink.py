"""A loopback storage sink that answers every PUT with the real MD5 of its body as ETag.

The ceiling for client benchmarks: it does what S3 must do per byte (read
and hash it) and nothing else, so what is left of a run's cost is the
client's. Run it as its own process so its CPU never counts as the client's::

    python test/benchmarks/_md5_sink.py PORT_FILE     # writes the port, serves until killed

``SinkProcess`` does that from a test and stops it afterwards. Standard
library only; binds 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Optional

CHUNK = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as storage servers do

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.md5()
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        left = length
        while left:
            n = self.rfile.readinto(view[: min(CHUNK, left)])
            if not n:
                return
            digest.update(view[:n])
            left -= n
        self.send_response(200)
        self.send_header("ETag", f'"{digest.hexdigest()}"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(port_file: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


class SinkProcess:
    """The sink in a child process: ``with SinkProcess() as sink: sink.url``."""

    def __init__(self) -> None:
        self._process: Optional[subprocess.Popen[bytes]] = None
        self.url = ""
        self.pid = 0

    def __enter__(self) -> SinkProcess:
        with tempfile.TemporaryDirectory() as tmp:
            port_file = os.path.join(tmp, "port")
            self._process = subprocess.Popen([sys.executable, __file__, port_file])
            self.pid = self._process.pid
            deadline = time.monotonic() + 10
            while not (os.path.exists(port_file) and Path(port_file).read_text()):
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("the MD5 sink did not start")
                time.sleep(0.02)
            self.url = f"http://127.0.0.1:{Path(port_file).read_text()}"
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


if __name__ == "__main__":
    serve(sys.argv[1])
