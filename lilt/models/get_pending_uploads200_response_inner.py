"""An upload record: id, file name, status and creation time."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from pydantic import StrictInt, StrictStr

from lilt.models._base import LiltModel


class GetPendingUploads200ResponseInner(LiltModel):
    """An upload record: id, file name, status and creation time."""

    id: Optional[StrictInt] = None
    filename: Optional[StrictStr] = None
    status: Optional[StrictStr] = None
    created_at: Optional[datetime] = None


__all__ = ["GetPendingUploads200ResponseInner"]
