"""Faults the emulator's API injects on demand: 429s, 5xx, slow answers.

Real LILT rate-limits and sometimes fails; a client's retry logic is only
tested if those happen on cue. A :class:`FaultPlan` (``emulator.faults``)
holds rules, checked in the order they were added for every authenticated
request to a known route; the first rule that yields a fault wins::

    emu.faults.inject(ApiFault.rate_limited(retry_after=2), operation="sign", times=3)
    emu.faults.script(ApiFault.server_error(503), None, ApiFault.slow(0.5), operation="complete")
    emu.faults.randomly(seed=7, rate=0.2, faults=[ApiFault.server_error()], limit=5)
    ...
    assert emu.faults.counts["rate_limited"] == 3

Rules match an *operation* (the route; see :data:`OPERATIONS`, the SDK's
method names work too), are bounded in count, and random rules draw from
their own seeded RNG, so a given request sequence meets the same faults on
every run. A fault with a status answers ``{"message": ...}`` with that
status and its headers instead of doing the work; a delay is served first
(and then the request proceeds normally if there is no status).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Callable, Optional, Union

from lilt.testing._rules import Repeat, Rule, RuleBook, Script, Seeded

__all__ = ["OPERATIONS", "ApiFault", "FaultPlan", "InjectedFault"]

#: The emulator's operation names: the route each one is.
OPERATIONS: dict[str, str] = {
    "list": "GET /v2/upload",
    "get": "GET /v2/upload/{id}",
    "params": "GET /v2/upload/s3/params",
    "initiate": "POST /v2/upload/s3/params",
    "initiate_multipart": "POST /v2/upload/s3/multipart",
    "sign": "GET /v2/upload/s3/multipart/{uploadId}/{partNumber}",
    "complete": "POST /v2/upload/s3/multipart/{uploadId}/complete",
    "cancel": "DELETE /v2/upload/s3/multipart/{uploadId}",
}

# The SDK's method names, accepted wherever an operation is named.
_ALIASES = {
    "get_pending_uploads": "list",
    "get_upload_by_id": "get",
    "get_s3_upload_params": "params",
    "initiate_s3_upload": "initiate",
    "initiate_multipart_upload": "initiate_multipart",
    "sign_upload_part": "sign",
    "complete_multipart_upload": "complete",
    "cancel_multipart_upload": "cancel",
}

Operations = Union[str, Iterable[str], None]


def operation_names(operation: Operations) -> Optional[frozenset[str]]:
    """Normalise one name or several (operation names or SDK method names); None: all."""
    if operation is None:
        return None
    names = [operation] if isinstance(operation, str) else list(operation)
    result = set()
    for name in names:
        name = _ALIASES.get(name, name)
        if name not in OPERATIONS:
            raise ValueError(f"unknown operation {name!r}; use one of {', '.join(OPERATIONS)}")
        result.add(name)
    return frozenset(result)


@dataclasses.dataclass(frozen=True)
class ApiFault:
    """One fault for one API request. Build it with the class methods.

    ``status`` None means no error answer (a pure delay). ``kind`` is the
    name it is counted under.
    """

    kind: str
    status: Optional[int] = None
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    message: str = ""

    def __post_init__(self) -> None:
        if self.delay < 0:
            raise ValueError(f"delay must not be negative, got {self.delay}")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"an injected status must be 4xx or 5xx, got {self.status}")

    @classmethod
    def rate_limited(
        cls,
        retry_after: Union[int, str, None] = 1,
        *,
        reset: Optional[float] = None,
        delay: float = 0.0,
        message: str = "Too many requests (injected by the emulator)",
    ) -> ApiFault:
        """429 with ``Retry-After`` (seconds, or an HTTP date as a string; None: no header)
        and, when ``reset`` is given, ``X-RateLimit-Reset`` (seconds until the window resets)."""
        headers = []
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        if reset is not None:
            headers.append(("X-RateLimit-Reset", f"{reset:g}"))
        return cls("rate_limited", 429, delay, tuple(headers), message)

    @classmethod
    def server_error(
        cls,
        status: int = 500,
        *,
        retry_after: Union[int, str, None] = None,
        delay: float = 0.0,
        message: str = "Internal server error (injected by the emulator)",
    ) -> ApiFault:
        """A 5xx answer (500 by default), with ``Retry-After`` when given."""
        if not 500 <= status <= 599:
            raise ValueError(f"server_error needs a 5xx status, got {status}")
        headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
        return cls("server_error", status, delay, headers, message)

    @classmethod
    def slow(cls, seconds: float) -> ApiFault:
        """Answer normally, ``seconds`` late (the request is handled after the delay)."""
        return cls("slow", None, seconds)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "Error injected by the emulator",
        headers: Sequence[tuple[str, str]] = (),
        *,
        delay: float = 0.0,
    ) -> ApiFault:
        """Any 4xx or 5xx answer with ``{"message": message}`` and ``headers``."""
        return cls("error", status, delay, tuple(headers), message)


@dataclasses.dataclass(frozen=True)
class InjectedFault:
    """A fault the emulator acted out: on which operation, and which request
    (``request`` counts the requests the plan was asked about, from 0)."""

    operation: str
    fault: ApiFault
    request: int


class FaultPlan:
    """The rules deciding which API requests get which :class:`ApiFault`. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: RuleBook[ApiFault, str] = RuleBook()
        self._injected: list[InjectedFault] = []
        self._asked = 0

    def inject(
        self, fault: ApiFault, *, times: int = 1, skip: int = 0, operation: Operations = None
    ) -> None:
        """Give ``fault`` to the next ``times`` matching requests, after letting ``skip`` pass."""
        self._add(Repeat(fault, times, skip, _matching(operation)))

    def script(self, *faults: Optional[ApiFault], operation: Operations = None) -> None:
        """The next matching requests get these faults in order; None lets one request
        through untouched (no later rule is asked)."""
        self._add(Script(faults, _matching(operation)))

    def randomly(
        self,
        seed: int,
        rate: float,
        faults: Sequence[ApiFault],
        *,
        limit: int,
        operation: Operations = None,
    ) -> None:
        """Each matching request gets, with probability ``rate``, a fault drawn from
        ``faults``, at most ``limit`` times; deterministic for a seed and request sequence."""
        self._add(Seeded(seed, rate, faults, limit, _matching(operation)))

    def clear(self) -> None:
        """Forget every rule (what was injected stays counted)."""
        with self._lock:
            self._rules.clear()

    def decide(self, operation: str) -> Optional[ApiFault]:
        """The fault for one request to ``operation`` (None: none), recorded as injected."""
        with self._lock:
            request, self._asked = self._asked, self._asked + 1
            fault = self._rules.decide(operation)
            if fault is not None:
                self._injected.append(InjectedFault(operation, fault, request))
            return fault

    @property
    def injected(self) -> list[InjectedFault]:
        """Every fault injected so far, in order."""
        with self._lock:
            return list(self._injected)

    @property
    def counts(self) -> Counter[str]:
        """How many faults of each kind (``rate_limited``, ``server_error``, ``slow``,
        ``error``) were injected."""
        with self._lock:
            return Counter(i.fault.kind for i in self._injected)

    def _add(self, rule: Rule[ApiFault, str]) -> None:
        with self._lock:
            self._rules.add(rule)


def _matching(operation: Operations) -> Callable[[str], bool]:
    names = operation_names(operation)
    return lambda name: names is None or name in names
