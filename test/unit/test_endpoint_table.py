"""The operation table is checked as data: no socket, no server."""

from __future__ import annotations

import inspect
import re

import pytest

import lilt
from lilt._endpoint import CALL_OPTIONS, Endpoint
from lilt.api.uploads_api import ENDPOINTS

PLACEHOLDER = re.compile(r"\{([^}]+)\}")
VARIANTS = ("", "_with_http_info", "_without_preload_content")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_path_placeholders_equal_the_declared_path_parameters(endpoint: Endpoint) -> None:
    """The generated sign_upload_part path (`.../partNumber`, no braces) fails this."""
    assert set(PLACEHOLDER.findall(endpoint.path)) == set(endpoint.path_params.values())
    assert "partNumber" not in PLACEHOLDER.sub("", endpoint.path)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_every_operation_parameter_reaches_the_wire(endpoint: Endpoint) -> None:
    names = [p.name for p in endpoint.parameters if p.name not in CALL_OPTIONS]
    carried = [
        *endpoint.path_params,
        *endpoint.query_params,
        *([endpoint.body] if endpoint.body else []),
    ]
    assert sorted(names) == sorted(carried)
    assert [p.name for p in endpoint.parameters][-5:] == list(CALL_OPTIONS)


def test_the_table_covers_the_eight_operations_once() -> None:
    assert len({e.name for e in ENDPOINTS}) == len(ENDPOINTS) == 8
    assert {(e.method, e.path) for e in ENDPOINTS} == {
        ("DELETE", "/v2/upload/s3/multipart/{uploadId}"),
        ("POST", "/v2/upload/s3/multipart/{uploadId}/complete"),
        ("GET", "/v2/upload"),
        ("GET", "/v2/upload/s3/params"),
        ("GET", "/v2/upload/{uploadId}"),
        ("POST", "/v2/upload/s3/multipart"),
        ("POST", "/v2/upload/s3/params"),
        ("GET", "/v2/upload/s3/multipart/{uploadId}/{partNumber}"),
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_the_three_variants_share_one_signature(endpoint: Endpoint) -> None:
    signatures = [inspect.signature(getattr(lilt.UploadsApi, endpoint.name + v)) for v in VARIANTS]
    params = [list(s.parameters.values()) for s in signatures]
    assert params[0] == params[1] == params[2]
    assert params[0][0].name == "self"
    returns = [s.return_annotation for s in signatures]
    assert returns[1] == lilt.ApiResponse[returns[0]]
    assert returns[2] is lilt.rest.RESTResponseType


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_serialize_helper_takes_every_parameter_as_required_and_no_timeout(
    endpoint: Endpoint,
) -> None:
    signature = inspect.signature(getattr(lilt.UploadsApi, f"_{endpoint.name}_serialize"))
    names = list(signature.parameters)
    assert "_request_timeout" not in names
    assert names[-4:] == ["_request_auth", "_content_type", "_headers", "_host_index"]
    assert all(p.default is inspect.Parameter.empty for p in signature.parameters.values())


def test_methods_have_names_docs_and_raw_functions() -> None:
    method = lilt.UploadsApi.sign_upload_part_with_http_info
    assert method.__name__ == "sign_upload_part_with_http_info"
    assert (method.__doc__ or "").startswith("Sign Upload Part")
    assert callable(method.raw_function)  # type: ignore[attr-defined]
