"""Answer to completing a multipart upload: where the object now lives."""

from __future__ import annotations

from typing import ClassVar, List, Optional

from pydantic import Field, StrictBool, StrictStr

from lilt.models._base import LiltModel


class CompleteMultipartUpload200Response(LiltModel):
    """
    CompleteMultipartUpload200Response
    """

    success: Optional[StrictBool] = Field(default=None, description="Upload completion status")
    location: Optional[StrictStr] = Field(default=None, description="Final file location")
    __properties: ClassVar[List[str]] = ["success", "location"]


__all__ = ["CompleteMultipartUpload200Response"]
