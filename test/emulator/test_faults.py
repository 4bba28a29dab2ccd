"""API fault knobs: what is injected, where, how often; the plan alone and over HTTP."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from emulator.conftest import Api

from lilt.testing import ApiFault, Emulator, FaultPlan, S3Endpoint

# -- the plan, without HTTP ------------------------------------------------------------------

E500, E503 = ApiFault.server_error(500), ApiFault.server_error(503)


def test_inject_counts_skips_and_stops() -> None:
    plan = FaultPlan()
    plan.inject(E503, times=2, skip=1)
    assert [plan.decide("list") for _ in range(5)] == [None, E503, E503, None, None]
    assert plan.counts == {"server_error": 2}
    assert [i.request for i in plan.injected] == [1, 2]


def test_script_runs_in_order_and_none_passes_without_asking_later_rules() -> None:
    plan = FaultPlan()
    plan.script(E500, None, E503)
    plan.inject(ApiFault.slow(0.1), times=10)
    decided = [plan.decide("sign") for _ in range(4)]
    assert decided == [E500, None, E503, ApiFault.slow(0.1)]


def test_rules_apply_to_their_operations_only() -> None:
    plan = FaultPlan()
    plan.inject(E500, times=5, operation="complete")
    plan.inject(E503, times=5, operation=["sign_upload_part", "cancel"])  # SDK names work too
    assert plan.decide("list") is None
    assert plan.decide("sign") is E503
    assert plan.decide("complete") is E500
    assert plan.decide("cancel") is E503
    assert {i.operation for i in plan.injected} == {"sign", "complete", "cancel"}
    with pytest.raises(ValueError, match="unknown operation"):
        plan.inject(E500, operation="upload")


def test_random_rule_is_deterministic_and_bounded() -> None:
    def run() -> list[object]:
        plan = FaultPlan()
        plan.randomly(seed=42, rate=0.3, faults=[E500, E503], limit=4)
        return [plan.decide("sign") for _ in range(100)]

    first = run()
    assert first == run()
    assert sum(f is not None for f in first) == 4
    assert {f for f in first if f is not None} <= {E500, E503}
    with pytest.raises(ValueError):
        FaultPlan().randomly(seed=1, rate=1.5, faults=[E500], limit=1)
    with pytest.raises(ValueError):
        FaultPlan().randomly(seed=1, rate=0.5, faults=[], limit=1)


def test_plan_is_thread_safe() -> None:
    plan = FaultPlan()
    plan.inject(E500, times=500)
    start = threading.Barrier(8)

    def worker() -> int:
        start.wait()
        return sum(plan.decide("list") is not None for _ in range(200))

    with ThreadPoolExecutor(8) as pool:
        injected = sum(pool.map(lambda _: worker(), range(8)))
    assert injected == 500 == plan.counts["server_error"]
    assert sorted(i.request for i in plan.injected) == sorted(set(i.request for i in plan.injected))


def test_fault_constructors_validate() -> None:
    assert ApiFault.rate_limited(2, reset=1.5).headers == (
        ("Retry-After", "2"),
        ("X-RateLimit-Reset", "1.5"),
    )
    assert ApiFault.rate_limited(None).headers == ()
    assert ApiFault.rate_limited("Wed, 21 Oct 2015 07:28:00 GMT").headers[0][1].startswith("Wed")
    with pytest.raises(ValueError):
        ApiFault.server_error(404)
    with pytest.raises(ValueError):
        ApiFault.error(302)
    with pytest.raises(ValueError):
        ApiFault.slow(-1)


# -- over HTTP -------------------------------------------------------------------------------

pytest_storage = pytest.mark.storage


@pytest_storage
def test_rate_limited_answers_429_with_retry_after(api: Api, lilt_emulator: Emulator) -> None:
    lilt_emulator.faults.inject(ApiFault.rate_limited(retry_after=3, reset=7), operation="list")

    limited = api.call("GET", "/v2/upload")
    after = api.call("GET", "/v2/upload")

    assert limited.status == 429
    assert limited.headers["Retry-After"] == "3"
    assert limited.headers["X-RateLimit-Reset"] == "7"
    assert limited.headers["Content-Type"] == "application/json"
    assert "Too many requests" in limited.message
    assert after.status == 200
    assert [r.fault for r in lilt_emulator.requests()] == ["rate_limited", None]
    assert lilt_emulator.faults.counts == {"rate_limited": 1}


@pytest_storage
def test_server_errors_hit_only_the_named_operation(api: Api, lilt_emulator: Emulator) -> None:
    upload = api.initiate_multipart()
    lilt_emulator.faults.script(
        ApiFault.server_error(503, retry_after=1), ApiFault.server_error(), operation="sign"
    )

    other = api.call("GET", "/v2/upload")
    statuses = [api.sign(upload, 1, 10).status for _ in range(3)]

    assert other.status == 200
    assert statuses == [503, 500, 200]
    assert lilt_emulator.faults.counts == {"server_error": 2}
    # an injected error does no work: no URL was handed out, nothing changed
    assert [r.status for r in lilt_emulator.requests("sign")] == [503, 500, 200]


@pytest_storage
def test_injected_complete_failure_leaves_the_upload_completable(
    api: Api, lilt_emulator: Emulator
) -> None:
    upload = api.initiate_multipart()
    parts = api.upload_parts(upload, [b"x" * 10])
    lilt_emulator.faults.inject(ApiFault.server_error(502), operation="complete_multipart_upload")

    assert api.complete(upload, parts).status == 502
    assert api.complete(upload, parts).status == 200
    assert lilt_emulator.read_object(upload["key"]) == b"x" * 10


@pytest_storage
def test_slow_answers_arrive_late_but_complete(api: Api, lilt_emulator: Emulator) -> None:
    lilt_emulator.faults.inject(ApiFault.slow(0.3), operation="initiate")
    started = time.monotonic()
    answer = api.initiate()
    waited = time.monotonic() - started
    assert answer["method"] == "PUT"
    assert waited >= 0.3  # a lower bound only: the delay happened
    assert lilt_emulator.faults.counts == {"slow": 1}


@pytest_storage
def test_random_faults_over_http_are_bounded(api: Api, lilt_emulator: Emulator) -> None:
    lilt_emulator.faults.randomly(seed=3, rate=0.5, faults=[ApiFault.server_error(503)], limit=3)
    statuses = [api.call("GET", "/v2/upload").status for _ in range(30)]
    assert statuses.count(503) == 3 and statuses.count(200) == 27


@pytest_storage
def test_faults_spare_unauthenticated_and_unrouted_requests(
    api: Api, lilt_emulator: Emulator
) -> None:
    lilt_emulator.faults.inject(ApiFault.server_error(), times=1)
    assert api.call("GET", "/v2/upload", auth=None).status == 401
    assert api.call("GET", "/v2/nowhere").status == 404
    assert api.call("GET", "/v2/upload").status == 500
    assert lilt_emulator.faults.counts == {"server_error": 1}


@pytest_storage
def test_concurrent_requests_get_exactly_the_injected_faults(
    api: Api, lilt_emulator: Emulator
) -> None:
    lilt_emulator.faults.inject(ApiFault.rate_limited(1), times=10, operation="list")

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: api.call("GET", "/v2/upload").status, range(40)))

    assert statuses.count(429) == 10 and statuses.count(200) == 30


@pytest_storage
def test_stopping_cuts_a_long_delay_short(lilt_storage: S3Endpoint) -> None:
    emu = Emulator(lilt_storage).start()
    client = Api(emu)
    emu.faults.inject(ApiFault.slow(60))
    result: list[object] = []

    def call() -> None:
        try:
            result.append(client.call("GET", "/v2/upload").status)
        except Exception as exc:  # the connection may close first: also fine
            result.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 10
    while not emu.faults.injected and time.monotonic() < deadline:  # now waiting in the delay
        time.sleep(0.01)
    emu.stop()
    caller.join(timeout=30)
    client.close()
    assert not caller.is_alive()
    assert result == [503] or isinstance(result[0], Exception)
