"""One uploaded part: its ETag as storage returned it and its 1-based number."""

from __future__ import annotations

from typing import ClassVar, List

from pydantic import Field, StrictStr
from typing_extensions import Annotated

from lilt.models._base import LiltModel


class CompleteMultipartUploadBodyPartsInner(LiltModel):
    """
    CompleteMultipartUploadBodyPartsInner
    """

    e_tag: StrictStr = Field(description="ETag of the uploaded part", alias="ETag")
    part_number: Annotated[int, Field(strict=True, ge=1)] = Field(
        description="Part number (1-based)", alias="PartNumber"
    )
    __properties: ClassVar[List[str]] = ["ETag", "PartNumber"]


__all__ = ["CompleteMultipartUploadBodyPartsInner"]
