"""Where and how to PUT a single-part upload: presigned URL, S3 key, HTTP method."""

from __future__ import annotations

from typing import Optional

from pydantic import StrictStr

from lilt.models._base import LiltModel


class GetS3UploadParams200Response(LiltModel):
    """Where and how to PUT a single-part upload: presigned URL, S3 key, HTTP method."""

    url: Optional[StrictStr] = None
    key: Optional[StrictStr] = None
    method: Optional[StrictStr] = None


__all__ = ["GetS3UploadParams200Response"]
