"""The parts that make up the finished object, in order."""

from __future__ import annotations

from typing import ClassVar, List

from pydantic import Field

from lilt.models._base import LiltModel
from lilt.models.complete_multipart_upload_body_parts_inner import (
    CompleteMultipartUploadBodyPartsInner,
)


class CompleteMultipartUploadBody(LiltModel):
    """
    CompleteMultipartUploadBody
    """

    parts: List[CompleteMultipartUploadBodyPartsInner] = Field(
        description="Array of completed upload parts."
    )
    __properties: ClassVar[List[str]] = ["parts"]


__all__ = ["CompleteMultipartUploadBody"]
