"""What the fault and security tests share: totals and captured output.

Each test process keeps one :class:`Ledger` (in pytest's ``config.stash``,
see :func:`ledger`; the fault tests get its parts as the ``totals`` and
``seen`` fixtures): no module-global state, so the suite gives the same
totals in any order, and under xdist each worker sends its own to the
process that reports (:mod:`faults.totals`).

The HTTP server they talk to is :mod:`support.http_server`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import pickle
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest


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

    def __bool__(self) -> bool:
        return bool(self.uploads or self.faults or self.notes)

    def as_dict(self) -> dict[str, Any]:
        """Plain data, to send from an xdist worker."""
        return dataclasses.asdict(self)

    def merge(self, other: Mapping[str, Any]) -> None:
        """Add the totals of another process (:meth:`as_dict`)."""
        self.add_faults(other["faults"])
        self.uploads += other["uploads"]
        self.bytes_verified += other["bytes_verified"]
        self.losses += other["losses"]
        for name, count in other["notes"].items():
            self.note(name, count)


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
        texts = [
            str(exc),
            repr(exc),
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        ]
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

    def leaks(self) -> list[tuple[str, str, str]]:
        """Every secret found in what the SDK logged or raised (see :func:`find_leaks`)."""
        return find_leaks(self.client_logs(), self.errors, self.secrets)

    def client_logs(self) -> list[str]:
        """The captured log lines, less those of the server side of the tests."""
        return [line for line in self.logs.lines if client_side(line)]


#: The emulator and its S3 client are the server side of the fault tests:
#: their records are not the SDK's (the S3 client is kept at INFO in any case).
SERVER_LOGGERS = ("lilt.testing", "botocore", "boto3", "s3transfer", "werkzeug")


def client_side(line: str) -> bool:
    """Whether a captured line (``logger LEVEL message``) is not the server side's."""
    name = line.split(" ", 1)[0]
    return not any(name == s or name.startswith(s + ".") for s in SERVER_LOGGERS)


def find_leaks(
    logs: Iterable[str], errors: Iterable[str], secrets: Iterable[str]
) -> list[tuple[str, str, str]]:
    """(the secret's first 6 characters, where, the text) for each secret of 8 or more
    characters (shorter ones are too common to search for) found in a text."""
    searched = sorted(s for s in secrets if len(s) >= 8)
    return [
        (secret[:6], where, text[:300])
        for where, texts in (("logs", list(logs)), ("errors", list(errors)))
        for text in texts
        for secret in searched
        if secret in text
    ]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and the exceptions kept in their
    attributes, the urllib3 errors behind an API call's ``ApiException`` included."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending += [item.__cause__, item.__context__, *vars(item).values(), *item.args]


@dataclass
class Ledger:
    """What one test process gathered in the fault suite: totals, and what to scan for secrets."""

    totals: Totals = field(default_factory=Totals)
    seen: Readable = field(default_factory=Readable)


_LEDGER = pytest.StashKey[Ledger]()


def ledger(config: pytest.Config) -> Ledger:
    """This process's ledger (made on first use)."""
    return config.stash.setdefault(_LEDGER, Ledger())
