"""A file to upload in parts. The operation also accepts a list of up to 100."""

from __future__ import annotations

from typing import Optional

from pydantic import StrictStr

from lilt.models._base import LiltModel
from lilt.models.initiate_multipart_upload_body_metadata import InitiateMultipartUploadBodyMetadata


class InitiateMultipartUploadBody(LiltModel):
    """A file to upload in parts. The operation also accepts a list of up to 100."""

    filename: StrictStr
    type: StrictStr
    metadata: Optional[InitiateMultipartUploadBodyMetadata] = None


__all__ = ["InitiateMultipartUploadBody"]
