"""The unit tier runs with no network: a test in this folder that opens a socket fails.

Every test here gets pytest-socket's ``socket_disabled``: creating a socket
(TCP, UDP or Unix, loopback included) raises. (Name resolution is blocked
too from pytest-socket 0.8, which needs Python 3.10; on 3.9 it is not.)
Tests that need a real server belong in ``test/integration`` or the folders
that start one, not here.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_network(socket_disabled: None) -> None:
    """Sockets are disabled for the test; pytest-socket restores them at its teardown."""
