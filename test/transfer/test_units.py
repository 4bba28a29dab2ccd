"""Unit tests with no sockets: planning, config, progress, journal, storage decisions, sources."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from transfer._transfer_fakes import FakeStorage, Response, faults, xml_error

from lilt._retry import RetryPolicy
from lilt.transfer import (
    JournalError,
    PlanError,
    ProgressEvent,
    SourceChangedError,
    TextProgress,
    TransferConfig,
    UploadedPart,
    plan_upload,
)
from lilt.transfer.config import MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, GiB, MiB
from lilt.transfer.journal import Journal, JournalFile
from lilt.transfer.plan import fit_part_size
from lilt.transfer.progress import ProgressTracker
from lilt.transfer.results import looks_like_md5, multipart_etag, normalize_etag
from lilt.transfer.source import TAIL, BodyAborted, FileRegion, FileSource, StreamSource
from lilt.transfer.storage_client import (
    SignatureRejected,
    StorageClient,
    StorageError,
    check_presigned_url,
    content_md5,
)

# --- plan ---------------------------------------------------------------------------


@given(
    size=st.integers(0, MAX_PARTS * MAX_PART_SIZE),
    part_size=st.integers(MIN_PART_SIZE, 64 * MiB),
    threshold=st.integers(0, 64 * MiB),
)
def test_plan_covers_every_byte_once(size: int, part_size: int, threshold: int) -> None:
    config = TransferConfig(part_size=part_size, multipart_threshold=threshold)
    plan = plan_upload(size, config)
    assert plan.multipart == (size > threshold)
    if not plan.multipart:
        assert plan.part_count == 1 and plan.parts[0].length == size
        return
    assert plan.part_count <= MAX_PARTS
    assert plan.part_size >= part_size and plan.part_size <= MAX_PART_SIZE
    if plan.part_size != part_size:  # grown only when it had to
        assert -(-size // part_size) > MAX_PARTS and plan.part_size % MiB == 0
    first, last = plan.part(1), plan.part(plan.part_count)
    assert first.offset == 0 and last.end == size
    assert 0 < last.length <= plan.part_size
    if plan.part_count > 1:
        middle = plan.part(plan.part_count // 2 or 1)
        assert middle.length == plan.part_size


def test_plan_parts_are_contiguous() -> None:
    plan = plan_upload(23 * MiB + 5, TransferConfig(part_size=5 * MiB, multipart_threshold=0))
    parts = plan.parts
    assert [p.number for p in parts] == [1, 2, 3, 4, 5]
    assert all(a.end == b.offset for a, b in zip(parts, parts[1:]))
    assert parts[-1].length == 3 * MiB + 5
    with pytest.raises(ValueError):
        plan.part(6)


def test_part_size_grows_only_past_10000_parts() -> None:
    assert fit_part_size(10_000 * 8 * MiB, 8 * MiB) == 8 * MiB
    assert fit_part_size(10_000 * 8 * MiB + 1, 8 * MiB) == 9 * MiB
    assert fit_part_size(100 * GiB, 8 * MiB) == 11 * MiB
    assert fit_part_size(MAX_PARTS * MAX_PART_SIZE, 8 * MiB) == MAX_PART_SIZE
    with pytest.raises(PlanError, match="do not fit"):
        fit_part_size(MAX_PARTS * MAX_PART_SIZE + 1, 8 * MiB)


# --- config ---------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = TransferConfig()
    assert (config.multipart_threshold, config.part_size, config.concurrency) == (
        16 * MiB,
        8 * MiB,
        8,
    )
    assert config.small_file_concurrency == 64
    assert config.checksum and config.journal is None and isinstance(config.retry, RetryPolicy)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"part_size": 5 * MiB - 1}, "part_size must be between"),
        ({"part_size": 5 * GiB + 1}, "part_size must be between"),
        ({"part_size": 8.0 * MiB}, "part_size must be an int"),
        ({"part_size": True}, "part_size must be an int"),
        ({"concurrency": 0}, "concurrency must be between"),
        ({"small_file_concurrency": 0}, "small_file_concurrency must be between"),
        ({"small_file_concurrency": 257}, "small_file_concurrency must be between"),
        ({"multipart_threshold": -1}, "multipart_threshold must be between"),
        ({"multipart_threshold": 5 * GiB + 1}, "multipart_threshold must be between"),
        ({"time_budget": 0}, "time_budget must be a positive"),
        ({"max_resigns": -1}, "max_resigns must not be negative"),
        ({"retry": 3}, "retry must be a lilt RetryPolicy"),
        ({"progress": "bar"}, "progress must be a callable"),
        ({"journal": 5}, "journal must be a path"),
        ({"storage_timeout": (0, 1)}, "storage_timeout"),
    ],
)
def test_config_rejects_invalid_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TransferConfig(**options)  # type: ignore[arg-type]


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        TransferConfig().concurrency = 3  # type: ignore[misc]


# --- results ------------------------------------------------------------------------------


def test_etag_helpers() -> None:
    parts = [b"a" * 10, b"b" * 3]
    digests = [hashlib.md5(p).digest() for p in parts]
    assert multipart_etag(digests) == hashlib.md5(b"".join(digests)).hexdigest() + "-2"
    assert normalize_etag('W/"ABC"') == "abc"
    assert looks_like_md5('"' + "0" * 32 + '"') and not looks_like_md5('"abc-2"')


# --- progress -------------------------------------------------------------------------------


def test_progress_never_goes_backwards_on_retry() -> None:
    events: list[ProgressEvent] = []
    tracker = ProgressTracker(events.append)
    tracker.add_file("a", "a.bin", 100)
    tracker.add_file("b", "b.bin", 50)
    tracker.sent("a", 1, 30)
    tracker.sent("a", 1, 60)
    tracker.sent("a", 1, 10)  # a retry starts over: no event, no rewind
    tracker.sent("a", 1, 60)
    tracker.sent("a", 1, 70)
    tracker.part_done("a", 1, 100)
    tracker.part_done("b", 1, 50)
    tracker.file_done("a")
    tracker.file_done("a")  # only once
    assert [e.file_bytes for e in events if e.name == "a.bin"] == [30, 60, 70, 100, 100]
    assert [e.total_bytes for e in events] == [30, 60, 70, 100, 150, 150]
    assert [e.done for e in events].count(True) == 1
    assert all(e.total_size == 150 for e in events)


def test_progress_total_unknown_until_stream_ends() -> None:
    events: list[ProgressEvent] = []
    tracker = ProgressTracker(events.append)
    tracker.add_file(1, "s", None)
    tracker.part_done(1, 1, 10)
    tracker.set_size(1, 10)
    tracker.file_done(1)
    assert [e.total_size for e in events] == [None, 10]


def test_progress_from_many_threads_sums_exactly() -> None:
    totals: list[int] = []
    tracker = ProgressTracker(lambda e: totals.append(e.total_bytes))
    tracker.add_file(0, "f", 8 * 1000)

    def work(part: int) -> None:
        for n in range(0, 1001, 100):
            tracker.sent(0, part, n)
        tracker.part_done(0, part, 1000)

    threads = [threading.Thread(target=work, args=(p,)) for p in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert totals == sorted(totals) and totals[-1] == 8000


def test_text_progress_prints_steps_and_the_end() -> None:
    out = io.StringIO()
    now = [0.0]
    progress = TextProgress(out, step=0.25, clock=lambda: now[0])
    for sent in range(0, 101, 5):
        now[0] += 1
        progress(ProgressEvent("f", sent, 100, sent, 100))
    progress(ProgressEvent("f", 100, 100, 100, 100, done=True))
    lines = out.getvalue().splitlines()
    assert [line.split("]")[1].split("%")[0].strip() for line in lines] == [
        "25.0",
        "50.0",
        "75.0",
        "100.0",
    ]
    assert "MiB/s" in lines[-1]


def test_tqdm_adapter_draws_a_bar() -> None:
    from lilt.transfer import TqdmProgress

    out = io.StringIO()
    with TqdmProgress(file=out, desc="up") as bar:
        bar(ProgressEvent("f", 50, 100, 50, 100))
        bar(ProgressEvent("f", 100, 100, 100, 100, done=True))
    assert "up" in out.getvalue() and "100/100" in out.getvalue()


# --- journal ---------------------------------------------------------------------------------


def identity_of(path: Path) -> object:
    with FileSource(path) as source:
        return source.identity()


def test_journal_round_trip_and_torn_line(tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * (6 * MiB))  # two parts of 5 MiB
    ident = identity_of(data)
    path = tmp_path / "j"
    with Journal(path) as journal:
        file = JournalFile(str(data), ident, "data.bin", "a/b")  # type: ignore[arg-type]
        journal.start(file, key="k", upload_id="u1", part_size=5 * MiB)
        journal.part("u1", UploadedPart(1, '"e1"'), "a" * 32)
        journal.part("u1", UploadedPart(2, '"e2"'), None)
    with open(path, "ab") as handle:
        handle.write(b'{"event":"part","upload_id":"u1","part":3,"et')  # a crash mid-write
    with Journal(path) as journal:
        record = journal.resumable(str(data), ident)  # type: ignore[arg-type]
        assert record is not None and record.upload_id == "u1" and not record.completed
        assert record.parts == {1: UploadedPart(1, '"e1"'), 2: UploadedPart(2, '"e2"')}
        assert record.md5s == {1: "a" * 32} and record.part_size == 5 * MiB
        assert record.problem is None
        journal.complete_multipart("u1", "loc")
    lines = path.read_bytes().splitlines()
    assert json.loads(lines[-1]) == {"event": "complete", "upload_id": "u1", "location": "loc"}
    with Journal(path) as journal:
        record = journal.lookup(str(data))
        assert record is not None and record.completed and record.location == "loc"


def test_journal_refuses_changed_file_and_second_user(tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 1000)
    ident = identity_of(data)
    path = tmp_path / "j"
    with Journal(path) as journal:
        file = JournalFile(str(data), ident, "d", "t")  # type: ignore[arg-type]
        journal.start(file, key="k", upload_id="u1", part_size=5 * MiB)
        with pytest.raises(JournalError, match="in use"):
            Journal(path)
    data.write_bytes(b"y" * 1000)  # same size, new content and mtime
    with Journal(path) as journal, pytest.raises(JournalError, match="refusing to resume"):
        journal.resumable(str(data), identity_of(data))  # type: ignore[arg-type]


# --- sources -------------------------------------------------------------------------------------


def test_file_source_reads_ranges_and_notices_changes(tmp_path: Path) -> None:
    from lilt.transfer.plan import PartSpec

    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 1000)  # 256,000 bytes: regions, then a 64 KiB tail
    data = path.read_bytes()
    with FileSource(path) as source:
        assert source.read(PartSpec(2, 256, 10)) == bytes(range(10))
        whole = PartSpec(1, 0, source.size)
        assert b"".join(bytes(r) for r in source.range(whole).chunks()) == data
        chunks = list(source.range(whole).chunks(100_000))
        assert [len(r) for r in chunks] == [100_000, 90_464, TAIL]
        assert isinstance(chunks[-1], bytes) and chunks[-1] == data[-TAIL:]  # read and checked
        region = chunks[1]
        assert isinstance(region, FileRegion)
        region.seek(region.offset + 90_454)
        assert region.read() == data[190_454:190_464] and region.read(5) == b""
        assert source.md5(whole) == hashlib.md5(data).digest()
        snapshot = source.snapshot
        with open(path, "ab") as handle:
            handle.write(b"!")
        with pytest.raises(SourceChangedError, match="size changed"):
            source.read(PartSpec(1, 0, 10))
        with pytest.raises(BodyAborted, match="size changed"):  # a body stops before its tail
            list(source.range(whole).chunks())
    with pytest.raises(SourceChangedError, match="between planning"):
        FileSource(path, expect=snapshot)


def test_stream_source_reads_whole_parts_from_short_reads() -> None:
    class Dribble(io.RawIOBase):
        def __init__(self) -> None:
            self.left = 1000

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            n = min(7, len(buffer), self.left)
            buffer[:n] = b"z" * n
            self.left -= n
            return n

    stream = StreamSource(Dribble(), "d")  # type: ignore[arg-type]
    assert stream.size is None
    assert len(stream.read(600)) == 600 and len(stream.read(600)) == 400 and stream.read(5) == b""
    sized = StreamSource(io.BytesIO(b"abc"), "s", size=2)
    with pytest.raises(SourceChangedError, match="longer"):
        sized.read(3)


# --- storage decisions ------------------------------------------------------------------------------


URL = "http://storage.test/b/k?X-Amz-Signature=topsecret&X-Amz-Expires=60"


def client(storage: FakeStorage, **kw: object) -> StorageClient:
    sleeps: list[float] = []
    kw.setdefault("sleep", sleeps.append)
    return StorageClient(
        retry=RetryPolicy(),
        http=storage,
        random=lambda: 0.5,  # type: ignore[arg-type]
        **kw,
    )  # type: ignore[arg-type]


def test_put_sends_only_storage_headers() -> None:
    storage = FakeStorage()
    result = client(storage).put(
        URL, b"hello", content_type="text/plain", md5=hashlib.md5(b"hello").digest()
    )
    assert result.etag == '"' + hashlib.md5(b"hello").hexdigest() + '"' and result.attempts == 1
    assert storage.requests[0].headers == {
        "Content-Length": "5",
        "Content-Type": "text/plain",
        "Content-MD5": base64.b64encode(hashlib.md5(b"hello").digest()).decode(),
    }
    assert content_md5(b"\x00" * 16) == "AAAAAAAAAAAAAAAAAAAAAA=="


@pytest.mark.parametrize(
    ("response", "kind", "retried"),
    [
        (xml_error(403, "AccessDenied", "Request has expired"), SignatureRejected, False),
        (xml_error(403, "SignatureDoesNotMatch"), SignatureRejected, False),
        (Response(403), SignatureRejected, False),
        (xml_error(403, "AccessDenied", "Access Denied"), StorageError, False),
        (xml_error(404, "NoSuchUpload"), StorageError, False),
        (xml_error(400, "EntityTooSmall"), StorageError, False),
        (xml_error(400, "RequestTimeout"), StorageError, True),
        (xml_error(408, "RequestTimeout"), StorageError, True),
        (Response(503), StorageError, True),
    ],
)
def test_put_sorts_failures(response: Response, kind: type[Exception], retried: bool) -> None:
    storage = FakeStorage(lambda request, n: response)
    with pytest.raises(kind) as caught:
        client(storage).put(URL, b"x")
    assert type(caught.value) is kind
    assert len(storage.requests) == (5 if retried else 1)
    assert "topsecret" not in str(caught.value)


def test_long_retry_after_gives_up_at_once() -> None:
    storage = FakeStorage(faults(xml_error(503, "SlowDown", headers={"Retry-After": "3600"})))
    with pytest.raises(StorageError):
        client(storage).put(URL, b"x")
    assert len(storage.requests) == 1


def test_presigned_url_pinning_a_checksum_is_refused() -> None:
    with pytest.raises(StorageError, match="pins a checksum"):
        check_presigned_url("http://s/k?X-Amz-Checksum-Crc32=AAAAAA%3D%3D&X-Amz-Signature=s")


def test_cancel_interrupts_retry_waits() -> None:
    storage = FakeStorage(lambda request, n: Response(503))
    cancel = threading.Event()
    cancel.set()
    from lilt.transfer.storage_client import TransferCancelled

    with pytest.raises(TransferCancelled):
        StorageClient(retry=RetryPolicy(), http=storage).put(  # type: ignore[arg-type]
            URL, b"x", cancel=cancel
        )
    assert storage.requests == []


def test_file_regions_go_by_sendfile_over_real_sockets(tmp_path: Path) -> None:
    import socket

    from lilt.transfer.source import FileRegion
    from lilt.transfer.storage_client import send_region

    path = tmp_path / "f"
    data = bytes(range(256)) * 4096
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    left, right = socket.socketpair()
    try:
        right.settimeout(5)
        left.settimeout(5)
        region = FileRegion(fd, 1000, 500_000)
        got = bytearray()
        reader = threading.Thread(
            target=lambda: [
                got.extend(right.recv(65536)) for _ in iter(lambda: len(got) < 500_000, False)
            ]
        )
        reader.start()
        send_region(left, region)
        reader.join(5)
        assert bytes(got) == data[1000:501_000]
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0  # the shared descriptor's position is untouched
    finally:
        left.close()
        right.close()
        os.close(fd)


def test_empty_body_sends_only_its_length() -> None:
    storage = FakeStorage()
    client(storage).put(URL, b"")
    assert storage.requests[0].headers == {"Content-Length": "0"}
