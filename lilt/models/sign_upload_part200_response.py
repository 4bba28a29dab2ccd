"""A presigned URL and method for one part."""

from __future__ import annotations

from typing import ClassVar, List, Optional

from pydantic import Field, StrictStr

from lilt.models._base import LiltModel


class SignUploadPart200Response(LiltModel):
    """
    SignUploadPart200Response
    """

    url: Optional[StrictStr] = Field(
        default=None, description="Pre-signed URL for this part upload"
    )
    method: Optional[StrictStr] = Field(default=None, description="HTTP method to use for upload")
    __properties: ClassVar[List[str]] = ["url", "method"]


__all__ = ["SignUploadPart200Response"]
