"""The uploader against the emulator on a real S3 server (SeaweedFS).

Every object is read back from storage and compared byte for byte, and every
test ends with no multipart upload left open on the server. Sizes use 5 MiB
parts and a 5 MiB threshold so multipart paths run with little data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from transfer._transfer_fakes import MakeFile, MiB, small_config

import lilt
from lilt.exceptions import TransferError
from lilt.testing import Emulator
from lilt.transfer import (
    JournalError,
    ProgressEvent,
    SerialExecutor,
    SourceChangedError,
    TransferConfig,
    Uploader,
    UploadResult,
)
from lilt.transfer.results import normalize_etag

pytestmark = pytest.mark.storage


@pytest.fixture
def client(lilt_emulator: Emulator) -> Iterator[lilt.ApiClient]:
    config = lilt.Configuration(
        host=lilt_emulator.base_url, username=lilt_emulator.api_key, password=lilt_emulator.api_key
    )
    with lilt.ApiClient(config) as api_client:
        yield api_client


@pytest.fixture(autouse=True)
def no_orphans(lilt_emulator: Emulator) -> Iterator[None]:
    """Whatever a test does, it must leave no multipart upload open on the server."""
    yield
    assert lilt_emulator.list_multipart_uploads() == []


def assert_stored(emulator: Emulator, result: UploadResult, data: bytes) -> None:
    """Storage holds exactly ``data`` under the key, with the ETag the uploader expected."""
    assert emulator.read_object(result.key) == data
    head = emulator.head_object(result.key)
    assert head is not None and head.size == len(data)
    if result.checksums.expected_etag is not None:
        assert normalize_etag(head.etag) == result.checksums.expected_etag


@pytest.mark.parametrize(
    ("size", "multipart", "parts"),
    [
        (0, False, 1),  # empty: a valid zero-byte object
        (1, False, 1),
        (100_000, False, 1),
        (5 * MiB, False, 1),  # exactly the threshold: one PUT
        (5 * MiB + 1, True, 2),  # one byte over: a 1-byte last part
        (17 * MiB + 123, True, 4),
    ],
)
def test_upload_file_sizes(
    lilt_emulator: Emulator,
    client: lilt.ApiClient,
    make_file: MakeFile,
    size: int,
    multipart: bool,
    parts: int,
) -> None:
    path = make_file(size, name="doc.xliff")
    result = lilt.upload_file(path, client=client, config=small_config())
    assert (result.size, result.multipart, result.part_count) == (size, multipart, parts)
    assert (result.upload_id is not None) == multipart
    assert_stored(lilt_emulator, result, path.read_bytes())
    record = next(u for u in lilt_emulator.uploads() if u.key == result.key)
    assert record.filename == "doc.xliff"


def test_default_config_multipart(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    path = make_file(16 * MiB + 1)  # just over the default threshold: 8 MiB parts
    result = lilt.upload_file(path, client=client)
    assert result.multipart and result.part_count == 3
    assert_stored(lilt_emulator, result, path.read_bytes())
    assert result.checksums.etag_match is True


def test_many_files_and_interleaving(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    small = [make_file(1000 + i) for i in range(120)]
    large = [make_file(11 * MiB + 1), make_file(6 * MiB)]
    paths = [large[0], *small[:60], large[1], *small[60:]]
    with Uploader(client, small_config()) as uploader:
        results = uploader.upload_files(paths, category="documents", labels=["a", "b"])
    assert [r.path for r in results] == [os.fspath(p) for p in paths]
    for path, result in zip(paths, results):
        assert_stored(lilt_emulator, result, path.read_bytes())
    initiates = lilt_emulator.requests("initiate_s3_upload")
    assert len(initiates) == 2  # 120 files: 100 + 20 in two requests
    assert len(lilt_emulator.requests("initiate_multipart_upload")) == 1  # both large in one
    assert len({r.key for r in results}) == len(paths)


def test_progress_is_monotonic_and_exact(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    events: list[ProgressEvent] = []
    paths = [make_file(12 * MiB + 5), make_file(777), make_file(0)]
    lilt.upload_files(paths, client=client, config=small_config(progress=events.append))
    totals = [e.total_bytes for e in events]
    total = sum(p.stat().st_size for p in paths)
    assert totals == sorted(totals) and totals[-1] == total
    for path in paths:
        mine = [e.file_bytes for e in events if e.name == os.fspath(path)]
        assert mine == sorted(mine) and mine[-1] == path.stat().st_size
    assert sum(e.done for e in events) == 3


def test_serial_concurrency_1_and_threaded_agree(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    paths = [make_file(11 * MiB + 9, seed=5), make_file(4321, seed=6), make_file(0, seed=7)]
    runs: list[list[Any]] = []
    for options in ({"executor": SerialExecutor()}, {"concurrency": 1}, {"concurrency": 6}):
        concurrency = int(options.get("concurrency", 4))  # type: ignore[call-overload]
        executor = options.get("executor")
        with Uploader(client, small_config(concurrency=concurrency), executor=executor) as uploader:  # type: ignore[arg-type]
            results = uploader.upload_files(paths)
        runs.append(
            [
                (r.size, r.part_count, r.multipart, r.checksums, lilt_emulator.read_object(r.key))
                for r in results
            ]
        )
    assert runs[0] == runs[1] == runs[2]


def test_streams(lilt_emulator: Emulator, client: lilt.ApiClient) -> None:
    import io

    data = os.urandom(6 * MiB + 3)

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.at = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            n = min(len(buffer), 100_000, len(data) - self.at)
            buffer[:n] = data[self.at : self.at + n]
            self.at += n
            return n

    result = lilt.upload_fileobj(
        Pipe(),
        "piped.bin",
        client=client,  # type: ignore[arg-type]
        config=small_config(),
    )
    assert result.multipart and result.size == len(data)
    assert_stored(lilt_emulator, result, data)
    small = lilt.upload_fileobj(io.BytesIO(b"tiny"), "tiny.txt", client=client)
    assert_stored(lilt_emulator, small, b"tiny")


_MEASURE = """
import sys, tracemalloc
import lilt
from lilt.transfer import TransferConfig, Uploader
host, key, warm, path, part_size, concurrency = sys.argv[1:]
config = TransferConfig(part_size=int(part_size), multipart_threshold=int(part_size),
                        concurrency=int(concurrency))
with lilt.ApiClient(lilt.Configuration(host=host, username=key, password=key)) as client:
    with Uploader(client, config) as uploader:
        uploader.upload_file(warm)  # imports, pools and model caches are not part of the bound
        tracemalloc.start()
        uploader.upload_file(path)
        print(tracemalloc.get_traced_memory()[1])
"""


@pytest.mark.parametrize("concurrency", [1, 3])
def test_memory_is_bounded_by_parts_in_flight(
    lilt_emulator: Emulator, make_file: MakeFile, concurrency: int
) -> None:
    # In a separate process: the emulator's own server would show up in this one.
    import subprocess
    import sys

    warm, path = make_file(6 * MiB), make_file(40 * MiB)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            lilt_emulator.base_url,
            lilt_emulator.api_key,
            str(warm),
            str(path),
            str(5 * MiB),
            str(concurrency),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    peak = int(out.stdout.split()[-1])
    bound = (concurrency + 1) * 5 * MiB + 1 * MiB
    assert peak <= bound, f"peak {peak / MiB:.1f} MiB > {bound / MiB:.1f} MiB"


# --- failure, abort, resume -----------------------------------------------------------


def interrupt_after(nbytes: int) -> Callable[[ProgressEvent], None]:
    """A progress callback that presses Ctrl-C once ``nbytes`` have been sent."""
    fired = []

    def callback(event: ProgressEvent) -> None:
        if event.total_bytes >= nbytes and not fired:
            fired.append(event)
            raise KeyboardInterrupt

    return callback


def test_ctrl_c_aborts_the_upload(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    path = make_file(21 * MiB)
    config = small_config(concurrency=2, progress=interrupt_after(7 * MiB))
    with pytest.raises(KeyboardInterrupt):
        lilt.upload_file(path, client=client, config=config)
    assert lilt_emulator.list_multipart_uploads() == []
    assert len(lilt_emulator.requests("cancel_multipart_upload")) == 1


def test_resume_after_an_interrupted_run(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile, tmp_path: Path
) -> None:
    path = make_file(26 * MiB + 17)
    journal = tmp_path / "uploads.journal"
    config = small_config(concurrency=2, journal=journal)
    with pytest.raises(KeyboardInterrupt):
        lilt.upload_file(
            path,
            client=client,
            config=dataclasses.replace(config, progress=interrupt_after(11 * MiB)),
        )
    pending = lilt_emulator.list_multipart_uploads()
    assert len(pending) == 1  # kept for resuming, not aborted
    lilt_emulator.clear_requests()

    result = lilt.upload_file(path, client=client, config=config)
    assert result.upload_id == pending[0].upload_id and result.resumed_parts >= 2
    signs = [int(r.path.rsplit("/", 1)[1]) for r in lilt_emulator.requests("sign_upload_part")]
    # first a probe (part 1: is the upload still there?), then only the missing parts
    assert signs[0] == 1
    assert len(signs) - 1 == result.part_count - result.resumed_parts  # finished parts skipped
    assert_stored(lilt_emulator, result, path.read_bytes())
    assert lilt_emulator.requests("initiate_multipart_upload") == []


def test_resume_refuses_a_changed_file(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile, tmp_path: Path
) -> None:
    path = make_file(16 * MiB)
    config = small_config(concurrency=1, journal=tmp_path / "j")
    with pytest.raises(KeyboardInterrupt):
        lilt.upload_file(
            path,
            client=client,
            config=dataclasses.replace(config, progress=interrupt_after(6 * MiB)),
        )
    with open(path, "r+b") as handle:
        handle.write(b"changed")
    with pytest.raises(JournalError, match="refusing to resume"):
        lilt.upload_file(path, client=client, config=config)
    (upload,) = lilt_emulator.list_multipart_uploads()
    lilt.UploadsApi(client).cancel_multipart_upload(upload.upload_id, upload.key)


def test_file_changing_during_upload_is_aborted(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    path = make_file(16 * MiB)
    appended = []

    def append_once(event: ProgressEvent) -> None:
        if event.total_bytes >= MiB and not appended:
            appended.append(True)
            with open(path, "ab") as handle:
                handle.write(b"late")

    config = small_config(concurrency=1, progress=append_once)
    with pytest.raises(TransferError) as caught:
        lilt.upload_file(path, client=client, config=config)
    assert isinstance(caught.value.__cause__, SourceChangedError)
    assert caught.value.aborted and caught.value.upload_id and caught.value.key
    assert lilt_emulator.list_objects() == []


def test_storage_rejection_aborts_and_names_the_parts(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    # Presign URLs for a bucket that does not exist: storage answers 404 NoSuchBucket.
    path = make_file(11 * MiB)
    real = lilt_emulator.presign_endpoint
    lilt_emulator.presign_endpoint = real + "/no-such-bucket-prefix"
    try:
        with pytest.raises(TransferError) as caught:
            lilt.upload_file(path, client=client, config=small_config(concurrency=1))
    finally:
        lilt_emulator.presign_endpoint = real
    error = caught.value
    assert error.aborted and error.completed_parts == () and error.status is not None
    assert error.file == os.fspath(path) and error.upload_id and error.key
    assert "X-Amz-Signature=" not in str(error) or "[REDACTED]" in str(error)


def test_expired_urls_are_signed_again(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    import time

    from lilt.testing.proxy import Fault, FaultProxy

    # The first PUT is cut off mid-body; its retry comes after the 1 s URL
    # lifetime, so storage answers 403 "Request has expired" and the part is
    # signed again. Part 2 was signed ahead while part 1 was first sent, so its
    # URL has expired too by the time its PUT starts: signed again as well (and
    # so may part 3, on a slow machine). Each 403 costs exactly one signature.
    lilt_emulator.url_lifetime = 1
    path = make_file(11 * MiB)
    host, port = lilt_emulator.storage.url.removeprefix("http://").rsplit(":", 1)
    with FaultProxy((host, int(port))) as proxy:
        lilt_emulator.presign_endpoint = proxy.url
        proxy.inject(Fault.reset_mid_body(after=64 * 1024), method="PUT", times=1)
        config = small_config(concurrency=1)
        with Uploader(client, config, sleep=lambda seconds: time.sleep(2.1)) as uploader:
            result = uploader.upload_file(path)
    assert_stored(lilt_emulator, result, path.read_bytes())
    statuses = [r.status for r in proxy.requests if r.method == "PUT"]
    assert statuses[:5] == [None, 403, 200, 403, 200]
    assert len(lilt_emulator.requests("sign_upload_part")) == result.part_count + statuses.count(
        403
    )


def test_bad_input_sends_nothing(
    lilt_emulator: Emulator, client: lilt.ApiClient, tmp_path: Path, make_file: MakeFile
) -> None:
    good = make_file(10)
    for bad in (tmp_path / "missing", tmp_path):
        with pytest.raises(OSError):
            lilt.upload_files([good, bad], client=client)
    with pytest.raises(ValueError):
        lilt.upload_file(good, client=client, config=TransferConfig(part_size=1))
    assert lilt_emulator.requests() == []


def test_no_credentials_reach_storage(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    from lilt.testing.proxy import FaultProxy

    storage = lilt_emulator.storage.url.removeprefix("http://")
    host, port = storage.rsplit(":", 1)
    with FaultProxy((host, int(port))) as proxy:
        lilt_emulator.presign_endpoint = proxy.url
        lilt.upload_files([make_file(6 * MiB), make_file(10)], client=client, config=small_config())
    assert len(proxy.requests) >= 3
    for request in proxy.requests:
        assert request.header("Authorization") is None and request.header("Cookie") is None
        names = {name.lower() for name, _ in request.headers}
        assert names <= {
            "host",
            "accept-encoding",
            "user-agent",
            "content-length",
            "content-type",
            "content-md5",
        }, names
        assert lilt_emulator.api_key not in repr(request)


def test_sha256_of_what_was_sent(
    lilt_emulator: Emulator, client: lilt.ApiClient, make_file: MakeFile
) -> None:
    path = make_file(9 * MiB + 1)
    result = lilt.upload_file(path, client=client, config=small_config())
    assert (
        hashlib.sha256(lilt_emulator.read_object(result.key)).digest()
        == hashlib.sha256(path.read_bytes()).digest()
    )
