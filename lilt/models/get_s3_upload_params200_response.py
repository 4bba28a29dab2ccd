"""Where and how to PUT a single-part upload: presigned URL, S3 key, HTTP method."""

from __future__ import annotations

from typing import ClassVar, List, Optional

from pydantic import Field, StrictStr

from lilt.models._base import LiltModel


class GetS3UploadParams200Response(LiltModel):
    """
    GetS3UploadParams200Response
    """

    url: Optional[StrictStr] = Field(default=None, description="Pre-signed URL for file upload")
    key: Optional[StrictStr] = Field(default=None, description="Upload key identifier")
    method: Optional[StrictStr] = Field(default=None, description="HTTP method to use for upload")
    __properties: ClassVar[List[str]] = ["url", "key", "method"]


__all__ = ["GetS3UploadParams200Response"]
