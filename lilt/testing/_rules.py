"""Fault rules shared by the emulator's API faults and the TCP fault proxy.

A rule decides, for one request, whether a fault is acted out. Three shapes
cover every test: the same fault for the next N matching requests
(:class:`Repeat`), a fixed sequence (:class:`Script`), and a seeded random
choice (:class:`Seeded`). A :class:`RuleBook` asks its rules in order; the first
that answers wins. Rules are generic in the fault type and in what they match
against (an operation name for the emulator, a request head for the proxy).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Callable, Generic, Optional, TypeVar, Union

F = TypeVar("F")
R = TypeVar("R")


class Pass:
    """A scripted "no fault": let this request through and ask no later rule."""


PASS = Pass()
Decision = Union[F, Pass, None]


class Rule(Generic[F, R]):
    """Decides faults for the requests ``matches`` accepts; None means "not mine"."""

    def __init__(self, matches: Callable[[R], bool]) -> None:
        self.matches = matches

    def decide(self, request: R) -> Decision[F]:
        if not self.live() or not self.matches(request):
            return None
        return self.choose()

    def live(self) -> bool:
        """Whether the rule can still answer (checked before matching)."""
        return True

    def choose(self) -> Decision[F]:
        raise NotImplementedError


class Repeat(Rule[F, R]):
    """``fault`` for the next ``times`` matching requests, after ``skip`` pass untouched."""

    def __init__(self, fault: F, times: int, skip: int, matches: Callable[[R], bool]) -> None:
        super().__init__(matches)
        self.fault, self.times, self.skip = fault, times, skip

    def live(self) -> bool:
        return self.times > 0

    def choose(self) -> Decision[F]:
        if self.skip > 0:
            self.skip -= 1
            return None
        self.times -= 1
        return self.fault


class Script(Rule[F, R]):
    """These faults in order; None in the script lets one request through."""

    def __init__(self, faults: Iterable[Optional[F]], matches: Callable[[R], bool]) -> None:
        super().__init__(matches)
        self.faults: deque[Optional[F]] = deque(faults)

    def live(self) -> bool:
        return bool(self.faults)

    def choose(self) -> Decision[F]:
        fault = self.faults.popleft()
        return PASS if fault is None else fault


class Seeded(Rule[F, R]):
    """With probability ``rate`` a fault drawn from ``faults``, at most ``limit`` times."""

    def __init__(
        self,
        seed: int,
        rate: float,
        faults: Sequence[F],
        limit: int,
        matches: Callable[[R], bool],
    ) -> None:
        super().__init__(matches)
        if not faults:
            raise ValueError("randomly() needs at least one fault to choose from")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, got {rate}")
        self.rng = random.Random(seed)
        self.rate, self.faults, self.limit = rate, tuple(faults), limit

    def live(self) -> bool:
        return self.limit > 0

    def choose(self) -> Decision[F]:
        # Draw both numbers every time, so one decision does not shift the next.
        roll, pick = self.rng.random(), self.rng.randrange(len(self.faults))
        if roll >= self.rate:
            return None
        self.limit -= 1
        return self.faults[pick]


class RuleBook(Generic[F, R]):
    """Rules asked in the order they were added.

    Not locked itself: its owner already serialises requests and rule changes
    under its own lock, together with what it records.
    """

    def __init__(self) -> None:
        self._rules: list[Rule[F, R]] = []

    def add(self, rule: Rule[F, R]) -> None:
        self._rules.append(rule)

    def clear(self) -> None:
        self._rules.clear()

    def decide(self, request: R) -> Optional[F]:
        """The first answering rule's fault for ``request``, or None."""
        for rule in self._rules:
            fault = rule.decide(request)
            if isinstance(fault, Pass):
                return None
            if fault is not None:
                return fault
        return None
