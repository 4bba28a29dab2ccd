"""A started multipart upload: its id and S3 key."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, StrictStr

from lilt.models._base import LiltModel


class InitiateMultipartUpload200Response(LiltModel):
    """A started multipart upload: its id and S3 key."""

    upload_id: Optional[StrictStr] = Field(default=None, alias="uploadId")
    key: Optional[StrictStr] = None


__all__ = ["InitiateMultipartUpload200Response"]
