"""What ``lilt upload`` shows on a real terminal: a pseudo-terminal read through a VT100
screen (pyte), so the assertions are about the screen a person sees, not the bytes written.

Set ``LILT_SCREEN_DUMP=DIR`` to keep the screens as text files.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pyte
import pytest

from lilt.testing import Emulator
from lilt.testing.proxy import Fault, FaultProxy

MiB = 1024 * 1024
COLUMNS, ROWS = 80, 30

pytestmark = pytest.mark.storage


class Terminal:
    """A child process on a pseudo-terminal of COLUMNS x ROWS, its output drawn on a screen."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self._stream = pyte.ByteStream(self.screen)
        self._lock = threading.Lock()
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.master = master
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            start_new_session=True,
            preexec_fn=_as_terminal_session,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO once the child has closed the terminal
                return
            if not data:
                return
            with self._lock:
                self._stream.feed(data)

    def lines(self) -> list[str]:
        with self._lock:
            return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines()).rstrip() + "\n"

    def wait_for(self, condition: Callable[[list[str]], bool], timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if condition(lines):
                return lines
            if self.process.poll() is not None:
                self._reader.join(5)
                lines = self.lines()
                if condition(lines):
                    return lines
                raise AssertionError(f"exited {self.process.returncode}:\n{self.text()}")
            time.sleep(0.02)
        raise AssertionError(f"not on the screen within {timeout} s:\n{self.text()}")

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._reader.join(5)
        os.close(self.master)


def _as_terminal_session() -> None:
    """In the child: default signal dispositions, and the pty as its controlling terminal
    (so Ctrl-C typed into it is a SIGINT, as in a shell)."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _dump(name: str, text: str) -> None:
    folder = os.environ.get("LILT_SCREEN_DUMP")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.txt").write_text(text)


@pytest.fixture
def proxy(lilt_emulator: Emulator) -> Iterator[FaultProxy]:
    host, port = lilt_emulator.storage.url.removeprefix("http://").rsplit(":", 1)
    with FaultProxy((host, int(port))) as faults:
        lilt_emulator.presign_endpoint = faults.url
        yield faults


def _files(root: Path) -> list[Path]:
    root.mkdir()
    paths = []
    for n in range(3):
        path = root / f"video-{n}.mp4"
        path.write_bytes(os.urandom(11 * MiB))  # three parts of 5 MiB each (the last 1 MiB)
        paths.append(path)
    for n in range(4):
        path = root / f"notes-{n}.txt"
        path.write_bytes(b"n" * 1000 * (n + 1))
        paths.append(path)
    return paths


def _lilt(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lilt",
        "upload",
        *args,
        "--threshold",
        "5MiB",
        "--part-size",
        "5MiB",
        "--concurrency",
        "2",
    ]


def _env(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    return {
        **os.environ,
        **emulator.env,
        "LILT_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": "",
        "LINES": "",
        "TERM": "xterm",
    }


def _bars(lines: list[str]) -> list[str]:
    return [line for line in lines if "MiB/s" in line and "%" in line]


def test_multi_file_upload_on_screen(
    lilt_emulator: Emulator, proxy: FaultProxy, tmp_path: Path
) -> None:
    folder = tmp_path / "media"
    paths = _files(folder)
    # Hold one part's answer for 3 s: the screen is caught while the upload is under way.
    proxy.inject(Fault.stall(3.0), method="PUT", path=r"partNumber=2", times=1)
    terminal = Terminal(_lilt("media"), _env(lilt_emulator, tmp_path), tmp_path)
    try:
        during = terminal.wait_for(
            lambda lines: (
                any("partNumber=2" in r.target for r in proxy.requests) and bool(_bars(lines))
            )
        )
        _dump("upload-in-progress", terminal.text())
        [bar] = _bars(during)  # one status line, drawn in place
        assert len(bar) <= COLUMNS
        assert "/" in bar and " MiB " in bar and ("MiB/s" in bar)
        assert "files" in bar and bar.count("media/") <= 1
        assert terminal.finish() == 0
        after = terminal.lines()
        _dump("upload-finished", terminal.text())
    finally:
        terminal.close()
    uploaded = [line for line in after if line.startswith("uploaded ")]
    assert len(uploaded) == len(paths)
    for path in paths:
        name = f"media/{path.name}"
        assert sum(line.startswith(f"uploaded {name} -> uploads/") for line in after) == 1
    [final_bar] = _bars(after)  # left once, complete, not drawn twice
    assert final_bar.startswith("100% ") and "7/7 files" in final_bar
    summary = [line for line in after if line.startswith("7 files, ")]
    assert summary and "MiB sent in" in summary[0] and summary[0].endswith("MiB/s)")
    assert lilt_emulator.list_multipart_uploads() == []


def test_ctrl_c_on_screen(lilt_emulator: Emulator, proxy: FaultProxy, tmp_path: Path) -> None:
    folder = tmp_path / "media"
    _files(folder)
    proxy.inject(Fault.stall(5.0), method="PUT", path=r"partNumber=2", times=1)
    terminal = Terminal(_lilt("media"), _env(lilt_emulator, tmp_path), tmp_path)
    try:
        terminal.wait_for(
            lambda lines: (
                any("partNumber=2" in r.target for r in proxy.requests) and bool(_bars(lines))
            )
        )
        terminal.type(b"\x03")  # Ctrl-C, as typed
        code = terminal.finish()
        after = terminal.wait_for(lambda lines: any("uploads cancel" in line for line in lines))
        _dump("upload-interrupted", terminal.text())
    finally:
        terminal.close()
    assert code == 130
    assert len(_bars(after)) == 1  # the bar stays where it was: drawn once
    text = "\n".join(after)
    assert "lilt: interrupted" in text
    assert "To resume, run the same command again:" in text
    assert "  lilt upload media --threshold 5MiB --part-size 5MiB --concurrency 2" in after
    kept = lilt_emulator.list_multipart_uploads()
    unwrapped = text.replace("\n", "")  # long upload ids wrap at 80 columns
    assert kept and all(f"  lilt uploads cancel {k.upload_id} {k.key}" in unwrapped for k in kept)
