"""What the fault and security tests share: session totals and captured output.

The HTTP server they talk to is :mod:`support.http_server`.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote


@dataclass
class Totals:
    """Fault-suite totals, printed at the end of the session."""

    faults: dict[str, int] = field(default_factory=dict)
    uploads: int = 0
    bytes_verified: int = 0
    losses: int = 0
    notes: dict[str, int] = field(default_factory=dict)

    def add_faults(self, counts: dict[str, int]) -> None:
        for kind, count in counts.items():
            self.faults[kind] = self.faults.get(kind, 0) + count

    def lines(self) -> Iterator[str]:
        total = sum(self.faults.values())
        yield f"faults injected: {total}"
        for kind in sorted(self.faults):
            yield f"  {kind}: {self.faults[kind]}"
        yield f"uploads verified: {self.uploads}"
        yield f"bytes verified: {self.bytes_verified}"
        yield f"losses: {self.losses}"
        for name in sorted(self.notes):
            yield f"{name}: {self.notes[name]}"

    def note(self, name: str, count: int = 1) -> None:
        self.notes[name] = self.notes.get(name, 0) + count


#: one instance for the whole session (the tests add to it; conftest prints it)
TOTALS = Totals()


class Capture(logging.Handler):
    """Every record, fully formatted, arguments and tracebacks included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Readable:
    """What the suite produced that a user could read, and the secrets it used."""

    logs: Capture = field(default_factory=Capture)
    errors: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    tests: int = 0

    def error(self, exc: BaseException) -> None:
        """Everything a user could read from ``exc``: its text, its traceback with every
        cause, and every attribute and pickle of it and of each exception in its chain."""
        texts = [str(exc), repr(exc),
                 "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
        for link in _chain(exc):
            texts.append(repr(link.args))
            texts.append(repr(getattr(link, "__dict__", {})))
            with contextlib.suppress(Exception):  # what does not pickle cannot leak that way
                texts.append(pickle.dumps(link).decode("latin-1"))
        self.errors.append("\n".join(texts))

    def secret(self, *values: str) -> None:
        for value in values:
            if value:
                self.secrets.update({value, quote(value, safe=""), quote(value)})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and the exceptions kept in their attributes.

    The urllib3 errors behind an API call's ``ApiException`` (its
    ``__cause__``) are left to the API transport's own checks
    (``test/security``): only their text (in the traceback) is read here.
    """
    from lilt.exceptions import ApiException, TransferError

    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, ApiException) and not isinstance(item, TransferError):
            continue
        pending += [item.__cause__, item.__context__, *vars(item).values(), *item.args]


#: everything the fault suite logged or raised; test_zz_suite checks it for secrets
SEEN = Readable()
