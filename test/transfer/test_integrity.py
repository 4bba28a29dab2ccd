"""Integrity under source, journal and engine faults, on fakes and local sockets (issue 8).

What each test would have caught before: a changed source stored as a mix or
retried five times as BadDigest, a short sendfile waiting for the read
timeout, a non-blocking stream taken for empty, a pseudo-file stored empty,
journal writes unchecked, a poisoned journal raising ZeroDivisionError,
SystemExit wrapped as TransferError, the successes of a failed batch lost, a
complete that finished during clean-up followed by an abort, and an https
API's http storage URL used. The same behaviours against real storage are in
``test/faults/test_source_faults.py`` and ``test_signal_resource_faults.py``.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import pickle
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Optional

import pytest
from transfer._transfer_fakes import (
    Fakes,
    MakeFile,
    MiB,
    Response,
    small_config,
    xml_error,
)

from lilt._retry import RetryPolicy
from lilt.exceptions import ApiConnectionError, TransferError, UnauthorizedException
from lilt.transfer import (
    FilenameError,
    JournalError,
    ProgressEvent,
    SourceChangedError,
    TransferConfig,
)
from lilt.transfer.journal import Journal, JournalFile
from lilt.transfer.plan import PartSpec
from lilt.transfer.results import UploadedPart
from lilt.transfer.source import BodyAborted, FileRegion, FileSource, Snapshot, StreamSource
from lilt.transfer.storage_client import StorageClient, StorageError, TransferCancelled, send_region
from lilt.transfer.tasks import _verify_part
from support.source_changes import change, rewrite_keeping_mtime

# --- helpers ----------------------------------------------------------------------------


# --- the source's identity ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["append", "truncate", "rewrite"])
def test_every_change_to_an_open_file_is_seen(tmp_path: Path, how: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(100_000))
    with FileSource(path) as source:
        source.check_unchanged()
        change(path, how)
        with pytest.raises(SourceChangedError) as caught:
            source.check_unchanged()
    expected = {
        "append": "size changed",
        "truncate": "size changed",
        "rewrite": "status-change time",
    }[how]
    assert expected in str(caught.value)


def test_a_replaced_file_is_seen_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old" * 1000)
    with FileSource(path) as source:
        change(path, "replace")
        with pytest.raises(SourceChangedError, match="replaced"):
            source.check_path()  # the path names another file now
        with pytest.raises(SourceChangedError, match="status-change"):
            source.check_unchanged()  # and the open one lost its name: a metadata change
        os.unlink(path)
        with pytest.raises(SourceChangedError, match="removed or renamed"):
            source.check_path()


def test_a_file_replaced_between_planning_and_uploading_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1000)
    with FileSource(path) as planned:
        snapshot = planned.snapshot
    change(path, "replace")  # same size, maybe even the same mtime: another inode
    with pytest.raises(SourceChangedError, match="between planning and uploading"):
        FileSource(path, expect=snapshot)


def test_snapshot_reasons() -> None:
    base = Snapshot(10, 1, 1, 7, 3)
    assert base.change(base) is None
    assert "inode" in (base.change(Snapshot(10, 1, 1, 8, 3)) or "")
    assert "size changed" in (base.change(Snapshot(11, 1, 1, 7, 3)) or "")
    assert "modification time" in (base.change(Snapshot(10, 2, 1, 7, 3)) or "")
    assert "status-change" in (base.change(Snapshot(10, 1, 2, 7, 3)) or "")


def test_pseudo_file_is_refused_as_a_path_and_read_whole_as_a_stream(fakes: Fakes) -> None:
    proc = Path("/proc/self/cmdline")
    if not proc.exists() or proc.stat().st_size != 0:
        pytest.skip("needs a procfs file that reports size 0")
    with fakes.uploader() as up:
        with pytest.raises(OSError, match="pseudo-file") as caught:
            up.upload_file(proc)
        assert caught.value.errno == errno.EINVAL
        assert fakes.api.calls == []
        with open(proc, "rb") as handle:  # seekable, and seeks to an end of 0
            result = up.upload_fileobj(handle, "cmdline.txt")
    expected = proc.read_bytes()
    assert expected and fakes.storage.objects[result.key] == expected
    assert result.size == len(expected)


def test_non_blocking_stream_is_waited_on_not_taken_for_its_end(fakes: Fakes) -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    data = os.urandom(300_000)

    def writer() -> None:  # in pieces, with pauses: reads meet an empty pipe (None) often
        with os.fdopen(write_end, "wb", buffering=0) as out:
            for start in range(0, len(data), 50_000):
                time.sleep(0.02)
                out.write(data[start : start + 50_000])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with os.fdopen(read_end, "rb", buffering=0) as stream, fakes.uploader() as up:
            result = up.upload_fileobj(stream, "piped.bin")
    finally:
        thread.join(10)
    assert fakes.storage.objects[result.key] == data and result.size == len(data)


def test_non_blocking_stream_without_a_descriptor_is_refused(fakes: Fakes) -> None:
    class NoDataYet(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> Optional[int]:
            return None  # "would block", forever

    with fakes.uploader() as up, pytest.raises(ValueError, match="non-blocking"):
        up.upload_fileobj(NoDataYet(), "x.bin")  # type: ignore[arg-type]
    assert fakes.api.calls == []


def test_stream_read_gives_none_then_data() -> None:
    class Flaky(io.RawIOBase):
        """read() (no readinto) that answers None every other call, on a real descriptor."""

        def __init__(self) -> None:
            self.left = b"abcdef" * 100
            self.calls = 0
            self.r, self.w = os.pipe()
            os.write(self.w, b"x")  # the descriptor is readable, so select returns at once

        def readable(self) -> bool:
            return True

        def fileno(self) -> int:
            return self.r

        def read(self, n: int = -1) -> Optional[bytes]:  # type: ignore[override]
            self.calls += 1
            if self.calls % 2:
                return None
            chunk, self.left = self.left[:7], self.left[7:]
            return chunk

    flaky = Flaky()
    flaky.readinto = None  # type: ignore[assignment,method-assign]
    try:
        stream = StreamSource(flaky, "f")  # type: ignore[arg-type]
        assert bytes(stream.read(10_000)) == b"abcdef" * 100
    finally:
        os.close(flaky.r)
        os.close(flaky.w)


# --- bodies sent from the file ------------------------------------------------------------


def test_a_short_sendfile_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(500_000))
    fd = os.open(path, os.O_RDONLY)
    left, right = socket.socketpair()
    got = bytearray()

    def drain() -> None:
        while chunk := right.recv(65536):
            got.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        left.settimeout(30)  # what the read timeout would have been waited for
        os.truncate(path, 100_000)  # truncated before the kernel could send the rest
        started = time.monotonic()
        with pytest.raises(BodyAborted) as caught:
            send_region(left, FileRegion(fd, 0, 500_000, str(path)))
        assert time.monotonic() - started < 10  # hang guard: no waiting for a timeout
        assert isinstance(caught.value.error, SourceChangedError)
        assert "100000 of 500000 bytes" in str(caught.value.error)
    finally:
        left.close()
        reader.join(10)
        right.close()
        os.close(fd)
    assert len(got) == 100_000


def test_bad_digest_from_a_changed_source_is_reported_at_once(
    fakes: Fakes, make_file: MakeFile
) -> None:
    path = make_file(MiB)  # sent from the file (sendfile), not from memory

    def rewrite_then_reject(request: Any, number: int) -> Optional[Response]:
        rewrite_keeping_mtime(path, offset=500_000)
        return xml_error(400, "BadDigest", "The Content-MD5 you specified did not match")

    fakes.storage.fault = rewrite_then_reject
    with fakes.uploader() as up, pytest.raises(TransferError) as caught:
        up.upload_file(path)
    assert isinstance(caught.value.__cause__, SourceChangedError)
    assert len(fakes.storage.puts()) == 1  # not sent four more times
    assert fakes.storage.objects == {}


def test_a_genuine_bad_digest_is_still_retried(fakes: Fakes, make_file: MakeFile) -> None:
    path = make_file(MiB)
    seen = {"n": 0}

    def corrupt_once(request: Any, number: int) -> Optional[Response]:
        seen["n"] += 1
        return xml_error(400, "BadDigest") if seen["n"] == 1 else None

    fakes.storage.fault = corrupt_once
    with fakes.uploader() as up:
        result = up.upload_file(path)
    assert fakes.storage.objects[result.key] == path.read_bytes()
    assert len(fakes.storage.puts()) == 2


def test_verify_rehashes_when_timestamps_cannot_tell(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(300_000))
    with FileSource(path) as source:
        spec = PartSpec(1, 0, 300_000)
        md5 = source.md5(spec)
        _verify_part(source, spec, md5)  # unchanged: storage's BadDigest was the network's
        rewrite_keeping_mtime(path, offset=1000)
        # as if the file system's clock were too coarse to show the rewrite
        source.snapshot = Snapshot.of(os.fstat(source.fd))
        with pytest.raises(SourceChangedError, match="no longer has the MD5"):
            _verify_part(source, spec, md5)


@pytest.mark.parametrize("checksum", [True, False])
def test_single_put_changed_while_storage_answers(
    fakes: Fakes, make_file: MakeFile, checksum: bool
) -> None:
    """The file changes after storage took the whole body, before its answer."""
    path = make_file(MiB)
    original = path.read_bytes()

    def change_after_receiving(request: Any, number: int) -> None:
        rewrite_keeping_mtime(path, offset=700_000)

    fakes.storage.fault = change_after_receiving  # type: ignore[assignment]
    with fakes.uploader(TransferConfig(checksum=checksum)) as up:
        if checksum:
            # storage checked the body against the MD5 of bytes read before the change:
            # one real version, the old one, stored and reported
            result = up.upload_file(path)
            assert fakes.storage.objects[result.key] == original
            return
        with pytest.raises(TransferError) as caught:
            up.upload_file(path)
    # sent from the file without an MD5: it may mix versions, and the API cannot delete
    # it, so the error says so and names the key
    error = caught.value
    assert isinstance(error.__cause__, SourceChangedError)
    assert error.key is not None and error.key in str(error) and "mix" in str(error)
    assert list(fakes.storage.objects) == [error.key]


@pytest.mark.parametrize("how", ["rewrite", "replace"])
def test_multipart_file_changed_before_complete_is_aborted(
    fakes: Fakes, make_file: MakeFile, how: str
) -> None:
    path = make_file(6 * MiB)
    calls = {"n": 0}

    def change_after_last_part(request: Any, number: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            change(path, how)

    fakes.storage.fault = change_after_last_part  # type: ignore[assignment]
    with fakes.uploader(small_config(concurrency=1)) as up, pytest.raises(TransferError) as caught:
        up.upload_file(path)
    assert isinstance(caught.value.__cause__, SourceChangedError)
    assert fakes.api.count("complete_multipart_upload") == 0
    assert caught.value.aborted and not fakes.api.open_uploads


# --- the journal --------------------------------------------------------------------------


def start_record(
    journal: Journal, path: Path, upload_id: str = "mpu-1", part_size: int = 5 * MiB
) -> None:
    with FileSource(path) as source:
        file = JournalFile(str(path), source.identity(), path.name, "a/b")
        journal.start(file, key=f"uploads/1/{path.name}", upload_id=upload_id, part_size=part_size)


def test_journal_completes_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "d"
    data.write_bytes(b"x" * (6 * MiB))
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, b: real_write(fd, bytes(b)[:7]))
    with Journal(tmp_path / "j") as journal:
        start_record(journal, data)
        journal.part("mpu-1", UploadedPart(1, '"e"'), "0" * 32)
    monkeypatch.undo()
    with Journal(tmp_path / "j") as journal:
        record = journal.lookup(str(data))
        assert record is not None and record.parts == {1: UploadedPart(1, '"e"')}


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_journal_that_cannot_write_refuses_everything_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    data = tmp_path / "d"
    data.write_bytes(b"x" * (6 * MiB))
    with Journal(tmp_path / "j") as journal:
        start_record(journal, data)
        error = OSError(errno.ENOSPC if failing == "write" else errno.EIO, "injected")
        monkeypatch.setattr(os, failing, lambda *a: (_ for _ in ()).throw(error))
        with pytest.raises(JournalError, match="cannot record progress"):
            journal.part("mpu-1", UploadedPart(1, '"e"'), None)
        monkeypatch.undo()
        with pytest.raises(JournalError, match="cannot record progress"):
            journal.part("mpu-1", UploadedPart(2, '"e"'), None)  # no write after a failure
        record = journal.lookup(str(data))
        assert record is not None and record.parts == {}  # it claims nothing it did not write


class FailingWrites:
    """``os.write`` for the journal: fails with ENOSPC once ``allowed`` lines were written."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.real = os.write

    def __call__(self, fd: int, data: Any) -> int:
        if self.allowed <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.allowed -= 1
        return self.real(fd, data)


def test_a_full_disk_stops_the_upload_and_keeps_what_the_journal_holds(
    make_file: MakeFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lilt.transfer.journal as journal_module

    path = make_file(16 * MiB)
    config = small_config(concurrency=1, journal=tmp_path / "j")
    fakes = Fakes()
    writes = FailingWrites(allowed=2)  # the start, part 1, then the disk is full
    monkeypatch.setattr(journal_module.os, "write", writes)
    with fakes.uploader(config) as up, pytest.raises(TransferError) as caught:
        up.upload_file(path)
    monkeypatch.undo()
    error = caught.value
    assert isinstance(error.__cause__, JournalError)
    assert "No space left on device" in str(error)
    assert "kept for resuming" in str(error) and "holds parts: 1" in str(error)
    assert error.aborted is False and list(fakes.api.open_uploads) == ["mpu-1"]
    with fakes.uploader(config) as up:  # space again: resumes from part 2
        result = up.upload_file(path)
    assert result.upload_id == "mpu-1" and result.resumed_parts == 1
    assert fakes.storage.objects[result.key] == path.read_bytes()


def test_a_journal_that_cannot_record_the_start_aborts_the_upload(
    make_file: MakeFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lilt.transfer.journal as journal_module

    path = make_file(11 * MiB)
    fakes = Fakes()
    monkeypatch.setattr(journal_module.os, "write", FailingWrites(allowed=0))
    config = small_config(concurrency=1, journal=tmp_path / "j")
    with fakes.uploader(config) as up, pytest.raises(TransferError) as caught:
        up.upload_file(path)
    assert "kept for resuming" not in str(caught.value)
    assert caught.value.aborted and fakes.api.aborted == ["mpu-1"]
    assert not fakes.api.open_uploads and fakes.storage.puts() == []


def test_a_journal_that_cannot_record_the_end_still_reports_the_stored_file(
    make_file: MakeFile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import lilt.transfer.journal as journal_module

    path = make_file(11 * MiB)
    fakes = Fakes()
    monkeypatch.setattr(journal_module.os, "write", FailingWrites(allowed=4))  # start + 3 parts
    config = small_config(concurrency=1, journal=tmp_path / "j")
    with caplog.at_level(logging.WARNING, "lilt.transfer"), fakes.uploader(config) as up:
        result = up.upload_file(path)
    assert fakes.storage.objects[result.key] == path.read_bytes()
    assert any("stored, but" in r.getMessage() for r in caplog.records)


POISONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "part size 0": lambda start: start.update(part_size=0),
    "part size a string": lambda start: start.update(part_size="8MiB"),
    "size a string": lambda start: start.update(size="big"),
    "part beyond the file": lambda start: None,  # a part line is added below
    "upload id a number": lambda start: start.update(upload_id=12345),
}


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_poisoned_journal_starts_afresh_and_cancels_the_upload_it_named(
    make_file: MakeFile, tmp_path: Path, poison: str, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    path = make_file(11 * MiB)
    fakes = Fakes()
    if poison != "upload id a number":  # then it names no upload there could be
        fakes.api.open_uploads["mpu-real"] = f"uploads/0/{path.name}"  # what the journal named
    with FileSource(path) as source:
        identity = source.identity()
    start = {
        "event": "start",
        "v": 1,
        "path": os.path.realpath(path),
        "size": identity.size,
        "mtime_ns": identity.mtime_ns,
        "sample": identity.sample,
        "filename": path.name,
        "content_type": "a/b",
        "key": f"uploads/0/{path.name}",
        "upload_id": "mpu-real",
        "part_size": 5 * MiB,
    }
    POISONS[poison](start)
    lines = [start]
    if poison == "part beyond the file":
        lines.append({"event": "part", "upload_id": "mpu-real", "part": 99, "etag": '"e"'})
    journal = tmp_path / "j"
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    config = small_config(concurrency=2, journal=journal)
    with caplog.at_level(logging.WARNING, "lilt.transfer"), fakes.uploader(config) as up:
        result = up.upload_file(path)
    assert fakes.storage.objects[result.key] == path.read_bytes()
    assert result.upload_id != "mpu-real" and result.resumed_parts == 0
    if poison != "upload id a number":
        assert "mpu-real" in fakes.api.aborted  # not left pending
    assert "mpu-real" not in fakes.api.open_uploads
    assert any("uploading the file afresh" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("state", ["unknown", "cancelled"])
def test_a_journal_naming_an_upload_the_api_does_not_know_starts_afresh(
    make_file: MakeFile, tmp_path: Path, state: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = make_file(11 * MiB)
    fakes = Fakes()
    with Journal(tmp_path / "j") as journal:
        start_record(journal, path, upload_id="mpu-gone")
        journal.part("mpu-gone", UploadedPart(1, '"e1"'), None)
    if state == "cancelled":
        fakes.api.aborted.append("mpu-gone")
    config = small_config(concurrency=2, journal=tmp_path / "j")
    with caplog.at_level(logging.WARNING, "lilt.transfer"), fakes.uploader(config) as up:
        result = up.upload_file(path)
    assert fakes.storage.objects[result.key] == path.read_bytes()
    assert result.upload_id != "mpu-gone" and result.resumed_parts == 0
    assert any("not pending on the server" in r.getMessage() for r in caplog.records)
    assert not fakes.api.open_uploads


# --- the engine: exceptions, batches, clean-up ------------------------------------------------


class Interrupt(KeyboardInterrupt):
    """What the lilt command's SIGTERM handler raises: a KeyboardInterrupt subclass."""


@pytest.mark.parametrize("serial", [True, False])
@pytest.mark.parametrize("raised", [SystemExit(3), Interrupt()], ids=["SystemExit", "subclass"])
def test_base_exceptions_from_a_progress_callback_propagate_as_themselves(
    fakes: Fakes, make_file: MakeFile, serial: bool, raised: BaseException
) -> None:
    def callback(event: ProgressEvent) -> None:
        if event.total_bytes >= 6 * MiB:
            raise raised

    config = small_config(concurrency=2, progress=callback)
    uploader = fakes.uploader(config, serial=serial)
    with uploader as up, pytest.raises(type(raised)) as caught:
        up.upload_file(make_file(16 * MiB))
    assert caught.value is raised
    assert fakes.api.aborted == ["mpu-1"] and not fakes.api.open_uploads


def test_a_failed_batch_carries_the_results_of_the_stored_files(
    fakes: Fakes, make_file: MakeFile
) -> None:
    good = [make_file(1000 + n) for n in range(3)]
    bad = make_file(500, name="bad.bin")
    fakes.storage.fault = lambda request, n: (
        xml_error(400, "InvalidArgument") if request.path.endswith("bad.bin") else None
    )
    config = small_config(concurrency=1)
    with fakes.uploader(config, serial=True) as up, pytest.raises(TransferError) as caught:
        up.upload_files([*good, bad])
    results = caught.value.results
    assert sorted(r.path for r in results if r.path) == sorted(os.fspath(p) for p in good)
    for result in results:
        assert fakes.storage.objects[result.key] == Path(result.path or "").read_bytes()
    assert caught.value.file == os.fspath(bad)


def test_a_complete_that_finishes_during_clean_up_is_a_success(
    fakes: Fakes, make_file: MakeFile
) -> None:
    big = make_file(11 * MiB, name="big.bin")
    small = make_file(100, name="small.bin")
    completing = threading.Event()
    failed = threading.Event()
    real_complete = fakes.api.complete_multipart_upload

    def slow_complete(upload_id: str, key: str, body: Any) -> Any:
        completing.set()
        assert failed.wait(10)  # still running when the other file's failure is handled
        time.sleep(0.2)
        return real_complete(upload_id, key, body)

    def fail_small(request: Any, number: int) -> Optional[Response]:
        if request.path.endswith("small.bin"):
            assert completing.wait(10)
            failed.set()
            return xml_error(400, "InvalidArgument")
        return None

    fakes.api.complete_multipart_upload = slow_complete  # type: ignore[method-assign]
    fakes.storage.fault = fail_small
    with fakes.uploader(small_config(concurrency=2)) as up, pytest.raises(TransferError) as caught:
        up.upload_files([big, small])
    (stored,) = caught.value.results
    assert stored.path == os.fspath(big)
    assert fakes.storage.objects[stored.key] == big.read_bytes()
    assert fakes.api.aborted == []  # never aborted after its complete


def test_transfer_error_names_the_api_error_and_pickles_without_secrets(
    fakes: Fakes, make_file: MakeFile
) -> None:
    from urllib3 import HTTPHeaderDict

    secret = "sk-live-0123456789abcdef"
    answer = SimpleNamespace(
        status=401,
        reason="Unauthorized",
        data=b'{"message":"bad key"}',
        getheaders=lambda: HTTPHeaderDict({"X-Request-Id": "req-9"}),
    )

    def refuse(body: Any) -> Any:
        raise UnauthorizedException(http_resp=answer)

    fakes.api.initiate_s3_upload = refuse  # type: ignore[method-assign]
    with fakes.uploader() as up, pytest.raises(TransferError) as caught:
        up.upload_file(make_file(10))
    error = caught.value
    assert isinstance(error.api_error, UnauthorizedException)
    assert (error.status, error.message, error.request_id) == (401, "bad key", "req-9")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is TransferError and isinstance(copy.api_error, UnauthorizedException)
    assert (copy.status, copy.message, copy.file, copy.results) == (401, "bad key", error.file, ())
    assert str(copy) == str(error)
    for text in (pickle.dumps(error), repr(vars(error)).encode(), str(error).encode()):
        assert secret.encode() not in text


# --- one retry layer ----------------------------------------------------------------------------


def test_an_api_call_makes_at_most_the_policy_attempts_against_a_refused_port() -> None:
    import lilt
    from lilt.testing.proxy import FaultProxy
    from lilt.transfer.uploader_api import MultipartTarget, UploaderApi

    with FaultProxy(("127.0.0.1", 9)) as proxy:  # refuses at accept: nothing is ever sent
        proxy.refuse_connections(1000)
        configuration = lilt.Configuration(host=proxy.url, username="k", password="k")
        with lilt.ApiClient(configuration) as client:  # its own policy: 4 attempts
            ops = UploaderApi(
                lilt.UploadsApi(client), retry=RetryPolicy(attempts=3), sleep=lambda s: None
            )
            with pytest.raises(ApiConnectionError):
                ops.complete(MultipartTarget("u", "k"), [UploadedPart(1, '"e"')])
            assert proxy.connections == 3  # not 3 x 4
            with pytest.raises(ApiConnectionError):
                ops.sign(MultipartTarget("u", "k"), 1, 10)
            assert proxy.connections == 6
        # the client's own calls keep its own policy (4 attempts by default)
        with lilt.ApiClient(configuration) as client, pytest.raises(ApiConnectionError):
            lilt.UploadsApi(client).get_pending_uploads()
        assert proxy.connections == 10


# --- storage: the scheme of presigned URLs --------------------------------------------------------


@pytest.mark.parametrize("allowed", [False, True])
def test_an_https_api_handing_out_http_storage_urls(
    fakes: Fakes, make_file: MakeFile, allowed: bool
) -> None:
    fakes.api.api_client = SimpleNamespace(  # type: ignore[attr-defined]
        configuration=SimpleNamespace(host="https://api.example")
    )
    path = make_file(100)
    with fakes.uploader(TransferConfig(allow_http_storage=allowed)) as up:
        if allowed:
            assert fakes.storage.objects[up.upload_file(path).key] == path.read_bytes()
            return
        with pytest.raises(TransferError, match="plain http storage URL") as caught:
            up.upload_file(path)
    assert isinstance(caught.value.__cause__, StorageError)
    assert fakes.storage.requests == []
    assert "sekret" not in str(caught.value)


# --- names ------------------------------------------------------------------------------------------


def test_bytes_paths_work(fakes: Fakes, make_file: MakeFile) -> None:
    path = make_file(100, name="plain.txt")
    with fakes.uploader() as up:
        result = up.upload_file(os.fsencode(path))
        (again,) = up.upload_files([os.fsencode(path)])
    assert result.path == os.fspath(path) and result.filename == "plain.txt"
    assert fakes.storage.objects[again.key] == path.read_bytes()


def test_names_that_cannot_be_sent_are_refused_before_any_request(
    fakes: Fakes, tmp_path: Path
) -> None:
    undecodable = os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt")  # Latin-1 on UTF-8
    try:
        with open(undecodable, "wb") as handle:
            handle.write(b"x")
    except OSError:
        pytest.skip("the file system refuses names that are not UTF-8")
    good = tmp_path / "good.txt"
    good.write_bytes(b"y")
    with fakes.uploader() as up:
        with pytest.raises(FilenameError, match="not valid Unicode"):
            up.upload_file(undecodable)
        with pytest.raises(FilenameError, match="not valid Unicode"):
            up.upload_files([good, os.fsdecode(undecodable)])
        with pytest.raises(FilenameError, match="not valid Unicode"):
            up.upload_file(good, filename="\ud800.txt")
        with pytest.raises(FilenameError, match="empty"):
            up.upload_file(good, filename="")
        with pytest.raises(FilenameError, match="not valid Unicode"):
            up.upload_fileobj(io.BytesIO(b"z"), "\udcff")
        assert fakes.api.calls == []
        result = up.upload_file(undecodable, filename="cafe.txt")  # the documented way out
    assert result.filename == "cafe.txt" and fakes.storage.objects[result.key] == b"x"


# --- storage: the no-progress timeout and interrupt, on a real socket ------------------------------


class Sink:
    """A TCP server that accepts and never reads: a PUT to it stalls once buffers fill."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/bucket/key?X-Amz-Signature=s"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.accepted.append(conn)

    def close(self) -> None:
        self.server.close()
        for conn in self.accepted:
            conn.close()
        self.thread.join(5)


def test_a_stalled_put_is_abandoned_and_retried_within_the_budget() -> None:
    sink = Sink()
    storage = StorageClient(
        retry=RetryPolicy(attempts=2, backoff_base=0.01),
        timeout=(5, 60),
        stall_time=0.5,
        stall_speed=1024,
    )
    try:
        started = time.monotonic()
        with pytest.raises(StorageError, match=r"stalled|no answer") as caught:
            storage.put(sink.url, os.urandom(8 * MiB))
        assert time.monotonic() - started < 30  # hang guard; the read timeout is 60 s
        assert caught.value.attempts == 2 and len(sink.accepted) == 2
    finally:
        storage.close()
        sink.close()


def test_interrupt_ends_a_stalled_put_at_once() -> None:
    sink = Sink()
    storage = StorageClient(retry=RetryPolicy(attempts=5), timeout=(5, 60), stall_time=None)
    cancel = threading.Event()
    outcome: list[BaseException] = []

    def put() -> None:
        try:
            storage.put(sink.url, os.urandom(8 * MiB), cancel=cancel)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=put)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not sink.accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # the body is on its way and stuck
        cancel.set()
        storage.interrupt(cancel)
        thread.join(10)  # hang guard: would be the 60 s read timeout otherwise
        assert not thread.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], TransferCancelled)
        assert outcome[0].body_sent is False
        with pytest.raises(TransferCancelled):  # and none starts after
            storage.put(sink.url, b"x", cancel=cancel)
        assert len(sink.accepted) == 1
    finally:
        storage.close()
        sink.close()


def test_an_interrupt_logs_the_keys_of_the_files_already_stored(
    fakes: Fakes, make_file: MakeFile, caplog: pytest.LogCaptureFixture
) -> None:
    small = make_file(100, name="first.txt")
    big = make_file(11 * MiB)

    small_done = threading.Event()

    def callback(event: ProgressEvent) -> None:
        if event.name == os.fspath(small) and event.done:
            small_done.set()

    def interrupt_part_2(request: Any, number: int) -> None:
        if request.query.get("partNumber") == "2":
            assert small_done.wait(10)
            raise KeyboardInterrupt  # as Ctrl-C would, while part 2 is being sent

    fakes.storage.fault = interrupt_part_2  # type: ignore[assignment]
    config = small_config(concurrency=2, progress=callback)
    with (
        caplog.at_level(logging.WARNING, "lilt.transfer"),
        fakes.uploader(config) as up,
        pytest.raises(KeyboardInterrupt),
    ):
        up.upload_files([small, big])
    (stored,) = fakes.storage.objects  # the small file made it
    assert any(stored in r.getMessage() and "interrupted" in r.getMessage() for r in caplog.records)
    assert not fakes.api.open_uploads
