"""UploadsApi: LILT's eight upload operations.

Each operation is declared once below: a signature function (its name, public
parameters, constraints and success type, validated by pydantic as in the
generated client) and an :class:`~lilt._endpoint.Endpoint` record (method,
path, wire names, body). ``UploadsApi`` then shows each operation three ways,
all through one request path:

- ``op(...)`` returns the decoded body;
- ``op_with_http_info(...)`` returns an :class:`~lilt.api_response.ApiResponse`;
- ``op_without_preload_content(...)`` returns the unread urllib3 response.

Every method also takes the generated client's five call options, always
last and in this order (positional use keeps working):

``_request_timeout``
    a number of seconds (total) or a ``(connect, read)`` pair; when None the
    configuration's ``timeout`` applies (the generated client had none).
``_request_auth``
    one auth setting ``{"in", "key", "value", "type"}`` replacing the configured auth.
``_content_type``
    the request Content-Type, for operations with a JSON body.
``_headers``
    extra headers; they win over the default headers (never mutated).
``_host_index``
    only 0 is valid; the host comes from the configuration.

The annotations are real objects (no ``from __future__ import annotations``
here), spelled as the generated client spelled them, so ``inspect.signature``
and ``typing.get_type_hints`` show what they showed; the two initiate
operations also accept a list (bulk), and say so in their annotations.
"""

import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union, overload

from pydantic import Field, StrictFloat, StrictInt, StrictStr, validate_call
from typing_extensions import Annotated

from lilt._endpoint import Endpoint, Mode, api_class, operation, serializer
from lilt.api_client import ApiClient, RequestSerialized
from lilt.api_response import ApiResponse
from lilt.models.cancel_multipart_upload200_response import CancelMultipartUpload200Response
from lilt.models.complete_multipart_upload200_response import (
    CompleteMultipartUpload200Response,
)
from lilt.models.complete_multipart_upload_body import CompleteMultipartUploadBody
from lilt.models.get_pending_uploads200_response_inner import (
    GetPendingUploads200ResponseInner,
)
from lilt.models.get_s3_upload_params200_response import GetS3UploadParams200Response
from lilt.models.initiate_multipart_upload200_response import (
    InitiateMultipartUpload200Response,
)
from lilt.models.initiate_multipart_upload_body import InitiateMultipartUploadBody
from lilt.models.initiate_upload_body import InitiateUploadBody
from lilt.models.sign_upload_part200_response import SignUploadPart200Response
from lilt.rest import RESTResponseType

__all__ = [
    "Annotated",
    "ApiClient",
    "ApiResponse",
    "CancelMultipartUpload200Response",
    "CompleteMultipartUpload200Response",
    "CompleteMultipartUploadBody",
    "Dict",
    "Field",
    "GetPendingUploads200ResponseInner",
    "GetS3UploadParams200Response",
    "InitiateMultipartUpload200Response",
    "InitiateMultipartUploadBody",
    "InitiateUploadBody",
    "List",
    "Optional",
    "RESTResponseType",
    "RequestSerialized",
    "SignUploadPart200Response",
    "StrictFloat",
    "StrictInt",
    "StrictStr",
    "Tuple",
    "Union",
    "UploadsApi",
    "validate_call",
    "warnings",
]

# -- the five call options, typed once ------------------------------------------

_Seconds = Annotated[StrictFloat, Field(gt=0)]
_RequestTimeout = Union[None, _Seconds, Tuple[_Seconds, _Seconds]]
_RequestAuth = Optional[Dict[StrictStr, Any]]
_ContentType = Optional[StrictStr]
_Headers = Optional[Dict[StrictStr, Any]]
_HostIndex = Annotated[StrictInt, Field(ge=0, le=0)]

# the bulk initiate bodies and results: one, or a list of 1 to 100
_MultipartBodies = Union[InitiateMultipartUploadBody, List[InitiateMultipartUploadBody]]
_MultipartStarted = Union[
    InitiateMultipartUpload200Response, List[InitiateMultipartUpload200Response]
]
_UploadBodies = Union[InitiateUploadBody, List[InitiateUploadBody]]
_UploadParams = Union[GetS3UploadParams200Response, List[GetS3UploadParams200Response]]

_S3_KEY = "Upload key from initiate response"
_UPLOAD_ID = "Multipart upload ID from initiate response"
# The generated parameter description, verbatim (tools read it as data).
_BULK = (
    "Information about the file(s) to be uploaded. Can be a single object or an array of "
    "objects (max 100).  Single file request: "
    '`{ "filename": "...", "type": "...", "metadata": {...} }` Bulk request: '
    '`[{ "filename": "...", "type": "...", "metadata": {...} }, ...]` '
)


# -- the eight operations ---------------------------------------------------------
# Each function below is a declaration, never called: its name is the operation's,
# its parameters and return annotation are the methods' (``Endpoint`` reads them).


def _cancel_multipart_upload(
    self: Any,
    upload_id: Annotated[StrictStr, Field(description="Multipart upload ID to cancel")],
    s3_key: Annotated[StrictStr, Field(description=_S3_KEY)],
    _request_timeout: _RequestTimeout = None,
    _request_auth: _RequestAuth = None,
    _content_type: _ContentType = None,
    _headers: _Headers = None,
    _host_index: _HostIndex = 0,
) -> CancelMultipartUpload200Response:
    """Cancel Multipart Upload

    Abort a multipart upload; storage discards the parts it already holds.

    :param upload_id: Multipart upload ID to cancel (required)
    :param s3_key: Upload key from initiate response (required)
    """
    raise NotImplementedError


def _complete_multipart_upload(
    self: Any,
    upload_id: Annotated[StrictStr, Field(description=_UPLOAD_ID)],
    s3_key: Annotated[StrictStr, Field(description=_S3_KEY)],
    complete_multipart_upload_body: Annotated[
        CompleteMultipartUploadBody, Field(description="Information about uploaded parts.")
    ],
    _request_timeout: _RequestTimeout = None,
    _request_auth: _RequestAuth = None,
    _content_type: _ContentType = None,
    _headers: _Headers = None,
    _host_index: _HostIndex = 0,
) -> CompleteMultipartUpload200Response:
    """Complete Multipart Upload

    Assemble the uploaded parts, in part-number order, into the final object.

    :param upload_id: Multipart upload ID from initiate response (required)
    :param s3_key: Upload key from initiate response (required)
    :param complete_multipart_upload_body: the ETag and number of every part (required)
    """
    raise NotImplementedError


def _get_pending_uploads(
    self: Any,
    ids: Annotated[
        Optional[StrictStr], Field(description="Comma-separated list of upload IDs to filter by.")
    ] = None,
    statuses: Annotated[
        Optional[StrictStr],
        Field(description="Comma-separated list of upload statuses to filter by."),
    ] = None,
    _request_timeout: _RequestTimeout = None,
    _request_auth: _RequestAuth = None,
    _content_type: _ContentType = None,
    _headers: _Headers = None,
    _host_index: _HostIndex = 0,
) -> List[GetPendingUploads200ResponseInner]:
    """Get All Pending Uploads or specific list of uploads by ids or statuses

    :param ids: Comma-separated list of upload IDs to filter by.
    :param statuses: Comma-separated list of upload statuses to filter by.
    """
    raise NotImplementedError


def _get_s3_upload_params(
    self: Any,
    filename: Annotated[StrictStr, Field(description="A file name including file extension.")],
    type: Annotated[
        StrictStr, Field(description="The content-type or mime-type of the file to upload.")
    ],
    metadata_size: Annotated[
        Optional[Annotated[int, Field(strict=True, ge=0)]],
        Field(description="The size of the file to upload in bytes."),
    ] = None,
    metadata_category: Annotated[
        Optional[StrictStr], Field(description="File category metadata.")
    ] = None,
    metadata_uuid: Annotated[Optional[StrictStr], Field(description="File UUID metadata.")] = None,
    metadata_labels: Annotated[
        Optional[StrictStr],
        Field(
            description=(
                "Comma-separated list of label names to be added to the file "
                "after upload completes."
            )
        ),
    ] = None,
    _request_timeout: _RequestTimeout = None,
    _request_auth: _RequestAuth = None,
    _content_type: _ContentType = None,
    _headers: _Headers = None,
    _host_index: _HostIndex = 0,
) -> GetS3UploadParams200Response:
    """Get S3 Upload Parameters

    A presigned URL for uploading one file in a single request, from query parameters.

    :param filename: A file name including file extension. (required)
    :param type: The content-type or mime-type of the file to upload. (required)
    :param metadata_size: The size of the file to upload in bytes.
    :param metadata_category: File category metadata.
    :param metadata_uuid: File UUID metadata.
    :param metadata_labels: Comma-separated label names added after the upload completes.
    """
    raise NotImplementedError


def _get_upload_by_id(
    self: Any,
    upload_id: Annotated[int, Field(strict=True, ge=1, description="Unique upload identifier")],
    _request_timeout: _RequestTimeout = None,
    _request_auth: _RequestAuth = None,
    _content_type: _ContentType = None,
    _headers: _Headers = None,
    _host_index: _HostIndex = 0,
) -> GetPendingUploads200ResponseInner:
    """Get Upload by ID

    :param upload_id: Unique upload identifier (required)
    """
    raise NotImplementedError


def _initiate_multipart_upload(
    self: Any,
    initiate_multipart_upload_body: Annotated[_MultipartBodies, Field(description=_BULK)],
    _request_timeout: _RequestTimeout = None,
    _request_auth: _RequestAuth = None,
    _content_type: _ContentType = None,
    _headers: _Headers = None,
    _host_index: _HostIndex = 0,
) -> _MultipartStarted:
    """Initiate Multipart Upload

    Start a multipart upload; parts are then signed one by one and completed.
    A list of up to 100 bodies starts that many uploads and returns a list.

    :param initiate_multipart_upload_body: one file, or a list of 1 to 100 (required)
    """
    raise NotImplementedError


def _initiate_s3_upload(
    self: Any,
    initiate_upload_body: Annotated[_UploadBodies, Field(description=_BULK)],
    _request_timeout: _RequestTimeout = None,
    _request_auth: _RequestAuth = None,
    _content_type: _ContentType = None,
    _headers: _Headers = None,
    _host_index: _HostIndex = 0,
) -> _UploadParams:
    """Initiate File Upload to Cloud Storage

    A presigned URL for uploading one file in a single request, from a JSON body.
    A list of up to 100 bodies returns a list of upload parameters.

    :param initiate_upload_body: one file, or a list of 1 to 100 (required)
    """
    raise NotImplementedError


def _sign_upload_part(
    self: Any,
    upload_id: Annotated[StrictStr, Field(description=_UPLOAD_ID)],
    part_number: Annotated[int, Field(strict=True, ge=1, description="Part number (1-based)")],
    s3_key: Annotated[StrictStr, Field(description=_S3_KEY)],
    size: Annotated[int, Field(strict=True, ge=0, description="Size of this part in bytes")],
    _request_timeout: _RequestTimeout = None,
    _request_auth: _RequestAuth = None,
    _content_type: _ContentType = None,
    _headers: _Headers = None,
    _host_index: _HostIndex = 0,
) -> SignUploadPart200Response:
    """Sign Upload Part

    A presigned URL for uploading one part. The part number is sent in the path
    (the generated client dropped it).

    :param upload_id: Multipart upload ID from initiate response (required)
    :param part_number: Part number (1-based) (required)
    :param s3_key: Upload key from initiate response (required)
    :param size: Size of this part in bytes (required)
    """
    raise NotImplementedError


_MULTIPART = "/v2/upload/s3/multipart"

CANCEL = Endpoint(
    "DELETE",
    _MULTIPART + "/{uploadId}",
    _cancel_multipart_upload,
    path_params={"upload_id": "uploadId"},
    query_params={"s3_key": "s3Key"},
)
COMPLETE = Endpoint(
    "POST",
    _MULTIPART + "/{uploadId}/complete",
    _complete_multipart_upload,
    path_params={"upload_id": "uploadId"},
    query_params={"s3_key": "s3Key"},
    body="complete_multipart_upload_body",
)
LIST_UPLOADS = Endpoint(
    "GET",
    "/v2/upload",
    _get_pending_uploads,
    query_params={"ids": "ids", "statuses": "statuses"},
)
PARAMS = Endpoint(
    "GET",
    "/v2/upload/s3/params",
    _get_s3_upload_params,
    query_params={
        "filename": "filename",
        "type": "type",
        "metadata_size": "metadata.size",
        "metadata_category": "metadata.category",
        "metadata_uuid": "metadata.uuid",
        "metadata_labels": "metadata.labels",
    },
)
GET_UPLOAD = Endpoint(
    "GET",
    "/v2/upload/{uploadId}",
    _get_upload_by_id,
    path_params={"upload_id": "uploadId"},
)
INITIATE_MULTIPART = Endpoint(
    "POST",
    _MULTIPART,
    _initiate_multipart_upload,
    body="initiate_multipart_upload_body",
)
INITIATE_SINGLE = Endpoint(
    "POST",
    "/v2/upload/s3/params",
    _initiate_s3_upload,
    body="initiate_upload_body",
)
SIGN_PART = Endpoint(
    "GET",
    _MULTIPART + "/{uploadId}/{partNumber}",
    _sign_upload_part,
    path_params={"upload_id": "uploadId", "part_number": "partNumber"},
    query_params={"s3_key": "s3Key", "size": "size"},
)

ENDPOINTS = (
    CANCEL,
    COMPLETE,
    LIST_UPLOADS,
    PARAMS,
    GET_UPLOAD,
    INITIATE_MULTIPART,
    INITIATE_SINGLE,
    SIGN_PART,
)


@api_class
class UploadsApi:
    """LILT's upload operations. See the module docstring for the three variants.

    :param api_client: the client to send requests with (default: ``ApiClient.get_default()``).
    """

    def __init__(self, api_client: Optional[ApiClient] = None) -> None:
        self.api_client = ApiClient.get_default() if api_client is None else api_client

    cancel_multipart_upload = operation(CANCEL, Mode.DATA)
    cancel_multipart_upload_with_http_info = operation(CANCEL, Mode.INFO)
    cancel_multipart_upload_without_preload_content = operation(CANCEL, Mode.RAW)
    _cancel_multipart_upload_serialize = serializer(CANCEL)

    complete_multipart_upload = operation(COMPLETE, Mode.DATA)
    complete_multipart_upload_with_http_info = operation(COMPLETE, Mode.INFO)
    complete_multipart_upload_without_preload_content = operation(COMPLETE, Mode.RAW)
    _complete_multipart_upload_serialize = serializer(COMPLETE)

    get_pending_uploads = operation(LIST_UPLOADS, Mode.DATA)
    get_pending_uploads_with_http_info = operation(LIST_UPLOADS, Mode.INFO)
    get_pending_uploads_without_preload_content = operation(LIST_UPLOADS, Mode.RAW)
    _get_pending_uploads_serialize = serializer(LIST_UPLOADS)

    get_s3_upload_params = operation(PARAMS, Mode.DATA)
    get_s3_upload_params_with_http_info = operation(PARAMS, Mode.INFO)
    get_s3_upload_params_without_preload_content = operation(PARAMS, Mode.RAW)
    _get_s3_upload_params_serialize = serializer(PARAMS)

    get_upload_by_id = operation(GET_UPLOAD, Mode.DATA)
    get_upload_by_id_with_http_info = operation(GET_UPLOAD, Mode.INFO)
    get_upload_by_id_without_preload_content = operation(GET_UPLOAD, Mode.RAW)
    _get_upload_by_id_serialize = serializer(GET_UPLOAD)

    if TYPE_CHECKING:
        # What a type checker sees for bulk initiate: one body in, one result out;
        # a list in, a list out (the runtime methods are the operations below).
        @overload
        def initiate_multipart_upload(
            self,
            initiate_multipart_upload_body: InitiateMultipartUploadBody,
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> InitiateMultipartUpload200Response: ...
        @overload
        def initiate_multipart_upload(
            self,
            initiate_multipart_upload_body: List[InitiateMultipartUploadBody],
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> List[InitiateMultipartUpload200Response]: ...
        def initiate_multipart_upload(
            self,
            initiate_multipart_upload_body: _MultipartBodies,
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> _MultipartStarted: ...
        @overload
        def initiate_multipart_upload_with_http_info(
            self,
            initiate_multipart_upload_body: InitiateMultipartUploadBody,
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> ApiResponse[InitiateMultipartUpload200Response]: ...
        @overload
        def initiate_multipart_upload_with_http_info(
            self,
            initiate_multipart_upload_body: List[InitiateMultipartUploadBody],
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> ApiResponse[List[InitiateMultipartUpload200Response]]: ...
        def initiate_multipart_upload_with_http_info(
            self,
            initiate_multipart_upload_body: _MultipartBodies,
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> ApiResponse[Any]: ...
        @overload
        def initiate_s3_upload(
            self,
            initiate_upload_body: InitiateUploadBody,
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> GetS3UploadParams200Response: ...
        @overload
        def initiate_s3_upload(
            self,
            initiate_upload_body: List[InitiateUploadBody],
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> List[GetS3UploadParams200Response]: ...
        def initiate_s3_upload(
            self,
            initiate_upload_body: _UploadBodies,
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> _UploadParams: ...
        @overload
        def initiate_s3_upload_with_http_info(
            self,
            initiate_upload_body: InitiateUploadBody,
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> ApiResponse[GetS3UploadParams200Response]: ...
        @overload
        def initiate_s3_upload_with_http_info(
            self,
            initiate_upload_body: List[InitiateUploadBody],
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> ApiResponse[List[GetS3UploadParams200Response]]: ...
        def initiate_s3_upload_with_http_info(
            self,
            initiate_upload_body: _UploadBodies,
            _request_timeout: _RequestTimeout = None,
            _request_auth: _RequestAuth = None,
            _content_type: _ContentType = None,
            _headers: _Headers = None,
            _host_index: _HostIndex = 0,
        ) -> ApiResponse[Any]: ...
    else:
        initiate_multipart_upload = operation(INITIATE_MULTIPART, Mode.DATA)
        initiate_multipart_upload_with_http_info = operation(INITIATE_MULTIPART, Mode.INFO)
        initiate_s3_upload = operation(INITIATE_SINGLE, Mode.DATA)
        initiate_s3_upload_with_http_info = operation(INITIATE_SINGLE, Mode.INFO)

    initiate_multipart_upload_without_preload_content = operation(INITIATE_MULTIPART, Mode.RAW)
    _initiate_multipart_upload_serialize = serializer(INITIATE_MULTIPART)

    initiate_s3_upload_without_preload_content = operation(INITIATE_SINGLE, Mode.RAW)
    _initiate_s3_upload_serialize = serializer(INITIATE_SINGLE)

    sign_upload_part = operation(SIGN_PART, Mode.DATA)
    sign_upload_part_with_http_info = operation(SIGN_PART, Mode.INFO)
    sign_upload_part_without_preload_content = operation(SIGN_PART, Mode.RAW)
    _sign_upload_part_serialize = serializer(SIGN_PART)
