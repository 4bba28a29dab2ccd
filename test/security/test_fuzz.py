"""Fuzzing: whatever a server sends, only the documented exception types come out.

- Responses: any status, any headers (Content-Type, Retry-After,
  X-RateLimit-Reset, request ids), any bytes or JSON, into every operation
  in both decoding modes. Only :class:`lilt.exceptions.ApiException`
  subclasses may escape, and their ``str``/``repr``/attributes must work.
- Arguments: anything passed to an operation fails before any I/O with
  pydantic's ``ValidationError``, ``ApiValueError`` or ``ApiTypeError``, or
  reaches the transport.
- Models: ``from_json``/``from_dict`` on anything return or raise a
  ``ValueError`` (pydantic's ``ValidationError`` is one).

Most examples use an in-memory transport (a real ``RESTResponse`` over a real
``urllib3.HTTPResponse``), so the suite stays fast; one test sends its
examples through a real server on 127.0.0.1. Every run uses the same
examples (``derandomize``), so a failure reproduces.
"""

from __future__ import annotations

import io
import json
import typing
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import urllib3
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import lilt
import lilt.models
from lilt.exceptions import ApiException, ApiTypeError, ApiValueError, RateLimitError
from lilt.rest import RESTResponse
from support.http_server import Reply, Seen, Upstream

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies ------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=40
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/json; charset=utf-16",
            "application/json; charset=no-such-codec",
            "application/problem+json",
            "text/plain",
            "text/html; charset=utf-8",
            "application/xml",
            "application/octet-stream",
            "",
        ]
    ),
    header_text,
)
# HTTP dates of any year, 0 to 99999: datetime itself cannot hold some of them.
http_dates = st.builds(
    "{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} GMT".format,
    st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
    st.integers(0, 99),
    st.sampled_from(["Jan", "Feb", "Jun", "Dec", "Foo"]),
    st.integers(0, 99_999),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
)
wait_hints = st.one_of(
    st.integers(-10, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    http_dates,
    header_text,
)


@st.composite
def headers(draw: st.DrawFn) -> dict[str, str]:
    result: dict[str, str] = {}
    if draw(st.booleans()):
        result["Content-Type"] = draw(content_types)
    if draw(st.booleans()):
        result["Retry-After"] = draw(wait_hints)
    if draw(st.booleans()):
        result["X-RateLimit-Reset"] = draw(wait_hints)
    if draw(st.booleans()):
        result[draw(st.sampled_from(["x-request-id", "X-Request-Id", "x-amz-request-id"]))] = draw(
            header_text
        )
    return result


def model_shaped(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Dicts with the model's wire keys and arbitrary values (and sometimes valid ones)."""
    keys = [f.alias or name for name, f in model.model_fields.items()]
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), json_values, max_size=6)


def shaped_for(response_type: Any) -> st.SearchStrategy[Any]:
    if typing.get_origin(response_type) in (list, typing.List):
        (inner,) = typing.get_args(response_type)
        return st.lists(model_shaped(inner), max_size=3)
    return model_shaped(response_type)


# -- the eight operations ------------------------------------------------------------

START = lilt.InitiateMultipartUploadBody(filename="a.bin", type="application/octet-stream")
SINGLE = lilt.InitiateUploadBody(filename="a.txt", type="text/plain")
PARTS = lilt.CompleteMultipartUploadBody(parts=[{"ETag": '"e1"', "PartNumber": 1}])

# name, positional arguments, the success type the body should decode into
CALLS: list[tuple[str, tuple[Any, ...], Any]] = [
    ("cancel_multipart_upload", ("U1", "uploads/k"), lilt.CancelMultipartUpload200Response),
    (
        "complete_multipart_upload",
        ("U1", "uploads/k", PARTS),
        lilt.CompleteMultipartUpload200Response,
    ),
    ("get_pending_uploads", (), list[lilt.GetPendingUploads200ResponseInner]),
    ("get_s3_upload_params", ("a.txt", "text/plain"), lilt.GetS3UploadParams200Response),
    ("get_upload_by_id", (1,), lilt.GetPendingUploads200ResponseInner),
    ("initiate_multipart_upload", (START,), lilt.InitiateMultipartUpload200Response),
    ("initiate_multipart_upload", ([START, START],), list[lilt.InitiateMultipartUpload200Response]),
    ("initiate_s3_upload", (SINGLE,), lilt.GetS3UploadParams200Response),
    ("initiate_s3_upload", ([SINGLE],), list[lilt.GetS3UploadParams200Response]),
    ("sign_upload_part", ("U1", 1, "uploads/k", 5), lilt.SignUploadPart200Response),
]
SUFFIXES = ("", "_with_http_info")


@st.composite
def responses(draw: st.DrawFn) -> tuple[int, dict[str, str], bytes, int]:
    index = draw(st.integers(0, len(CALLS) - 1))
    status = draw(
        st.one_of(
            st.sampled_from([200, 201, 204, 299, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503]),
            st.integers(100, 999),
        )
    )
    body = draw(
        st.one_of(
            st.binary(max_size=200),
            json_values.map(json.dumps).map(str.encode),
            shaped_for(CALLS[index][2]).map(json.dumps).map(str.encode),
            st.dictionaries(st.just("message"), json_values, max_size=1)
            .map(json.dumps)
            .map(str.encode),
        )
    )
    return status, draw(headers()), body, index


class FakeTransport:
    """Stands in for ``RESTClientObject``: answers every request with the scripted response."""

    def __init__(self) -> None:
        self.status, self.headers, self.body = 200, {}, b"{}"
        self.calls = 0

    def close(self) -> None:
        pass

    def request(self, *args: Any, **kwargs: Any) -> RESTResponse:
        self.calls += 1
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(self.body),
            headers=self.headers,
            status=self.status,
            reason="Fuzzed",
            preload_content=False,
        )
        return RESTResponse(raw)


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[lilt.UploadsApi, FakeTransport]]:
    transport = FakeTransport()
    client = lilt.ApiClient(
        lilt.Configuration(host="http://127.0.0.1:9", username="u", password="p"),
        transport=transport,
    )
    yield lilt.UploadsApi(client), transport
    client.close()


def exercise(error: ApiException) -> None:
    """Everything a caller may look at on an error must work."""
    assert isinstance(str(error), str)
    assert isinstance(repr(error), str)
    assert error.request_id is None or isinstance(error.request_id, str)
    assert error.message is None or isinstance(error.message, str)
    assert error.body is None or isinstance(error.body, str)
    if isinstance(error, RateLimitError):
        hint = error.retry_after
        assert hint is None or hint >= 0


def check_call(api: lilt.UploadsApi, index: int, suffix: str) -> None:
    name, args, _ = CALLS[index]
    try:
        getattr(api, name + suffix)(*args)
    except ApiException as error:
        exercise(error)


# -- responses ------------------------------------------------------------------------


@FUZZ
@given(response=responses(), suffix=st.sampled_from(SUFFIXES))
@example(response=(200, {"Content-Type": "application/json"}, b"", 4), suffix="")
@example(response=(200, {}, b"null", 2), suffix="")
@example(response=(200, {"Content-Type": "text/html"}, b"<html>", 4), suffix="")
@example(response=(204, {}, b"", 0), suffix="_with_http_info")
@example(response=(429, {"Retry-After": "nan", "X-RateLimit-Reset": "-inf"}, b"", 4), suffix="")
@example(
    response=(500, {"Content-Type": "application/json; charset=utf-16"}, b"\xff", 4), suffix=""
)
@example(response=(200, {}, b'{"id": 1e400}', 4), suffix="")
def test_any_response_gives_data_or_an_api_exception(
    fake: tuple[lilt.UploadsApi, FakeTransport],
    response: tuple[int, dict[str, str], bytes, int],
    suffix: str,
) -> None:
    api, transport = fake
    transport.status, transport.headers, transport.body, index = response
    check_call(api, index, suffix)


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[lilt.UploadsApi, Upstream]]:
    def unscripted(seen: Seen) -> Reply:
        return Reply(status=500, body=b"unscripted")

    with (
        Upstream(unscripted) as server,
        lilt.ApiClient(lilt.Configuration(host=server.url, retries=0)) as client,
    ):
        yield lilt.UploadsApi(client), server


@settings(FUZZ, max_examples=40)
@given(response=responses(), suffix=st.sampled_from(SUFFIXES))
def test_any_response_over_a_real_socket(
    live: tuple[lilt.UploadsApi, Upstream],
    response: tuple[int, dict[str, str], bytes, int],
    suffix: str,
) -> None:
    api, server = live
    status, fields, body, index = response
    if not 200 <= status <= 599:
        status = 200 + status % 400  # http.server writes any code, but clients choke on >599
    # http.server always sends its own Content-Type unless we do; keep ours
    server.queue(Reply(status=status, headers={"Content-Type": "", **fields}, body=body))
    check_call(api, index, suffix)


# -- defects the fuzzing found (fixed), one example each --------------------------------


def test_retry_after_with_an_out_of_range_date(
    fake: tuple[lilt.UploadsApi, FakeTransport],
) -> None:
    api, transport = fake
    transport.status, transport.body = 429, b""
    transport.headers = {"Retry-After": "Wed, 21 Oct 99999 07:28:00 GMT"}
    with pytest.raises(RateLimitError) as caught:
        api.get_upload_by_id(1)
    exercise(caught.value)


@pytest.mark.parametrize("status", [200, 500])
def test_deeply_nested_json_body(fake: tuple[lilt.UploadsApi, FakeTransport], status: int) -> None:
    api, transport = fake
    transport.status, transport.headers = status, {"Content-Type": "application/json"}
    transport.body = b"[" * 100_000
    with pytest.raises(ApiException):
        api.get_upload_by_id(1)


# -- arguments ----------------------------------------------------------------------------

anything = st.one_of(
    json_values,
    st.sampled_from([".", "..", "", "a/b", "%2e%2e", "\x00", "ü", 0, -1, 2**70, 1.5, True]),
    st.lists(st.builds(lambda: START), max_size=3),
    st.lists(st.builds(lambda: SINGLE), min_size=99, max_size=102),
)


@FUZZ
@given(index=st.integers(0, len(CALLS) - 1), data=st.data())
def test_any_argument_fails_before_io_or_reaches_the_transport(
    fake: tuple[lilt.UploadsApi, FakeTransport], index: int, data: st.DataObject
) -> None:
    api, transport = fake
    transport.status, transport.headers, transport.body = 200, {}, b"{}"
    name, args, _ = CALLS[index]
    fuzzed = tuple(data.draw(st.one_of(st.just(a), anything)) for a in args)
    before = transport.calls
    try:
        getattr(api, name)(*fuzzed)
    except (ValidationError, ApiValueError, ApiTypeError):
        assert transport.calls == before, "a client-side argument error after I/O"
    except ApiException as error:
        assert transport.calls == before + 1
        exercise(error)


# -- models --------------------------------------------------------------------------------

MODELS = sorted(
    (
        obj
        for obj in vars(lilt.models).values()
        if isinstance(obj, type)
        and issubclass(obj, BaseModel)
        and obj.__module__ != "lilt.models._base"
    ),
    key=lambda m: m.__name__,
)


def round_trip(model: BaseModel) -> None:
    model.to_dict()  # type: ignore[attr-defined]
    model.to_str()  # type: ignore[attr-defined]
    type(model).from_json(model.to_json())  # type: ignore[attr-defined]


@FUZZ
@given(
    model=st.sampled_from(MODELS),
    text=st.one_of(
        st.text(max_size=80),
        json_values.map(json.dumps),
        st.sampled_from(MODELS).flatmap(model_shaped).map(json.dumps),
    ),
)
@example(model=lilt.models.Error, text="")
@example(model=lilt.models.Error, text="NaN")
def test_from_json_returns_or_raises_a_value_error(model: type[BaseModel], text: str) -> None:
    parse: Callable[[str], Any] = model.from_json  # type: ignore[attr-defined]
    try:
        result = parse(text)
    except ValueError:
        return
    if result is not None:
        round_trip(result)


@FUZZ
@given(model=st.sampled_from(MODELS), data=st.data())
def test_from_dict_returns_or_raises_a_value_error(
    model: type[BaseModel], data: st.DataObject
) -> None:
    value = data.draw(st.one_of(json_values, model_shaped(model)))
    try:
        result = model.from_dict(value)  # type: ignore[attr-defined]
    except ValueError:
        return
    if result is not None:
        round_trip(result)


def test_from_json_on_deeply_nested_input() -> None:
    with pytest.raises(ValueError):
        lilt.models.Error.from_json("[" * 100_000)
