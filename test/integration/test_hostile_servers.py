"""Servers that answer too much, too little or somewhere else, on real sockets.

- A body over ``Configuration.max_response_bytes`` (declared, chunked without a
  length, or a small gzip body that inflates) is refused with
  ``ResponseTooLargeError`` while the client holds a fraction of it: the
  traced memory of the call stays far below the body's size.
- Error texts stay short whatever the server sends (huge bodies, long reason
  phrases, many headers).
- A response head cut off by a closed connection is a connection error,
  never an empty 200.
- Redirects: never followed to another origin (the other server sees
  nothing, whatever the method and status); followed within the origin, with
  303 turning into a GET; at most five hops.
"""

from __future__ import annotations

import gzip
import tracemalloc
from typing import Any, Callable

import pytest

import lilt
from lilt.exceptions import ApiConnectionError, ApiException, ServiceException
from support.api_defaults import with_defaults
from support.http_server import Reply, Seen, Upstream
from support.scripted_server import Connection, ScriptedServer, head

MakeApiAt = Callable[..., lilt.UploadsApi]  # the api_at fixture (conftest)

MiB = 1024 * 1024
HUGE = 64 * MiB
LIMIT = 1 * MiB
FAST = lilt.RetryPolicy(attempts=4, backoff_base=0.01, backoff_cap=0.02)
UPLOAD = {"id": 7, "filename": "a.txt", "status": "uploaded", "created_at": "2026-01-02T03:04:05Z"}
START = lilt.InitiateMultipartUploadBody(filename="a.bin", type="application/octet-stream")


@pytest.fixture
def api_for(api_at: MakeApiAt) -> MakeApiAt:
    return with_defaults(
        api_at, retries=FAST, username="u-hostile", password="p-hostile", max_response_bytes=LIMIT
    )


def peak_memory(call: Callable[[], Any]) -> tuple[BaseException, int]:
    """The error ``call`` raises and the most memory traced while it ran."""
    tracemalloc.start()
    try:
        with pytest.raises(ApiException) as caught:
            call()
        return caught.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


ZEROS = b"0" * MiB


def endless(request: Seen, conn: Connection, *, chunked: bool) -> None:
    if chunked:
        conn.send(
            head(headers=(("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")))
        )
        frame = b"%x\r\n%s\r\n" % (len(ZEROS), ZEROS)
    else:
        conn.send(head(headers=(("Content-Type", "application/json"),), length=HUGE))
        frame = ZEROS
    for _ in range(HUGE // MiB):
        if not conn.send(frame):
            return


def assert_refused_for_size(error: BaseException, peak: int, server: ScriptedServer) -> None:
    assert type(error).__name__ == "ResponseTooLargeError", repr(error)
    assert isinstance(error, ApiException)
    assert error.status == 200 and error.headers is not None
    assert getattr(error, "limit", None) == LIMIT
    assert len(str(error)) < 8_000
    assert len(error.body or "") <= 8 * 1024
    assert peak < 8 * MiB, f"{peak} bytes traced: the body was held"
    assert server.sent < HUGE


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_without_being_held(
    api_for: MakeApiAt, chunked: bool
) -> None:
    with ScriptedServer(lambda r, c: endless(r, c, chunked=chunked)) as server:
        api = api_for(server.url)
        error, peak = peak_memory(lambda: api.get_upload_by_id(7))
        assert_refused_for_size(error, peak, server)
        declared = getattr(error, "declared_size", "missing")
        assert declared == (None if chunked else HUGE)
        # the connection was given back (closed): the client keeps working
        server.script = lambda r, c: bool(c.send(head(length=2) + b"{}")) and False
        assert api.get_upload_by_id(7) is not None
        assert len(server.seen) == 2


def test_a_compressed_body_is_limited_by_its_decoded_size(api_for: MakeApiAt) -> None:
    bomb = gzip.compress(b"0" * HUGE, compresslevel=9)

    def inflating(request: Seen, conn: Connection) -> None:
        conn.send(
            head(
                headers=(("Content-Type", "application/json"), ("Content-Encoding", "gzip")),
                length=len(bomb),
            )
            + bomb
        )

    with ScriptedServer(inflating) as server:
        api = api_for(server.url)
        error, peak = peak_memory(lambda: api.get_upload_by_id(7))
        assert type(error).__name__ == "ResponseTooLargeError", repr(error)
        assert peak < 8 * MiB, f"{peak} bytes traced: the body was inflated whole"


def test_the_default_limit_is_16_mib(api_for: MakeApiAt) -> None:
    assert getattr(lilt.Configuration(), "max_response_bytes", None) == 16 * MiB

    def over(request: Seen, conn: Connection) -> None:
        conn.send(head(length=16 * MiB + 1))
        conn.send(b"0" * (16 * MiB + 1))

    with ScriptedServer(over) as server:
        api = api_for(server.url, max_response_bytes=16 * MiB)
        with pytest.raises(ApiException) as caught:
            api.get_upload_by_id(7)
        assert type(caught.value).__name__ == "ResponseTooLargeError"


def test_error_texts_stay_short_whatever_the_server_sends(api_for: MakeApiAt) -> None:
    page = b"<html>" + b"x" * (2 * MiB) + b"</html>"

    def verbose(request: Seen, conn: Connection) -> None:
        headers = tuple((f"X-Noise-{n}", "n" * 500) for n in range(90))
        conn.send(
            head(
                status="500 " + "Broken" * 5000,
                headers=(("Content-Type", "text/html"), *headers),
                length=len(page),
            )
            + page
        )

    with ScriptedServer(verbose) as server:
        api = api_for(server.url, retries=0, max_response_bytes=16 * MiB)
        with pytest.raises(ServiceException) as caught:
            api.get_upload_by_id(7)
        error = caught.value
        assert len(error.body or "") == len(page)  # the body is kept whole (it is under the limit)
        assert len(str(error)) < 8_000
        assert len(repr(error)) < 2_000


# -- a response head cut off ------------------------------------------------------------


CUTS = {
    "after-a-header-line": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
    "mid-header-line": b"HTTP/1.1 200 OK\r\nContent-Type: applic",
    "after-the-status-line": b"HTTP/1.1 200 OK\r\n",
}


@pytest.mark.parametrize("cut", sorted(CUTS))
def test_a_head_cut_off_by_a_closed_connection_is_a_connection_error(
    api_for: MakeApiAt, cut: str
) -> None:
    def cut_short(request: Seen, conn: Connection) -> None:
        conn.send(CUTS[cut])  # and close

    with ScriptedServer(cut_short) as server:
        api = api_for(server.url)
        with pytest.raises(ApiConnectionError):
            api.get_upload_by_id(7)
        assert len(server.seen) == 4  # a GET whose answer broke off is retried
        with pytest.raises(ApiConnectionError):
            api.initiate_multipart_upload(START)
        assert [r.method for r in server.seen[4:]] == ["POST"]  # maybe processed: not re-sent


# -- redirects ------------------------------------------------------------------------------


CALLS: dict[str, Callable[[lilt.UploadsApi], Any]] = {
    "GET": lambda api: api.get_upload_by_id(7),
    "POST": lambda api: api.initiate_multipart_upload(START),
    "DELETE": lambda api: api.cancel_multipart_upload("U1", "uploads/a.bin"),
}
AUTH = {
    "basic": {},
    "api-key": {"username": None, "password": None, "api_key": {"ApiKeyAuth": "k-redirect-77"}},
}


@pytest.mark.parametrize("auth", sorted(AUTH))
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", sorted(CALLS))
def test_a_redirect_to_another_host_is_not_followed(
    api_for: MakeApiAt, method: str, status: int, auth: str
) -> None:
    with Upstream() as other:

        def elsewhere(seen: Seen) -> Reply:
            return Reply(status, b"", {"Location": f"{other.url}{seen.target}"})

        with Upstream(elsewhere) as api_server:
            api = api_for(api_server.url, **AUTH[auth])
            with pytest.raises(ApiException) as caught:
                CALLS[method](api)
            assert caught.value.status == status
            assert [s.method for s in api_server.seen] == [method]
        assert other.seen == []


def test_same_origin_redirects_are_followed_with_the_credentials(
    api_for: MakeApiAt,
) -> None:
    def moved(seen: Seen) -> Reply:
        if seen.path == "/v2/upload/7":
            return Reply(302, b"", {"Location": "/v2/upload/8"})
        if seen.path == "/v2/upload/s3/multipart":
            return Reply(307, b"", {"Location": "/v2/upload/s3/multipart/again"})
        if seen.path == "/v2/upload/s3/multipart/again":
            return Reply(303, b"", {"Location": "/v2/upload/9"})
        return Reply(200, {**UPLOAD, "id": int(seen.path.rsplit("/", 1)[1])})

    with Upstream(moved) as server:
        api = api_for(server.url)
        assert api.get_upload_by_id(7).id == 8
        assert all(s.header("Authorization") for s in server.seen)
        del server.seen[:]
        api.initiate_multipart_upload(START)
        assert [(s.method, s.path) for s in server.seen] == [
            ("POST", "/v2/upload/s3/multipart"),
            ("POST", "/v2/upload/s3/multipart/again"),  # 307 keeps the method and body
            ("GET", "/v2/upload/9"),  # 303 turns it into a GET without a body
        ]
        assert server.seen[0].body == server.seen[1].body != b""
        assert server.seen[2].body == b"" and server.seen[2].header("Content-Type") is None


def test_a_redirect_loop_ends_after_five_hops(api_for: MakeApiAt) -> None:
    with Upstream(lambda seen: Reply(302, b"", {"Location": seen.target})) as server:
        api = api_for(server.url)
        with pytest.raises(ApiException) as caught:
            api.get_upload_by_id(7)
        assert caught.value.status == 302
        assert len(server.seen) == 6
