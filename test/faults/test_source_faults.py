"""The source changes while it is uploaded: one real version stored and reported, or nothing.

Real SeaweedFS through the emulator (the fault suite's rig). A file is
appended to, truncated, rewritten in place with its modification time put
back (as ``cp -p``, ``rsync --inplace -t`` and ``touch -r`` do), or replaced
by another file, at a chosen moment:

* ``before``: after the upload was planned, before any byte was read (the
  change happens inside the initiate call);
* ``during``: once about 1 MiB has been handed to the network (the progress
  callback, in the worker thread that sends it);
* ``after``: once storage has the whole file, before the upload is reported
  (a single PUT: when it is acknowledged; multipart: inside the complete call).

Every case ends with the same checks: either the call succeeded and the
object's SHA-256 equals one version the file really held (the planned one,
since no byte of a later one may reach storage), or it raised a
``TransferError`` caused by ``SourceChangedError`` and storage holds no
object at all; no multipart upload is pending and every multipart record is
cancelled or uploaded; the call returned within a hang guard; and, as for
the whole suite, no secret was logged or raised (``secret_scan`` in conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from faults.rig import PART, MiB, Rig

import lilt
from lilt.exceptions import TransferError
from lilt.testing.proxy import Fault
from lilt.transfer import FilenameError, ProgressEvent, SourceChangedError
from support.source_changes import age, change

SINGLE_SIZE = 2 * MiB + 7  # above the in-memory limit: sent from the file by sendfile
MULTI_SIZE = 2 * PART + MiB + 5  # three parts
HANG_GUARD = 60.0  # seconds; only a bound against hangs, never a speed assertion


class HookedApi:
    """An ``UploadsApi`` whose named operations run ``hook`` once, just before the call."""

    def __init__(self, api: Any, operations: tuple[str, ...], hook: Callable[[], None]) -> None:
        self._api = api
        self._operations = operations
        self._hook = hook
        self._fired = threading.Event()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._api, name)
        if name not in self._operations:
            return target

        def hooked(*args: Any, **kwargs: Any) -> Any:
            if not self._fired.is_set():
                self._fired.set()
                self._hook()
            return target(*args, **kwargs)

        return hooked


def upload_changing(
    rig: Rig, path: Path, how: str, when: str, **changes: Any
) -> tuple[Optional[lilt.UploadResult], Optional[TransferError], list[bytes]]:
    """Upload ``path`` while changing it; return the result or error, and every version."""
    versions = [path.read_bytes()]
    changed = threading.Event()

    def do_change() -> None:
        if not changed.is_set():
            changed.set()
            versions.append(change(path, how))

    multipart = os.stat(path).st_size > rig.transfer_config().multipart_threshold
    progress = rig.progress

    def on_progress(event: ProgressEvent) -> None:
        progress(event)
        if when == "during" and event.file_bytes >= MiB:
            do_change()
        if when == "after" and not multipart and event.done:
            do_change()  # a single PUT acknowledged: the object is stored

    operations = {
        "before": ("initiate_s3_upload", "initiate_multipart_upload"),
        "after": ("complete_multipart_upload",) if multipart else (),
    }.get(when, ())
    config = rig.transfer_config(progress=on_progress, **changes)
    started = time.monotonic()
    result = error = None
    with lilt.ApiClient(rig.api_config()) as client:
        api = HookedApi(lilt.UploadsApi(client), operations, do_change)
        try:
            result = lilt.upload_file(path, client=api, config=config)  # type: ignore[arg-type]
        except TransferError as exc:
            rig.seen.error(exc)
            error = exc
    assert time.monotonic() - started < HANG_GUARD
    assert changed.is_set(), "the change never happened"
    return result, error, versions


def check_outcome(
    rig: Rig,
    result: Optional[lilt.UploadResult],
    error: Optional[TransferError],
    versions: list[bytes],
    label: str,
) -> str:
    """One real version stored and reported, or SourceChangedError and nothing stored."""
    rig.totals.add_faults({f"source:{label}": 1})
    digests = [hashlib.sha256(v).hexdigest() for v in versions]
    if result is not None:
        stored = rig.emu.read_object(result.key)
        ok = hashlib.sha256(stored).hexdigest() in digests and result.size == len(stored)
        rig.totals.losses += 0 if ok else 1
        assert ok, f"{label}: stored {len(stored)} bytes matching no version of the file"
        rig.totals.uploads += 1
        rig.totals.bytes_verified += len(stored)
        assert [o.key for o in rig.emu.list_objects()] == [result.key]
        outcome = "stored"
    else:
        assert error is not None
        assert isinstance(error.__cause__, SourceChangedError), repr(error.__cause__)
        stored_keys = [o.key for o in rig.emu.list_objects()]
        rig.totals.losses += 1 if stored_keys else 0
        assert stored_keys == [], f"{label}: something stored after a failure: {stored_keys}"
        assert error.results == ()
        outcome = "refused"
    assert rig.emu.list_multipart_uploads() == []
    for record in rig.emu.uploads():
        if record.kind == "multipart":
            assert record.status.value in ("cancelled", "uploaded"), record
    return outcome


CHANGES = ["append", "truncate", "rewrite", "replace"]
CASES = [
    pytest.param(
        kind, how, when, checksum, id=f"{kind}-{how}-{when}-{'md5' if checksum else 'nomd5'}"
    )
    for kind in ("single", "multipart")
    for how in CHANGES
    for when in ("before", "during", "after")
    for checksum in ((True, False) if when == "during" else (True,))
]


@pytest.mark.parametrize(("kind", "how", "when", "checksum"), CASES)
def test_a_source_that_changes(rig: Rig, kind: str, how: str, when: str, checksum: bool) -> None:
    size = MULTI_SIZE if kind == "multipart" else SINGLE_SIZE
    path = rig.make_file(f"{kind}-{how}.bin", size, seed=len(how))
    result, error, versions = upload_changing(rig, path, how, when, checksum=checksum)
    outcome = check_outcome(rig, result, error, versions, f"{how}-{when}")
    if when == "after":
        # storage had every byte before the change: the planned version, reported as stored
        assert outcome == "stored" and result is not None
        assert rig.emu.read_object(result.key) == versions[0]
    else:
        # a change before or while bytes are read is always found, never stored
        assert outcome == "refused"
        if kind == "multipart" and error is not None and error.upload_id is not None:
            assert error.aborted


def test_truncation_during_sendfile_fails_at_once(rig: Rig) -> None:
    """The file shrinks while the kernel sends it: found by the short send, not a timeout."""
    path = rig.make_file("shrinking.bin", 24 * MiB, seed=3)
    rig.proxy.inject(Fault.stall_body(1.5, after=8 * MiB), method="PUT")

    def truncate_during_the_stall() -> None:
        deadline = time.monotonic() + 30
        while rig.proxy.counts["stall_body"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        age(path)
        os.truncate(path, 4 * MiB)

    thread = threading.Thread(target=truncate_during_the_stall)
    thread.start()
    started = time.monotonic()
    try:
        # one 24 MiB PUT in one sendfile (no progress callback), a read timeout of 60 s and
        # no stall timeout: before, the short send left storage waiting for the rest
        error = rig.expect_failure(
            [path],
            multipart_threshold=32 * MiB,
            progress=None,
            storage_timeout=(3.0, 60.0),
            stall_timeout=None,
        )
    finally:
        thread.join(30)
    assert time.monotonic() - started < 30  # hang guard, well below the read timeout
    assert isinstance(error.__cause__, SourceChangedError)
    assert "shrank" in str(error)
    assert rig.emu.list_objects() == []
    rig.totals.add_faults({"source:truncate-in-sendfile": 1})


# -- sources that are not plain files ------------------------------------------------------


def test_non_blocking_pipe_is_read_to_its_end(rig: Rig) -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    data = os.urandom(7 * MiB + 11)  # multipart: several reads meet an empty pipe

    def writer() -> None:
        with os.fdopen(write_end, "wb") as out:
            for start in range(0, len(data), MiB):
                time.sleep(0.01)
                out.write(data[start : start + MiB])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with (
            lilt.ApiClient(rig.api_config()) as client,
            os.fdopen(read_end, "rb", buffering=0) as stream,
        ):
            result = lilt.upload_fileobj(
                stream, "pipe.bin", client=client, config=rig.transfer_config(progress=None)
            )
    finally:
        thread.join(30)
    assert rig.emu.read_object(result.key) == data and result.size == len(data)
    assert rig.emu.list_multipart_uploads() == []
    rig.totals.add_faults({"source:non-blocking-stream": 1})
    rig.totals.uploads += 1
    rig.totals.bytes_verified += len(data)


def test_pseudo_file_is_never_stored_empty(rig: Rig) -> None:
    proc = Path("/proc/self/cmdline")
    if not proc.exists() or proc.stat().st_size != 0:
        pytest.skip("needs a procfs file that reports size 0")
    with lilt.ApiClient(rig.api_config()) as client:
        with pytest.raises(OSError, match="pseudo-file"):
            lilt.upload_file(proc, client=client, config=rig.transfer_config(progress=None))
        assert rig.emu.requests() == []  # refused before any request
        with open(proc, "rb") as handle:
            result = lilt.upload_fileobj(handle, "cmdline", client=client)
    assert rig.emu.read_object(result.key) == proc.read_bytes() != b""
    rig.totals.add_faults({"source:pseudo-file": 1})
    rig.totals.uploads += 1


# -- names ---------------------------------------------------------------------------------


def test_names_that_cannot_be_encoded(rig: Rig) -> None:
    import json

    import urllib3

    folder = os.fsencode(rig.tmp)
    undecodable = os.path.join(folder, b"r\xe9sum\xe9.txt")
    try:
        with open(undecodable, "wb") as handle:
            handle.write(b"content")
    except OSError:
        pytest.skip("the file system refuses names that are not UTF-8")
    with lilt.ApiClient(rig.api_config()) as client:
        with pytest.raises(FilenameError):
            lilt.upload_file(undecodable, client=client)
        assert rig.emu.requests() == []
        result = lilt.upload_file(undecodable, client=client, filename="resume.txt")
    assert rig.emu.read_object(result.key) == b"content"
    # the emulator answers a lone surrogate (valid JSON, no UTF-8 form) with a 400, not a 500
    body = json.dumps({"filename": "\ud800.txt", "type": "text/plain"})
    for path in ("/v2/upload/s3/params", "/v2/upload/s3/multipart"):
        answer = urllib3.request(
            "POST",
            rig.emu.base_url + path,
            body=body.encode(),
            headers={
                "Content-Type": "application/json",
                **urllib3.make_headers(basic_auth=f"{rig.emu.api_key}:{rig.emu.api_key}"),
            },
        )
        assert answer.status == 400, answer.data
        assert b"surrogate" in answer.data
    assert rig.emu.list_multipart_uploads() == []
