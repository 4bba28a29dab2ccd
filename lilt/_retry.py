"""Retry policy: one immutable value shared by API calls and storage transfers.

The policy only answers questions (should this be retried? how long to
wait?). :class:`RetrySchedule` puts it on a source of randomness and a clock
(both injectable, so tests make waits and budgets exact) and is the one
helper every retrying caller uses: API calls through urllib3's loop
(:class:`LiltRetry`, built by :meth:`RetryPolicy.to_urllib3`), and the
managed uploader's API calls and storage PUTs through their own loops
(:class:`Attempts`). What counts as retryable stays with each caller.
"""

from __future__ import annotations

import contextlib
import email.utils
import random as _random
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Optional

from typing_extensions import Self
from urllib3 import HTTPHeaderDict
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from lilt._deadline import current as current_deadline

#: statuses that mean "not processed, try again later" for any method
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: methods whose repetition has no additional effect
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def retry_after_seconds(
    headers: Mapping[str, Any], *, now: Optional[float] = None
) -> Optional[float]:
    """The server's wait hint in seconds, or None.

    Reads ``Retry-After`` (seconds or an HTTP date) and LILT's
    ``X-RateLimit-Reset`` (seconds until the quota window resets); the larger wins.
    """
    hints: list[float] = []
    headers = headers if isinstance(headers, HTTPHeaderDict) else HTTPHeaderDict(headers)
    for name in ("Retry-After", "X-RateLimit-Reset"):
        value = headers.get(name)
        if value is None:
            continue
        text = str(value).strip()
        try:
            hints.append(max(0.0, float(text)))
            continue
        except ValueError:
            pass
        try:
            parsed = email.utils.parsedate_tz(text)
            if parsed is not None:
                moment = email.utils.mktime_tz(parsed)
                hints.append(max(0.0, moment - (time.time() if now is None else now)))
        except (ValueError, OverflowError):
            continue  # a date no clock can reach is no hint
    return max(hints) if hints else None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed request.

    ``attempts`` counts every try, the first one included. Waits grow as
    ``backoff_base * 2**n`` up to ``backoff_cap`` with full jitter, except when
    the server sends a hint (``Retry-After``/``X-RateLimit-Reset``), which is
    honoured up to ``max_retry_after``; a longer hint ends the retries at once
    rather than blocking for minutes. ``budget`` bounds the total time spent
    waiting and retrying one request (None: no bound).
    """

    attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    budget: Optional[float] = 300.0
    max_retry_after: float = 120.0
    statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("RetryPolicy backoff values must not be negative")
        if self.budget is not None and self.budget <= 0:
            raise ValueError("RetryPolicy.budget must be positive or None")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(attempts=1)

    def is_retryable_status(self, status: int) -> bool:
        return status in self.statuses

    def backoff(self, retry_number: int, random: Callable[[], float]) -> float:
        """Full-jitter wait before retry ``retry_number`` (1 for the first retry)."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** (retry_number - 1)))
        return float(ceiling * random())

    def wait(
        self, retry_number: int, random: Callable[[], float], hint: Optional[float] = None
    ) -> Optional[float]:
        """Seconds to wait before retry ``retry_number``, or None to give up.

        ``hint`` is the server's Retry-After; it replaces the computed backoff.
        """
        if retry_number >= self.attempts:
            return None
        if hint is not None:
            return hint if hint <= self.max_retry_after else None
        return self.backoff(retry_number, random)

    def to_urllib3(
        self,
        *,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> Retry:
        """The equivalent urllib3 ``Retry`` for API calls made through :mod:`lilt.rest`.

        POST is retried only where the request provably was not processed: a
        failed connection (nothing was sent) or a 429 (refused by the rate limiter).
        ``random`` jitters its waits and ``clock`` measures its budget.
        """
        return LiltRetry(
            total=self.attempts - 1,
            connect=self.attempts - 1,
            read=self.attempts - 1,
            status=self.attempts - 1,
            other=0,
            redirect=5,
            allowed_methods=IDEMPOTENT_METHODS,
            status_forcelist=self.statuses,
            backoff_factor=self.backoff_base,
            backoff_max=self.backoff_cap,
            backoff_jitter=0.0,
            raise_on_status=False,
            raise_on_redirect=False,
            respect_retry_after_header=True,
            schedule=RetrySchedule(self, random, clock),
        )


@dataclass(frozen=True)
class RetrySchedule:
    """A :class:`RetryPolicy` on a source of randomness and a clock: when to try again.

    ``random`` returns a float in [0, 1) for the full jitter; ``clock`` is
    monotonic seconds, for the policy's budget and for deadlines.
    """

    policy: RetryPolicy
    random: Callable[[], float] = _random.random
    clock: Callable[[], float] = time.monotonic

    def start(self) -> Attempts:
        """The attempts of one call, its budget counted from now."""
        return Attempts(self, self.clock())

    def jittered(self, ceiling: float) -> float:
        """A full-jitter wait of at most ``ceiling`` seconds."""
        return ceiling * self.random()

    def out_of_budget(self, started: float, when: float) -> bool:
        """True when ``when`` is past the budget of retrying that began at ``started``."""
        budget = self.policy.budget
        return budget is not None and when - started > budget


@dataclass
class Attempts:
    """The attempts of one call under a :class:`RetrySchedule`, for a caller's own loop.

    Call :meth:`begin` before each attempt and, after a retryable failure,
    :meth:`wait` for how long to sleep before the next one (None: give up).
    """

    schedule: RetrySchedule
    started: float
    made: int = 0

    def begin(self) -> int:
        """Count the attempt about to be made; return its number (1 for the first)."""
        self.made += 1
        return self.made

    def wait(
        self, hint: Optional[float] = None, *, deadline: Optional[float] = None
    ) -> Optional[float]:
        """Seconds to wait before the next attempt, or None to stop.

        Stops when the policy's attempts are used up, the server's ``hint``
        is longer than the policy waits, or the wait would end past the
        budget or ``deadline`` (a ``clock`` value).
        """
        schedule = self.schedule
        delay = schedule.policy.wait(self.made, schedule.random, hint)
        if delay is None:
            return None
        when = schedule.clock() + delay
        if schedule.out_of_budget(self.started, when):
            return None
        return None if deadline is not None and when > deadline else delay


class LiltRetry(Retry):
    """urllib3 ``Retry`` that also reads ``X-RateLimit-Reset``, jitters fully and caps hints.

    urllib3 counts the attempts and computes the backoff's ceiling; the
    :class:`RetrySchedule` supplies the jitter, the clock, the budget and the
    longest hint worth waiting for (its policy's ``max_retry_after``).
    A 429 is retried for every method (the server refused it before doing any work).
    A longer hint stops retrying so the caller sees the
    :class:`~lilt.exceptions.RateLimitError` and its ``retry_after`` at once;
    so does a wait that would end after the call's deadline (:mod:`lilt._deadline`).
    """

    RETRY_AFTER_STATUS_CODES = frozenset({413, 429, 503})

    def __init__(
        self,
        *args: Any,
        schedule: Optional[RetrySchedule] = None,
        started: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        # Not urllib3's own ``retry_after_max`` (2.7+ only, and it clamps the
        # wait where we want to stop waiting and report).
        self.schedule = schedule if schedule is not None else _UNBUDGETED
        self.started = started
        super().__init__(*args, **kwargs)

    def new(self, **kw: Any) -> Self:
        kw.setdefault("schedule", self.schedule)
        kw.setdefault("started", self.started)
        return super().new(**kw)

    def get_retry_after(self, response: Any) -> Optional[float]:
        return retry_after_seconds(response.headers)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 and self.total:
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def get_backoff_time(self) -> float:
        return self.schedule.jittered(super().get_backoff_time())

    def _longest_wait(self, response: Any) -> float:
        """The most :meth:`sleep` may wait before the next attempt."""
        if response is not None and self.respect_retry_after_header:
            hint = self.get_retry_after(response)
            if hint:
                return hint
        return super().get_backoff_time()  # the jitter's ceiling

    def increment(
        self,
        method: Optional[str] = None,
        url: Optional[str] = None,
        response: Any = None,
        error: Optional[Exception] = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Self:
        now = self.schedule.clock()
        if self.started is not None and self.schedule.out_of_budget(self.started, now):
            raise MaxRetryError(_pool, url, error or ResponseError("retry time budget spent"))
        if response is not None and response.status in self.RETRY_AFTER_STATUS_CODES:
            hint = self.get_retry_after(response)
            if hint is not None and hint > self.schedule.policy.max_retry_after:
                # Too long to wait inside one call: hand the response to the caller.
                reason = ResponseError(f"server asks to wait {hint:.0f} s")
                raise MaxRetryError(_pool, url, reason)
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        deadline = current_deadline()
        if deadline is not None and new._longest_wait(response) >= deadline.remaining():
            # No time for the wait and another attempt: report the last outcome now.
            last: Exception = error or ResponseError("no time left before the deadline")
            raise MaxRetryError(_pool, url, last)
        if new.started is None:
            # The clock starts at the first failure: retrying stops once the
            # budget is spent after it.
            new.started = now
        return new


#: what a LiltRetry made without a schedule goes by: urllib3's counts, no time budget
_UNBUDGETED = RetrySchedule(RetryPolicy(budget=None))


# -- one retry layer ------------------------------------------------------------

_CALLER_RETRIES: ContextVar[bool] = ContextVar("lilt_caller_retries", default=False)


@contextlib.contextmanager
def caller_retries() -> Iterator[None]:
    """API calls made inside are attempted once by the transport: the caller retries them.

    The managed uploader retries its own API calls (it knows which are safe
    to repeat); without this the transport's retries would multiply with
    its, and one call against a refused port would be tried attempts**2 times.
    """
    token = _CALLER_RETRIES.set(True)
    try:
        yield
    finally:
        _CALLER_RETRIES.reset(token)


def transport_retries(configured: Any) -> Optional[Retry]:
    """The urllib3 ``Retry`` for one API request: None for ``configured`` (the pool's),
    or, inside :func:`caller_retries`, one that makes a single attempt and follows
    redirects as ``configured`` does."""
    if not _CALLER_RETRIES.get():
        return None
    base = configured if isinstance(configured, Retry) else Retry.from_int(configured)
    redirect = base.redirect if base.redirect is not None else 5
    return base.new(total=None, connect=0, read=0, status=0, other=0, redirect=redirect)
