"""The one place that decides what Content-Type a request body gets.

Three callers decide it: an operation's JSON body (``_content_type``, then a
Content-Type the caller put in ``_headers``, then JSON), a file field of a
form (by the file's name, else bytes) and a file the managed uploader sends
(the type the caller gave, else by the file's name, else bytes).
"""

from __future__ import annotations

import mimetypes
from typing import Optional

JSON = "application/json"
BYTES = "application/octet-stream"


def choose_content_type(
    *given: Optional[str], filename: Optional[str] = None, default: str = BYTES
) -> str:
    """The first type in ``given`` that is set; else the type ``filename``'s
    extension stands for (common non-standard ones included, such as
    ``.midi``); else ``default``."""
    for candidate in given:
        if candidate:
            return candidate
    if filename is not None:
        guessed, _ = mimetypes.guess_type(filename, strict=False)
        if guessed:
            return guessed
    return default
