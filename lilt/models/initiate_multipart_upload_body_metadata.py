"""Optional metadata of a file to upload."""

from __future__ import annotations

from typing import List, Optional

from pydantic import Field, StrictStr
from typing_extensions import Annotated

from lilt.models._base import LiltModel


class InitiateMultipartUploadBodyMetadata(LiltModel):
    """Optional metadata of a file to upload."""

    size: Optional[Annotated[int, Field(strict=True, ge=0)]] = None
    category: Optional[StrictStr] = None
    uuid: Optional[StrictStr] = None
    labels: Optional[List[StrictStr]] = None


__all__ = ["InitiateMultipartUploadBodyMetadata"]
