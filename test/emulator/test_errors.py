"""Every bad request gets its 4xx and a ``{"message": ...}`` body; never a 500 or a traceback."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any, Callable

import pytest
from emulator.conftest import Api, basic

from lilt.testing import Emulator
from lilt.testing.app import EmulatorApp

pytestmark = pytest.mark.storage


# -- authentication --------------------------------------------------------------------


def test_basic_auth_and_query_key_are_both_accepted(api: Api) -> None:
    assert api.call("GET", "/v2/upload", auth="basic").status == 200
    assert api.call("GET", "/v2/upload", auth="query").status == 200
    key = api.emu.api_key
    both = api.call(
        "GET",
        "/v2/upload",
        query={"key": key},
        headers={"Authorization": basic(key, key)},
        auth=None,
    )
    assert both.status == 200


def _token(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


# (headers, query, what the message says), built from the emulator's key
AUTH_FAILURES: list[tuple[str, Callable[[str], tuple[dict[str, str], dict[str, str]]], str]] = [
    ("nothing", lambda key: ({}, {}), "missing credentials"),
    ("wrong ?key", lambda key: ({}, {"key": "wrong"}), "invalid API key"),
    ("garbage header", lambda key: ({"Authorization": "WRONG"}, {}), "invalid Authorization"),
    ("bearer", lambda key: ({"Authorization": f"Bearer {key}"}, {}), "invalid Authorization"),
    ("bad base64", lambda key: ({"Authorization": "Basic !!!"}, {}), "invalid Authorization"),
    (
        "wrong password",
        lambda key: ({"Authorization": basic(key, "wrong")}, {}),
        "invalid Authorization",
    ),
    (
        "wrong user",
        lambda key: ({"Authorization": basic("wrong", key)}, {}),
        "invalid Authorization",
    ),
    ("no colon", lambda key: ({"Authorization": _token(key)}, {}), "invalid Authorization"),
    (
        "key as user only",
        lambda key: ({"Authorization": basic(key, "")}, {}),
        "invalid Authorization",
    ),
    (
        "good Basic, wrong ?key",
        lambda key: ({"Authorization": basic(key, key)}, {"key": "x"}),
        "invalid API key",
    ),
    (
        "wrong Basic, good ?key",
        lambda key: ({"Authorization": basic(key, "x")}, {"key": key}),
        "invalid Authorization",
    ),
]


@pytest.mark.parametrize(
    ("case", "build", "fragment"), AUTH_FAILURES, ids=[c[0] for c in AUTH_FAILURES]
)
def test_auth_failures_are_401(
    api: Api,
    case: str,
    build: Callable[[str], tuple[dict[str, str], dict[str, str]]],
    fragment: str,
) -> None:
    headers, query = build(api.emu.api_key)

    r = api.call("GET", "/v2/upload", headers=headers, query=query, auth=None)

    assert r.status == 401
    assert fragment in r.message
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_every_route_requires_auth(api: Api) -> None:
    for method, path in [
        ("GET", "/v2/upload"),
        ("GET", "/v2/upload/1"),
        ("GET", "/v2/upload/s3/params"),
        ("POST", "/v2/upload/s3/params"),
        ("POST", "/v2/upload/s3/multipart"),
        ("GET", "/v2/upload/s3/multipart/u/1"),
        ("POST", "/v2/upload/s3/multipart/u/complete"),
        ("DELETE", "/v2/upload/s3/multipart/u"),
    ]:
        assert api.call(method, path, auth=None).status == 401, (method, path)
    assert {r.operation for r in api.emu.requests()} == {
        "list",
        "get",
        "params",
        "initiate",
        "initiate_multipart",
        "sign",
        "complete",
        "cancel",
    }


# -- routes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v2/nothing", 404),
        ("GET", "/v1/upload", 404),
        ("GET", "//v2/upload", 404),
        ("GET", "/v2/upload/s3/multipart/abc/partNumber/extra", 404),
        ("PUT", "/v2/upload", 405),
        ("POST", "/v2/upload/1", 405),
        ("DELETE", "/v2/upload/s3/params", 405),
        ("GET", "/v2/upload/s3/multipart", 405),
        ("PATCH", "/v2/upload/s3/multipart/abc", 405),
    ],
)
def test_unknown_routes_and_methods(api: Api, method: str, path: str, status: int) -> None:
    r = api.call(method, path)
    assert r.status == status
    assert r.message
    if status == 405:
        assert r.headers["Allow"]


# -- malformed input ---------------------------------------------------------------------

GOOD = {"filename": "f.txt", "type": "text/plain"}
BAD_BODIES: list[tuple[str, Any, int]] = [
    ("not json", b"{nope", 400),
    ("empty body", b"", 400),
    ("NaN", b'{"filename": "f", "type": "text/plain", "metadata": {"size": NaN}}', 400),
    ("not utf-8", b'{"filename": "\xff", "type": "text/plain"}', 400),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, 400),
    ("a string", "text", 400),
    ("a number", 5, 400),
    ("null", None, 400),
    ("empty list", [], 400),
    ("list of non-objects", [1, 2], 400),
    ("no filename", {"type": "text/plain"}, 400),
    ("no type", {"filename": "f.txt"}, 400),
    ("empty filename", {"filename": "", "type": "text/plain"}, 400),
    ("filename not a string", {"filename": 5, "type": "text/plain"}, 400),
    ("type not a MIME type", {"filename": "f", "type": "plain"}, 400),
    ("type with a newline", {"filename": "f", "type": "text/plain\r\nX-Evil: 1"}, 400),
    ("metadata not an object", {**GOOD, "metadata": [1]}, 400),
    ("size negative", {**GOOD, "metadata": {"size": -1}}, 400),
    ("size a string", {**GOOD, "metadata": {"size": "10"}}, 400),
    ("size a bool", {**GOOD, "metadata": {"size": True}}, 400),
    ("size a float", {**GOOD, "metadata": {"size": 1.5}}, 400),
    ("labels a string", {**GOOD, "metadata": {"labels": "a,b"}}, 400),
    ("labels of numbers", {**GOOD, "metadata": {"labels": [1]}}, 400),
    ("category a number", {**GOOD, "metadata": {"category": 1}}, 400),
    ("one bad item in a list", [GOOD, {"filename": "x"}], 400),
]


@pytest.mark.parametrize("path", ["/v2/upload/s3/params", "/v2/upload/s3/multipart"])
@pytest.mark.parametrize(("case", "payload", "status"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_initiate_bodies(
    api: Api, lilt_emulator: Emulator, path: str, case: str, payload: Any, status: int
) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    r = api.call("POST", path, body=body, headers={"Content-Type": "application/json"})
    assert r.status == status, r.data
    assert r.message
    assert lilt_emulator.uploads() == []
    assert lilt_emulator.list_multipart_uploads() == []


def test_json_bodies_need_a_json_content_type(api: Api) -> None:
    body = json.dumps(GOOD).encode()
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        headers = {"Content-Type": content_type} if content_type else {}
        r = api.call("POST", "/v2/upload/s3/params", body=body, headers=headers)
        assert r.status == 415 and "application/json" in r.message
    ok = api.call(
        "POST",
        "/v2/upload/s3/params",
        body=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status == 200


def test_oversized_body_is_413(api: Api) -> None:
    r = api.call(
        "POST",
        "/v2/upload/s3/params",
        body=b" " * (5 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 413 and r.message


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"type": "text/plain"}, "filename"),
        ({"filename": "f"}, "type"),
        ({"filename": "f", "type": "nope"}, "MIME"),
        ({"filename": "f", "type": "text/plain", "metadata.size": "-1"}, "metadata.size"),
        ({"filename": "f", "type": "text/plain", "metadata.size": "ten"}, "metadata.size"),
    ],
)
def test_bad_get_params_queries(api: Api, query: dict[str, str], fragment: str) -> None:
    r = api.call("GET", "/v2/upload/s3/params", query=query)
    assert r.status == 400 and fragment in r.message


def test_bad_sign_requests(api: Api) -> None:
    upload = api.initiate_multipart()
    base = f"/v2/upload/s3/multipart/{upload['uploadId']}"
    cases = [
        (f"{base}/0", {"s3Key": upload["key"], "size": 1}, 400, "part number"),
        (f"{base}/10001", {"s3Key": upload["key"], "size": 1}, 400, "part number"),
        (f"{base}/-1", {"s3Key": upload["key"], "size": 1}, 400, "part number"),
        (f"{base}/partNumber", {"s3Key": upload["key"], "size": 1}, 400, "part number"),
        (f"{base}/1", {"size": 1}, 400, "s3Key"),
        (f"{base}/1", {"s3Key": upload["key"]}, 400, "size"),
        (f"{base}/1", {"s3Key": upload["key"], "size": "big"}, 400, "size"),
        (f"{base}/1", {"s3Key": upload["key"], "size": 6 * 1024**3}, 400, "size"),
        (f"{base}/1", {"s3Key": "uploads/other", "size": 1}, 400, "s3Key"),
        (
            "/v2/upload/s3/multipart/no-such-upload/1",
            {"s3Key": upload["key"], "size": 1},
            404,
            "no-such-upload",
        ),
    ]
    for path, query, status, fragment in cases:
        r = api.call("GET", path, query=query)
        assert (r.status, fragment in r.message) == (status, True), (path, query, r.data)
    assert api.call("GET", f"{base}/10000", query={"s3Key": upload["key"], "size": 0}).status == 200


def test_bad_complete_requests(api: Api, lilt_emulator: Emulator) -> None:
    upload = api.initiate_multipart()
    path = f"/v2/upload/s3/multipart/{upload['uploadId']}/complete"
    key = {"s3Key": upload["key"]}
    cases: list[tuple[dict[str, str], Any, int]] = [
        ({}, {"parts": [{"ETag": "e", "PartNumber": 1}]}, 400),
        (key, {}, 400),
        (key, {"parts": []}, 400),
        (key, {"parts": "e1"}, 400),
        (key, {"parts": [5]}, 400),
        (key, {"parts": [{"PartNumber": 1}]}, 400),
        (key, {"parts": [{"ETag": 1, "PartNumber": 1}]}, 400),
        (key, {"parts": [{"ETag": "e", "PartNumber": "1"}]}, 400),
        (key, {"parts": [{"ETag": "e", "PartNumber": 0}]}, 400),
        (key, {"parts": [{"ETag": "e", "PartNumber": 10001}]}, 400),
        (key, {"parts": [{"ETag": "e", "PartNumber": True}]}, 400),
        (key, [{"ETag": "e", "PartNumber": 1}], 400),
        (key, {"parts": [{"ETag": "e", "PartNumber": 2}, {"ETag": "e", "PartNumber": 1}]}, 400),
        (key, {"parts": [{"ETag": "e", "PartNumber": 1}, {"ETag": "e", "PartNumber": 1}]}, 400),
    ]
    for query, payload, status in cases:
        r = api.call("POST", path, query=query, payload=payload)
        assert r.status == status, (query, payload, r.data)
        assert r.message
    unknown = api.call(
        "POST",
        "/v2/upload/s3/multipart/nope/complete",
        query=key,
        payload={"parts": [{"ETag": "e", "PartNumber": 1}]},
    )
    assert unknown.status == 404
    assert [u.upload_id for u in lilt_emulator.list_multipart_uploads()] == [upload["uploadId"]]


def test_bad_cancel_requests(api: Api) -> None:
    upload = api.initiate_multipart()
    assert api.call("DELETE", f"/v2/upload/s3/multipart/{upload['uploadId']}").status == 400
    assert (
        api.call("DELETE", "/v2/upload/s3/multipart/nope", query={"s3Key": upload["key"]}).status
        == 404
    )
    wrong_key = api.call(
        "DELETE", f"/v2/upload/s3/multipart/{upload['uploadId']}", query={"s3Key": "k"}
    )
    assert wrong_key.status == 400


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/v2/upload/abc", {}, 400),
        ("/v2/upload/0", {}, 400),
        ("/v2/upload/99", {}, 404),
        ("/v2/upload", {"ids": "1,x"}, 400),
        ("/v2/upload", {"ids": "-1"}, 400),
    ],
)
def test_bad_record_queries(api: Api, path: str, query: dict[str, str], status: int) -> None:
    r = api.call("GET", path, query=query)
    assert r.status == status and r.message


def test_unknown_status_filter_matches_nothing(api: Api) -> None:
    api.initiate()
    r = api.call("GET", "/v2/upload", query={"statuses": "nonsense"})
    assert (r.status, r.json()) == (200, [])


def test_unexpected_errors_are_a_json_500_without_traceback(
    api: Api,
    lilt_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(self: EmulatorApp, call: object) -> None:
        raise RuntimeError("boom in the emulator")

    monkeypatch.setattr(EmulatorApp, "_op_list", explode)
    with caplog.at_level(logging.ERROR, logger="lilt.testing"):
        r = api.call("GET", "/v2/upload")

    assert r.status == 500
    assert "Traceback" not in r.data.decode() and "boom" not in r.data.decode()
    assert r.message
    assert any(
        "boom in the emulator" in (rec.exc_text or "") or rec.exc_info for rec in caplog.records
    )
    monkeypatch.undo()
    lilt_emulator.clear_requests()  # the 500 was on purpose (see the api fixture's check)
    assert api.call("GET", "/v2/upload").status == 200
