"""The unit tier's guard works: opening a socket, even to 127.0.0.1, fails the test."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError

import lilt

# pytest-socket also warns as it raises; with warnings as errors, that warning is
# what a careless test would see, so both are accepted where the block is expected.
BLOCKED = (SocketBlockedError, UserWarning)
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket")


def test_a_raw_socket_cannot_be_opened() -> None:
    for family, kind in (
        (socket.AF_INET, socket.SOCK_STREAM),
        (socket.AF_INET6, socket.SOCK_STREAM),
        (socket.AF_INET, socket.SOCK_DGRAM),
        (socket.AF_UNIX, socket.SOCK_STREAM),
    ):
        with pytest.raises(BLOCKED):
            socket.socket(family, kind)


def test_a_loopback_connection_cannot_be_made() -> None:
    with pytest.raises(BLOCKED):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_a_client_call_cannot_reach_the_network() -> None:
    """The SDK's own request path is stopped at the socket, not by some mock."""
    api = lilt.UploadsApi(lilt.ApiClient(lilt.Configuration(host="http://127.0.0.1:9")))
    with pytest.raises(BLOCKED):
        api.get_upload_by_id(1, _request_timeout=1)
