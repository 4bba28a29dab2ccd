"""Test helper: a client factory with defaults for the settings a test does not give."""

from __future__ import annotations

from typing import Any, Callable

import lilt

MakeApiAt = Callable[..., lilt.UploadsApi]


def with_defaults(make: MakeApiAt, **defaults: Any) -> MakeApiAt:
    """``make`` with ``defaults`` for the settings a call does not give."""

    def made(url: str, **settings: Any) -> lilt.UploadsApi:
        return make(url, **{**defaults, **settings})

    return made
