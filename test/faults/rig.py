"""The rig of the transfer fault tests: an emulator behind a fault proxy, and the checks.

:class:`Rig` starts a LILT emulator on the shared SeaweedFS whose presigned
URLs point at a :class:`~lilt.testing.proxy.FaultProxy` in front of storage,
uploads with fast retry policies, and verifies what was stored.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import pytest
from faults.helpers import Ledger

import lilt
from lilt.testing.proxy import FaultKind, FaultProxy

MiB = 1024 * 1024
PART = 5 * MiB  # S3's smallest part size: the fewest bytes that still make several parts
THRESHOLD = 6 * MiB
#: the transfer defaults' shape with millisecond waits
STORAGE_RETRY = lilt.RetryPolicy(attempts=5, backoff_base=0.01, backoff_cap=0.05, budget=60)
API_RETRY = lilt.RetryPolicy(
    attempts=4,
    backoff_base=0.01,
    backoff_cap=0.05,
    budget=60,
    statuses=frozenset({429, 502, 503, 504}),
)


class Progress:
    """Records progress events; checks they never go backwards."""

    def __init__(self) -> None:
        self.last: dict[str, lilt.transfer.ProgressEvent] = {}
        self.done: dict[str, int] = {}
        self.total = 0
        self.problems: list[str] = []

    def __call__(self, event: lilt.transfer.ProgressEvent) -> None:
        previous = self.last.get(event.name)
        if previous is not None and event.file_bytes < previous.file_bytes:
            self.problems.append(
                f"{event.name} went back {previous.file_bytes}->{event.file_bytes}"
            )
        if event.total_bytes < self.total:
            self.problems.append(f"total went back {self.total}->{event.total_bytes}")
        self.total = event.total_bytes
        self.last[event.name] = event
        if event.done:
            self.done[event.name] = self.done.get(event.name, 0) + 1


class Rig:
    """An emulator whose presigned URLs point at a fault proxy in front of storage.

    ``auth`` is ``"basic"`` (the key as Basic user and password, as LILT
    recommends) or ``"query"`` (``?key=``), so both placements are checked
    never to reach storage.
    """

    def __init__(
        self, s3: Any, tmp: Path, auth: str, ledger: Ledger, url_lifetime: int = 3600
    ) -> None:
        from lilt.testing import Emulator

        self.tmp = tmp
        self.auth = auth
        self.totals = ledger.totals  # what the tests injected and verified
        self.seen = ledger.seen  # what they logged and raised, and the secrets used
        self.proxy = FaultProxy(_address(s3.url), max_stall=15).start()
        self.emu = Emulator(storage=s3, presign_endpoint=self.proxy.url, url_lifetime=url_lifetime)
        self.emu.start()
        # and one in front of the API, for network faults between the SDK and LILT
        self.api_proxy = FaultProxy(_address(self.emu.base_url), max_stall=15).start()
        self.api_timeout: Any = (5.0, 10.0)
        key = self.emu.api_key
        token = base64.b64encode(f"{key}:{key}".encode()).decode()
        self.seen.secret(key, token)
        self.progress = Progress()
        self.api_retry = API_RETRY
        self.expected: dict[str, str] = {}  # key -> sha256 of what must be stored there
        self.sources: dict[str, Path] = {}

    # -- clients ----------------------------------------------------------------

    def api_config(self) -> lilt.Configuration:
        key = self.emu.api_key
        if self.auth == "query":
            config = lilt.Configuration(
                host=self.api_proxy.url, api_key={"ApiKeyAuth": key}, retries=self.api_retry
            )
        else:
            config = lilt.Configuration(
                host=self.api_proxy.url, username=key, password=key, retries=self.api_retry
            )
        config.timeout = self.api_timeout
        return config

    def transfer_config(self, **changes: Any) -> lilt.TransferConfig:
        options: dict[str, Any] = dict(
            part_size=PART,
            multipart_threshold=THRESHOLD,
            concurrency=3,
            retry=STORAGE_RETRY,
            storage_timeout=(3.0, 1.5),
            progress=self.progress,
        )
        options.update(changes)
        return lilt.TransferConfig(**options)

    # -- files ------------------------------------------------------------------

    def make_file(self, name: str, size: int, seed: int) -> Path:
        path = self.tmp / name
        path.write_bytes(random.Random(seed).randbytes(size))
        self.sources[str(path)] = path
        return path

    def upload(self, paths: Sequence[Path], **changes: Any) -> list[lilt.UploadResult]:
        """One upload call (a fresh progress record: totals restart with each call)."""
        self.progress = Progress()
        config = self.transfer_config(**changes)
        with lilt.ApiClient(self.api_config()) as client:
            if len(paths) == 1:
                return [lilt.upload_file(paths[0], client=client, config=config)]
            return lilt.upload_files(paths, client=client, config=config)

    def expect_failure(
        self, paths: Sequence[Path], **changes: Any
    ) -> lilt.exceptions.TransferError:
        with pytest.raises(lilt.exceptions.TransferError) as caught:
            self.upload(paths, **changes)
        self.seen.error(caught.value)
        return caught.value

    # -- checks ------------------------------------------------------------------

    def verify(
        self, results: Sequence[lilt.UploadResult], *, others: Optional[dict[str, str]] = None
    ) -> None:
        """Byte for byte, no orphan multipart upload, no extra object, exact progress."""
        losses = 0
        for result in results:
            assert result.path is not None
            source = Path(result.path).read_bytes()
            stored = self.emu.read_object(result.key)
            if hashlib.sha256(stored).digest() != hashlib.sha256(source).digest():
                losses += 1
            else:
                self.totals.uploads += 1
                self.totals.bytes_verified += len(stored)
            self.expected[result.key] = hashlib.sha256(source).hexdigest()
            last = self.progress.last.get(result.path)
            assert last is not None and last.file_bytes == len(source) == result.size, (
                f"progress of {result.path} ended at {last and last.file_bytes}, not {len(source)}"
            )
            assert self.progress.done.get(result.path) == 1
        self.totals.losses += losses
        assert losses == 0, f"{losses} objects differ from their source"
        assert self.progress.problems == []
        expected_keys = set(self.expected) | set(others or {})
        stored_keys = {o.key for o in self.emu.list_objects()}
        assert stored_keys == expected_keys, "missing or duplicate objects"
        assert self.emu.list_multipart_uploads() == []

    def assert_no_credentials_reached_storage(self) -> None:
        key = self.emu.api_key
        token = base64.b64encode(f"{key}:{key}".encode()).decode()
        for record in self.proxy.requests:
            assert record.header("Authorization") is None, record
            assert record.header("Cookie") is None, record
            assert "key" not in record.query, record
            text = record.target + repr(record.headers)
            for secret in (key, quote(key, safe=""), token):
                assert secret not in text, record

    def close(self) -> None:
        try:
            self.api_proxy.stop()
            self.emu.stop()
        finally:
            self.proxy.stop()
        # by kind, and HTTP errors by status (503 SlowDown, 500 InternalError, ...)
        storage = Counter(self.proxy.counts)
        answered = Counter(
            f"http_{r.fault.status}"
            for r in self.proxy.requests
            if r.fault is not None and r.fault.kind is FaultKind.HTTP_ERROR
        )
        storage.subtract({"http_error": sum(answered.values())})
        storage.update(answered)
        self.totals.add_faults({f"storage:{k}": v for k, v in storage.items() if v})
        self.totals.add_faults({f"api-net:{k}": v for k, v in self.api_proxy.counts.items()})
        self.totals.add_faults(
            dict(
                Counter(
                    f"api:{i.fault.kind}_{i.fault.status}"
                    if i.fault.status
                    else f"api:{i.fault.kind}"
                    for i in self.emu.faults.injected
                )
            )
        )
        for record in self.proxy.requests:  # the signatures storage saw are secrets too
            self.seen.secret(record.query.get("X-Amz-Signature", ""))


def _address(url: str) -> tuple[str, int]:
    host, _, port = url.split("//", 1)[1].partition(":")
    return host, int(port.rstrip("/"))
