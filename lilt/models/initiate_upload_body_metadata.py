"""Optional metadata of a file to upload."""

from __future__ import annotations

from typing import ClassVar, List, Optional

from pydantic import Field, StrictStr
from typing_extensions import Annotated

from lilt.models._base import LiltModel


class InitiateUploadBodyMetadata(LiltModel):
    """
    Optional file metadata.
    """

    size: Optional[Annotated[int, Field(strict=True, ge=0)]] = Field(
        default=None, description="The size of the file to upload in bytes."
    )
    category: Optional[StrictStr] = Field(default=None, description="File category.")
    uuid: Optional[StrictStr] = Field(default=None, description="File UUID.")
    labels: Optional[List[StrictStr]] = Field(
        default=None,
        description="Array of label names to be added to the file after upload completes.",
    )
    __properties: ClassVar[List[str]] = ["size", "category", "uuid", "labels"]


__all__ = ["InitiateUploadBodyMetadata"]
