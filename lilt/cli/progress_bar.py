"""The progress bar on stderr: drawn on a terminal only, and closed exactly once however the
work ends, so that what is printed next starts on a line of its own."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from lilt.transfer.progress import TerminalProgress


def terminal_bar(*, wanted: bool) -> Optional[TerminalProgress]:
    """A bar when ``wanted`` and stderr is a terminal; None otherwise (logs and pipes stay
    clean)."""
    if not wanted or not sys.stderr.isatty():
        return None
    from lilt.transfer.progress import TerminalProgress

    return TerminalProgress(sys.stderr)


@contextlib.contextmanager
def closed_at_end(bar: Optional[TerminalProgress]) -> Iterator[None]:
    """Close ``bar`` when the block ends: drawn a last time after success, left as it stands
    after an interruption or a failure (the bar does not claim what did not happen)."""
    if bar is None:
        yield
        return
    finished = False
    try:
        yield
        finished = True
    finally:
        bar.close(interrupted=not finished)
