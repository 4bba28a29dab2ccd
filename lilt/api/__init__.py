"""API classes (the uploads subset of the generated client)."""

from __future__ import annotations

from lilt.api.uploads_api import UploadsApi as UploadsApi

__all__ = ["UploadsApi"]
