"""A presigned URL and method for one part."""

from __future__ import annotations

from typing import Optional

from pydantic import StrictStr

from lilt.models._base import LiltModel


class SignUploadPart200Response(LiltModel):
    """A presigned URL and method for one part."""

    url: Optional[StrictStr] = None
    method: Optional[StrictStr] = None


__all__ = ["SignUploadPart200Response"]
