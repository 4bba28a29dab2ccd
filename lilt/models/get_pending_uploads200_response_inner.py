"""An upload record: id, file name, status and creation time."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, List, Optional

from pydantic import Field, StrictInt, StrictStr

from lilt.models._base import LiltModel


class GetPendingUploads200ResponseInner(LiltModel):
    """
    GetPendingUploads200ResponseInner
    """

    id: Optional[StrictInt] = Field(default=None, description="Unique upload identifier")
    filename: Optional[StrictStr] = Field(default=None, description="Name of the uploaded file")
    status: Optional[StrictStr] = Field(default=None, description="Current upload status")
    created_at: Optional[datetime] = Field(default=None, description="Upload creation timestamp")
    __properties: ClassVar[List[str]] = ["id", "filename", "status", "created_at"]


__all__ = ["GetPendingUploads200ResponseInner"]
