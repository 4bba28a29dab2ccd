"""A file to upload in one PUT. The operation also accepts a list of up to 100."""

from __future__ import annotations

from typing import Optional

from pydantic import StrictStr

from lilt.models._base import LiltModel
from lilt.models.initiate_upload_body_metadata import InitiateUploadBodyMetadata


class InitiateUploadBody(LiltModel):
    """A file to upload in one PUT. The operation also accepts a list of up to 100."""

    filename: StrictStr
    type: StrictStr
    metadata: Optional[InitiateUploadBodyMetadata] = None


__all__ = ["InitiateUploadBody"]
