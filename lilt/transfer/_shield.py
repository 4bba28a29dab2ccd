"""Keep a second Ctrl-C (or a SIGTERM) from cutting the clean-up of a failed upload short.

The first Ctrl-C raises ``KeyboardInterrupt`` and the engine starts to abort
the uploads it initiated; a second one, pressed because that seems slow,
would raise again inside the clean-up and leave multipart uploads pending.
While the clean-up runs on the main thread, :class:`SignalShield` replaces
the handlers of SIGINT, SIGTERM and SIGHUP with one that only records the
signal; afterwards the caller's handlers come back and every recorded signal
is raised again, so it still has its effect (a ``KeyboardInterrupt``, the
``lilt`` command's exit code, or the default action) once nothing is left
half done. Signals the caller ignores stay ignored. Off the main thread
nothing is changed: Python runs signal handlers on the main thread only.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any, Optional

__all__ = ["SignalShield"]

_NAMES = ("SIGINT", "SIGTERM", "SIGHUP")


class SignalShield:
    """A context manager: signals are recorded inside it and raised again on leaving."""

    def __init__(self) -> None:
        self._saved: dict[int, Any] = {}
        self.received: list[int] = []

    def __enter__(self) -> SignalShield:
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in _NAMES:
            number = getattr(signal, name, None)
            if number is None:
                continue
            try:
                previous = signal.getsignal(number)
                # SIG_IGN stays as it is; None (a handler set outside Python) cannot be put back
                if previous is None or previous == signal.SIG_IGN:
                    continue
                signal.signal(number, self._record)
            except (OSError, ValueError):  # not the main interpreter, or not allowed here
                continue
            self._saved[number] = previous
        return self

    def _record(self, number: int, _frame: Optional[FrameType]) -> None:
        if number not in self.received:
            self.received.append(number)

    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        for number, previous in self._saved.items():
            try:
                signal.signal(number, previous)
            except (OSError, ValueError):
                continue
        self._saved.clear()
        for number in self.received:
            signal.raise_signal(number)  # now with the caller's handler
