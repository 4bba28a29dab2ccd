"""LILT's error body, ``{"message": ...}``."""

from __future__ import annotations

from typing import ClassVar, List, Optional

from pydantic import Field, StrictStr

from lilt.models._base import LiltModel


class Error(LiltModel):
    # The docstring is the generated one, trailing space included (written \x20,
    # which formatters keep): it is the description in model_json_schema().
    """
    Response in the event of an unexpected error.\x20
    """

    message: Optional[StrictStr] = Field(
        default=None, description="A human-readable message describing the error."
    )
    __properties: ClassVar[List[str]] = ["message"]


__all__ = ["Error"]
