"""The parts that make up the finished object, in order."""

from __future__ import annotations

from typing import List

from lilt.models._base import LiltModel
from lilt.models.complete_multipart_upload_body_parts_inner import (
    CompleteMultipartUploadBodyPartsInner,
)


class CompleteMultipartUploadBody(LiltModel):
    """The parts that make up the finished object, in order."""

    parts: List[CompleteMultipartUploadBodyPartsInner]


__all__ = ["CompleteMultipartUploadBody"]
