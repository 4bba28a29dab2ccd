"""Helpers for the emulator tests: a plain urllib3 client of the emulator's API.

These tests drive the emulator with urllib3 only, never with the SDK: the
emulator is the reference the SDK is tested against. The session's storage
server and the per-test emulator come from the ``lilt_storage`` and
``lilt_emulator`` fixtures of ``lilt.testing.pytest_plugin``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any, Optional, Union
from urllib.parse import urlencode

import pytest
import urllib3

from lilt.testing import Emulator

TIMEOUT = urllib3.Timeout(connect=5.0, read=30.0)


@dataclasses.dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    data: bytes

    def json(self) -> Any:
        return json.loads(self.data)

    @property
    def message(self) -> str:
        """The ``message`` of a LILT error body (asserting the body is one)."""
        payload = self.json()
        assert isinstance(payload, dict) and isinstance(payload.get("message"), str), payload
        assert payload["message"], payload
        return str(payload["message"])


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Api:
    """Calls the emulator's routes; ``auth`` is "basic", "query" or None."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.http = urllib3.PoolManager(timeout=TIMEOUT, retries=False)

    def close(self) -> None:
        self.http.clear()

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        payload: Any = None,
        body: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        auth: Optional[str] = "basic",
    ) -> Reply:
        fields = {k: str(v) for k, v in (query or {}).items()}
        sent = {"Accept": "application/json"}
        if auth == "basic":
            sent["Authorization"] = basic(self.emu.api_key, self.emu.api_key)
        elif auth == "query":
            fields["key"] = self.emu.api_key
        if payload is not None:
            body = json.dumps(payload).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        url = self.emu.base_url + path
        if fields:
            url += "?" + urlencode(fields)
        r = self.http.request(method, url, body=body, headers=sent)
        return Reply(r.status, r.headers, r.data)

    # -- the eight operations, with the happy path checked ---------------------------

    def initiate(self, filename: str = "doc.txt", type: str = "text/plain", **extra: Any) -> Any:
        r = self.call(
            "POST", "/v2/upload/s3/params", payload={"filename": filename, "type": type, **extra}
        )
        assert r.status == 200, r.data
        return r.json()

    def initiate_multipart(
        self, filename: str = "big.bin", type: str = "application/octet-stream"
    ) -> Any:
        r = self.call(
            "POST", "/v2/upload/s3/multipart", payload={"filename": filename, "type": type}
        )
        assert r.status == 200, r.data
        return r.json()

    def sign(self, upload: Mapping[str, str], number: int, size: int) -> Reply:
        return self.call(
            "GET",
            f"/v2/upload/s3/multipart/{upload['uploadId']}/{number}",
            query={"s3Key": upload["key"], "size": size},
        )

    def complete(self, upload: Mapping[str, str], parts: list[dict[str, Any]]) -> Reply:
        return self.call(
            "POST",
            f"/v2/upload/s3/multipart/{upload['uploadId']}/complete",
            query={"s3Key": upload["key"]},
            payload={"parts": parts},
        )

    def cancel(self, upload: Mapping[str, str]) -> Reply:
        return self.call(
            "DELETE",
            f"/v2/upload/s3/multipart/{upload['uploadId']}",
            query={"s3Key": upload["key"]},
        )

    def record(self, record_id: int) -> Any:
        r = self.call("GET", f"/v2/upload/{record_id}")
        assert r.status == 200, r.data
        return r.json()

    # -- storage, through presigned URLs -------------------------------------------

    def put(self, url: str, data: bytes, headers: Optional[Mapping[str, str]] = None) -> Reply:
        """A PUT to storage, as a client does: no LILT credentials."""
        r = self.http.request("PUT", url, body=data, headers=dict(headers or {}))
        return Reply(r.status, r.headers, r.data)

    def upload_parts(
        self, upload: Mapping[str, str], chunks: list[bytes]
    ) -> list[dict[str, Union[str, int]]]:
        parts: list[dict[str, Union[str, int]]] = []
        for number, chunk in enumerate(chunks, 1):
            signed = self.sign(upload, number, len(chunk))
            assert signed.status == 200, signed.data
            stored = self.put(signed.json()["url"], chunk)
            assert stored.status == 200, stored.data
            parts.append({"ETag": stored.headers["ETag"], "PartNumber": number})
        return parts


@pytest.fixture
def api(lilt_emulator: Emulator) -> Iterator[Api]:
    client = Api(lilt_emulator)
    yield client
    client.close()
    # whatever a test did, the emulator never answered with a 5xx it was not told to
    for request in lilt_emulator.requests():
        assert request.status < 500 or request.fault is not None, request
