"""SIGTERM and SIGHUP act as Ctrl-C does, so an upload has one clean-up path however it is
stopped: multipart uploads kept for resuming (or aborted without a journal), then exit
code 128 + the signal's number, as a shell reports it (130, 129, 143).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Callable, Optional

from lilt.cli.exit_codes import EXIT_INTERRUPTED

_SIGNALS = ("SIGTERM", "SIGHUP")  # SIGINT already raises KeyboardInterrupt
_STOPPED = {"SIGTERM": "terminated (SIGTERM)", "SIGHUP": "hung up (SIGHUP)"}


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that they act exactly as Ctrl-C does.

    A subclass of KeyboardInterrupt: everything that cleans up after Ctrl-C
    (the uploader aborts or keeps its uploads, then re-raises) does so for
    these too. ``signum`` gives the exit code, 128 + the signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(stop: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 128 + the signal's number for SIGTERM (143) and SIGHUP (129)."""
    return 128 + stop.signum if isinstance(stop, Interrupted) else EXIT_INTERRUPTED


def what_stopped(stop: KeyboardInterrupt) -> str:
    """How the run ended, in words: "interrupted", "terminated (SIGTERM)", "hung up (SIGHUP)"."""
    if isinstance(stop, Interrupted):
        return _STOPPED.get(signal.Signals(stop.signum).name, "interrupted")
    return "interrupted"


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Interrupted` (once) in the main thread while the
    command runs; previous handlers come back afterwards.

    Only the first signal raises: a second one while the uploads are being
    aborted or kept must not cut that short (SIGKILL remains for the impatient).
    """
    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = _raise_once()  # one for both signals: the first of either raises, no other
    previous = {number: signal.signal(number, handler) for number in _signal_numbers()}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _raise_once() -> Callable[[int, Optional[FrameType]], None]:
    raised: list[int] = []

    def handler(signum: int, _frame: Optional[FrameType]) -> None:
        if not raised:
            raised.append(signum)
            raise Interrupted(signum)

    return handler


def _signal_numbers() -> list[int]:
    """The signals of :data:`_SIGNALS` this platform has."""
    numbers = (getattr(signal, name, None) for name in _SIGNALS)
    return [number for number in numbers if number is not None]
