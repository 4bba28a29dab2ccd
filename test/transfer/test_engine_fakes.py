"""The uploader end to end against in-memory fakes: no sockets, deterministic timing.

Covers scheduling, retries, re-signing, abort, resume and progress in
detail; ``test_emulator.py`` repeats the essentials against real S3.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from transfer._transfer_fakes import (
    Fakes,
    MakeFile,
    MiB,
    Response,
    chain,
    faults,
    on_part,
    random_bytes,
    small_config,
    xml_error,
)
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from lilt._retry import RetryPolicy
from lilt.exceptions import ServiceException, TransferError
from lilt.transfer import (
    JournalError,
    ProgressEvent,
    SourceChangedError,
    TransferConfig,
    UploadResult,
)
from lilt.transfer.results import multipart_etag
from lilt.transfer.storage_client import StorageError


def stored(fakes: Fakes, result: UploadResult) -> bytes:
    return fakes.storage.objects[result.key]


# --- the happy paths ------------------------------------------------------------


def test_small_file_is_one_put(fakes: Fakes, make_file: MakeFile) -> None:
    path = make_file(1000, name="notes.json")
    with fakes.uploader() as up:
        result = up.upload_file(path)
    assert stored(fakes, result) == path.read_bytes()
    assert result.multipart is False and result.part_count == 1 and result.upload_id is None
    assert result.filename == "notes.json" and result.size == 1000
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    assert result.checksums.md5 == md5 == result.checksums.expected_etag
    assert result.checksums.etag_match is True
    put = fakes.storage.puts()[0]
    assert put.headers["Content-Type"] == "application/json"
    assert result.location == f"http://storage.test/{result.key}"  # no signature in it


def test_multipart_file(fakes: Fakes, make_file: MakeFile) -> None:
    path = make_file(12 * MiB + 7)
    with fakes.uploader(small_config()) as up:
        result = up.upload_file(path)
    data = path.read_bytes()
    assert stored(fakes, result) == data
    assert result.multipart and result.part_count == 3 and result.upload_id == "mpu-1"
    digests = [hashlib.md5(data[i : i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB)]
    assert result.checksums.expected_etag == multipart_etag(digests)
    assert result.checksums.part_md5s == tuple(d.hex() for d in digests)
    assert result.checksums.etag_match is True
    assert fakes.api.count("sign_upload_part") == 3
    assert not fakes.api.open_uploads


@pytest.mark.parametrize(
    ("size", "multipart", "parts"),
    [
        (5 * MiB, False, 1),  # exactly the threshold: one PUT
        (5 * MiB + 1, True, 2),  # one byte over: two parts, the last of 1 byte
        (0, False, 1),  # empty files are valid
    ],
)
def test_threshold_edges(
    fakes: Fakes, make_file: MakeFile, size: int, multipart: bool, parts: int
) -> None:
    path = make_file(size)
    with fakes.uploader(small_config()) as up:
        result = up.upload_file(path)
    assert (result.multipart, result.part_count, result.size) == (multipart, parts, size)
    assert stored(fakes, result) == path.read_bytes()
    if multipart:
        assert sorted(len(r.body) for r in fakes.storage.puts()) == [1, 5 * MiB]


def test_empty_file_has_md5_of_nothing(fakes: Fakes, make_file: MakeFile) -> None:
    with fakes.uploader() as up:
        result = up.upload_file(make_file(0))
    assert result.checksums.md5 == hashlib.md5(b"").hexdigest()
    assert fakes.storage.puts()[0].headers["Content-Length"] == "0"


def test_many_files_bulk_initiate_and_interleave(fakes: Fakes, make_file: MakeFile) -> None:
    big = make_file(20 * MiB + 3, name="big.bin")
    small = [make_file(100 + i) for i in range(150)]
    with fakes.uploader(small_config(concurrency=2)) as up:
        results = up.upload_files([big, *small])
    assert [r.path for r in results] == [os.fspath(p) for p in [big, *small]]
    for path, result in zip([big, *small], results):
        assert stored(fakes, result) == path.read_bytes()
    # 150 single uploads in two requests (100 + 50), the big one in one.
    singles = [n for name, n in fakes.api.calls if name == "initiate_s3_upload"]
    assert singles == [100, 50]
    assert fakes.api.count("initiate_multipart_upload") == 1
    # Small files did not wait for the big one: some PUTs of small files come
    # before its last part.
    puts = fakes.storage.puts()
    last_part = max(i for i, r in enumerate(puts) if "partNumber" in r.query)
    first_small = min(i for i, r in enumerate(puts) if "partNumber" not in r.query)
    assert first_small < last_part


def test_small_files_and_parts_have_windows_of_their_own(fakes: Fakes, make_file: MakeFile) -> None:
    """``small_file_concurrency`` single PUTs run at once next to at most ``concurrency``
    part PUTs, while the next part is signed ahead."""
    config = small_config(concurrency=2, small_file_concurrency=5)
    lock = threading.Lock()
    active = {"single": 0, "part": 0}
    peak = dict(active)
    # The first PUTs of each kind wait for one another: this only passes if the
    # engine really runs that many at once (else the barrier times out).
    barriers = {
        "single": threading.Barrier(5, timeout=10),
        "part": threading.Barrier(2, timeout=10),
    }
    arrived = {"single": 0, "part": 0}
    third_signed, third_put = threading.Event(), threading.Event()
    signed_ahead: list[bool] = []

    def on_sign(number: int) -> None:
        if number == 3:
            third_signed.set()

    def overlap(request: Any, number: int) -> None:
        kind = "part" if "partNumber" in request.query else "single"
        with lock:
            active[kind] += 1
            peak[kind] = max(peak[kind], active[kind])
            arrived[kind] += 1
            first = arrived[kind] <= barriers[kind].parties
            if kind == "part" and arrived[kind] == 3:
                third_put.set()
        if first:
            barriers[kind].wait()
            if kind == "part":  # both part PUTs hold their slots: part 3 is signed ahead,
                signed_ahead.append(third_signed.wait(10))
                third_put.wait(0.5)  # and must not be PUT before a slot is free
        else:
            threading.Event().wait(0.002)  # let a PUT beyond the window show, if there were one
        with lock:
            active[kind] -= 1

    fakes.storage.fault = overlap
    fakes.api.fail_sign = on_sign  # type: ignore[assignment]
    big = make_file(6 * 5 * MiB, name="big.bin")
    small = [make_file(200 + i) for i in range(40)]
    with fakes.uploader(config) as up:
        results = up.upload_files([big, *small])
    assert all(stored(fakes, r) == p.read_bytes() for p, r in zip([big, *small], results))
    assert peak == {"single": 5, "part": 2}
    assert signed_ahead == [True, True]


def test_multipart_files_are_initiated_in_bulk(fakes: Fakes, make_file: MakeFile) -> None:
    paths = [make_file(5 * MiB + 1 + i) for i in range(3)]
    with fakes.uploader(small_config()) as up:
        results = up.upload_files(paths)
    assert [n for name, n in fakes.api.calls if name == "initiate_multipart_upload"] == [3]
    assert all(stored(fakes, r) == p.read_bytes() for p, r in zip(paths, results))


def test_serial_and_threaded_runs_agree(make_file: MakeFile) -> None:
    paths = [make_file(11 * MiB + 5, seed=1), make_file(3000, seed=2), make_file(0, seed=3)]
    outcomes = []
    for serial, concurrency in [(True, 4), (False, 1), (False, 4)]:
        fakes = Fakes()
        with fakes.uploader(small_config(concurrency=concurrency), serial=serial) as up:
            results = up.upload_files(paths)
        outcomes.append(
            [(r.size, r.part_count, r.multipart, r.checksums, stored(fakes, r)) for r in results]
        )
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_storage_requests_carry_no_credentials(fakes: Fakes, make_file: MakeFile) -> None:
    with fakes.uploader(small_config()) as up:
        up.upload_files([make_file(6 * MiB), make_file(10)])
    for request in fakes.storage.requests:
        assert set(request.headers) <= {"Content-Length", "Content-Type", "Content-MD5"}


def test_checksums_off_sends_no_md5(fakes: Fakes, make_file: MakeFile) -> None:
    with fakes.uploader(small_config(checksum=False)) as up:
        result = up.upload_file(make_file(6 * MiB))
    assert all("Content-MD5" not in r.headers for r in fakes.storage.requests)
    assert result.checksums.expected_etag is None and result.checksums.etag_match is None


def test_single_put_larger_than_a_part_is_streamed(fakes: Fakes, make_file: MakeFile) -> None:
    # threshold 16 MiB, parts 5 MiB: a 12 MiB file is one PUT, sent from the file in chunks.
    path = make_file(12 * MiB)
    with fakes.uploader(TransferConfig(part_size=5 * MiB)) as up:
        result = up.upload_file(path)
    assert not result.multipart and stored(fakes, result) == path.read_bytes()
    assert result.checksums.md5 == hashlib.md5(path.read_bytes()).hexdigest()


def test_method_from_the_api_is_used(fakes: Fakes, make_file: MakeFile) -> None:
    original = fakes.api.initiate_s3_upload

    def post_instead(body: object) -> object:
        answer = original(body)
        answer.method = "post"  # type: ignore[attr-defined]
        return answer

    fakes.api.initiate_s3_upload = post_instead  # type: ignore[method-assign]
    with fakes.uploader() as up:
        up.upload_file(make_file(10))
    assert fakes.storage.requests[0].method == "POST"


# --- retries -------------------------------------------------------------------------


def test_transient_failures_are_retried_with_backoff(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.storage.fault = faults(
        xml_error(503, "SlowDown"),
        ProtocolError("Connection aborted.", ConnectionResetError()),
        ReadTimeoutError(None, "http://storage.test/x", "timed out"),  # type: ignore[arg-type]
        Response(500),
    )
    path = make_file(100)
    with fakes.uploader() as up:
        result = up.upload_file(path)
    assert stored(fakes, result) == path.read_bytes()
    # full jitter with random() == 1.0: the ceiling, 0.5 s doubling
    assert fakes.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_retry_after_is_honoured(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.storage.fault = faults(xml_error(429, "SlowDown", headers={"Retry-After": "7"}))
    with fakes.uploader() as up:
        up.upload_file(make_file(100))
    assert fakes.sleeps == [7.0]


def test_retries_give_up_after_the_policy_attempts(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.storage.fault = lambda request, n: Response(502)
    config = TransferConfig(retry=RetryPolicy(attempts=3))
    with fakes.uploader(config) as up, pytest.raises(TransferError) as caught:
        up.upload_file(make_file(100))
    assert isinstance(caught.value.__cause__, StorageError)
    assert caught.value.status == 502 and len(fakes.storage.requests) == 3
    assert "sekret" not in str(caught.value)  # the signature is redacted


def test_time_budget_stops_retrying(fakes: Fakes, make_file: MakeFile) -> None:
    now = [0.0]
    fakes.storage.fault = lambda request, n: Response(503)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    config = TransferConfig(retry=RetryPolicy(attempts=100, budget=None), time_budget=10.0)
    uploader = fakes.uploader(config, sleep=sleep, clock=lambda: now[0])
    with uploader as up, pytest.raises(TransferError):
        up.upload_file(make_file(100))
    assert now[0] <= 10.0
    assert fakes.sleeps == []  # the injected sleep replaced the recorder


def test_corrupted_body_is_sent_again(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.storage.fault = faults(xml_error(400, "BadDigest"))
    path = make_file(100)
    with fakes.uploader() as up:
        result = up.upload_file(path)
    assert stored(fakes, result) == path.read_bytes()
    assert len(fakes.storage.requests) == 2


def test_expired_part_url_is_signed_again_outside_the_budget(
    fakes: Fakes, make_file: MakeFile
) -> None:
    fakes.storage.fault = on_part(2, xml_error(403, "AccessDenied", "Request has expired"), times=2)
    path = make_file(11 * MiB)
    config = small_config(retry=RetryPolicy(attempts=1))  # no retries at all, still fine
    with fakes.uploader(config) as up:
        result = up.upload_file(path)
    assert stored(fakes, result) == path.read_bytes()
    signs = [d for name, d in fakes.api.calls if name == "sign_upload_part"]
    assert [n for _, n, _ in signs].count(2) == 3
    assert fakes.sleeps == []


def test_resigning_is_bounded(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.storage.fault = on_part(1, xml_error(403, "SignatureDoesNotMatch"), times=100)
    with fakes.uploader(small_config(max_resigns=2)) as up, pytest.raises(TransferError) as caught:
        up.upload_file(make_file(6 * MiB))
    assert [d[1] for n, d in fakes.api.calls if n == "sign_upload_part"].count(1) == 3
    assert caught.value.aborted and caught.value.status == 403


def test_expired_single_put_is_initiated_again(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.storage.fault = faults(xml_error(403, "AccessDenied", "Request has expired"))
    path = make_file(100)
    with fakes.uploader() as up:
        result = up.upload_file(path)
    assert fakes.api.count("initiate_s3_upload") == 2
    assert stored(fakes, result) == path.read_bytes()
    assert result.key == "uploads/2/" + path.name


def test_other_403_is_fatal(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.storage.fault = faults(xml_error(403, "AccessDenied", "Access Denied"))
    with fakes.uploader() as up, pytest.raises(TransferError):
        up.upload_file(make_file(100))
    assert fakes.api.count("initiate_s3_upload") == 1 and len(fakes.storage.requests) == 1


# --- failure and abort ----------------------------------------------------------------


def test_fatal_error_aborts_and_names_everything(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.storage.fault = on_part(3, xml_error(400, "InvalidArgument", "no"))
    path = make_file(16 * MiB)
    with fakes.uploader(small_config(concurrency=1)) as up, pytest.raises(TransferError) as caught:
        up.upload_file(path)
    error = caught.value
    assert error.file == os.fspath(path) and error.upload_id == "mpu-1"
    assert error.key == f"uploads/1/{path.name}" and error.completed_parts[:2] == (1, 2)
    assert 3 not in error.completed_parts  # (part 4 may have started before the failure)
    assert error.aborted and fakes.api.aborted == ["mpu-1"] and not fakes.api.open_uploads
    text = str(error)
    assert "mpu-1" in text and path.name in text and "InvalidArgument" in text


def test_every_open_upload_is_aborted(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.storage.fault = on_part(2, Response(400))
    paths = [make_file(6 * MiB) for _ in range(3)]
    with fakes.uploader(small_config(concurrency=1)) as up, pytest.raises(TransferError):
        up.upload_files(paths)
    assert sorted(fakes.api.aborted) == ["mpu-1", "mpu-2", "mpu-3"]
    assert not fakes.api.open_uploads


def test_initiate_and_complete_are_retried_on_5xx(fakes: Fakes, make_file: MakeFile) -> None:
    from lilt.exceptions import BadRequestException

    def flaky(call: Any, failures: list[Exception]) -> Any:
        def wrapper(*args: Any) -> Any:
            if failures:
                raise failures.pop(0)
            return call(*args)

        return wrapper

    api = fakes.api
    api.initiate_s3_upload = flaky(  # type: ignore[method-assign]
        api.initiate_s3_upload, [ServiceException(status=502), ServiceException(status=503)]
    )
    api.initiate_multipart_upload = flaky(  # type: ignore[method-assign]
        api.initiate_multipart_upload, [ServiceException(status=500)]
    )
    api.complete_multipart_upload = flaky(  # type: ignore[method-assign]
        api.complete_multipart_upload, [ServiceException(status=504)]
    )
    paths = [make_file(10), make_file(6 * MiB)]
    with fakes.uploader(small_config()) as up:
        results = up.upload_files(paths)
    assert [stored(fakes, r) for r in results] == [p.read_bytes() for p in paths]
    assert sorted(fakes.sleeps) == [0.5, 0.5, 0.5, 1.0]  # 2 for initiate, 1 each for the others

    api.initiate_s3_upload = flaky(  # type: ignore[method-assign]
        api.initiate_s3_upload, [BadRequestException(status=400)]
    )
    with fakes.uploader() as up, pytest.raises(TransferError) as caught:
        up.upload_file(make_file(10))
    assert caught.value.status == 400 and len(fakes.sleeps) == 4  # a 400 is not retried


def test_api_failure_while_signing_aborts(fakes: Fakes, make_file: MakeFile) -> None:
    fakes.api.fail_sign = lambda n: ServiceException(status=500, reason="boom") if n == 2 else None
    with fakes.uploader(small_config()) as up, pytest.raises(TransferError) as caught:
        up.upload_file(make_file(11 * MiB))
    assert isinstance(caught.value.__cause__, ServiceException)
    assert caught.value.aborted and not fakes.api.open_uploads


@pytest.mark.parametrize("serial", [True, False])
def test_ctrl_c_aborts_and_propagates(fakes: Fakes, make_file: MakeFile, serial: bool) -> None:
    fakes.storage.fault = on_part(2, KeyboardInterrupt())  # type: ignore[arg-type]
    uploader = fakes.uploader(small_config(concurrency=1), serial=serial)
    with uploader as up, pytest.raises(KeyboardInterrupt):
        up.upload_file(make_file(16 * MiB))
    assert fakes.api.aborted == ["mpu-1"] and not fakes.api.open_uploads


def test_file_changing_during_upload_is_detected(fakes: Fakes, make_file: MakeFile) -> None:
    path = make_file(16 * MiB)

    def grow(request: object, number: int) -> None:
        if number == 1:
            with open(path, "ab") as handle:
                handle.write(b"more")

    fakes.storage.fault = grow  # type: ignore[assignment]
    with fakes.uploader(small_config(concurrency=1)) as up, pytest.raises(TransferError) as caught:
        up.upload_file(path)
    assert isinstance(caught.value.__cause__, SourceChangedError)
    assert "size changed" in str(caught.value)
    assert caught.value.aborted and not fakes.api.open_uploads


def test_file_touched_before_completion_is_detected(fakes: Fakes, make_file: MakeFile) -> None:
    path = make_file(6 * MiB)
    calls = {"n": 0}

    def touch(request: object, number: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # after the last part was read
            st = os.stat(path)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    fakes.storage.fault = touch  # type: ignore[assignment]
    with fakes.uploader(small_config(concurrency=1)) as up, pytest.raises(TransferError) as caught:
        up.upload_file(path)
    assert "modified" in str(caught.value)
    assert fakes.api.count("complete_multipart_upload") == 0 and not fakes.api.open_uploads


# --- bad input: raised before any request ------------------------------------------------


def test_bad_paths_fail_before_any_request(
    fakes: Fakes, make_file: MakeFile, tmp_path: Path
) -> None:
    good = make_file(10)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with fakes.uploader() as up:
        with pytest.raises(FileNotFoundError):
            up.upload_files([good, tmp_path / "missing.bin"])
        with pytest.raises(IsADirectoryError):
            up.upload_files([good, tmp_path])
        with pytest.raises(OSError, match="not a regular file"):
            up.upload_file(fifo)
        with pytest.raises(TypeError):
            up.upload_files(os.fspath(good))  # type: ignore[arg-type]
    assert fakes.api.calls == [] and fakes.storage.requests == []


def test_unreadable_file(
    fakes: Fakes, make_file: MakeFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_file(10)
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads anything: make the open fail the way it would for a user
        real_open = os.open

        def deny(p: str, *args: object) -> int:
            if p == os.fspath(path):
                raise PermissionError(13, "Permission denied", p)
            return real_open(p, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", deny)
    with fakes.uploader() as up, pytest.raises(PermissionError):
        up.upload_file(path)
    assert fakes.api.calls == []


def test_too_many_parts_is_refused_before_any_request(
    fakes: Fakes, make_file: MakeFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lilt.transfer import PlanError, uploader
    from lilt.transfer.source import FileSource

    class Huge(FileSource):  # 48.8 TiB and a byte: no file system here holds that
        def __init__(self, path: str, **kw: object) -> None:
            super().__init__(path, **kw)  # type: ignore[arg-type]
            self.snapshot = dataclasses.replace(self.snapshot, size=10_000 * 5 * 1024**3 + 1)

    monkeypatch.setattr(uploader, "FileSource", Huge)
    path = make_file(10)

    with fakes.uploader() as up, pytest.raises(PlanError, match="do not fit"):
        up.upload_file(path)
    assert fakes.api.calls == []


def test_invalid_client_is_a_type_error() -> None:
    from lilt.transfer import Uploader

    with pytest.raises(TypeError, match="client must be"):
        Uploader(object())  # type: ignore[arg-type]


# --- resume -----------------------------------------------------------------------------


def test_resume_skips_finished_parts(make_file: MakeFile, tmp_path: Path) -> None:
    path = make_file(21 * MiB)
    journal = tmp_path / "uploads.journal"
    config = small_config(concurrency=1, journal=journal)
    first = Fakes()
    first.storage.fault = on_part(3, Response(400))
    with first.uploader(config) as up, pytest.raises(TransferError) as caught:
        up.upload_file(path)
    assert caught.value.aborted is False and "kept for resuming" in str(caught.value)
    assert first.api.open_uploads == {"mpu-1": f"uploads/1/{path.name}"}

    second = Fakes()
    second.api = first.api  # same server
    second.storage = first.storage
    first.storage.fault = None
    calls_before = len(first.api.calls)
    with second.uploader(config) as up:
        result = up.upload_file(path)
    signed = [d[1] for n, d in first.api.calls[calls_before:] if n == "sign_upload_part"]
    assert signed == [1, 3, 4, 5]  # the probe (is upload 1 still there?), then 3 to 5
    assert [r.query["partNumber"] for r in first.storage.puts()[-3:]] == ["3", "4", "5"]
    assert result.resumed_parts == 2 and result.upload_id == "mpu-1"
    assert first.storage.objects[result.key] == path.read_bytes()
    assert result.checksums.etag_match is True

    # A third run finds the upload complete and sends nothing.
    before = len(first.api.calls)
    with second.uploader(config) as up:
        again = up.upload_file(path)
    assert len(first.api.calls) == before and again.key == result.key


def test_resume_refuses_a_changed_file(make_file: MakeFile, tmp_path: Path) -> None:
    path = make_file(11 * MiB)
    config = small_config(concurrency=1, journal=tmp_path / "j")
    fakes = Fakes()
    fakes.storage.fault = on_part(2, Response(400))
    with fakes.uploader(config) as up, pytest.raises(TransferError):
        up.upload_file(path)
    with open(path, "r+b") as handle:
        handle.write(b"X")
    calls = len(fakes.api.calls)
    with fakes.uploader(config) as up, pytest.raises(JournalError, match="refusing to resume"):
        up.upload_file(path)
    assert len(fakes.api.calls) == calls


def test_small_files_are_journaled_as_complete(make_file: MakeFile, tmp_path: Path) -> None:
    paths = [make_file(10), make_file(20)]
    config = TransferConfig(journal=tmp_path / "j")
    fakes = Fakes()
    with fakes.uploader(config) as up:
        up.upload_files(paths)
    with fakes.uploader(config) as up:
        results = up.upload_files(paths)
    assert fakes.api.count("initiate_s3_upload") == 1
    assert [r.size for r in results] == [10, 20]


# --- progress ----------------------------------------------------------------------------


def test_progress_is_monotonic_and_exact_despite_retries(fakes: Fakes, make_file: MakeFile) -> None:
    events: list[ProgressEvent] = []
    fakes.storage.fault = chain(on_part(2, Response(500), times=2), on_part(1, Response(503)))
    paths = [make_file(12 * MiB), make_file(1234), make_file(0)]
    config = small_config(progress=events.append)
    with fakes.uploader(config) as up:
        up.upload_files(paths)
    total = sum(p.stat().st_size for p in paths)
    totals = [e.total_bytes for e in events]
    assert totals == sorted(totals) and totals[-1] == total
    assert all(e.total_size == total for e in events)
    per_file: dict[str, list[int]] = {}
    for e in events:
        per_file.setdefault(e.name, []).append(e.file_bytes)
    for path in paths:
        counts = per_file[os.fspath(path)]
        assert counts == sorted(counts) and counts[-1] == path.stat().st_size
    done = [e.name for e in events if e.done]
    assert sorted(done) == sorted(os.fspath(p) for p in paths)


def test_progress_callback_is_never_entered_concurrently(fakes: Fakes, make_file: MakeFile) -> None:
    inside = threading.Lock()
    overlaps = []

    def callback(event: ProgressEvent) -> None:
        if not inside.acquire(blocking=False):
            overlaps.append(event)
            return
        try:
            pass
        finally:
            inside.release()

    with fakes.uploader(small_config(progress=callback, concurrency=8)) as up:
        up.upload_files([make_file(16 * MiB)] + [make_file(100) for _ in range(20)])
    assert overlaps == []


# --- streams --------------------------------------------------------------------------------


class Unseekable(io.RawIOBase):
    """A pipe-like stream: no size, no seeking, short reads."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), 65536, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


@pytest.mark.parametrize("size", [0, 100, 5 * MiB, 5 * MiB + 1, 17 * MiB])
@pytest.mark.parametrize("seekable", [True, False])
def test_streams(fakes: Fakes, size: int, seekable: bool) -> None:
    data = random_bytes(size, seed=size)
    stream = io.BytesIO(data) if seekable else Unseekable(data)
    events: list[ProgressEvent] = []
    with fakes.uploader(small_config(progress=events.append)) as up:
        result = up.upload_fileobj(stream, "stream.bin")  # type: ignore[arg-type]
    assert stored(fakes, result) == data
    assert result.size == size and result.multipart == (size > 5 * MiB)
    assert result.path is None and result.filename == "stream.bin"
    assert events[-1].done and events[-1].total_bytes == size and events[-1].total_size == size


def test_stream_shorter_than_declared_size(fakes: Fakes) -> None:
    with fakes.uploader(small_config()) as up, pytest.raises((TransferError, SourceChangedError)):
        up.upload_fileobj(Unseekable(b"x" * 100), "s", size=200)  # type: ignore[arg-type]
    with fakes.uploader(small_config()) as up, pytest.raises(TransferError) as caught:
        up.upload_fileobj(Unseekable(b"x" * 11 * MiB), "s", size=12 * MiB)  # type: ignore[arg-type]
    assert caught.value.aborted and not fakes.api.open_uploads


def test_stream_memory_is_bounded(fakes: Fakes) -> None:
    import tracemalloc

    data_size = 60 * MiB
    source = Unseekable(bytes(data_size))
    config = small_config(concurrency=2)
    tracemalloc.start()
    try:
        with fakes.uploader(config) as up:
            up.upload_fileobj(source, "zeros.bin")  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The fake storage keeps every part it received; count only what the uploader holds.
    kept = sum(len(data) for data, _ in fakes.storage.parts.values())
    kept += sum(len(v) for v in fakes.storage.objects.values())
    assert peak - kept <= (config.concurrency + 1) * config.part_size + 4 * MiB + 0 * data_size


@pytest.mark.parametrize("concurrency", [1, 3])
def test_file_memory_is_bounded_by_parts_in_flight(make_file: MakeFile, concurrency: int) -> None:
    import tracemalloc

    from transfer._transfer_fakes import FakeApi, FakeStorage

    fakes = Fakes()
    fakes.storage = FakeStorage(keep=False)
    fakes.api = FakeApi(fakes.storage)
    path = make_file(60 * MiB)
    config = small_config(concurrency=concurrency)
    tracemalloc.start()
    try:
        with fakes.uploader(config) as up:
            up.upload_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    bound = (config.concurrency + 1) * config.part_size
    assert peak <= bound + 2 * MiB, f"peak {peak / MiB:.1f} MiB > {bound / MiB:.0f} MiB"


def test_stream_with_journal_is_refused(fakes: Fakes, tmp_path: Path) -> None:
    uploader = fakes.uploader(TransferConfig(journal=tmp_path / "j"))
    with uploader as up, pytest.raises(ValueError, match="journal needs a file path"):
        up.upload_fileobj(io.BytesIO(b"x"), "x")


def test_text_stream_is_refused(fakes: Fakes) -> None:
    with fakes.uploader() as up, pytest.raises(TypeError, match="binary"):
        up.upload_fileobj(io.StringIO("text"), "x.txt")  # type: ignore[arg-type]


def test_config_replace_keeps_validation() -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(TransferConfig(), concurrency=0)
