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


def errors(error: RateLimitError) -> Optional[float]:
    assert_type(error.status, Optional[int])
    return error.retry_after


def client() -> None:
    with lilt.ApiClient(lilt.Configuration(host="http://127.0.0.1:1")) as api_client:
        usage(lilt.UploadsApi(api_client))
