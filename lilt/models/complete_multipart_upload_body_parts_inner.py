"""One uploaded part: its ETag as storage returned it and its 1-based number."""

from __future__ import annotations

from pydantic import Field, StrictStr
from typing_extensions import Annotated

from lilt.models._base import LiltModel


class CompleteMultipartUploadBodyPartsInner(LiltModel):
    """One uploaded part: its ETag as storage returned it and its 1-based number."""

    e_tag: StrictStr = Field(alias="ETag")
    part_number: Annotated[int, Field(strict=True, ge=1)] = Field(alias="PartNumber")


__all__ = ["CompleteMultipartUploadBodyPartsInner"]
