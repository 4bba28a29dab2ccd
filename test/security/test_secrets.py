"""No secret in any log line, exception message, attribute, pickle, repr or traceback.

For each way of authenticating (API key in the query, Basic, both), API calls
that succeed and calls that fail in every way we can provoke (error statuses
whose body and headers echo the credentials back, undecodable bodies holding
presigned URLs, retries, refused connections, timeouts, cut responses) run
with every logger at DEBUG. Then the API key (plain and percent-encoded), the
Basic user, password and token, and the presigned signature and credential
must appear nowhere: not in the captured log records (tracebacks included),
not in stdout/stderr, not in ``str``/``repr``/formatted tracebacks of the
errors, not in anything reachable from an error (``args``, every attribute
and the objects it holds, the ``__cause__``/``__context__`` chain), not in an
error's pickle (which must round-trip), not in ``repr(Configuration)``.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import http.client
import logging
import pickle
import traceback
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import quote

import pytest
from faults.helpers import Capture

import lilt
from lilt.testing.proxy import Fault, FaultProxy
from support.http_server import Reply, Seen, Upstream, closed_port

API_KEY = "LILT-key+7f3a/9c1e=5b"  # characters that get percent-encoded in a query
USER = "lilt-user-4d2b8a"
PASSWORD = "lilt-pass-9e6c1f"
SIGNATURE = "5c0ffee5" * 8
CREDENTIAL = "AKIASECRETFUZZ42/20260101/us-east-1/s3/aws4_request"
PRESIGNED = (
    "http://127.0.0.1:1/bucket/uploads/a.bin?partNumber=1&uploadId=U1"
    "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={quote(CREDENTIAL, safe='')}&X-Amz-Date=20260101T000000Z"
    f"&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}"
)


def secrets_for(user: str, password: str) -> list[str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [
        API_KEY,
        quote(API_KEY),
        quote(API_KEY, safe=""),
        user,
        password,
        token,
        SIGNATURE,
        CREDENTIAL,
        quote(CREDENTIAL, safe=""),
    ]


SECRETS = secrets_for(USER, PASSWORD)


def assert_clean(text: str, where: str, secrets: list[str] = SECRETS) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:6]}...) leaked into {where}:\n{text}"


UPLOAD = {"id": 7, "filename": "a.txt", "status": "uploaded", "created_at": "2026-01-02T03:04:05Z"}


def leaky(seen: Seen) -> Reply:
    """LILT-like answers, except that failures echo the request's credentials back."""
    echo = f"{seen.method} {seen.target} auth={seen.header('Authorization')} url={PRESIGNED}"
    path = seen.path
    echoed = {"X-Echo": echo, "Link": f"<{PRESIGNED}>"}
    if path == "/v2/upload/401":
        return Reply(status=401, body={"message": f"bad credentials: {echo}"}, headers=echoed)
    if path == "/v2/upload/500":
        return Reply(
            status=500, body=f"<html>{echo}</html>", headers={"Content-Type": "text/html", **echoed}
        )
    if path == "/v2/upload/429":
        return Reply(status=429, body={"message": echo}, headers={"Retry-After": "0.01", **echoed})
    if path == "/v2/upload/201":
        return Reply(
            status=201, body=f"not json {echo}", headers={"Content-Type": "text/plain", **echoed}
        )
    if path == "/v2/upload/202":
        return Reply(status=202, body=f'{{"id": "{echo}"}}', headers=echoed)
    if path.startswith("/v2/upload/s3/multipart/U1/"):
        if "s3Key=bad" in seen.target:
            return Reply(body={"url": 5, "method": PRESIGNED})
        return Reply(body={"url": PRESIGNED, "method": "PUT"})
    if path == "/v2/upload/s3/multipart" and seen.method == "POST":
        return Reply(body={"uploadId": "U1", "key": "uploads/a.bin"})
    if path == "/v2/upload/s3/multipart/U1/complete":
        return Reply(body={"success": True, "location": PRESIGNED})
    if path == "/v2/upload/s3/multipart/U1":
        return Reply(body={"success": True, "message": echo})
    if path == "/v2/upload/s3/params":
        body = {"url": PRESIGNED, "key": "uploads/a.txt", "method": "PUT"}
        return Reply(body=[body] if seen.body.startswith(b"[") else body)
    if path == "/v2/upload":
        return Reply(body=[UPLOAD])
    return Reply(body=UPLOAD)


@pytest.fixture
def captured() -> Iterator[Capture]:
    names = ("", "lilt", "urllib3")
    saved = {name: logging.getLogger(name).level for name in names}
    lilt_handlers = list(logging.getLogger("lilt").handlers)
    handler = Capture()
    logging.getLogger().addHandler(handler)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    logging.getLogger().removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)
    # debug=True installs one stderr handler on the lilt logger: take it off again
    package = logging.getLogger("lilt")
    for extra in [h for h in package.handlers if h not in lilt_handlers]:
        package.removeHandler(extra)
        extra.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Upstream]:
    with Upstream(leaky) as running:
        yield running


AUTH_MODES = {
    "api-key": {"api_key": {"ApiKeyAuth": API_KEY}},
    "basic": {"username": USER, "password": PASSWORD},
    "both": {"api_key": {"ApiKeyAuth": API_KEY}, "username": USER, "password": PASSWORD},
}
FAST = lilt.RetryPolicy(attempts=3, backoff_base=0.01, backoff_cap=0.01)
START = lilt.InitiateMultipartUploadBody(filename="a.bin", type="application/octet-stream")
SINGLE = lilt.InitiateUploadBody(filename="a.txt", type="text/plain")
PARTS = lilt.CompleteMultipartUploadBody(parts=[{"ETag": '"e1"', "PartNumber": 1}])


def describe(error: BaseException) -> str:
    """Everything about an error a user or a tool could print, log or store.

    ``str``, ``repr``, the formatted traceback, everything reachable from it
    (see :func:`reachable`) and its pickle, which must round-trip.
    """
    data = pickle.dumps(error)
    clone = pickle.loads(data)
    assert type(clone) is type(error) and str(clone) == str(error)
    return "\n".join(
        [
            str(error),
            repr(error),
            "".join(traceback.format_exception(type(error), error, error.__traceback__)),
            *reachable(error),
            data.decode("latin-1"),
        ]
    )


_OPAQUE = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.TracebackType,
    types.FrameType,
)


def reachable(error: BaseException, depth: int = 6) -> list[str]:
    """The text of everything reachable from ``error``, ``depth`` objects deep.

    Its args and attributes, the objects those hold (urllib3 pools and
    connections, header dicts, models ...) and their attributes, and the
    ``__cause__``/``__context__`` chain. Frames and code are not followed.
    """
    texts: list[str] = []
    seen: set[int] = set()

    def visit(value: object, level: int) -> None:
        if level > depth or id(value) in seen or isinstance(value, _OPAQUE):
            return
        seen.add(id(value))
        if isinstance(value, str):
            texts.append(value)
            return
        if isinstance(value, (bytes, bytearray)):
            texts.append(bytes(value).decode("latin-1"))
            return
        if value is None or isinstance(value, (bool, int, float)):
            return
        with contextlib.suppress(Exception):  # a repr that fails shows nothing
            texts.append(repr(value))
        if isinstance(value, BaseException):
            texts.append(str(value))
            for item in value.args:
                visit(item, level + 1)
            visit(value.__cause__, level + 1)
            visit(value.__context__, level + 1)
        if isinstance(value, Mapping):
            for key, item in list(value.items()):
                visit(key, level + 1)
                visit(item, level + 1)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in list(value):
                visit(item, level + 1)
        for item in list(getattr(value, "__dict__", {}).values()):
            visit(item, level + 1)

    visit(error, 0)
    return texts


def run_everything(config: lilt.Configuration, server: Upstream) -> list[str]:
    """Succeed and fail in every way; return the texts of the errors raised."""
    texts: list[str] = [repr(config), str(config), repr(copy.deepcopy(config))]
    with lilt.ApiClient(config) as client:
        api = lilt.UploadsApi(client)
        api.get_pending_uploads()
        api.get_upload_by_id(7)
        api.get_s3_upload_params("a.txt", "text/plain", metadata_size=3)
        api.initiate_s3_upload(SINGLE)
        api.initiate_s3_upload([SINGLE, SINGLE])
        started = api.initiate_multipart_upload(START)
        api.sign_upload_part(started.upload_id, 1, started.key, 5)
        api.complete_multipart_upload_with_http_info(started.upload_id, started.key, PARTS)
        api.cancel_multipart_upload(started.upload_id, started.key)
        failing = [
            lambda: api.get_upload_by_id(401),
            lambda: api.get_upload_by_id(500),
            lambda: api.get_upload_by_id(429),
            lambda: api.get_upload_by_id(201),
            lambda: api.get_upload_by_id(202),  # invalid JSON quoting the credentials
            lambda: api.sign_upload_part("U1", 1, "bad", 5),
        ]
        for call in failing:
            with pytest.raises(lilt.ApiException) as caught:
                call()
            texts.append(describe(caught.value))
    return texts


def transport_failures(config_args: dict[str, object], server: Upstream) -> list[str]:
    """Refused, timed out and cut-off calls with the same credentials."""
    texts: list[str] = []
    refused = lilt.Configuration(
        host=f"http://127.0.0.1:{closed_port()}", retries=FAST, **config_args
    )  # type: ignore[arg-type]
    with lilt.ApiClient(refused) as client, pytest.raises(lilt.ApiException) as caught:
        lilt.UploadsApi(client).initiate_multipart_upload(START)
    texts.append(describe(caught.value))
    with FaultProxy(server.address, max_stall=5) as proxy:
        config = lilt.Configuration(host=proxy.url, retries=FAST, **config_args)  # type: ignore[arg-type]
        with lilt.ApiClient(config) as client:
            api = lilt.UploadsApi(client)
            proxy.inject(Fault.stall(5), times=3)
            with pytest.raises(lilt.ApiException) as caught:
                api.get_upload_by_id(7, _request_timeout=(5, 0.2))  # each attempt
            texts.append(describe(caught.value))
            proxy.inject(Fault.drop_response(), times=3)
            with pytest.raises(lilt.ApiException) as caught:
                api.get_upload_by_id(7)
            texts.append(describe(caught.value))
            proxy.inject(Fault.truncate(after=3))
            with pytest.raises(lilt.ApiException) as cut:
                api.get_upload_by_id(7)
            texts.append(describe(cut.value))
    return texts


@pytest.mark.parametrize("mode", sorted(AUTH_MODES))
def test_no_secret_in_logs_errors_or_reprs(
    mode: str, server: Upstream, captured: Capture, capfd: pytest.CaptureFixture[str]
) -> None:
    config_args = AUTH_MODES[mode]
    before = len(server.seen)
    config = lilt.Configuration(host=server.url, retries=FAST, **config_args)  # type: ignore[arg-type]
    texts = run_everything(config, server)
    texts += transport_failures(config_args, server)

    # The credentials really went out (so the checks below mean something) ...
    sent = server.seen[before:]
    if "api_key" in config_args and "username" not in config_args:
        assert all(f"key={quote(API_KEY)}" in s.target for s in sent)
    if "username" in config_args:
        assert all(s.header("Authorization") for s in sent)
        # Basic wins: the key is not also put in the URL
        assert not any("key=" in s.target for s in sent)
    # ... and the failures did echo them back.
    assert any("auth=" in t or "key=" in t for t in texts)

    for text in texts:
        assert_clean(text, "an error or repr")
    assert captured.lines, "nothing was logged at DEBUG"
    assert_clean(captured.text, "the logs")
    out, err = capfd.readouterr()
    assert_clean(out + err, "stdout/stderr")


def test_debug_never_touches_global_state(
    server: Upstream, captured: Capture, capfd: pytest.CaptureFixture[str]
) -> None:
    urllib3_level = logging.getLogger("urllib3").level
    assert http.client.HTTPConnection.debuglevel == 0
    configs = [
        lilt.Configuration(host=server.url, debug=True, username=USER, password=PASSWORD)
        for _ in range(3)
    ]
    configs.append(copy.deepcopy(configs[0]))
    configs[1].debug = True
    package_handlers = len(logging.getLogger("lilt").handlers)
    for config in configs:
        with lilt.ApiClient(config) as client:
            lilt.UploadsApi(client).get_upload_by_id(7)
    configs[2].debug = False
    assert http.client.HTTPConnection.debuglevel == 0
    assert logging.getLogger("urllib3").level == urllib3_level
    # one stderr handler at most, however many configurations turned debug on
    debug_handlers = [
        h for h in logging.getLogger("lilt").handlers if getattr(h, "_lilt_debug", False)
    ]
    assert len(debug_handlers) <= 1
    assert len(logging.getLogger("lilt").handlers) == package_handlers
    out, err = capfd.readouterr()
    assert "send:" not in out  # http.client's own debug print
    assert_clean(out + err + captured.text, "debug output")


def test_logger_file_reassignment_never_accumulates_handlers(
    server: Upstream, tmp_path: Path
) -> None:
    package = logging.getLogger("lilt")
    before = list(package.handlers)
    saved_level = package.level
    config = lilt.Configuration(host=server.url, api_key={"ApiKeyAuth": API_KEY})
    files = [tmp_path / "one.log", tmp_path / "two.log", tmp_path / "one.log"]
    try:
        package.setLevel(logging.DEBUG)
        for path in files:
            config.logger_file = str(path)
            added = [h for h in package.handlers if h not in before]
            assert len(added) == 1
            assert isinstance(added[0], logging.FileHandler)
            assert added[0].baseFilename == str(path)
            copied = copy.deepcopy(config)  # a copy never adds a handler
            assert copied.logger_file_handler is None
            with lilt.ApiClient(config) as client:
                lilt.UploadsApi(client).get_upload_by_id(7)
        assert [h for h in package.handlers if h not in before] == [config.logger_file_handler]
    finally:
        config.logger_file = None
        package.setLevel(saved_level)
    assert package.handlers == before
    logged = "".join(p.read_text() for p in {*files})
    assert "/v2/upload/7" in logged
    assert_clean(logged, "the log file")


def test_a_short_key_is_not_registered_but_never_logged_either(
    server: Upstream, captured: Capture
) -> None:
    # The registry ignores values under 4 characters (too common to scrub);
    # the query redaction still hides a short key in URLs.
    config = lilt.Configuration(host=server.url, api_key={"ApiKeyAuth": "k9Z"}, retries=FAST)
    with lilt.ApiClient(config) as client, pytest.raises(lilt.ApiException) as caught:
        lilt.UploadsApi(client).get_upload_by_id(401)
    assert "key=k9Z" not in describe(caught.value)
    assert "key=k9Z" not in captured.text
