"""Run one storage server and guarantee its cleanup, even if the test process dies.

This file runs as a separate, tiny Python process (``python -I -S
_supervisor.py ...``, standard library only), started by
:class:`lilt.testing.storage.SeaweedFS`. Why a separate process: a test run can
end by SIGKILL, an out-of-memory kill or a closed terminal, and then no
``finally``, ``atexit`` or signal handler in the test process runs. The
supervisor notices because its stdin, a pipe from the test process, reaches
end of file whenever the test process closes it *or dies*. It then stops the
server and removes what the server left behind.

Protocol (all lines on stdout, for the parent):

1. It starts the server (``argv`` after ``--``) in a new session, so that a
   Ctrl-C in the terminal reaches neither of them and the whole process group
   can be signalled, and prints ``pid N``. On failure to start it prints
   ``error MESSAGE`` and exits 1.
2. It waits for end of file on stdin (or SIGTERM); meanwhile, if the server
   exits by itself, it prints ``exited RC`` (and keeps waiting: the parent may
   want to read the server's log before it is deleted).
3. It stops the server: SIGTERM to its process group, SIGKILL after
   ``--stop-timeout`` seconds. It removes ``--directory`` and, for each
   ``--port``, the stray ``/tmp/seaweedfs-*-PORT.sock`` files that no live
   process listens on. It prints ``stopped RC`` and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from typing import Optional

SOCKET_PATTERN = "/tmp/seaweedfs-*-{port}.sock"


def remove_stale_sockets(ports: list[int]) -> list[str]:
    """Remove ``/tmp/seaweedfs-*-PORT.sock`` for ``ports`` unless something still listens.

    SeaweedFS always creates some gRPC sockets in /tmp (TMPDIR is ignored) and
    leaves them behind when it is killed. A socket some live process accepts
    on belongs to someone else (the port was reused): it is kept.
    """
    removed = []
    for port in ports:
        for path in glob.glob(SOCKET_PATTERN.format(port=port)):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.settimeout(0.5)
            try:
                probe.connect(path)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    removed.append(path)
            except OSError:
                pass  # timeout or permission: not provably stale, leave it
            finally:
                probe.close()
    return removed


def stop_group(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM the process group, SIGKILL it after ``timeout`` s; return the exit code."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # Also after a clean exit: anything the server spawned into its group goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def _say(line: str) -> None:
    # Unbuffered: when the parent is gone, nothing must be left to flush at exit.
    with contextlib.suppress(OSError):
        os.write(sys.stdout.fileno(), (line + "\n").encode())


class _Stop(Exception):
    pass


def _on_term(*_: object) -> None:
    raise _Stop


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--directory", required=True)
    parser.add_argument("--port", type=int, action="append", default=[])
    parser.add_argument("--stop-timeout", type=float, default=10.0)
    parser.add_argument("--log", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    # Ctrl-C goes to the terminal's foreground group, not here (new session),
    # but ignore it anyway; SIGTERM means "stop now and clean up".
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_term)

    try:
        with open(args.log, "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=args.directory,
                start_new_session=True,
                env={**os.environ, "TMPDIR": args.directory},
            )
    except (OSError, _Stop) as exc:
        _say(f"error {exc}")
        shutil.rmtree(args.directory, ignore_errors=True)
        return 1
    _say(f"pid {process.pid}")

    def report_exit() -> None:
        _say(f"exited {process.wait()}")

    threading.Thread(target=report_exit, daemon=True).start()
    try:
        while sys.stdin.buffer.read(4096):  # anything written is ignored; EOF means stop
            pass
    except (_Stop, OSError):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleanup must not be interrupted
        code = stop_group(process, args.stop_timeout)
        shutil.rmtree(args.directory, ignore_errors=True)
        remove_stale_sockets(args.port)
        _say(f"stopped {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
