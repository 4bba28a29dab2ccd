"""The fault-injecting proxy itself, against a tiny real upstream on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import urllib3
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from lilt.testing.proxy import Fault, FaultKind, FaultProxy
from support.http_server import Reply, Upstream, closed_port

BODY = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.address, max_stall=10) as running:
        yield running


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=10))
    yield pool
    pool.clear()


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Poll until ``condition`` holds (bounded; not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_forwards_requests_and_responses_unchanged_on_one_keepalive_connection(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    first = http.request(
        "PUT",
        f"{proxy.url}/bucket/key?partNumber=1",
        body=BODY,
        headers={"Content-Type": "application/octet-stream"},
    )
    second = http.request("GET", f"{proxy.url}/other")
    assert first.status == 200
    assert first.json() == {"sha256": digest(BODY), "length": len(BODY)}
    assert second.status == 200
    assert [s.body for s in upstream.seen] == [BODY, b""]
    assert proxy.connections == 1
    records = proxy.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("PUT", "/bucket/key", 200),
        ("GET", "/other", 200),
    ]
    assert records[0].query == {"partNumber": "1"}
    assert records[0].body_bytes == len(BODY)
    assert records[0].header("content-type") == "application/octet-stream"
    # The Host header is the client's (a presigned signature covers it).
    assert upstream.seen[0].header("Host") == f"127.0.0.1:{proxy.port}"
    assert sum(proxy.counts.values()) == 0
    assert proxy.errors == []


def test_chunked_request_and_response_bodies(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    upstream.queue(Reply(body=b"x" * 1000, chunked=True), Reply(body=b"after"))
    pieces = [BODY[i : i + 70_000] for i in range(0, len(BODY), 70_000)]
    response = http.request("POST", f"{proxy.url}/chunked", body=iter(pieces), chunked=True)
    assert response.data == b"x" * 1000
    assert upstream.seen[0].body == BODY
    # the connection is still usable after a chunked exchange
    assert http.request("GET", f"{proxy.url}/next").data == b"after"
    assert proxy.connections == 1


def test_bodiless_answers_keep_the_connection_in_step(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    """204, 304 and HEAD answers have no body, whatever their headers say."""
    upstream.queue(
        Reply(status=204),
        Reply(status=304, headers={"ETag": '"e"'}),
        Reply(body=b"x" * 100),
        Reply(body=b"last"),
    )
    statuses = [
        http.request(method, f"{proxy.url}/{n}").status
        for n, method in enumerate(["GET", "GET", "HEAD"])
    ]
    last = http.request("GET", f"{proxy.url}/last")
    assert statuses == [204, 304, 200]
    assert last.data == b"last"
    assert proxy.connections == 1
    assert [r.status for r in proxy.requests] == [204, 304, 200, 200]


def test_an_interim_100_continue_is_forwarded(proxy: FaultProxy, upstream: Upstream) -> None:
    with socket.create_connection(proxy.address, timeout=10) as sock:
        sock.sendall(
            b"PUT /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = b""
        while b"\r\n\r\n" not in interim:
            interim += sock.recv(1000)
        assert interim.startswith(b"HTTP/1.1 100 ")
        sock.sendall(b"hello")
        final = b""
        while b"\r\n\r\n" not in final or not final.endswith(b"}"):
            final += sock.recv(1000)
    assert final.startswith(b"HTTP/1.1 200 ")
    assert [s.body for s in upstream.seen] == [b"hello"]


def test_refuse_resets_before_anything_reaches_upstream(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    proxy.inject(Fault.refuse())
    with pytest.raises(ProtocolError):
        http.request("POST", f"{proxy.url}/x", body=b"payload")
    assert upstream.seen == []
    assert proxy.counts == {"refuse": 1}
    assert http.request("GET", f"{proxy.url}/y").status == 200


def test_refuse_connections_at_accept_time(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    proxy.refuse_connections(2)
    for _ in range(2):
        # reset while connecting, or right after, depending on timing
        with pytest.raises((NewConnectionError, ProtocolError)):
            http.request("GET", f"{proxy.url}/x")
    assert http.request("GET", f"{proxy.url}/x").status == 200
    assert proxy.counts["refuse"] == 2
    assert len(upstream.seen) == 1


def test_reset_before_body_forwards_only_the_head(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    proxy.inject(Fault.reset_before_body(), method="PUT")
    with pytest.raises(ProtocolError):
        http.request("PUT", f"{proxy.url}/part", body=BODY)
    assert upstream.seen == []  # the server never got a complete request
    (record,) = proxy.requests
    assert record.body_bytes == 0 and record.status is None
    assert proxy.counts == {"reset_before_body": 1}


def test_reset_mid_body_after_exactly_n_bytes(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    proxy.inject(Fault.reset_mid_body(after=300_000))
    with pytest.raises(ProtocolError):
        http.request("PUT", f"{proxy.url}/part", body=BODY)
    (record,) = proxy.requests
    assert record.body_bytes == 300_000
    assert upstream.seen == []
    assert proxy.counts == {"reset_mid_body": 1}


def test_delay_holds_the_whole_request_then_forwards_it(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    proxy.inject(Fault.delay(0.2))
    response = http.request("PUT", f"{proxy.url}/part", body=BODY)
    assert response.json()["sha256"] == digest(BODY)
    assert proxy.counts == {"delay": 1}


def test_a_fault_past_the_end_of_the_body_never_happens(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    proxy.inject(Fault.reset_mid_body(after=len(BODY)))
    proxy.inject(Fault.truncate(after=10_000))
    assert http.request("PUT", f"{proxy.url}/part", body=BODY).status == 200
    assert http.request("GET", f"{proxy.url}/small").status == 200
    assert sum(proxy.counts.values()) == 0


def test_stall_gives_a_read_timeout_and_stop_ends_it(
    upstream: Upstream, http: urllib3.PoolManager
) -> None:
    with FaultProxy(upstream.address, max_stall=60) as proxy:
        proxy.inject(Fault.stall(60))
        with pytest.raises(ReadTimeoutError):
            http.request("GET", f"{proxy.url}/slow", timeout=urllib3.Timeout(connect=5, read=0.3))
        assert proxy.counts == {"stall": 1}
    # leaving the block returned although the stall had most of its minute left


def test_stall_within_the_clients_patience_succeeds(
    proxy: FaultProxy, http: urllib3.PoolManager
) -> None:
    proxy.script(Fault.stall(0.2, after=10), Fault.stall_body(0.2, after=500_000))
    for _ in range(2):
        response = http.request("PUT", f"{proxy.url}/part", body=BODY)
        assert response.json()["sha256"] == digest(BODY)
    assert proxy.counts == {"stall": 1, "stall_body": 1}


def test_stall_body_longer_than_the_client_waits(
    proxy: FaultProxy, http: urllib3.PoolManager
) -> None:
    proxy.inject(Fault.stall_body(10, after=1000))
    with pytest.raises((ProtocolError, ReadTimeoutError)):
        http.request(
            "PUT", f"{proxy.url}/part", body=BODY, timeout=urllib3.Timeout(connect=5, read=0.3)
        )
    assert proxy.counts == {"stall_body": 1}


@pytest.mark.parametrize("fault", [Fault.truncate(after=10), Fault.reset_response(after=10)])
def test_cut_responses_are_incomplete_reads(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager, fault: Fault
) -> None:
    upstream.queue(Reply(body=b"y" * 5000))
    proxy.inject(fault)
    with pytest.raises(ProtocolError):
        http.request("GET", f"{proxy.url}/big")
    assert proxy.counts == {fault.kind.value: 1}


def test_truncate_leaves_the_head_and_n_body_bytes(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    upstream.queue(Reply(body=b"y" * 5000))
    proxy.inject(Fault.truncate(after=10))
    response = http.request("GET", f"{proxy.url}/big", preload_content=False)
    assert response.status == 200
    with pytest.raises(ProtocolError):
        response.read()
    response.release_conn()


def test_drop_response_after_the_request_was_processed(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    proxy.inject(Fault.drop_response())
    with pytest.raises(ProtocolError):
        http.request("POST", f"{proxy.url}/create", body=b"{}")
    assert [s.path for s in upstream.seen] == ["/create"]  # processed, reply lost
    assert proxy.counts == {"drop_response": 1}


def test_drip_delivers_the_whole_body_slowly(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    upstream.queue(Reply(body=BODY[:2000]))
    proxy.inject(Fault.drip(chunk=100, interval=0.001, seconds=5))
    assert http.request("GET", f"{proxy.url}/slow").data == BODY[:2000]
    assert proxy.counts == {"drip": 1}


def test_http_error_answers_without_forwarding_and_keeps_the_connection(
    proxy: FaultProxy, upstream: Upstream, http: urllib3.PoolManager
) -> None:
    proxy.inject(Fault.slow_down(retry_after=1), method="PUT")
    refused = http.request("PUT", f"{proxy.url}/part", body=BODY)
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "1"
    assert b"<Code>SlowDown</Code>" in refused.data
    assert http.request("PUT", f"{proxy.url}/part", body=BODY).status == 200
    assert len(upstream.seen) == 1
    assert proxy.connections == 1
    assert [r.status for r in proxy.requests] == [503, 200]
    assert proxy.counts == {"http_error": 1}


def test_rules_match_method_and_path_and_are_bounded_by_count(
    proxy: FaultProxy, http: urllib3.PoolManager
) -> None:
    proxy.inject(Fault.http_error(500), method="PUT", path=r"partNumber=2\b", times=2)
    statuses = [
        http.request("PUT", f"{proxy.url}/k?partNumber={n}", body=b"x").status
        for n in (1, 2, 2, 2, 12)
    ]
    assert statuses == [200, 500, 500, 200, 200]


def test_script_and_skip(proxy: FaultProxy, http: urllib3.PoolManager) -> None:
    proxy.script(None, Fault.http_error(502), None, Fault.http_error(504))
    # sees only the requests the script did not decide: 4 (skipped), 5, 6
    proxy.inject(Fault.http_error(429), skip=1)
    statuses = [http.request("GET", f"{proxy.url}/{n}").status for n in range(7)]
    assert statuses == [200, 502, 200, 504, 200, 429, 200]


def test_a_rule_bounded_in_time_expires(proxy: FaultProxy, http: urllib3.PoolManager) -> None:
    proxy.inject(Fault.http_error(500), times=100, within=0.0)
    assert http.request("GET", f"{proxy.url}/x").status == 200


def test_random_faults_are_deterministic_by_seed_and_limited(
    upstream: Upstream, http: urllib3.PoolManager
) -> None:
    menu = [Fault.http_error(500), Fault.http_error(503), Fault.http_error(429)]

    def run(seed: int) -> list[int]:
        with FaultProxy(upstream.address) as proxy:
            proxy.randomly(seed, 0.5, menu, limit=6)
            statuses = [http.request("GET", f"{proxy.url}/{n}").status for n in range(30)]
            assert proxy.counts["http_error"] == 6
            return statuses

    first = run(11)
    assert first == run(11)
    assert first != run(12)
    assert sum(s != 200 for s in first) == 6


def test_upstream_down_looks_like_a_reset(http: urllib3.PoolManager) -> None:
    # The upstream is connected once the request head is in, so the client
    # always sees its request reset (never a refused or reset connect).
    with FaultProxy(("127.0.0.1", closed_port())) as proxy:
        with pytest.raises(ProtocolError):
            http.request("GET", f"{proxy.url}/x")
        (record,) = proxy.requests
        assert record.status is None
    assert proxy.errors == []


def test_stop_closes_every_socket_and_thread(upstream: Upstream) -> None:
    proxy = FaultProxy(upstream.address).start()
    proxy.inject(Fault.stall(30))
    idle = socket.create_connection(proxy.address)
    stalled = socket.create_connection(proxy.address)
    stalled.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        # (connections still in the listen backlog would be reset by the kernel)
        wait_for(lambda: proxy.connections == 2 and len(proxy.requests) == 1)
        proxy.stop()
        assert stalled.recv(100) == b""  # closed, although the stall had 30 s left
        assert idle.recv(100) == b""
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(proxy.address, timeout=5).close()
    finally:
        idle.close()
        stalled.close()
    prefix = f"FaultProxy:{proxy.port}"
    assert [t.name for t in threading.enumerate() if t.name.startswith(prefix)] == []
    assert proxy.errors == []


def test_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(("127.0.0.1", 1), host="0.0.0.0")


def test_fault_values_are_checked() -> None:
    with pytest.raises(ValueError):
        Fault.reset_mid_body(after=-1)
    with pytest.raises(ValueError):
        Fault.http_error(700)
    with pytest.raises(ValueError):
        Fault.drip(chunk=0)
    assert str(FaultKind.DRIP) == "drip"


def test_request_records_are_what_the_client_sent(
    proxy: FaultProxy, http: urllib3.PoolManager
) -> None:
    http.request(
        "POST",
        f"{proxy.url}/v2/upload?key=abc&x=1",
        body=json.dumps({"a": 1}),
        headers={"Authorization": "Basic Zm9vOmJhcg=="},
    )
    (record,) = proxy.requests
    assert record.method == "POST"
    assert record.target == "/v2/upload?key=abc&x=1"
    assert record.query == {"key": "abc", "x": "1"}
    assert record.header("authorization") == "Basic Zm9vOmJhcg=="
    assert record.version == "HTTP/1.1"


def test_stop_while_connections_keep_arriving(upstream: Upstream) -> None:
    """stop() joins only threads that started, however connections and stop interleave."""
    for _ in range(10):
        proxy = FaultProxy(upstream.address).start()
        done = threading.Event()

        def connect(proxy: FaultProxy = proxy, done: threading.Event = done) -> None:
            while not done.is_set():
                try:
                    socket.create_connection(proxy.address, timeout=1).close()
                except OSError:
                    return  # refused: the proxy has stopped listening

        client = threading.Thread(target=connect)
        client.start()
        try:
            wait_for(lambda proxy=proxy: proxy.connections > 0)
            proxy.stop()
        finally:
            done.set()
            client.join(timeout=10)
        assert proxy.errors == []


def test_without_h11_the_import_says_which_extra_to_install() -> None:
    blocked = "import sys; sys.modules['h11'] = None; import lilt.testing.proxy"
    result = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "lilt.testing.proxy needs h11: pip install 'lilt[emulator]'" in result.stderr
