"""Error statuses, undecodable bodies, retries, timeouts and the pool, on real sockets."""

from __future__ import annotations

import logging
import socket
from typing import Callable

import pytest
import urllib3

import lilt
from lilt import exceptions as exc
from lilt.configuration import Configuration
from support.recording_server import RecordingServer, Reply

MakeApi = Callable[..., lilt.UploadsApi]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, exc.BadRequestException),
        (401, exc.UnauthorizedException),
        (403, exc.ForbiddenException),
        (404, exc.NotFoundException),
        (409, exc.ConflictException),
        (418, exc.ApiException),
        (422, exc.UnprocessableEntityException),
        (429, exc.RateLimitError),
        (500, exc.ServiceException),
        (502, exc.ServiceException),
        (599, exc.ServiceException),
    ],
)
def test_error_statuses_map_to_their_classes_with_the_error_body_parsed(
    server: RecordingServer, make_api: MakeApi, status: int, cls: type[exc.ApiException]
) -> None:
    server.queue(Reply(status, {"message": "boom"}, {"X-Request-Id": "req-42"}))
    with pytest.raises(cls) as caught:
        make_api(retries=0).get_upload_by_id(1)
    error = caught.value
    assert type(error) is cls
    assert error.status == status
    assert error.body == '{"message": "boom"}'
    assert error.data is None
    assert error.message == "boom"
    assert isinstance(error.error, lilt.Error)
    assert error.request_id == "req-42"
    assert str(error).startswith(f"({status})\nReason: ")
    assert 'HTTP response body: {"message": "boom"}' in str(error)


def test_rate_limit_error_carries_the_wait_hint(server: RecordingServer, make_api: MakeApi) -> None:
    server.queue(Reply(429, {"message": "slow down"}, {"X-RateLimit-Reset": "600"}))
    with pytest.raises(exc.RateLimitError) as caught:
        make_api().get_upload_by_id(1)
    assert caught.value.retry_after == 600.0
    assert len(server.seen) == 1  # longer than the policy waits: reported at once


def test_non_utf8_error_body_is_kept_with_replacement(
    server: RecordingServer, make_api: MakeApi
) -> None:
    """Defect 19: the generated client left body None."""
    server.queue(Reply(400, b"bad \xff\xfe bytes", {"Content-Type": "text/plain"}))
    with pytest.raises(exc.BadRequestException) as caught:
        make_api().get_upload_by_id(1)
    assert caught.value.body == "bad \ufffd\ufffd bytes"
    assert caught.value.error is None


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (Reply(200, b"<html>oops</html>", {"Content-Type": "text/html"}), "HTML"),
        (Reply(200, b"{not json", {}), "invalid JSON"),
        (Reply(200, {"url": 5, "method": "PUT"}), "wrong JSON type"),
        (Reply(200, [{"url": "u"}]), "list instead of object"),
        (Reply(200, b"\xff\xfe\x00", {}), "non-UTF-8 bytes"),
        (Reply(200, b"abc", {"Content-Type": "application/octet-stream"}), "octet-stream"),
    ],
)
def test_undecodable_success_bodies_raise_a_typed_error_with_everything_kept(
    server: RecordingServer, make_api: MakeApi, reply: Reply, why: str
) -> None:
    """Defect 18: the generated client let ValidationError/JSONDecodeError escape bare."""
    server.queue(reply)
    with pytest.raises(exc.ResponseDecodeError) as caught:
        make_api().sign_upload_part("U", 1, "k", 5)
    error = caught.value
    assert isinstance(error, exc.ApiException) and isinstance(error, ValueError), why
    assert error.status == 200
    assert error.headers is not None
    assert error.body == reply.payload().decode("utf-8", errors="replace")
    assert error.__cause__ is not None


def test_a_single_object_where_a_list_is_declared_is_a_decode_error(
    server: RecordingServer, make_api: MakeApi
) -> None:
    """Defect 5: the generated client iterated the dict's keys."""
    server.queue(Reply(200, {"id": 1, "status": "pending"}))
    with pytest.raises(exc.ResponseDecodeError):
        make_api().get_pending_uploads()


@pytest.mark.parametrize("status", [201, 202])
def test_any_2xx_is_decoded_with_the_success_type(
    server: RecordingServer, make_api: MakeApi, status: int
) -> None:
    """Defect 4: the generated client returned None for 2xx other than 200."""
    server.queue(Reply(status, {"success": True, "message": "gone"}))
    result = make_api().cancel_multipart_upload("U", "k")
    assert result.message == "gone"


def test_204_or_empty_body_decodes_to_none(server: RecordingServer, make_api: MakeApi) -> None:
    server.queue(Reply(204, b""), Reply(200, b""))
    api = make_api()
    assert api.cancel_multipart_upload("U", "k") is None
    info = api.cancel_multipart_upload_with_http_info("U", "k")
    assert info.data is None and info.raw_data == b"" and info.status_code == 200


def test_with_http_info_keeps_case_insensitive_headers(
    server: RecordingServer, make_api: MakeApi
) -> None:
    server.queue(Reply(200, {"url": "u", "method": "PUT"}, {"X-Thing": "1"}))
    info = make_api().sign_upload_part_with_http_info("U", 1, "k", 1)
    assert info.headers is not None and info.headers["x-thing"] == "1"
    assert info.raw_data == b'{"url": "u", "method": "PUT"}'


def test_without_preload_content_returns_error_responses_unread(
    server: RecordingServer, make_api: MakeApi
) -> None:
    server.queue(Reply(404, {"message": "nope"}))
    raw = make_api().get_upload_by_id_without_preload_content(1)
    assert raw.status == 404
    assert raw.read() == b'{"message": "nope"}'
    raw.release_conn()


def test_idempotent_calls_are_retried_on_503_and_post_is_not(
    server: RecordingServer, make_api: MakeApi
) -> None:
    api = make_api()
    server.queue(Reply(503, {"message": "busy"}, {"Retry-After": "0"}), Reply(200, {"id": 3}))
    assert api.get_upload_by_id(3).id == 3
    assert len(server.seen) == 2
    server.queue(Reply(503, {"message": "busy"}, {"Retry-After": "0"}))
    with pytest.raises(exc.ServiceException):
        api.initiate_s3_upload({"filename": "a", "type": "b"})  # type: ignore[arg-type]
    assert len(server.seen) == 3


def test_post_is_retried_on_429(server: RecordingServer, make_api: MakeApi) -> None:
    server.queue(Reply(429, {"message": "later"}, {"Retry-After": "0"}))
    assert make_api().initiate_multipart_upload({"filename": "a", "type": "b"}).upload_id == "U1"  # type: ignore[union-attr]
    assert [r.method for r in server.seen] == ["POST", "POST"]


def test_retries_can_be_switched_off(server: RecordingServer, make_api: MakeApi) -> None:
    server.queue(Reply(503, {"message": "busy"}, {"Retry-After": "0"}))
    with pytest.raises(exc.ServiceException):
        make_api(retries=0).get_upload_by_id(1)
    assert len(server.seen) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_an_api_exception_and_still_a_urllib3_error() -> None:
    """Defect 20: connection errors escaped as raw urllib3 exceptions."""
    config = Configuration(
        host=f"http://127.0.0.1:{_closed_port()}", api_key={"ApiKeyAuth": "TOPSECRET"}
    )
    config.retries = 1
    with lilt.ApiClient(config) as client, pytest.raises(exc.ApiConnectionError) as caught:
        lilt.UploadsApi(client).get_pending_uploads()
    error = caught.value
    assert not isinstance(error, exc.ApiTimeoutError)
    assert isinstance(error, lilt.ApiException)
    assert isinstance(error, urllib3.exceptions.MaxRetryError)
    assert error.status == 0
    assert "TOPSECRET" not in str(error) and "TOPSECRET" not in repr(error)
    assert "TOPSECRET" not in str(error.__cause__)


def test_the_default_timeout_applies_when_the_call_sets_none(
    server: RecordingServer, make_api: MakeApi
) -> None:
    """Defect 24: without _request_timeout the generated client waited forever."""
    api = make_api(retries=0)
    api.api_client.configuration.timeout = urllib3.Timeout(connect=1.0, read=0.2)
    server.queue(Reply(200, {"id": 1}, delay=1.0))
    with pytest.raises(exc.ApiTimeoutError) as caught:
        api.get_upload_by_id(1)
    assert isinstance(caught.value, urllib3.exceptions.ReadTimeoutError)


@pytest.mark.parametrize("later", [(1.0, 0.2), [1.0, 0.2], 0.2])
def test_a_timeout_changed_between_calls_applies_to_the_next(
    server: RecordingServer, make_api: MakeApi, later: object
) -> None:
    api = make_api(retries=0)
    assert api.get_upload_by_id(1).id == 1  # with the configuration's first timeout
    api.api_client.configuration.timeout = later
    server.queue(Reply(200, {"id": 1}, delay=1.0))
    with pytest.raises(exc.ApiTimeoutError):
        api.get_upload_by_id(1)
    if isinstance(later, list):  # changed in place: still seen
        later[1] = 5.0
        server.queue(Reply(200, {"id": 2, "filename": "b", "status": "pending"}, delay=0.5))
        assert api.get_upload_by_id(2).id == 2


def test_per_call_timeout_wins(server: RecordingServer, make_api: MakeApi) -> None:
    server.queue(Reply(200, {"id": 1}, delay=1.0))
    with pytest.raises(exc.ApiTimeoutError):
        make_api(retries=0).get_upload_by_id(1, _request_timeout=(1.0, 0.2))


def test_close_releases_pooled_connections(server: RecordingServer) -> None:
    """Defect 13: __exit__ did nothing and close() did not exist."""
    with lilt.ApiClient(Configuration(host=server.url)) as client:
        lilt.UploadsApi(client).get_upload_by_id(1)
        pools = client.rest_client.pool_manager.pools
        assert len(pools) == 1
    assert len(pools) == 0


def test_connections_are_reused_and_returned_after_errors(
    server: RecordingServer, make_api: MakeApi
) -> None:
    api = make_api(retries=0)
    server.queue(Reply(500, {"message": "x"}), Reply(400, {"message": "y"}))
    for _ in range(2):
        with pytest.raises(exc.ApiException):
            api.get_upload_by_id(1)
    api.get_upload_by_id(1)
    pool = api.api_client.rest_client.pool_manager.connection_from_url(server.url)
    assert pool.num_connections == 1
    assert pool.pool is not None and pool.pool.qsize() == pool.pool.maxsize


def test_request_log_line_is_redacted(
    server: RecordingServer, make_api: MakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect 15: the key appeared in the urllib3 DEBUG line and in messages."""
    caplog.set_level(logging.DEBUG)
    make_api(api_key={"ApiKeyAuth": "TOPSECRETKEY"}).get_pending_uploads(ids="1")
    lines = [r.getMessage() for r in caplog.records if r.name == "lilt.rest"]
    assert lines == [lines[0]]
    assert lines[0].startswith("GET /v2/upload -> 200")
    assert all("TOPSECRETKEY" not in r.getMessage() for r in caplog.records)


def test_retry_budget_bounds_the_time_spent_retrying(
    server: RecordingServer, make_api: MakeApi
) -> None:
    policy = lilt.RetryPolicy(attempts=50, backoff_base=0.05, backoff_cap=0.05, budget=0.3)
    server.queue(*[Reply(503, {"message": "busy"}) for _ in range(50)])
    with pytest.raises(exc.ServiceException):
        make_api(retries=policy).get_upload_by_id(1)
    assert 2 <= len(server.seen) < 50


def test_a_users_urllib3_retry_still_raises_the_status_class(
    server: RecordingServer, make_api: MakeApi
) -> None:
    server.queue(*[Reply(503, {"message": "busy"}) for _ in range(3)])
    retry = urllib3.Retry(total=2, status_forcelist=[503], backoff_factor=0)
    with pytest.raises(exc.ServiceException) as caught:
        make_api(retries=retry).get_upload_by_id(1)
    assert caught.value.status == 503 and len(server.seen) == 3


def test_response_headers_in_messages_are_redacted(
    server: RecordingServer, make_api: MakeApi
) -> None:
    server.queue(Reply(400, {"message": "no"}, {"Set-Cookie": "session=SESSIONSECRET123"}))
    with pytest.raises(exc.BadRequestException) as caught:
        make_api().get_upload_by_id(1)
    assert "SESSIONSECRET123" not in str(caught.value)
    assert caught.value.headers["Set-Cookie"] == "session=SESSIONSECRET123"
