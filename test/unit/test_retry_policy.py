"""The retry policy is arithmetic on values: tested with injected randomness and clocks."""

from __future__ import annotations

import email.utils

import pytest
from urllib3.exceptions import MaxRetryError
from urllib3.response import HTTPResponse

from lilt._retry import LiltRetry, RetryPolicy, RetrySchedule, retry_after_seconds


def test_full_jitter_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(attempts=10, backoff_base=0.5, backoff_cap=3.0)
    assert [policy.backoff(n, lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.backoff(4, lambda: 0.25) == 0.75
    assert policy.backoff(4, lambda: 0.0) == 0.0


def test_wait_honours_hints_up_to_the_limit_and_stops_after_the_attempts() -> None:
    policy = RetryPolicy(attempts=3, max_retry_after=10)
    assert policy.wait(1, lambda: 1.0, hint=7.0) == 7.0
    assert policy.wait(1, lambda: 1.0, hint=11.0) is None
    assert policy.wait(3, lambda: 1.0) is None
    assert RetryPolicy.disabled().wait(1, lambda: 1.0) is None


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"backoff_base": -1}, {"budget": 0}])
def test_invalid_policies_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)  # type: ignore[arg-type]


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"x-ratelimit-reset": "60"}) == 60.0
    assert retry_after_seconds({"Retry-After": "2", "X-RateLimit-Reset": "9"}) == 9.0
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, now=1_000_000) == 30.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_urllib3_retry_retries_429_for_post_but_not_503() -> None:
    retry = RetryPolicy().to_urllib3()
    assert isinstance(retry, LiltRetry)
    assert retry.is_retry("POST", 429)
    assert not retry.is_retry("POST", 503, has_retry_after=True)
    assert retry.is_retry("GET", 503)
    assert not retry.is_retry("GET", 400)


def test_urllib3_retry_gives_up_on_a_hint_longer_than_it_waits() -> None:
    retry = RetryPolicy(max_retry_after=5).to_urllib3()
    long_wait = HTTPResponse(status=429, headers={"Retry-After": "60"})
    with pytest.raises(MaxRetryError):
        retry.increment("GET", "/v2/upload", response=long_wait)
    short_wait = HTTPResponse(status=429, headers={"Retry-After": "1"})
    assert retry.increment("GET", "/v2/upload", response=short_wait).total == retry.total - 1  # type: ignore[operator]
    assert 0.0 <= retry.new(history=()).get_backoff_time() <= 8.0


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_attempts_wait_on_the_injected_randomness_and_stop_after_the_attempts() -> None:
    policy = RetryPolicy(attempts=3, backoff_base=1.0, backoff_cap=10.0, budget=None)
    attempts = RetrySchedule(policy, random=lambda: 0.5, clock=FakeClock()).start()
    assert attempts.begin() == 1
    assert attempts.wait() == 0.5
    assert attempts.begin() == 2
    assert attempts.wait(hint=3.0) == 3.0
    assert attempts.begin() == 3
    assert attempts.wait() is None


def test_attempts_stop_when_the_wait_would_end_past_the_budget_or_the_deadline() -> None:
    clock = FakeClock(100.0)
    policy = RetryPolicy(attempts=9, backoff_base=4.0, backoff_cap=4.0, budget=10.0)
    attempts = RetrySchedule(policy, random=lambda: 1.0, clock=clock).start()
    attempts.begin()
    assert attempts.wait() == 4.0  # ends at 104, within 100 + 10
    assert attempts.wait(deadline=103.0) is None
    clock.now = 107.0
    attempts.begin()
    assert attempts.wait() is None  # would end at 111


def test_a_hint_longer_than_the_policy_waits_stops_the_attempts() -> None:
    attempts = RetrySchedule(RetryPolicy(max_retry_after=5), clock=FakeClock()).start()
    attempts.begin()
    assert attempts.wait(hint=6.0) is None


def test_urllib3_retry_jitters_with_the_injected_randomness() -> None:
    policy = RetryPolicy(attempts=5, backoff_base=1.0, backoff_cap=10.0)
    retry = policy.to_urllib3(random=lambda: 0.25)
    unavailable = HTTPResponse(status=503)
    twice = retry.increment("GET", "/v2/upload", response=unavailable).increment(
        "GET", "/v2/upload", response=unavailable
    )
    assert isinstance(retry, LiltRetry) and isinstance(twice, LiltRetry)
    # urllib3's ceiling after two consecutive errors is backoff_base * 2; the jitter takes a quarter
    assert twice.get_backoff_time() == 0.5
    assert twice.schedule is retry.schedule


def test_urllib3_retry_measures_its_budget_on_the_injected_clock() -> None:
    clock = FakeClock(1_000.0)
    retry = RetryPolicy(attempts=9, budget=5.0).to_urllib3(clock=clock)
    unavailable = HTTPResponse(status=503)
    first = retry.increment("GET", "/v2/upload", response=unavailable)
    clock.now = 1_004.0
    second = first.increment("GET", "/v2/upload", response=unavailable)
    clock.now = 1_006.0  # the budget counts from the first failure
    with pytest.raises(MaxRetryError, match="budget"):
        second.increment("GET", "/v2/upload", response=unavailable)


def test_retry_after_is_found_in_any_letter_case() -> None:
    assert retry_after_seconds({"RETRY-AFTER": "4"}) == 4.0
    assert retry_after_seconds({"x-RateLimit-reset": "5", "retry-after": "1"}) == 5.0
