"""The upload models, one module per generated name (``lilt.models.<module>``)."""

from __future__ import annotations

from lilt.models.cancel_multipart_upload200_response import (
    CancelMultipartUpload200Response as CancelMultipartUpload200Response,
)
from lilt.models.complete_multipart_upload200_response import (
    CompleteMultipartUpload200Response as CompleteMultipartUpload200Response,
)
from lilt.models.complete_multipart_upload_body import (
    CompleteMultipartUploadBody as CompleteMultipartUploadBody,
)
from lilt.models.complete_multipart_upload_body_parts_inner import (
    CompleteMultipartUploadBodyPartsInner as CompleteMultipartUploadBodyPartsInner,
)
from lilt.models.error import Error as Error
from lilt.models.get_pending_uploads200_response_inner import (
    GetPendingUploads200ResponseInner as GetPendingUploads200ResponseInner,
)
from lilt.models.get_s3_upload_params200_response import (
    GetS3UploadParams200Response as GetS3UploadParams200Response,
)
from lilt.models.initiate_multipart_upload200_response import (
    InitiateMultipartUpload200Response as InitiateMultipartUpload200Response,
)
from lilt.models.initiate_multipart_upload_body import (
    InitiateMultipartUploadBody as InitiateMultipartUploadBody,
)
from lilt.models.initiate_multipart_upload_body_metadata import (
    InitiateMultipartUploadBodyMetadata as InitiateMultipartUploadBodyMetadata,
)
from lilt.models.initiate_upload_body import InitiateUploadBody as InitiateUploadBody
from lilt.models.initiate_upload_body_metadata import (
    InitiateUploadBodyMetadata as InitiateUploadBodyMetadata,
)
from lilt.models.sign_upload_part200_response import (
    SignUploadPart200Response as SignUploadPart200Response,
)

__all__ = [
    "CancelMultipartUpload200Response",
    "CompleteMultipartUpload200Response",
    "CompleteMultipartUploadBody",
    "CompleteMultipartUploadBodyPartsInner",
    "Error",
    "GetPendingUploads200ResponseInner",
    "GetS3UploadParams200Response",
    "InitiateMultipartUpload200Response",
    "InitiateMultipartUploadBody",
    "InitiateMultipartUploadBodyMetadata",
    "InitiateUploadBody",
    "InitiateUploadBodyMetadata",
    "SignUploadPart200Response",
]
