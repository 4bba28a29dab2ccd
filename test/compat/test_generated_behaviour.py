"""Generated-client behaviour that code may rely on, beyond names and signatures.

Annotations that resolve, validation errors worded as generated, responses
in another charset, JSON ``null`` bodies, and models whose fields are all set
after decoding (as the generated ``from_dict`` left them). Responses come from
a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator

import pydantic
import pytest

import lilt
from support.http_server import Reply, Upstream

VARIANTS = ("", "_with_http_info", "_without_preload_content")
OPERATIONS = (
    "cancel_multipart_upload",
    "complete_multipart_upload",
    "get_pending_uploads",
    "get_s3_upload_params",
    "get_upload_by_id",
    "initiate_multipart_upload",
    "initiate_s3_upload",
    "sign_upload_part",
)
PUBLIC = [op + variant for op in OPERATIONS for variant in VARIANTS]
CALLS = {  # operation -> arguments of one valid call
    "cancel_multipart_upload": ("u1", "k"),
    "complete_multipart_upload": ("u1", "k", lilt.CompleteMultipartUploadBody(parts=[])),
    "get_pending_uploads": (),
    "get_s3_upload_params": ("f.txt", "text/plain"),
    "get_upload_by_id": (1,),
    "initiate_multipart_upload": (lilt.InitiateMultipartUploadBody(filename="f", type="t"),),
    "initiate_s3_upload": (lilt.InitiateUploadBody(filename="f", type="t"),),
    "sign_upload_part": ("u1", 1, "k", 5),
}


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream() as running:
        yield running


@pytest.fixture
def api(upstream: Upstream) -> Iterator[lilt.UploadsApi]:
    with lilt.ApiClient(lilt.Configuration(host=upstream.url, retries=0)) as client:
        yield lilt.UploadsApi(client)


@pytest.mark.parametrize("name", PUBLIC)
def test_get_type_hints_resolves_every_public_method(name: str) -> None:
    method = getattr(lilt.UploadsApi, name)
    hints = typing.get_type_hints(method)
    extras = typing.get_type_hints(method, include_extras=True)
    signature = inspect.signature(method)
    assert set(hints) == set(signature.parameters) - {"self"} | {"return"}
    for param in list(signature.parameters.values())[1:]:
        assert extras[param.name] == param.annotation  # objects, not strings
    assert hints["return"] == signature.return_annotation


def test_validation_errors_read_as_generated() -> None:
    api = lilt.UploadsApi(lilt.ApiClient(lilt.Configuration(host="http://127.0.0.1:9")))
    with pytest.raises(pydantic.ValidationError) as wrong_type:
        api.get_upload_by_id("5")
    assert wrong_type.value.title == "UploadsApi.get_upload_by_id"
    assert [(e["type"], e["loc"]) for e in wrong_type.value.errors()] == [("int_type", (1,))]
    with pytest.raises(pydantic.ValidationError) as unknown:
        api.sign_upload_part_with_http_info("u", 1, "k", 5, bogus=1)
    assert unknown.value.title == "UploadsApi.sign_upload_part_with_http_info"
    assert [(e["type"], e["loc"]) for e in unknown.value.errors()] == [
        ("unexpected_keyword_argument", ("bogus",))
    ]
    api.api_client.close()


@pytest.mark.parametrize(
    ("charset", "text"),
    [("iso-8859-1", "café déjà"), ("utf-16", "naïve ☃"), ("cp1252", "“quoted” €")],
)
def test_a_body_in_another_declared_charset_is_decoded_with_it(
    upstream: Upstream, api: lilt.UploadsApi, charset: str, text: str
) -> None:
    body = f'{{"url": "https://s/x", "key": "{text}", "method": "PUT"}}'.encode(charset)
    upstream.queue(
        Reply(body=body, headers={"Content-Type": f"application/json; charset={charset}"})
    )
    params = api.get_s3_upload_params("f.txt", "text/plain")
    assert params.key == text


def test_an_undecodable_body_is_a_decode_error(upstream: Upstream, api: lilt.UploadsApi) -> None:
    upstream.queue(Reply(body=b'{"key": "\xff"}', headers={"Content-Type": "application/json"}))
    with pytest.raises(lilt.exceptions.ResponseDecodeError) as error:
        api.get_s3_upload_params("f.txt", "text/plain")
    assert error.value.status == 200
    upstream.queue(
        Reply(body=b'{"key": "k"}', headers={"Content-Type": "application/json; charset=nope"})
    )
    with pytest.raises(lilt.exceptions.ResponseDecodeError, match="nope"):
        api.get_s3_upload_params("f.txt", "text/plain")


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_json_null_body_gives_none_for_every_operation(
    upstream: Upstream, api: lilt.UploadsApi, operation: str
) -> None:
    upstream.queue(Reply(body=b" null\n"), Reply(body=b"null"))
    assert getattr(api, operation)(*CALLS[operation]) is None
    info = getattr(api, operation + "_with_http_info")(*CALLS[operation])
    assert (info.status_code, info.data, info.raw_data) == (200, None, b"null")
    assert len(upstream.seen) == 2


def test_decoded_models_have_every_field_set_as_from_dict_does(
    upstream: Upstream, api: lilt.UploadsApi
) -> None:
    upstream.queue(
        Reply(body=[{"id": 7}, {"id": 8, "status": "pending"}]),
        Reply(body=[{"uploadId": "u9"}]),
    )
    records = api.get_pending_uploads()
    expected = lilt.GetPendingUploads200ResponseInner.from_dict({"id": 7})
    assert (
        records[0].model_fields_set
        == expected.model_fields_set
        == {"id", "filename", "status", "created_at"}
    )
    assert records[0].model_dump(exclude_unset=True) == {
        "id": 7,
        "filename": None,
        "status": None,
        "created_at": None,
    }
    started = api.initiate_multipart_upload([{"filename": "f", "type": "t"}])
    assert started[0].model_dump(exclude_unset=True) == {"upload_id": "u9", "key": None}


def test_models_keep_the_generated_metadata() -> None:
    model = lilt.CompleteMultipartUploadBodyPartsInner
    assert model._CompleteMultipartUploadBodyPartsInner__properties == ["ETag", "PartNumber"]  # type: ignore[attr-defined]
    assert model.model_fields["e_tag"].description == "ETag of the uploaded part"
    assert inspect.getdoc(model) == "CompleteMultipartUploadBodyPartsInner"
    assert lilt.InitiateUploadBody.model_json_schema()["description"] == (
        "A single upload request object, or an array of upload request objects (max 100)."
    )
