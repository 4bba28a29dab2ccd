"""Signals, stalls and resources: nothing hangs, nothing is left half done, nothing is lost.

Real SeaweedFS through the emulator (the fault suite's rig). Signals go to an
uploader in a child process (``python -c``) whose signal dispositions are
set explicitly, since the suite itself may run where SIGINT is ignored.
Every test checks what is left on the server (pending multipart uploads,
records, objects) and bounds its wait with a hang guard; the suite's last
test searches everything logged or raised for secrets.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from faults.rig import PART, MiB, Rig

import lilt
from lilt.exceptions import TransferError
from lilt.testing.faults import ApiFault
from lilt.testing.proxy import Fault
from lilt.transfer import JournalError, ProgressEvent

MULTI_SIZE = 2 * PART + MiB + 5  # three parts
PART_2 = r"[?&]partNumber=2(&|$)"
HANG_GUARD = 30.0
#: from a signal to the child's exit; storage stalls for 15 s (the rig proxy's longest
#: stall) and the read timeout is 60 s, so only closing the PUTs' sockets gets in under it
SIGNAL_GUARD = 10.0


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# -- the uploader in a child process --------------------------------------------------------

CHILD = r"""
import json, os, resource, signal, sys
import lilt

spec = json.loads(sys.argv[1])

class Terminated(KeyboardInterrupt):
    "What the lilt command raises for SIGTERM and SIGHUP: a KeyboardInterrupt subclass."

def terminated(number, frame):
    raise Terminated(number)

signal.signal(signal.SIGINT, signal.default_int_handler)
for name in ("SIGTERM", "SIGHUP"):
    signal.signal(getattr(signal, name), terminated if spec["raise_on_term"] else signal.SIG_DFL)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file over RLIMIT_FSIZE: EFBIG, not death

limit = spec.get("journal_limit")  # bytes the journal may grow by once its start is written
def progress(event):
    if limit is not None and not progress.limited:
        progress.limited = True
        size = os.path.getsize(spec["journal"])
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + limit, size + limit))
progress.limited = False
if spec.get("limit_from_start"):
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

config = lilt.TransferConfig(
    part_size=spec["part_size"], multipart_threshold=spec["part_size"] + 1,
    concurrency=spec["concurrency"], journal=spec.get("journal"),
    storage_timeout=(3.0, 60.0), stall_timeout=None, progress=progress,
    retry=lilt.RetryPolicy(attempts=3, backoff_base=0.01, backoff_cap=0.05),
)
print("ready", flush=True)
try:
    with lilt.ApiClient(lilt.Configuration()) as client:  # LILT_API_KEY, LILT_API_HOST
        lilt.upload_files(spec["paths"], client=client, config=config)
except lilt.exceptions.TransferError as error:
    print(json.dumps({"error": str(error), "aborted": error.aborted,
                      "upload_id": error.upload_id, "cause": type(error.__cause__).__name__}),
          flush=True)
    sys.exit(1)
except Terminated as interrupt:
    print(json.dumps({"raised": type(interrupt).__name__}), flush=True)
    sys.exit(128 + interrupt.args[0])
print(json.dumps({"ok": True}), flush=True)
"""


class Child:
    """The uploader in a child process, with its output and how long its end took."""

    def __init__(
        self,
        rig: Rig,
        paths: list[Path],
        *,
        journal: Optional[Path] = None,
        raise_on_term: bool = False,
        concurrency: int = 3,
        **extra: Any,
    ) -> None:
        spec = {
            "paths": [str(p) for p in paths],
            "part_size": PART,
            "concurrency": concurrency,
            "raise_on_term": raise_on_term,
            "journal": str(journal) if journal else None,
            **extra,
        }
        env = {**os.environ, **rig.emu.env}
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(spec)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # its own dispositions are set in CHILD; it starts with the defaults restored
            restore_signals=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        self.signalled_at: Optional[float] = None

    def send(self, number: int) -> None:
        if self.signalled_at is None:
            self.signalled_at = time.monotonic()
        self.process.send_signal(number)

    def finish(self) -> tuple[int, str, str, float]:
        """Its exit status, stdout, stderr, and the seconds from the first signal to its end."""
        try:
            out, err = self.process.communicate(timeout=HANG_GUARD * 2)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.communicate()
        ended = time.monotonic() - (self.signalled_at or time.monotonic())
        return self.process.returncode, out, err, ended


def stall_every_put(rig: Rig) -> None:
    """Storage stops reading every PUT body (for 15 s, the rig's cap): the uploader is stuck."""
    rig.proxy.inject(Fault.stall_body(30, after=100_000), method="PUT", times=1000)


def assert_nothing_left(rig: Rig, records: int) -> None:
    assert rig.emu.list_multipart_uploads() == []
    assert rig.emu.list_objects() == []
    multipart = [r for r in rig.emu.uploads() if r.kind == "multipart"]
    assert len(multipart) == records and all(r.status.value == "cancelled" for r in multipart)


def test_ctrl_c_while_storage_stalls_aborts_and_exits_within_seconds(rig: Rig) -> None:
    path = rig.make_file("stalled.bin", MULTI_SIZE, seed=1)
    stall_every_put(rig)
    child = Child(rig, [path])
    wait_for(lambda: rig.proxy.counts["stall_body"] >= 1)
    child.send(signal.SIGINT)
    status, _, err, ended = child.finish()
    # before: the clean-up waited for the stalled PUTs (the 60 s read timeout, or the stall)
    assert ended < SIGNAL_GUARD, f"took {ended:.1f} s to stop"
    assert status in (-signal.SIGINT, 130) and "KeyboardInterrupt" in err, err[-2000:]
    assert_nothing_left(rig, records=1)
    rig.totals.add_faults({"signal:SIGINT-while-stalled": 1})


def test_a_second_ctrl_c_never_skips_the_abort(rig: Rig) -> None:
    paths = [rig.make_file(f"many-{n}.bin", MULTI_SIZE, seed=10 + n) for n in range(3)]
    stall_every_put(rig)
    # each abort takes a while, so the second Ctrl-C lands while the first is under way
    rig.emu.faults.inject(ApiFault.slow(1.0), operation="cancel", times=3)
    child = Child(rig, paths)
    wait_for(lambda: rig.proxy.counts["stall_body"] >= 1)
    wait_for(lambda: len([u for u in rig.emu.uploads() if u.kind == "multipart"]) == 3)
    child.send(signal.SIGINT)
    wait_for(lambda: rig.emu.faults.counts["slow"] >= 1)  # the first abort is on its way
    child.send(signal.SIGINT)
    status, _, err, ended = child.finish()
    assert ended < SIGNAL_GUARD + 3  # three aborts of 1 s each
    assert status in (-signal.SIGINT, 130) and "KeyboardInterrupt" in err, err[-2000:]
    # before: the second KeyboardInterrupt escaped from the first abort and the other two
    # multipart uploads stayed pending
    assert_nothing_left(rig, records=3)
    rig.totals.add_faults({"signal:SIGINT-twice": 2})


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_termination_raised_as_a_keyboard_interrupt_subclass(rig: Rig, name: str) -> None:
    path = rig.make_file("terminated.bin", MULTI_SIZE, seed=2)
    stall_every_put(rig)
    child = Child(rig, [path], raise_on_term=True)
    wait_for(lambda: rig.proxy.counts["stall_body"] >= 1)
    number = getattr(signal, name)
    child.send(number)
    status, out, err, ended = child.finish()
    assert ended < SIGNAL_GUARD
    # it reached the caller as itself, after the abort: the command's exit code
    assert status == 128 + number, err[-2000:]
    assert json.loads(out.splitlines()[-1]) == {"raised": "Terminated"}
    assert_nothing_left(rig, records=1)
    rig.totals.add_faults({f"signal:{name}": 1})


def test_ctrl_c_with_a_journal_keeps_the_upload_and_a_rerun_finishes_it(rig: Rig) -> None:
    path = rig.make_file("kept.bin", MULTI_SIZE, seed=4)
    journal = rig.tmp / "kept.journal"
    rig.proxy.inject(Fault.stall_body(30, after=100_000), method="PUT", path=PART_2, times=1)
    child = Child(rig, [path], journal=journal, concurrency=1)
    wait_for(lambda: rig.proxy.counts["stall_body"] >= 1)  # part 1 stored, part 2 stuck
    child.send(signal.SIGINT)
    status, _, err, ended = child.finish()
    assert ended < SIGNAL_GUARD and status in (-signal.SIGINT, 130), err[-2000:]
    (kept,) = rig.emu.list_multipart_uploads()
    rig.proxy.clear()
    results = rig.upload([path], journal=journal, concurrency=1)
    rig.verify(results)
    assert results[0].upload_id == kept.upload_id and results[0].resumed_parts == 1
    rig.totals.add_faults({"signal:SIGINT-journal": 1})


# -- exceptions from a progress callback (in this process) -------------------------------------


class Quit(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("raised", [SystemExit(4), Quit()], ids=["SystemExit", "subclass"])
def test_base_exceptions_in_a_progress_callback_propagate_after_the_abort(
    rig: Rig, raised: BaseException
) -> None:
    path = rig.make_file("callback.bin", MULTI_SIZE, seed=5)

    def callback(event: ProgressEvent) -> None:
        if event.total_bytes >= PART + MiB:
            raise raised

    with pytest.raises(type(raised)) as caught:
        rig.upload([path], progress=callback)
    assert caught.value is raised
    assert_nothing_left(rig, records=1)
    rig.totals.add_faults({f"callback:{type(raised).__name__}": 1})


# -- stalls: the no-progress timeout -----------------------------------------------------------


@pytest.mark.parametrize("name", ["stall_body", "stall_answer"])
def test_a_stalled_put_is_abandoned_and_retried(rig: Rig, name: str) -> None:
    path = rig.make_file("slow.bin", MULTI_SIZE, seed=6)
    # storage stops reading the body, or takes the body and keeps its answer
    fault = Fault.stall_body(15, after=200_000) if name == "stall_body" else Fault.stall(15)
    rig.proxy.inject(fault, method="PUT", path=PART_2, times=1)
    started = time.monotonic()
    # a read timeout far above the stall: only the no-progress timeout can end it early
    results = rig.upload([path], storage_timeout=(3.0, 60.0), stall_timeout=1.0)
    assert time.monotonic() - started < HANG_GUARD
    rig.verify(results)
    part_2 = [r for r in rig.proxy.requests if r.method == "PUT" and "partNumber=2" in r.target]
    assert len(part_2) == 2  # abandoned once, then sent again (the stall counts as storage's)


# -- a full disk under the journal ----------------------------------------------------------------


def test_a_journal_that_hits_its_file_size_limit(rig: Rig) -> None:
    """RLIMIT_FSIZE in the child: the journal's first part line is cut short (EFBIG)."""
    path = rig.make_file("full-disk.bin", MULTI_SIZE, seed=7)
    journal = rig.tmp / "full.journal"
    child = Child(rig, [path], journal=journal, concurrency=1, journal_limit=40)
    status, out, err, _ = child.finish()
    assert status == 1, err[-2000:]
    report = json.loads(out.splitlines()[-1])
    assert report["cause"] == "JournalError" and "File too large" in report["error"]
    # the journal holds the start (and no part): kept, and it says what it holds
    assert "kept for resuming" in report["error"] and "holds parts: none yet" in report["error"]
    (kept,) = rig.emu.list_multipart_uploads()
    assert kept.upload_id == report["upload_id"] and report["aborted"] is False
    results = rig.upload([path], journal=journal)  # room again: the same upload, finished
    rig.verify(results)
    assert results[0].upload_id == kept.upload_id
    rig.totals.add_faults({"resource:journal-EFBIG-part": 1})


def test_a_journal_that_cannot_record_the_start_aborts(rig: Rig) -> None:
    path = rig.make_file("no-room.bin", MULTI_SIZE, seed=8)
    journal = rig.tmp / "none.journal"
    child = Child(rig, [path], journal=journal, concurrency=1, limit_from_start=True)
    status, out, err, _ = child.finish()
    assert status == 1, err[-2000:]
    report = json.loads(out.splitlines()[-1])
    assert report["cause"] == "JournalError" and report["aborted"] is True
    assert "kept for resuming" not in report["error"]
    assert_nothing_left(rig, records=1)
    rig.totals.add_faults({"resource:journal-EFBIG-start": 1})


# -- poisoned journals ----------------------------------------------------------------------------


def initiate(rig: Rig, path: Path) -> tuple[str, str]:
    with lilt.ApiClient(rig.api_config()) as client:
        answer = lilt.UploadsApi(client).initiate_multipart_upload(
            lilt.InitiateMultipartUploadBody(filename=path.name, type="application/octet-stream")
        )
    return answer.upload_id, answer.key


def journal_line(path: Path, upload_id: Any, key: Any, **changes: Any) -> dict[str, Any]:
    from lilt.transfer.source import FileSource

    with FileSource(path) as source:
        identity = source.identity()
    line = {
        "event": "start",
        "v": 1,
        "path": os.path.realpath(path),
        "size": identity.size,
        "mtime_ns": identity.mtime_ns,
        "sample": identity.sample,
        "filename": path.name,
        "content_type": "application/octet-stream",
        "key": key,
        "upload_id": upload_id,
        "part_size": PART,
    }
    line.update(changes)
    return line


POISONS = {
    "part-size-0": {"part_size": 0},
    "part-size-string": {"part_size": "5MiB"},
    "size-string": {"size": "large"},
    "part-out-of-range": {},  # and a part line for part 40 of a three-part file
    "unknown-upload-id": {},  # an upload id the API never gave out
    "cancelled-upload-id": {},  # the upload it names was cancelled meanwhile
}


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_poisoned_journal_never_leaves_the_real_upload_pending(
    rig: Rig, poison: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = rig.make_file("poisoned.bin", MULTI_SIZE, seed=9)
    if poison == "unknown-upload-id":
        upload_id, key = "no-such-upload", "uploads/0/poisoned.bin"
    else:
        upload_id, key = initiate(rig, path)
    lines = [journal_line(path, upload_id, key, **POISONS[poison])]
    if poison == "part-out-of-range":
        lines.append({"event": "part", "upload_id": upload_id, "part": 40, "etag": '"e"'})
    if poison == "cancelled-upload-id":
        with lilt.ApiClient(rig.api_config()) as client:
            lilt.UploadsApi(client).cancel_multipart_upload(upload_id, key)
    journal = rig.tmp / "poisoned.journal"
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with caplog.at_level(logging.WARNING, "lilt.transfer"):
        results = rig.upload([path], journal=journal)
    assert any("afresh" in r.getMessage() for r in caplog.records)
    assert results[0].upload_id != upload_id and results[0].resumed_parts == 0
    rig.verify(results)  # stored whole; nothing pending: the named upload was cancelled too
    named = [r for r in rig.emu.uploads() if r.upload_id == upload_id]
    assert all(r.status.value == "cancelled" for r in named)
    assert len(named) == (0 if poison == "unknown-upload-id" else 1)
    rig.totals.add_faults({f"journal:{poison}": 1})


def test_a_journal_for_a_changed_file_is_refused_clearly(rig: Rig) -> None:
    path = rig.make_file("changed.bin", MULTI_SIZE, seed=11)
    upload_id, key = initiate(rig, path)
    journal = rig.tmp / "changed.journal"
    journal.write_text(json.dumps(journal_line(path, upload_id, key)) + "\n")
    path.write_bytes(os.urandom(MULTI_SIZE))
    with pytest.raises(JournalError, match="refusing to resume") as caught:
        rig.upload([path], journal=journal)
    rig.seen.error(caught.value)
    assert upload_id in str(caught.value) and key in str(caught.value)  # what to cancel
    with lilt.ApiClient(rig.api_config()) as client:  # the documented way out
        lilt.UploadsApi(client).cancel_multipart_upload(upload_id, key)
    assert rig.emu.list_multipart_uploads() == []


# -- what a failed batch reports ---------------------------------------------------------------------


FATAL = Fault.http_error(
    400,
    '<?xml version="1.0"?><Error><Code>InvalidArgument</Code><Message>injected</Message></Error>',
    {"Content-Type": "application/xml"},
)


def test_a_failed_batch_names_every_object_it_stored(rig: Rig) -> None:
    paths = [rig.make_file(f"ok-{n}.bin", 1000 + n, seed=20 + n) for n in range(5)]
    bad = rig.make_file("bad.bin", MULTI_SIZE, seed=30)
    rig.proxy.inject(FATAL, method="PUT", path=PART_2)
    error = rig.expect_failure([*paths, bad], concurrency=1)
    assert error.file == str(bad) and error.aborted
    stored = {o.key for o in rig.emu.list_objects()}
    assert {r.key for r in error.results} == stored  # every object stored is named
    for result in error.results:
        assert result.path is not None
        assert rig.emu.read_object(result.key) == Path(result.path).read_bytes()
    assert rig.emu.list_multipart_uploads() == []
    rig.totals.uploads += len(error.results)


def test_a_wrong_key_is_recognisable_on_the_transfer_error(rig: Rig) -> None:
    import pickle

    path = rig.make_file("wrong-key.bin", 1000, seed=40)
    wrong = "wrong-" + rig.emu.api_key[::-1]
    rig.seen.secret(wrong)
    configuration = lilt.Configuration(host=rig.api_proxy.url, username=wrong, password=wrong)
    with lilt.ApiClient(configuration) as client, pytest.raises(TransferError) as caught:
        lilt.upload_file(path, client=client, config=rig.transfer_config())
    error = caught.value
    rig.seen.error(error)
    assert isinstance(error.api_error, lilt.exceptions.UnauthorizedException)
    assert error.status == 401 and error.message
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy.api_error, lilt.exceptions.UnauthorizedException)
    for text in (pickle.dumps(error), str(vars(error)).encode(), repr(error.api_error).encode()):
        assert wrong.encode() not in text and rig.emu.api_key.encode() not in text


# -- a lost initiate answer -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["drop_response", "stall"])
def test_a_lost_initiate_answer_is_named_and_the_file_still_stored(
    rig: Rig, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What can be done without an API to find the upload a lost answer started.

    The file is stored through a second initiation; the first one's record is
    found in the pending list and named in a warning. It stays pending (an
    empty multipart upload: no parts, no bytes), because the pending list has
    no upload id or key to cancel it with; the strict xfail in
    test_transfer_faults pins that.
    """
    fault = Fault.drop_response() if name == "drop_response" else Fault.stall(10)
    rig.api_timeout = (2.0, 3.0)
    rig.api_proxy.inject(fault, method="POST", path=r"^/v2/upload/s3/multipart(\?|$)")
    path = rig.make_file("lost.bin", MULTI_SIZE, seed=50)
    with caplog.at_level(logging.WARNING, "lilt.transfer"):
        (result,) = rig.upload([path])
    assert rig.emu.read_object(result.key) == path.read_bytes()
    (orphan,) = rig.emu.list_multipart_uploads()
    record = next(r for r in rig.emu.uploads() if r.upload_id == orphan.upload_id)
    named = [r.getMessage() for r in caplog.records if "answer was lost" in r.getMessage()]
    assert named and str(record.id) in named[0]
    with lilt.ApiClient(rig.api_config()) as client:  # tidy up: the test can see the id
        lilt.UploadsApi(client).cancel_multipart_upload(orphan.upload_id, orphan.key)
    rig.verify([result])  # (the lost answer counts as an api-net fault)


@pytest.mark.parametrize("answer_after", [2.5, 8.0])
def test_a_single_put_in_flight_when_the_batch_fails(rig: Rig, answer_after: float) -> None:
    """Its whole body was sent and storage is answering: stored, or named as maybe stored.

    Another file fails while storage holds back the answer to a small file's
    PUT. An answer within the 2 s grace makes the file a success (in
    ``results``); a later one leaves it unknown, and its key is in
    ``unconfirmed`` (storage did store it here).
    """
    small = rig.make_file("small.bin", 1000, seed=60)
    big = rig.make_file("big.bin", MULTI_SIZE, seed=61)
    rig.proxy.inject(Fault.stall(answer_after), method="PUT", path=r"/small\.bin\?")
    # the big file's parts are signed 1.5 s late, so its fatal part 2 comes after the
    # small file's body was sent, while storage holds back the answer
    rig.emu.faults.inject(ApiFault.slow(1.5), operation="sign", times=3)
    rig.proxy.inject(FATAL, method="PUT", path=PART_2)
    # a worker free for the small one, and a read timeout longer than its stalled answer
    error = rig.expect_failure([small, big], concurrency=4, storage_timeout=(3.0, 30.0))
    assert error.file == str(big) and error.aborted
    (stored,) = rig.emu.list_objects()
    assert rig.emu.read_object(stored.key) == small.read_bytes()
    if answer_after < 1.5 + 2.0:  # within the 2 s the answer gets after the failure
        assert [r.key for r in error.results] == [stored.key] and error.unconfirmed == ()
    else:
        assert error.results == () and error.unconfirmed == (stored.key,)
        assert stored.key in str(error)
    assert rig.emu.list_multipart_uploads() == []
    rig.totals.uploads += 1
