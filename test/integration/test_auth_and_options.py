"""Auth placement and the five call options, checked on the wire."""

from __future__ import annotations

import base64
from typing import Any, Callable

import pydantic
import pytest

import lilt
from support.recording_server import RecordingServer

MakeApi = Callable[..., lilt.UploadsApi]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_api_key_only_goes_in_the_query(server: RecordingServer, make_api: MakeApi) -> None:
    make_api(api_key={"ApiKeyAuth": "k1"}).get_upload_by_id(1)
    assert server.last.query == "key=k1"
    assert server.last.header("Authorization") is None


def test_basic_only_goes_in_the_header(server: RecordingServer, make_api: MakeApi) -> None:
    make_api(username="k1", password="k1").get_upload_by_id(1)
    assert server.last.header("Authorization") == _basic("k1", "k1")
    assert server.last.query == ""


def test_with_both_configured_only_basic_is_sent(
    server: RecordingServer, make_api: MakeApi
) -> None:
    """Defect 15: the generated client also put the key in the URL."""
    make_api(username="u", password="p", api_key={"ApiKeyAuth": "k1"}).get_upload_by_id(1)
    assert server.last.header("Authorization") == _basic("u", "p")
    assert "key=" not in server.last.target


def test_empty_api_key_sends_nothing(server: RecordingServer, make_api: MakeApi) -> None:
    """Defect 10: the generated client sent key=None."""
    make_api(api_key={"ApiKeyAuth": ""}).get_pending_uploads()
    assert server.last.target == "/v2/upload"


def test_api_key_prefix_is_applied(server: RecordingServer, make_api: MakeApi) -> None:
    make_api(api_key={"ApiKeyAuth": "k1"}, api_key_prefix={"ApiKeyAuth": "Token"}).get_upload_by_id(
        1
    )
    assert server.last.query == "key=Token%20k1"


def test_lilt_api_key_environment_variable_becomes_basic_auth(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LILT_API_KEY", "envkey")
    monkeypatch.setenv("LILT_API_HOST", server.url)
    with lilt.ApiClient(lilt.Configuration()) as client:
        lilt.UploadsApi(client).get_upload_by_id(2)
    assert server.last.header("Authorization") == _basic("envkey", "envkey")


def test_refresh_hook_runs_once_per_request(server: RecordingServer, make_api: MakeApi) -> None:
    """Defect 26: the generated client ran it twice per request."""
    calls: list[int] = []
    api = make_api(api_key={"ApiKeyAuth": "old"})

    def refresh(config: lilt.Configuration) -> None:
        calls.append(1)
        config.api_key["ApiKeyAuth"] = "fresh"

    api.api_client.configuration.refresh_api_key_hook = refresh
    api.get_upload_by_id(1)
    assert calls == [1]
    assert server.last.query == "key=fresh"


@pytest.mark.parametrize(
    ("setting", "check"),
    [
        (
            {"in": "header", "key": "X-Auth", "value": "v", "type": "api_key"},
            lambda r: r.header("X-Auth") == "v" and r.header("Authorization") is None,
        ),
        (
            {"in": "query", "key": "token", "value": "v", "type": "api_key"},
            lambda r: r.query == "token=v",
        ),
        (
            {"in": "cookie", "key": "ignored", "value": "c=1", "type": "api_key"},
            lambda r: r.header("Cookie") == "c=1",
        ),
        (
            {"in": "header", "key": "Signature", "value": "v", "type": "http-signature"},
            lambda r: r.header("Signature") is None,
        ),
    ],
)
def test_request_auth_replaces_configured_auth(
    server: RecordingServer, make_api: MakeApi, setting: dict[str, str], check: Any
) -> None:
    make_api(username="u", password="p").get_upload_by_id(1, _request_auth=setting)
    assert check(server.last)
    assert server.last.header("Authorization") is None


def test_request_auth_in_an_unknown_place_is_refused(make_api: MakeApi) -> None:
    with pytest.raises(lilt.ApiValueError, match="query` or `header"):
        make_api().get_upload_by_id(
            1, _request_auth={"in": "body", "key": "k", "value": "v", "type": "x"}
        )


def test_headers_override_defaults_and_are_not_mutated(
    server: RecordingServer, make_api: MakeApi
) -> None:
    """Defect 9: _headers could not override User-Agent or the default header."""
    api = make_api()
    api.api_client.set_default_header("X-Team", "default")
    headers = {"User-Agent": "mine/1.0", "X-Team": "override", "Accept": "text/plain", "X-N": 1}
    snapshot = dict(headers)
    api.get_upload_by_id(1, _headers=headers)  # type: ignore[arg-type]
    sent = server.last
    assert sent.header("User-Agent") == "mine/1.0"
    assert sent.header("X-Team") == "override"
    assert sent.header("Accept") == "text/plain"
    assert sent.header("X-N") == "1"
    assert headers == snapshot


def test_content_type_option_and_header_for_body_operations(
    server: RecordingServer, make_api: MakeApi
) -> None:
    api = make_api()
    body = {"filename": "a", "type": "b"}
    api.initiate_s3_upload(body, _content_type="application/vnd.lilt+json")  # type: ignore[arg-type]
    assert server.last.header("Content-Type") == "application/vnd.lilt+json"
    api.initiate_s3_upload(body, _headers={"content-type": "application/x.test+json"})  # type: ignore[arg-type]
    assert server.last.header("Content-Type") == "application/x.test+json"
    api.initiate_s3_upload(body)  # type: ignore[arg-type]
    assert server.last.header("Content-Type") == "application/json"


def test_content_type_option_is_ignored_without_a_body(
    server: RecordingServer, make_api: MakeApi
) -> None:
    make_api().get_upload_by_id(1, _content_type="application/json")
    assert server.last.header("Content-Type") is None


def test_call_options_can_be_passed_positionally(
    server: RecordingServer, make_api: MakeApi
) -> None:
    api = make_api()
    api.get_pending_uploads(None, None, 5.0, None, None, {"X-Pos": "yes"}, 0)
    assert server.last.header("X-Pos") == "yes"
    api.get_pending_uploads(None, None, (1, 2))
    api.get_pending_uploads(None, None, [1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "args", "kwargs"),
    [
        ("get_upload_by_id", ("5",), {}),
        ("get_upload_by_id", (True,), {}),
        ("get_upload_by_id", (0,), {}),
        ("sign_upload_part", ("u", 0, "k", 5), {}),
        ("sign_upload_part", ("u", 1, "k", -1), {}),
        ("sign_upload_part", ("u", 1, "k"), {}),
        ("get_s3_upload_params", ("f", "t"), {"metadata_size": -1}),
        ("get_pending_uploads", (), {"unknown": 1}),
        ("get_pending_uploads", (), {"_request_timeout": 0}),
        ("get_pending_uploads", (), {"_request_timeout": "5"}),
        ("get_pending_uploads", (), {"_host_index": 1}),
        ("initiate_multipart_upload", (lilt.InitiateUploadBodyMetadata(),), {}),
        ("complete_multipart_upload", ("u", "k", {"parts": [{"ETag": "e", "PartNumber": 0}]}), {}),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    server: RecordingServer,
    make_api: MakeApi,
    call: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    with pytest.raises(pydantic.ValidationError):
        getattr(make_api(), call)(*args, **kwargs)
    assert server.seen == []


def test_dict_bodies_are_coerced_and_models_pass_by_identity(
    server: RecordingServer, make_api: MakeApi
) -> None:
    api = make_api()
    body = lilt.InitiateUploadBody(filename="a", type="b")
    serialized = api._initiate_s3_upload_serialize(body, None, None, None, 0)
    assert serialized[3] == {"filename": "a", "type": "b"}
    api.initiate_s3_upload({"filename": "d", "type": "e"})  # type: ignore[arg-type]
    assert server.last.json() == {"filename": "d", "type": "e"}


def test_serialize_helpers_return_the_request_without_sending(
    server: RecordingServer, make_api: MakeApi
) -> None:
    api = make_api(username="u", password="p")
    method, url, headers, body, post = api._sign_upload_part_serialize(
        "U", 2, "k", 9, None, None, None, 0
    )
    assert (method, url, body, post) == (
        "GET",
        server.url + "/v2/upload/s3/multipart/U/2?s3Key=k&size=9",
        None,
        [],
    )
    assert headers["Authorization"].startswith("Basic ")
    with pytest.raises(TypeError):
        api._sign_upload_part_serialize("U", 2, "k", 9)  # type: ignore[call-arg]
    assert server.seen == []
