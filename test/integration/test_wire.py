"""What each operation puts on the wire, checked at a real server on 127.0.0.1.

The expected request lines are the generated client's (contract section 2.4),
except where the contract lists a defect that is fixed here.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import urllib3

import lilt
from lilt.models import (
    CompleteMultipartUploadBody,
    CompleteMultipartUploadBodyPartsInner,
    InitiateMultipartUploadBody,
    InitiateMultipartUploadBodyMetadata,
    InitiateUploadBody,
)
from support.recording_server import RecordingServer

KEY = "SECRET/+ &="
ENCODED_KEY = "SECRET/%2B%20%26%3D"
MakeApi = Callable[..., lilt.UploadsApi]

PARTS = CompleteMultipartUploadBody(
    parts=[
        CompleteMultipartUploadBodyPartsInner(e_tag="e1", part_number=1),
        CompleteMultipartUploadBodyPartsInner(e_tag="e2", part_number=2),
    ]
)

# (operation, args, method, target without auth, JSON body or None)
CALLS: list[tuple[str, tuple[Any, ...], str, str, Any]] = [
    (
        "cancel_multipart_upload",
        ("id/with slash", "uploads/u 1/f+x.zip"),
        "DELETE",
        "/v2/upload/s3/multipart/id%2Fwith%20slash?s3Key=uploads/u%201/f%2Bx.zip",
        None,
    ),
    (
        "complete_multipart_upload",
        ("abc", "k/1", PARTS),
        "POST",
        "/v2/upload/s3/multipart/abc/complete?s3Key=k/1",
        {"parts": [{"ETag": "e1", "PartNumber": 1}, {"ETag": "e2", "PartNumber": 2}]},
    ),
    (
        "get_pending_uploads",
        ("1,2", "pending"),
        "GET",
        "/v2/upload?ids=1%2C2&statuses=pending",
        None,
    ),
    ("get_pending_uploads", (), "GET", "/v2/upload", None),
    (
        "get_s3_upload_params",
        ("f.json", "application/json", 1024, "c", "uu", "a,b"),
        "GET",
        "/v2/upload/s3/params?filename=f.json&type=application/json&metadata.size=1024"
        "&metadata.category=c&metadata.uuid=uu&metadata.labels=a%2Cb",
        None,
    ),
    ("get_upload_by_id", (5,), "GET", "/v2/upload/5", None),
    (
        "initiate_multipart_upload",
        (
            InitiateMultipartUploadBody(
                filename="f.zip",
                type="application/zip",
                metadata=InitiateMultipartUploadBodyMetadata(size=10, labels=["a"]),
            ),
        ),
        "POST",
        "/v2/upload/s3/multipart",
        {"filename": "f.zip", "type": "application/zip", "metadata": {"size": 10, "labels": ["a"]}},
    ),
    (
        "initiate_s3_upload",
        (InitiateUploadBody(filename="f.json", type="application/json"),),
        "POST",
        "/v2/upload/s3/params",
        {"filename": "f.json", "type": "application/json"},
    ),
    # Defect 1 fixed: the part number is in the path.
    (
        "sign_upload_part",
        ("abc", 3, "uploads/x.zip", 8388608),
        "GET",
        "/v2/upload/s3/multipart/abc/3?s3Key=uploads/x.zip&size=8388608",
        None,
    ),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CALLS)]


def _with_key(target: str) -> str:
    return target + ("&" if "?" in target else "?") + "key=" + ENCODED_KEY


@pytest.mark.parametrize(("name", "args", "method", "target", "body"), CALLS, ids=IDS)
@pytest.mark.parametrize("variant", ["", "_with_http_info", "_without_preload_content"])
def test_every_operation_and_variant_sends_the_documented_request(
    server: RecordingServer,
    make_api: MakeApi,
    name: str,
    args: tuple[Any, ...],
    method: str,
    target: str,
    body: Any,
    variant: str,
) -> None:
    api = make_api(api_key={"ApiKeyAuth": KEY})
    result = getattr(api, name + variant)(*args)
    if variant == "_without_preload_content":
        assert isinstance(result, urllib3.HTTPResponse)
        result.read()
        result.release_conn()
    elif variant == "_with_http_info":
        assert isinstance(result, lilt.ApiResponse)
        assert result.status_code == 200
    sent = server.last
    assert (sent.method, sent.target) == (method, _with_key(target))
    assert sent.header("Accept") == "application/json"
    assert sent.header("User-Agent") == "OpenAPI-Generator/3.1.0/python"
    assert sent.header("Authorization") is None
    if body is None:
        assert sent.body == b""
        assert sent.header("Content-Type") is None
    else:
        assert sent.header("Content-Type") == "application/json"
        assert sent.json() == body


def test_json_body_uses_default_separators_and_ascii_escapes(
    server: RecordingServer, make_api: MakeApi
) -> None:
    make_api().initiate_s3_upload(InitiateUploadBody(filename="café.txt", type="text/plain"))
    assert server.last.body == b'{"filename": "caf\\u00e9.txt", "type": "text/plain"}'


def test_results_are_decoded_into_the_declared_models(make_api: MakeApi) -> None:
    api = make_api()
    assert api.sign_upload_part("U1", 1, "k", 5).method == "PUT"
    pending = api.get_pending_uploads()
    assert isinstance(pending, list)
    assert isinstance(pending[0], lilt.GetPendingUploads200ResponseInner)
    assert pending[0].created_at is not None and pending[0].created_at.year == 2026
    assert api.initiate_multipart_upload({"filename": "a", "type": "b"}).upload_id == "U1"


def test_subclassed_pipeline_hooks_run_in_every_mode(server: RecordingServer) -> None:
    """param_serialize, call_api and response_deserialize of a subclass run for every
    operation method, as in the generated client (the plain client may take shortcuts)."""
    calls: list[str] = []

    class Hooked(lilt.ApiClient):
        def param_serialize(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("param_serialize")
            method, url, headers, body, post = super().param_serialize(*args, **kwargs)
            return method, url, {**headers, "X-Hooked": "1"}, body, post

        def call_api(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("call_api")
            return super().call_api(*args, **kwargs)

        def response_deserialize(self, *args: Any, **kwargs: Any) -> Any:
            calls.append("response_deserialize")
            result = super().response_deserialize(*args, **kwargs)
            result.data.filename = "hooked.txt"
            return result

    with Hooked(lilt.Configuration(host=server.url, username="k", password="k")) as client:
        api = lilt.UploadsApi(client)
        assert api.get_upload_by_id(7).filename == "hooked.txt"
        assert api.get_upload_by_id_with_http_info(7).data.filename == "hooked.txt"
        assert calls == ["param_serialize", "call_api", "response_deserialize"] * 2
        assert api.get_upload_by_id_without_preload_content(7).status == 200
    assert calls[6:] == ["param_serialize", "call_api"]
    assert [seen.headers.get("X-Hooked") for seen in server.seen] == ["1", "1", "1"]


@pytest.mark.parametrize("kind", ["single", "multipart"])
def test_bulk_initiate_sends_a_list_and_returns_a_list(
    server: RecordingServer, make_api: MakeApi, kind: str
) -> None:
    """Defect 3: a list of up to 100 bodies is accepted and the list response decoded."""
    api = make_api()
    bodies = [{"filename": f"f{i}.txt", "type": "text/plain"} for i in range(100)]
    if kind == "single":
        results: list[Any] = api.initiate_s3_upload(bodies)  # type: ignore[arg-type]
        assert all(isinstance(r, lilt.GetS3UploadParams200Response) for r in results)
    else:
        results = api.initiate_multipart_upload(bodies)  # type: ignore[arg-type]
        assert all(isinstance(r, lilt.InitiateMultipartUpload200Response) for r in results)
    assert len(results) == 100
    assert [b["filename"] for b in server.last.json()] == [f"f{i}.txt" for i in range(100)]


@pytest.mark.parametrize("count", [0, 101])
def test_bulk_initiate_outside_1_to_100_is_refused_before_any_request(
    server: RecordingServer, make_api: MakeApi, count: int
) -> None:
    api = make_api()
    bodies = [{"filename": "f", "type": "t"}] * count
    with pytest.raises(lilt.ApiValueError, match="1 to 100"):
        api.initiate_multipart_upload(bodies)  # type: ignore[arg-type]
    assert server.seen == []


def test_host_with_trailing_slash_is_harmless(server: RecordingServer, make_api: MakeApi) -> None:
    """Defect 11: the generated client sent //v2/..."""
    make_api(host=server.url + "/").get_upload_by_id(7)
    assert server.last.target == "/v2/upload/7"


def test_dot_segments_in_path_values_are_refused(
    server: RecordingServer, make_api: MakeApi
) -> None:
    with pytest.raises(lilt.ApiValueError):
        make_api().cancel_multipart_upload("..", "k")
    assert server.seen == []
