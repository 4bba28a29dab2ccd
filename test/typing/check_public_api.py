"""Type-checked by ``mypy --strict`` (not run by pytest): the public API's types as users see them."""

from __future__ import annotations

from typing import Optional

import urllib3
from typing_extensions import assert_type

import lilt
from lilt.exceptions import RateLimitError


def usage(api: lilt.UploadsApi) -> None:
    assert_type(api.sign_upload_part("u", 1, "k", 5), lilt.SignUploadPart200Response)
    assert_type(api.get_pending_uploads(), list[lilt.GetPendingUploads200ResponseInner])
    info = api.get_upload_by_id_with_http_info(1)
    assert_type(info, lilt.ApiResponse[lilt.GetPendingUploads200ResponseInner])
    assert_type(api.cancel_multipart_upload_without_preload_content("u", "k"), urllib3.HTTPResponse)
    body = lilt.InitiateUploadBody(filename="a", type="text/plain")
    assert_type(api.initiate_s3_upload(body), lilt.GetS3UploadParams200Response)
    api.get_pending_uploads("1", None, 5.0, None, None, {"X": "y"}, 0)
    api.get_upload_by_id(1, _request_timeout=(1.0, 2.0))


def bulk(api: lilt.UploadsApi) -> None:
    """Bulk initiate: one body in, one result out; a list in, a list out."""
    one = lilt.InitiateUploadBody(filename="a", type="text/plain")
    assert_type(api.initiate_s3_upload([one, one]), list[lilt.GetS3UploadParams200Response])
    assert_type(
        api.initiate_s3_upload_with_http_info([one]),
        lilt.ApiResponse[list[lilt.GetS3UploadParams200Response]],
    )
    assert_type(
        api.initiate_s3_upload_with_http_info(one, _request_timeout=3.0),
        lilt.ApiResponse[lilt.GetS3UploadParams200Response],
    )
    big = lilt.InitiateMultipartUploadBody(filename="b.zip", type="application/zip")
    assert_type(api.initiate_multipart_upload(big), lilt.InitiateMultipartUpload200Response)
    assert_type(api.initiate_multipart_upload([big]), list[lilt.InitiateMultipartUpload200Response])
    assert_type(
        api.initiate_multipart_upload_with_http_info([big], None, None, None, None, 0),
        lilt.ApiResponse[list[lilt.InitiateMultipartUpload200Response]],
    )
    assert_type(api.initiate_s3_upload_without_preload_content([one]), urllib3.HTTPResponse)
    for started in api.initiate_multipart_upload([big, big]):
        assert_type(started.upload_id, Optional[str])


def submodules(
    body: lilt.models.InitiateUploadBody,
) -> lilt.models.initiate_upload_body.InitiateUploadBody:
    """Annotations that name submodules reached from a bare ``import lilt``."""
    assert_type(lilt.rest.RESTResponseType, type[urllib3.HTTPResponse])
    assert_type(lilt.api.uploads_api.UploadsApi, type[lilt.UploadsApi])
    assert_type(lilt.exceptions.NotFoundException(404), lilt.exceptions.NotFoundException)
    return body


def errors(error: RateLimitError) -> Optional[float]:
    assert_type(error.status, Optional[int])
    return error.retry_after


def client() -> None:
    with lilt.ApiClient(lilt.Configuration(host="http://127.0.0.1:1")) as api_client:
        usage(lilt.UploadsApi(api_client))
