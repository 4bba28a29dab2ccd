"""A number as timeout is a deadline for the whole call; a (connect, read) pair is per phase.

Real servers on 127.0.0.1 that answer too slowly in every phase: a head or a
body dripped one byte at a time (each byte well within any read timeout), a
stall on every attempt, a ``Retry-After`` longer than the time left, a server
that never reads the request body, a pool with no free connection. Each call
must end with ``ApiTimeoutError`` (or the server's own error) once its deadline
has passed. The elapsed-time bounds below are hang guards, far above the
deadlines and far below what the servers would take.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import pytest
import urllib3

import lilt
from lilt.exceptions import ApiTimeoutError, ServiceException
from support.api_defaults import with_defaults
from support.http_server import Reply, Seen, Upstream
from support.scripted_server import Connection, ScriptedServer, head

MakeApiAt = Callable[..., lilt.UploadsApi]  # the api_at fixture (conftest)

UPLOAD = {"id": 7, "filename": "a.txt", "status": "uploaded", "created_at": "2026-01-02T03:04:05Z"}
# padded so that one byte every 50 ms takes about 25 s
BODY = json.dumps({**UPLOAD, "filename": "a" * 400}).encode()
DRIP = 0.05
HANG_GUARD = 8.0  # seconds; every server below would hold a call far longer
FAST = lilt.RetryPolicy(attempts=4, backoff_base=0.01, backoff_cap=0.02)


def drip_body(request: Seen, conn: Connection) -> None:
    conn.send(head(headers=(("Content-Type", "application/json"),), length=len(BODY)))
    conn.drip(BODY, DRIP)


def drip_head(request: Seen, conn: Connection) -> None:
    filler = tuple((f"X-Filler-{n}", "x" * 8) for n in range(40))
    conn.drip(head(headers=(("Content-Type", "application/json"), *filler), length=2), DRIP)
    conn.send(b"{}")


@pytest.fixture
def api_for(api_at: MakeApiAt) -> MakeApiAt:
    return with_defaults(api_at, retries=FAST, username="u-deadline", password="p-deadline")


def timed(call: Any) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        call()
    return caught.value, time.monotonic() - started


@pytest.mark.parametrize("where", ["call", "configuration", "urllib3-total"])
def test_a_dripped_body_cannot_hold_the_call_past_its_deadline(
    api_for: MakeApiAt, where: str
) -> None:
    with ScriptedServer(drip_body) as server:
        api = api_for(server.url)
        options: dict[str, Any] = {}
        if where == "call":
            options["_request_timeout"] = 1.0
        elif where == "configuration":
            api.api_client.configuration.timeout = 1.0
        else:
            api.api_client.configuration.timeout = urllib3.Timeout(connect=5, read=5, total=1.0)
        error, elapsed = timed(lambda: api.get_upload_by_id(7, **options))
        assert isinstance(error, ApiTimeoutError), repr(error)
        assert isinstance(error, urllib3.exceptions.ReadTimeoutError)
        assert "deadline" in str(error)
        assert elapsed < HANG_GUARD
        assert len(server.seen) == 1
        assert server.sent < len(BODY)  # the client stopped reading


def test_a_dripped_head_cannot_hold_the_call_past_its_deadline(
    api_for: MakeApiAt,
) -> None:
    with ScriptedServer(drip_head) as server:
        api = api_for(server.url)
        error, elapsed = timed(lambda: api.get_upload_by_id(7, _request_timeout=1.0))
        assert isinstance(error, ApiTimeoutError), repr(error)
        assert elapsed < HANG_GUARD
        assert len(server.seen) == 1  # a passed deadline is not retried


def test_the_deadline_bounds_reading_an_unread_response_too(
    api_for: MakeApiAt,
) -> None:
    """``_without_preload_content``: the caller's own reads end at the call's deadline."""
    with ScriptedServer(drip_body) as server:
        api = api_for(server.url)
        raw = api.get_upload_by_id_without_preload_content(7, _request_timeout=1.0)
        assert raw.status == 200
        error, elapsed = timed(raw.read)
        assert isinstance(error, urllib3.exceptions.ReadTimeoutError), repr(error)
        assert elapsed < HANG_GUARD
        raw.release_conn()


def test_retries_stop_at_the_deadline(api_for: MakeApiAt) -> None:
    with Upstream() as server:
        server.queue(*[Reply(200, UPLOAD, delay=10) for _ in range(4)])
        api = api_for(server.url)
        error, elapsed = timed(lambda: api.get_upload_by_id(7, _request_timeout=0.5))
        assert isinstance(error, ApiTimeoutError), repr(error)
        assert elapsed < HANG_GUARD
        # one attempt used up the deadline; a pair (below) retries each stall instead
        assert len(server.seen) == 1


def test_a_wait_hint_longer_than_the_time_left_ends_the_call(
    api_for: MakeApiAt,
) -> None:
    with Upstream() as server:
        busy = Reply(503, {"message": "busy"}, {"Retry-After": "3"})
        server.queue(*[busy for _ in range(4)])
        api = api_for(server.url, retries=None)
        error, elapsed = timed(lambda: api.get_upload_by_id(7, _request_timeout=1.0))
        assert isinstance(error, ServiceException) and error.status == 503, repr(error)
        assert elapsed < 2.5  # not even the first 3 s wait was started
        assert len(server.seen) == 1


def test_a_pair_keeps_its_per_phase_meaning(api_for: MakeApiAt) -> None:
    """(connect, read): each wait for data is bounded, not the whole call."""
    short = json.dumps(UPLOAD).encode()

    def drip_short(request: Seen, conn: Connection) -> None:
        # 4 bytes every 50 ms: over a second in all, each piece well within 0.5 s
        conn.send(head(headers=(("Content-Type", "application/json"),), length=len(short)))
        conn.drip(short, DRIP, chunk=4)

    with ScriptedServer(drip_short) as server, Upstream() as stalling:
        assert api_for(server.url).get_upload_by_id(7, _request_timeout=(5, 0.5)).id == 7
        stalling.queue(Reply(200, UPLOAD, delay=10), Reply(200, UPLOAD))
        stalled = api_for(stalling.url)
        assert stalled.get_upload_by_id(7, _request_timeout=(5, 0.3)).id == 7
        assert len(stalling.seen) == 2  # the stalled attempt was retried


def test_a_server_that_never_reads_the_request_cannot_hold_the_call(
    api_for: MakeApiAt,
) -> None:
    with _Silent() as silent:
        rest = api_for(silent.url).api_client.rest_client
        body = "x" * (32 * 1024 * 1024)  # more than the socket buffers hold
        error, elapsed = timed(
            lambda: rest.request(
                "POST",
                f"{silent.url}/v2/upload/s3/params",
                headers={"Content-Type": "text/plain"},
                body=body,
                _request_timeout=1.0,
            )
        )
        assert isinstance(error, ApiTimeoutError), repr(error)
        assert elapsed < HANG_GUARD


def test_waiting_for_a_pooled_connection_ends_at_the_deadline(
    api_for: MakeApiAt,
) -> None:
    with ScriptedServer(drip_body) as server:
        api = api_for(server.url, connection_pool_maxsize=1, connection_pool_block=True)
        held = api.get_upload_by_id_without_preload_content(7, _request_timeout=20)
        outcome: list[BaseException] = []

        def second() -> None:
            try:
                api.get_upload_by_id(7, _request_timeout=0.5)
            except BaseException as exc:  # handed to the test thread
                outcome.append(exc)

        worker = threading.Thread(target=second, daemon=True)
        worker.start()
        worker.join(HANG_GUARD)
        assert not worker.is_alive(), "the call waited for a connection past its deadline"
        assert len(outcome) == 1 and isinstance(outcome[0], ApiTimeoutError), outcome
        held.release_conn()


class _Silent:
    """Accepts connections and never reads from them (the kernel's buffers fill up)."""

    def __init__(self) -> None:
        import socket

        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
