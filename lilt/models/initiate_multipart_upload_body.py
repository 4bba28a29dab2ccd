"""A file to upload in parts. The operation also accepts a list of up to 100."""

from __future__ import annotations

from typing import ClassVar, List, Optional

from pydantic import Field, StrictStr

from lilt.models._base import LiltModel
from lilt.models.initiate_multipart_upload_body_metadata import (
    InitiateMultipartUploadBodyMetadata,
)


class InitiateMultipartUploadBody(LiltModel):
    """
    A single upload request object, or an array of upload request objects (max 100).
    """

    filename: StrictStr = Field(description="A file name including file extension.")
    type: StrictStr = Field(description="The content-type or mime-type of the file to upload.")
    metadata: Optional[InitiateMultipartUploadBodyMetadata] = None
    __properties: ClassVar[List[str]] = ["filename", "type", "metadata"]


__all__ = ["InitiateMultipartUploadBody"]
