"""Answer to cancelling a multipart upload."""

from __future__ import annotations

from typing import ClassVar, List, Optional

from pydantic import Field, StrictBool, StrictStr

from lilt.models._base import LiltModel


class CancelMultipartUpload200Response(LiltModel):
    """
    CancelMultipartUpload200Response
    """

    success: Optional[StrictBool] = Field(default=None, description="Cancellation status")
    message: Optional[StrictStr] = Field(default=None, description="Cancellation message")
    __properties: ClassVar[List[str]] = ["success", "message"]


__all__ = ["CancelMultipartUpload200Response"]
