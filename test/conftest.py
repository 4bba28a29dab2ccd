"""Shared test setup: no proxies or TLS overrides leak in from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# The fault suite's totals are summed and printed by the process that reports,
# which under pytest-xdist never loads test/faults/conftest.py.
pytest_plugins = ["faults.totals"]

_ENV_TO_CLEAR = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "LILT_API_KEY",
    "LILT_API_HOST",
    "LILT_LOG",
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    yield
