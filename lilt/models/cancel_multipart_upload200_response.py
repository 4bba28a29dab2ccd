"""Answer to cancelling a multipart upload."""

from __future__ import annotations

from typing import Optional

from pydantic import StrictBool, StrictStr

from lilt.models._base import LiltModel


class CancelMultipartUpload200Response(LiltModel):
    """Answer to cancelling a multipart upload."""

    success: Optional[StrictBool] = None
    message: Optional[StrictStr] = None


__all__ = ["CancelMultipartUpload200Response"]
