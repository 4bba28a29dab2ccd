"""pytest fixtures for testing against the local LILT emulator.

Installed as a pytest plugin (entry point ``pytest11: lilt``), so the
fixtures are available in any test suite once lilt is installed:

``lilt_storage`` (session scope)
    The :class:`~lilt.testing.S3Endpoint` of one S3 server shared by the
    whole run: a private SeaweedFS started on first use and stopped at the
    end, or, when ``LILT_TEST_S3_ENDPOINT``, ``LILT_TEST_S3_ACCESS_KEY`` and
    ``LILT_TEST_S3_SECRET_KEY`` are set, that server.
``lilt_emulator`` (function scope)
    A fresh, running :class:`~lilt.testing.Emulator` on ``lilt_storage``
    with its own bucket, removed after the test (a few milliseconds each).

::

    def test_upload(lilt_emulator):
        config = lilt.Configuration(host=lilt_emulator.base_url,
                                    username=lilt_emulator.api_key,
                                    password=lilt_emulator.api_key)
        ...
        assert lilt_emulator.list_multipart_uploads() == []

This module is imported by every pytest run of everyone who installs lilt,
so it imports only pytest and the standard library; the emulator's
dependencies load when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from lilt.testing.emulator import Emulator
    from lilt.testing.storage import S3Endpoint

__all__ = ["lilt_emulator", "lilt_storage"]


@pytest.fixture(scope="session")
def lilt_storage() -> Iterator[S3Endpoint]:
    """One S3 server for the session (see the module docstring)."""
    from lilt.testing.storage import S3Endpoint, SeaweedFS

    existing = S3Endpoint.from_env()
    if existing is not None:
        yield existing
        return
    with SeaweedFS() as server:
        yield server.endpoint


@pytest.fixture
def lilt_emulator(lilt_storage: S3Endpoint) -> Iterator[Emulator]:
    """A fresh running emulator with its own bucket on ``lilt_storage``."""
    from lilt.testing import Emulator

    with Emulator(lilt_storage) as emulator:
        yield emulator
