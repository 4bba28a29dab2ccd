"""LILT's error body, ``{"message": ...}``."""

from __future__ import annotations

from typing import Optional

from pydantic import StrictStr

from lilt.models._base import LiltModel


class Error(LiltModel):
    """LILT's error body, ``{"message": ...}``."""

    message: Optional[StrictStr] = None


__all__ = ["Error"]
