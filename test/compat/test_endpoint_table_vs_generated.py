"""The operation table agrees with the generated 3.1.0 client (``generated_3_1_0.json``).

Each :class:`~lilt._endpoint.Endpoint` takes its name from its signature
function and its response types from that function's return annotation; here
both are checked against what the generated ``UploadsApi`` declared: the same
eight operations, each decoding a 2xx body to the type the generated method
returned (the two initiate operations also decode a list of it, for bulk).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List

import pytest

from compat.surface import annotation
from lilt._endpoint import Endpoint
from lilt.api.uploads_api import ENDPOINTS

FACTS: dict[str, str] = json.loads(
    (Path(__file__).resolve().parent / "generated_3_1_0.json").read_text()
)["facts"]
MEMBER = "class lilt.api.uploads_api.UploadsApi member "
SUFFIXES = ("_with_http_info", "_without_preload_content", "_serialize")


def _generated_operations() -> set[str]:
    members = [key[len(MEMBER) :] for key in FACTS if key.startswith(MEMBER)]
    return {m for m in members if not m.startswith("_") and not m.endswith(SUFFIXES)}


def _generated_return(name: str) -> str:
    kind, _, details = FACTS[MEMBER + name].partition(" ")
    assert kind == "function"
    returned: Any = json.loads(details)["return"]
    assert isinstance(returned, str)
    return returned


def test_the_table_names_exactly_the_generated_operations() -> None:
    assert {e.name for e in ENDPOINTS} == _generated_operations()
    assert len(ENDPOINTS) == 8


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_the_response_type_is_what_the_generated_method_returned(endpoint: Endpoint) -> None:
    assert annotation(endpoint.response) == _generated_return(endpoint.name)
    assert _generated_return(endpoint.name + "_with_http_info") == (
        f"lilt.api_response.ApiResponse[{annotation(endpoint.response)}]"
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_only_operations_with_a_json_body_list_have_a_bulk_response(endpoint: Endpoint) -> None:
    if endpoint.name.startswith("initiate_"):
        assert endpoint.bulk_response == List[endpoint.response]
    else:
        assert endpoint.bulk_response is None
        assert endpoint.response == endpoint.success
