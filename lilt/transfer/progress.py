"""Progress reporting: cumulative, monotonic byte counts per file and in total.

Semantics (the contract every callback can rely on):

* Counts are *cumulative* and *never go backwards*. A part's bytes are counted
  as they are handed to the network, and a retried part counts only the bytes
  beyond the most any earlier attempt sent (the per-part maximum). So a retry
  pauses the counter instead of rewinding it, and when a file finishes its
  count equals its size exactly.
* Calls are serialised: the callback is never entered by two threads at once,
  and events arrive in the order the counts grew. It is called from worker
  threads, so it should be quick; it must not call back into the uploader.
* A file gets exactly one event with ``done=True``, after storage acknowledged
  the whole file (for multipart uploads, after the complete call).
* ``stored_bytes`` counts only what storage acknowledged (whole parts and
  files), so a rate computed from it is the rate storage is really taking
  data, not how fast the socket buffers filled; ``resumed_bytes`` is the part
  of the counts an earlier run stored (a resumed upload), to leave out of
  any rate.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import IO, Any, Callable, Optional

__all__ = [
    "ProgressCallback",
    "ProgressEvent",
    "ProgressTracker",
    "TerminalProgress",
    "TextProgress",
    "TqdmProgress",
    "format_size",
]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress.

    Attributes:
        name: the file's name as shown to people (its path, or the name given
            for a stream).
        file_bytes: bytes of this file sent so far.
        file_size: this file's size, or None for a stream of unknown size.
        total_bytes: bytes of every file in the call sent so far.
        total_size: the sum of all sizes, or None when any size is unknown.
        done: True once, when the file has been stored completely.
        stored_bytes: bytes of every file storage has acknowledged (resumed included).
        resumed_bytes: bytes stored by an earlier run (taken from a journal).
        files_done: files stored so far, of ``file_count`` in the call.
    """

    name: str
    file_bytes: int
    file_size: Optional[int]
    total_bytes: int
    total_size: Optional[int]
    done: bool = False
    stored_bytes: int = 0
    resumed_bytes: int = 0
    files_done: int = 0
    file_count: int = 0


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class _FileState:
    name: str
    size: Optional[int]
    sent: int = 0
    done: bool = False


class ProgressTracker:
    """Turns per-attempt byte counts from many threads into monotonic events.

    ``file_id`` is any hashable the engine uses to tell files apart; the
    tracker keeps, for each part in flight, the most bytes any attempt sent.
    """

    def __init__(self, callback: Optional[ProgressCallback]) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self._files: dict[Hashable, _FileState] = {}
        self._inflight: dict[tuple[Hashable, int], int] = {}
        self._total = 0
        self._total_size: Optional[int] = 0
        self._stored = 0
        self._resumed = 0
        self._files_done = 0

    @property
    def total_bytes(self) -> int:
        return self._total

    def file_bytes(self, file_id: Hashable) -> int:
        return self._files[file_id].sent

    def add_file(self, file_id: Hashable, name: str, size: Optional[int], already: int = 0) -> None:
        """Register a file before any of its bytes move; ``already`` counts resumed parts."""
        with self._lock:
            self._files[file_id] = _FileState(name, size)
            if size is None or self._total_size is None:
                self._total_size = None
            else:
                self._total_size += size
            if already:
                self._stored += already
                self._resumed += already
                self._grow_locked(file_id, already)

    def set_size(self, file_id: Hashable, size: int) -> None:
        """Fix a stream's size once its end is reached (the total then becomes known if all are)."""
        with self._lock:
            state = self._files[file_id]
            state.size = size
            if all(f.size is not None for f in self._files.values()):
                self._total_size = sum(f.size or 0 for f in self._files.values())

    def sent(self, file_id: Hashable, part: int, attempt_bytes: int) -> None:
        """An attempt at ``part`` has now sent ``attempt_bytes`` in total."""
        key = (file_id, part)
        with self._lock:
            best = self._inflight.get(key, 0)
            if attempt_bytes <= best:
                return
            self._inflight[key] = attempt_bytes
            self._grow_locked(file_id, attempt_bytes - best)

    def part_done(self, file_id: Hashable, part: int, length: int) -> None:
        """Storage acknowledged ``part``; its count becomes exactly ``length``."""
        key = (file_id, part)
        with self._lock:
            best = self._inflight.pop(key, 0)
            self._stored += length
            if length > best:
                self._grow_locked(file_id, length - best)
            elif self._callback is not None:  # the count stands; what is stored moved
                self._emit_locked(self._files[file_id], done=False)

    def file_done(self, file_id: Hashable) -> None:
        with self._lock:
            state = self._files[file_id]
            if state.done:
                return
            state.done = True
            self._files_done += 1
            self._emit_locked(state, done=True)

    def _grow_locked(self, file_id: Hashable, delta: int) -> None:
        state = self._files[file_id]
        state.sent += delta
        self._total += delta
        self._emit_locked(state, done=False)

    def _emit_locked(self, state: _FileState, *, done: bool) -> None:
        # Called with the lock held, so events are serialised and ordered.
        if self._callback is not None:
            self._callback(
                ProgressEvent(
                    name=state.name,
                    file_bytes=state.sent,
                    file_size=state.size,
                    total_bytes=self._total,
                    total_size=self._total_size,
                    done=done,
                    stored_bytes=self._stored,
                    resumed_bytes=self._resumed,
                    files_done=self._files_done,
                    file_count=len(self._files),
                )
            )


class TqdmProgress:
    """A progress callback drawing one tqdm bar for the whole call (``pip install lilt[progress]``).

    tqdm is imported on first use, so the uploader itself does not need it.
    The bar shows bytes with binary units, the rate, and the current file.
    Call :meth:`close` (or use it as a context manager) when the upload ends.
    """

    def __init__(
        self,
        *,
        file: Optional[IO[str]] = None,
        desc: str = "upload",
        leave: bool = True,
        disable: Optional[bool] = False,
    ) -> None:
        self._file = file if file is not None else sys.stderr
        self._desc = desc
        self._leave = leave
        self._disable = disable
        self._bar: Any = None
        self._name: Optional[str] = None

    def __call__(self, event: ProgressEvent) -> None:
        bar = self._bar
        if bar is None:
            from tqdm.auto import tqdm  # lazy: tqdm is an optional extra

            bar = self._bar = tqdm(
                total=event.total_size,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=self._desc,
                file=self._file,
                leave=self._leave,
                disable=self._disable,
                dynamic_ncols=True,
            )
        if event.total_size is not None and bar.total != event.total_size:
            bar.total = event.total_size
        if event.name != self._name:
            self._name = event.name
            bar.set_postfix_str(_short(event.name), refresh=False)
        bar.update(event.total_bytes - bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TextProgress:
    """A dependency-free progress callback that writes a line per step to a stream.

    For logs and CI, where a redrawn bar becomes noise: prints at most one
    line per ``step`` (a fraction of the total) with a small text bar,
    the amount sent and the rate, and a final line when everything is done.
    """

    def __init__(
        self,
        stream: Optional[IO[str]] = None,
        *,
        step: float = 0.1,
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._step = step
        self._width = width
        self._clock = clock
        self._start: Optional[float] = None
        self._next = self._step
        self._finished = False

    def __call__(self, event: ProgressEvent) -> None:
        now = self._clock()
        if self._start is None:
            self._start = now
        total = event.total_size
        finished = total is not None and event.total_bytes >= total
        if finished:
            if self._finished:
                return
            self._finished = True
        elif total is None or event.total_bytes < self._next * total:
            return
        fraction = event.total_bytes / total if total else 1.0
        self._next = (int(fraction / self._step + 1e-9) + 1) * self._step
        filled = int(self._width * min(fraction, 1.0))
        rate = event.total_bytes / max(now - self._start, 1e-9) / (1024 * 1024)
        self._stream.write(
            f"[{'#' * filled}{'.' * (self._width - filled)}] {fraction * 100:5.1f}% "
            f"{_mib(event.total_bytes)}/{_mib(total) if total is not None else '?'} MiB "
            f"{rate:7.1f} MiB/s\n"
        )
        self._stream.flush()


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f}"


def _short(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1) :]


class TerminalProgress:
    """One status line on a terminal, redrawn in place: the ``lilt`` command's progress bar.

    What it shows is meant to be true, not flattering:

    * amounts in the units of the command's summary (``format_size``) and the
      rate in MiB/s, always;
    * the rate counts only bytes storage acknowledged in the last few seconds
      (``stored_bytes``), so socket buffers filling up at the start do not
      show as 600 MB/s on a 70 MiB/s link, and bytes an earlier run stored
      (a resumed upload) are left out of it; until storage acknowledges
      anything it shows ``--``;
    * the line fits the terminal's width at every redraw: the file name is
      shortened first, then the file count, the time left and the bar go.

    :meth:`close` ends the line once; events arriving after it (work that
    finishes while an interrupted upload is cleaned up) are not drawn, so the
    bar is never drawn twice. Thread-safe.
    """

    def __init__(
        self,
        stream: Optional[IO[str]] = None,
        *,
        interval: float = 0.1,
        window: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        width: Optional[Callable[[], int]] = None,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._window = window
        self._clock = clock
        self._width = width or self._terminal_width
        self._lock = threading.Lock()
        self._samples: list[tuple[float, int]] = []
        self._event: Optional[ProgressEvent] = None
        self._drawn_at: Optional[float] = None
        self._on_screen = False
        self._closed = False

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            if self._closed:
                return
            now = self._clock()
            self._event = event
            new = event.stored_bytes - event.resumed_bytes
            if not self._samples or new != self._samples[-1][1]:
                self._samples.append((now, new))
            while len(self._samples) > 2 and self._samples[1][0] <= now - self._window:
                del self._samples[0]
            finished = event.total_size is not None and event.stored_bytes >= event.total_size
            if finished or self._drawn_at is None or now - self._drawn_at >= self._interval:
                self._draw(now)

    def rate(self) -> Optional[float]:
        """Bytes per second storage acknowledged over the last ``window`` seconds, or None."""
        with self._lock:
            return self._rate(self._clock())

    def clear(self) -> None:
        """Erase the line (to print something else); the next event draws it again."""
        with self._lock:
            if self._on_screen and not self._closed:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
                self._on_screen = False
                self._drawn_at = None

    def close(self, *, interrupted: bool = False) -> None:
        """End the line for good: drawn one last time unless ``interrupted``, then a newline."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._event is not None and not interrupted:
                self._draw(self._clock())
            if self._on_screen:
                self._stream.write("\n")
                self._stream.flush()

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- drawing (lock held) -------------------------------------------------------

    def _rate(self, now: float) -> Optional[float]:
        if len(self._samples) < 2 or self._samples[-1][1] <= 0:
            return None
        (start, first), (_, last) = self._samples[0], self._samples[-1]
        elapsed = now - start
        return (last - first) / elapsed if elapsed > 0 else None

    def _draw(self, now: float) -> None:
        event = self._event
        assert event is not None
        # Three columns spare: the terminal echoes Ctrl-C as "^C" after the line, and a
        # full line would wrap there, so the next redraw would leave a second bar behind.
        line = render_line(event, self._rate(now), max(20, self._width() - 3))
        self._stream.write("\r" + line + "\x1b[K")
        self._stream.flush()
        self._on_screen = True
        self._drawn_at = now

    def _terminal_width(self) -> int:
        try:
            return os.get_terminal_size(self._stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size().columns


def render_line(event: ProgressEvent, rate: Optional[float], width: int) -> str:
    """The status line for ``event`` at ``rate`` bytes/s, at most ``width`` characters."""
    total = event.total_size
    unit = size_unit(total if total else event.total_bytes)
    amount = (
        f"{scaled(event.total_bytes, unit)}/{scaled(total, unit)} {unit}"
        if total is not None
        else f"{scaled(event.total_bytes, unit)} {unit}"
    )
    percent = f"{min(event.total_bytes / total, 1.0) * 100:3.0f}%" if total else "  -%"
    speed = f"{rate / MiB:.1f} MiB/s" if rate is not None else "-- MiB/s"
    eta = ""
    if rate and total is not None and event.stored_bytes < total:
        left = max(0, total - event.stored_bytes)
        eta = f"{_clock_time(left / rate)} left"
    files = f"{event.files_done}/{event.file_count} files" if event.file_count > 1 else ""
    # Most useful first; what does not fit goes from the end: the file count, the time
    # left, the speed. The bar and the name share what is left, the name shortened.
    pieces = [part for part in (f"{percent} {amount}", speed, eta, files) if part]
    while len(pieces) > 1 and len("  ".join(pieces)) > width:
        pieces.pop()
    line = "  ".join(pieces)
    room = width - len(line)
    bar_width = 0
    if total and room >= 13:  # " [" + at least 10 + "]"
        bar_width, room = 10, room - 13
    name_width = min(len(event.name), room - 2) if room - 2 >= 8 else 0
    if name_width:
        room -= name_width + 2
    if bar_width and total:
        bar_width += min(20, room)
        line = f"{percent} {_bar(event.total_bytes, total, bar_width)} " + line[len(percent) + 1 :]
    if name_width:
        line += "  " + _short(event.name, name_width)
    return line[:width]


MiB = 1024 * 1024
_UNITS = (("GiB", 1024**3), ("MiB", MiB), ("KiB", 1024), ("B", 1))


def size_unit(size: Optional[int]) -> str:
    """The unit ``format_size`` uses for ``size``: the largest that keeps it at least 1."""
    for unit, factor in _UNITS:
        if size is not None and size >= factor:
            return unit
    return "B"


def scaled(size: Optional[int], unit: str) -> str:
    """``size`` in ``unit`` with one decimal (bytes as a whole number)."""
    if size is None:
        return "?"
    factor = dict(_UNITS)[unit]
    return f"{size}" if factor == 1 else f"{size / factor:.1f}"


def format_size(size: int) -> str:
    """``12.0 MiB``, ``1.5 GiB``, ``512 B``: the one format of sizes in the command's output."""
    unit = size_unit(size)
    return f"{scaled(size, unit)} {unit}"


def _bar(done: int, total: int, width: int) -> str:
    filled = int(width * min(done / total, 1.0))
    return "[" + "#" * filled + "·" * (width - filled) + "]"


def _clock_time(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"
