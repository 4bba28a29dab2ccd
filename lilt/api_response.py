"""API response object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, Optional, TypeVar

from pydantic import BaseModel, Field, StrictBytes, StrictInt

T = TypeVar("T")


class ApiResponse(BaseModel, Generic[T]):
    """API response object: status, headers, decoded data and the raw body.

    ``headers`` is the urllib3 ``HTTPHeaderDict`` of the response, so lookups
    are case-insensitive (the generated client flattened it into a plain dict).
    """

    status_code: StrictInt = Field(description="HTTP status code")
    headers: Optional[Mapping[str, str]] = Field(None, description="HTTP headers")
    data: T = Field(description="Deserialized data given the data type")
    raw_data: StrictBytes = Field(description="Raw data (HTTP response body)")

    # Built with model_construct only: no validator needed until someone validates one.
    model_config = {"arbitrary_types_allowed": True, "defer_build": True}
