"""A started multipart upload: its id and S3 key."""

from __future__ import annotations

from typing import ClassVar, List, Optional

from pydantic import Field, StrictStr

from lilt.models._base import LiltModel


class InitiateMultipartUpload200Response(LiltModel):
    """
    InitiateMultipartUpload200Response
    """

    upload_id: Optional[StrictStr] = Field(
        default=None,
        description="Multipart upload ID for subsequent part uploads",
        alias="uploadId",
    )
    key: Optional[StrictStr] = Field(default=None, description="Upload key identifier")
    __properties: ClassVar[List[str]] = ["uploadId", "key"]


__all__ = ["InitiateMultipartUpload200Response"]
