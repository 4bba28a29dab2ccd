from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any, Callable

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


MakeApiAt = Callable[..., lilt.UploadsApi]
_CONSTRUCTOR_ARGUMENTS = frozenset(inspect.signature(lilt.Configuration).parameters)


@pytest.fixture
def api_at() -> Iterator[MakeApiAt]:
    """``api_at(url, **settings)``: an UploadsApi for the server at ``url``.

    Settings are Configuration constructor arguments or attributes (``timeout``,
    ``max_response_bytes`` ...), set before the client is built; every client
    is closed afterwards.
    """
    clients: list[lilt.ApiClient] = []

    def make(url: str, **settings: Any) -> lilt.UploadsApi:
        arguments = {k: settings.pop(k) for k in list(settings) if k in _CONSTRUCTOR_ARGUMENTS}
        configuration = lilt.Configuration(host=url, **arguments)
        for name, value in settings.items():
            setattr(configuration, name, value)
        client = lilt.ApiClient(configuration)
        clients.append(client)
        return lilt.UploadsApi(client)

    yield make
    for client in clients:
        client.close()
