"""API calls under network faults: typed errors, the retry policy, no leaked connections.

A real HTTP server on 127.0.0.1 answers like LILT; the fault proxy sits in
front of it. Every client made here is checked at teardown to have no
connection still checked out of its pool, whatever failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest
import urllib3
import urllib3.util.connection
from faults.helpers import Readable, Totals
from urllib3.exceptions import MaxRetryError, ProtocolError

import lilt
from lilt.exceptions import (
    ApiConnectionError,
    ApiException,
    ApiTimeoutError,
    NotFoundException,
    RateLimitError,
    ServiceException,
)
from lilt.testing.proxy import Fault, FaultProxy
from support.http_server import Reply, Seen, Upstream, closed_port

KEY = "k3y-Secret-0123456789"
#: the default policy's shape with millisecond waits, so the tests stay fast
FAST = lilt.RetryPolicy(
    attempts=4, backoff_base=0.01, backoff_cap=0.02, statuses=frozenset({429, 502, 503, 504})
)
UPLOAD = {"id": 7, "filename": "a.txt", "status": "uploaded", "created_at": "2026-01-02T03:04:05Z"}
STARTED = {"uploadId": "U1", "key": "uploads/a.bin"}
BODY = lilt.InitiateMultipartUploadBody(filename="a.bin", type="application/octet-stream")


def lilt_like(seen: Seen) -> Reply:
    if seen.method == "GET" and seen.path.startswith("/v2/upload/"):
        return Reply(body=UPLOAD, headers={"x-request-id": "req-ok"})
    if seen.method == "POST" and seen.path == "/v2/upload/s3/multipart":
        return Reply(body=STARTED)
    return Reply(status=404, body={"message": "no such route"})


@pytest.fixture(autouse=True)
def key_is_a_secret(seen: Readable) -> None:
    """The secret scan checks that KEY was never logged or shown in an error."""
    seen.secret(KEY)


@pytest.fixture
def server() -> Iterator[Upstream]:
    with Upstream(lilt_like) as running:
        yield running


@pytest.fixture
def proxy(server: Upstream, totals: Totals) -> Iterator[FaultProxy]:
    with FaultProxy(server.address, max_stall=10) as running:
        yield running
        totals.add_faults({f"core:{k}": v for k, v in running.counts.items()})
        assert running.errors == []


MakeApi = Callable[..., lilt.UploadsApi]


def checked_out(client: lilt.ApiClient) -> int:
    """Connections taken from the client's pools and not returned."""
    pools = client.rest_client.pool_manager.pools
    with pools.lock:
        live = [p for p in pools._container.values() if p.pool is not None]
    return sum(p.pool.maxsize - p.pool.qsize() for p in live)


@pytest.fixture
def make_api(proxy: FaultProxy) -> Iterator[MakeApi]:
    clients: list[lilt.ApiClient] = []

    def make(**config: Any) -> lilt.UploadsApi:
        config.setdefault("host", proxy.url)
        config.setdefault("retries", FAST)
        config.setdefault("api_key", {"ApiKeyAuth": KEY})
        client = lilt.ApiClient(lilt.Configuration(**config))
        clients.append(client)
        return lilt.UploadsApi(client)

    yield make
    try:
        assert [checked_out(c) for c in clients] == [0] * len(clients), "leaked connections"
    finally:
        for client in clients:
            client.close()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection urllib3 attempts, refused or not."""
    seen: list[tuple[str, int]] = []
    original = urllib3.util.connection.create_connection

    def counting(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        seen.append(address)
        return original(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    return seen


# -- refused connections --------------------------------------------------------


def test_refused_connection_is_api_connection_error_and_urllib3_max_retry_error(
    connects: list[tuple[str, int]],
) -> None:
    port = closed_port()
    with lilt.ApiClient(
        lilt.Configuration(host=f"http://127.0.0.1:{port}", api_key={"ApiKeyAuth": KEY})
    ) as client:
        api = lilt.UploadsApi(client)
        # A POST too: nothing was sent, so the default policy retries it.
        with pytest.raises(ApiConnectionError) as caught:
            api.initiate_multipart_upload(BODY)
        assert checked_out(client) == 0
    error = caught.value
    assert isinstance(error, MaxRetryError) and isinstance(error, ApiException)
    assert not isinstance(error, ApiTimeoutError)
    assert error.status == 0
    assert "Connection refused" in str(error)
    assert KEY not in str(error) and KEY not in repr(error) and KEY not in str(error.__cause__)
    assert len(connects) == 4  # the default policy: 4 attempts


def test_retries_zero_makes_one_attempt(connects: list[tuple[str, int]]) -> None:
    config = lilt.Configuration(host=f"http://127.0.0.1:{closed_port()}", retries=0)
    with lilt.ApiClient(config) as client, pytest.raises(ApiConnectionError):
        lilt.UploadsApi(client).get_upload_by_id(1)
    assert len(connects) == 1


def test_refused_once_then_served(make_api: MakeApi, proxy: FaultProxy, server: Upstream) -> None:
    # A reset at accept time may surface while connecting (retried for any
    # method) or on the first read (retried for GET): GET recovers either way.
    proxy.refuse_connections(1)
    assert make_api().get_upload_by_id(7).id == 7
    assert len(server.seen) == 1


# -- the request never reached the server, or its answer got lost ---------------


@pytest.mark.parametrize(
    "fault", [Fault.refuse(), Fault.reset_before_body(), Fault.reset_mid_body(after=10)]
)
def test_post_cut_while_sending_is_a_connection_error_and_never_processed(
    make_api: MakeApi, proxy: FaultProxy, server: Upstream, fault: Fault
) -> None:
    proxy.inject(fault, method="POST")
    with pytest.raises(ApiConnectionError) as caught:
        make_api().initiate_multipart_upload(BODY)
    assert isinstance(caught.value, ProtocolError)
    assert server.seen == []
    assert sum(proxy.counts.values()) == 1


def test_post_whose_answer_was_lost_is_not_sent_again(
    make_api: MakeApi, proxy: FaultProxy, server: Upstream
) -> None:
    proxy.inject(Fault.drop_response(), method="POST")
    with pytest.raises(ApiConnectionError):
        make_api().initiate_multipart_upload(BODY)
    # processed once; a retry would have started a second upload
    assert [s.method for s in server.seen] == ["POST"]


@pytest.mark.parametrize("fault", [Fault.refuse(), Fault.drop_response()])
def test_get_cut_before_the_response_is_retried(
    make_api: MakeApi, proxy: FaultProxy, fault: Fault
) -> None:
    proxy.inject(fault, times=2)
    assert make_api().get_upload_by_id(7).filename == "a.txt"
    assert proxy.counts[fault.kind.value] == 2


def test_get_cut_every_time_gives_up_after_the_attempts(
    make_api: MakeApi, proxy: FaultProxy, server: Upstream
) -> None:
    proxy.inject(Fault.drop_response(), times=100)
    with pytest.raises(ApiConnectionError):
        make_api().get_upload_by_id(7)
    assert len(server.seen) == 4


# -- broken response bodies --------------------------------------------------------


def test_truncated_body_is_a_connection_error(make_api: MakeApi, proxy: FaultProxy) -> None:
    proxy.inject(Fault.truncate(after=5))
    with pytest.raises(ApiConnectionError):
        make_api().get_upload_by_id(7)


def test_reset_mid_response_is_a_connection_error(make_api: MakeApi, proxy: FaultProxy) -> None:
    proxy.inject(Fault.reset_response(after=5))
    with pytest.raises(ApiConnectionError):
        make_api().get_upload_by_id(7)


def test_stall_mid_body_is_a_timeout(make_api: MakeApi, proxy: FaultProxy) -> None:
    proxy.inject(Fault.stall(10, after=5))
    with pytest.raises(ApiTimeoutError):
        make_api().get_upload_by_id(7, _request_timeout=0.3)


def test_slow_drip_within_the_timeout_is_fine(make_api: MakeApi, proxy: FaultProxy) -> None:
    proxy.inject(Fault.drip(chunk=8, interval=0.001, seconds=5))
    assert make_api().get_upload_by_id(7).id == 7
    assert proxy.counts["drip"] == 1


# -- stalls and timeouts ------------------------------------------------------------


def test_stalled_post_times_out_with_the_call_timeout_and_is_not_retried(
    make_api: MakeApi, proxy: FaultProxy, server: Upstream
) -> None:
    proxy.inject(Fault.stall(10), method="POST")
    with pytest.raises(ApiTimeoutError) as caught:
        make_api().initiate_multipart_upload(BODY, _request_timeout=0.3)
    error = caught.value
    assert isinstance(error, urllib3.exceptions.ReadTimeoutError)
    assert isinstance(error, ApiConnectionError)
    assert len(server.seen) == 1


def test_stalled_get_is_retried_and_then_served(
    make_api: MakeApi, proxy: FaultProxy, server: Upstream
) -> None:
    proxy.inject(Fault.stall(10))
    assert make_api().get_upload_by_id(7, _request_timeout=(5, 0.3)).id == 7
    assert len(server.seen) == 2


def test_get_stalled_every_time_is_a_timeout(
    make_api: MakeApi, proxy: FaultProxy, server: Upstream
) -> None:
    proxy.inject(Fault.stall(10), times=100)
    with pytest.raises(ApiTimeoutError):
        # a (connect, read) pair bounds each attempt; a number would bound the whole call
        make_api().get_upload_by_id(7, _request_timeout=(5, 0.2))
    assert len(server.seen) == 4


def test_configuration_timeout_applies(make_api: MakeApi, proxy: FaultProxy) -> None:
    proxy.inject(Fault.stall(10), times=100)
    api = make_api(retries=0)
    api.api_client.configuration.timeout = (5, 0.2)  # read at every call
    with pytest.raises(ApiTimeoutError):
        api.get_upload_by_id(7)


def test_the_time_budget_ends_retrying_before_the_attempts_run_out(
    make_api: MakeApi, proxy: FaultProxy, server: Upstream
) -> None:
    # Every attempt takes at least its 0.2 s read timeout, so 50 attempts
    # would need 10 s; the 0.5 s budget stops the retries long before.
    policy = lilt.RetryPolicy(attempts=50, backoff_base=0.01, backoff_cap=0.01, budget=0.5)
    proxy.inject(Fault.stall(10), times=100)
    with pytest.raises(ApiTimeoutError):
        make_api(retries=policy).get_upload_by_id(7, _request_timeout=(5, 0.2))
    assert 2 <= len(server.seen) <= 10


# -- statuses: 429, 5xx ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{"Retry-After": "0.01"}, {"X-RateLimit-Reset": "0.01"}, {}],
    ids=["retry-after", "x-ratelimit-reset", "no-hint"],
)
def test_429_is_retried_for_get_and_post(
    make_api: MakeApi, server: Upstream, headers: dict[str, str]
) -> None:
    api = make_api()
    server.queue(Reply(status=429, headers=headers, body={"message": "slow down"}))
    assert api.get_upload_by_id(7).id == 7
    server.queue(Reply(status=429, headers=headers, body={"message": "slow down"}))
    assert api.initiate_multipart_upload(BODY).upload_id == "U1"
    assert [s.method for s in server.seen] == ["GET", "GET", "POST", "POST"]


def test_429_exhausted_is_rate_limit_error_with_the_hint(
    make_api: MakeApi, server: Upstream
) -> None:
    hint = {"Retry-After": "0.01", "X-RateLimit-Reset": "0.02", "x-request-id": "req-429"}
    server.queue(*[Reply(status=429, headers=hint, body={"message": "quota"})] * 4)
    with pytest.raises(RateLimitError) as caught:
        make_api().initiate_multipart_upload(BODY)
    error = caught.value
    assert error.status == 429
    assert error.retry_after == pytest.approx(0.02)  # the larger of the two hints
    assert error.message == "quota"
    assert error.request_id == "req-429"
    assert len(server.seen) == 4


def test_429_asking_for_a_long_wait_is_reported_at_once(
    make_api: MakeApi, server: Upstream
) -> None:
    server.queue(Reply(status=429, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimitError) as caught:
        make_api().get_upload_by_id(7)
    assert caught.value.retry_after == 3600
    assert len(server.seen) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_for_get(
    make_api: MakeApi, server: Upstream, status: int
) -> None:
    server.queue(
        Reply(status=status, body="<html>bad gateway</html>", headers={"Content-Type": "text/html"})
    )
    assert make_api().get_upload_by_id(7).id == 7
    assert len(server.seen) == 2


def test_gateway_errors_from_the_proxy_are_retried_for_get(
    make_api: MakeApi, proxy: FaultProxy, server: Upstream
) -> None:
    proxy.script(Fault.http_error(502), Fault.http_error(503), Fault.http_error(504))
    assert make_api().get_upload_by_id(7).id == 7
    assert len(server.seen) == 1
    assert proxy.counts["http_error"] == 3


def test_post_is_not_retried_on_503(make_api: MakeApi, server: Upstream) -> None:
    server.queue(Reply(status=503, body={"message": "down"}, headers={"x-request-id": "r-503"}))
    with pytest.raises(ServiceException) as caught:
        make_api().initiate_multipart_upload(BODY)
    assert caught.value.status == 503
    assert caught.value.message == "down"
    assert caught.value.request_id == "r-503"
    assert len(server.seen) == 1


def test_500_is_not_retried(make_api: MakeApi, server: Upstream) -> None:
    server.queue(Reply(status=500, body={"message": "boom"}))
    with pytest.raises(ServiceException):
        make_api().get_upload_by_id(7)
    assert len(server.seen) == 1


def test_5xx_exhausted_is_service_exception(make_api: MakeApi, server: Upstream) -> None:
    server.queue(*[Reply(status=503, body={"message": "down"})] * 4)
    with pytest.raises(ServiceException):
        make_api().get_upload_by_id(7)
    assert len(server.seen) == 4


def test_retries_zero_turns_retrying_off_for_statuses(make_api: MakeApi, server: Upstream) -> None:
    api = make_api(retries=0)
    server.queue(Reply(status=503), Reply(status=429, headers={"Retry-After": "0"}))
    with pytest.raises(ServiceException):
        api.get_upload_by_id(7)
    with pytest.raises(RateLimitError):
        api.initiate_multipart_upload(BODY)
    assert len(server.seen) == 2


def test_request_id_is_surfaced(make_api: MakeApi, server: Upstream) -> None:
    server.queue(Reply(status=404, body={"message": "gone"}, headers={"X-Request-Id": "abc-1"}))
    with pytest.raises(NotFoundException) as caught:
        make_api().get_upload_by_id(7)
    assert caught.value.request_id == "abc-1"
    assert caught.value.message == "gone"


# -- many calls, random faults ----------------------------------------------------------


def test_seeded_random_faults_never_escape_as_anything_but_api_exceptions(
    make_api: MakeApi, proxy: FaultProxy, server: Upstream
) -> None:
    """Faults before the response head: every call ends in data or an ApiException."""
    menu = [
        Fault.refuse(),
        Fault.reset_before_body(),
        Fault.drop_response(),
        Fault.stall(10),
        Fault.http_error(503, body=b"<html>"),
        Fault.http_error(429, headers={"Retry-After": "0.01"}),
        Fault.http_error(502),
    ]
    proxy.randomly(seed=20260105, rate=0.35, faults=menu, limit=60)
    api = make_api()
    outcomes: dict[str, int] = {}
    for n in range(60):
        try:
            if n % 3:
                api.get_upload_by_id(7, _request_timeout=(5, 0.3))
            else:
                api.initiate_multipart_upload(BODY, _request_timeout=(5, 0.3))
            outcome = "ok"
        except ApiException as exc:
            outcome = type(exc).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("ok", 0) >= 30
    assert sum(proxy.counts.values()) > 10
