from __future__ import annotations

from collections.abc import Iterator

import pytest

import lilt
from support.recording_server import RecordingServer

KEY = "SECRET/+ &="


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


@pytest.fixture
def make_api(server: RecordingServer) -> Iterator[object]:
    """Build an UploadsApi against the recording server; clients are closed afterwards."""
    clients: list[lilt.ApiClient] = []

    def make(**config: object) -> lilt.UploadsApi:
        config.setdefault("host", server.url)
        client = lilt.ApiClient(lilt.Configuration(**config))  # type: ignore[arg-type]
        clients.append(client)
        return lilt.UploadsApi(client)

    yield make
    for client in clients:
        client.close()
