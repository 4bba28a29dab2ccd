"""Retry policy: one immutable value shared by API calls and storage transfers.

The policy only answers questions (should this be retried? how long to
wait?); the loops that act on it live in :mod:`lilt.rest` (through urllib3's
``Retry``, built by :meth:`RetryPolicy.to_urllib3`) and in the managed
uploader. Randomness comes in as an argument so the arithmetic is testable.
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
    for name in ("Retry-After", "X-RateLimit-Reset"):
        value = headers.get(name) or headers.get(name.lower())
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

    def to_urllib3(self) -> Retry:
        """The equivalent urllib3 ``Retry`` for API calls made through :mod:`lilt.rest`.

        POST is retried only where the request provably was not processed: a
        failed connection (nothing was sent) or a 429 (refused by the rate limiter).
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
            longest_wait=self.max_retry_after,
            budget=self.budget,
        )


class LiltRetry(Retry):
    """urllib3 ``Retry`` that also reads ``X-RateLimit-Reset``, jitters fully and caps hints.

    A 429 is retried for every method (the server refused it before doing any work).
    A hint longer than ``longest_wait`` stops retrying so the caller sees the
    :class:`~lilt.exceptions.RateLimitError` and its ``retry_after`` at once;
    so does a wait that would end after the call's deadline (:mod:`lilt._deadline`).
    """

    RETRY_AFTER_STATUS_CODES = frozenset({413, 429, 503})

    def __init__(
        self,
        *args: Any,
        longest_wait: float = 120.0,
        budget: Optional[float] = None,
        started: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        # Not urllib3's own ``retry_after_max`` (2.7+ only, and it clamps the
        # wait where we want to stop waiting and report).
        self.longest_wait = longest_wait
        self.budget = budget
        self.started = started
        super().__init__(*args, **kwargs)

    def new(self, **kw: Any) -> Self:
        kw.setdefault("longest_wait", self.longest_wait)
        kw.setdefault("budget", self.budget)
        kw.setdefault("started", self.started)
        return super().new(**kw)

    def get_retry_after(self, response: Any) -> Optional[float]:
        return retry_after_seconds(response.headers)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 and self.total:
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def get_backoff_time(self) -> float:
        return super().get_backoff_time() * _random.random()

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
        now = time.monotonic()
        spent = now - self.started if self.started is not None else 0.0
        if self.budget is not None and spent > self.budget:
            raise MaxRetryError(_pool, url, error or ResponseError("retry time budget spent"))
        if response is not None and response.status in self.RETRY_AFTER_STATUS_CODES:
            hint = self.get_retry_after(response)
            if hint is not None and hint > self.longest_wait:
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
