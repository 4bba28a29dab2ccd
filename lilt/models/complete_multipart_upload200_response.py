"""Answer to completing a multipart upload: where the object now lives."""

from __future__ import annotations

from typing import Optional

from pydantic import StrictBool, StrictStr

from lilt.models._base import LiltModel


class CompleteMultipartUpload200Response(LiltModel):
    """Answer to completing a multipart upload: where the object now lives."""

    success: Optional[StrictBool] = None
    location: Optional[StrictStr] = None


__all__ = ["CompleteMultipartUpload200Response"]
