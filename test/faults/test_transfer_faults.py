"""The managed uploader under faults: nothing lost, nothing left behind, nothing leaked.

Real SeaweedFS storage, the LILT emulator, and a fault proxy in front of
storage (the emulator writes the proxy's address into its presigned URLs).
Every test ends with :meth:`Rig.verify`: each object read back equals its
source (SHA-256), no multipart upload is pending, there is no extra or
duplicate object, and progress ended at exactly the file size. The rig's
teardown checks that no LILT credential reached the storage host.

All randomness is seeded; every fault is bounded in count, every stall in time.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest
from faults.helpers import Ledger
from faults.rig import PART, MiB, Rig

import lilt
from lilt.exceptions import TransferError
from lilt.testing.faults import ApiFault
from lilt.testing.proxy import Fault

SINGLE_SIZE = MiB + 17
MULTI_SIZE = 2 * PART + MiB + 5  # three parts: 5 MiB, 5 MiB, 1 MiB + 5
PART_2 = r"[?&]partNumber=2(&|$)"


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    """Poll until ``condition`` holds (bounded; not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def one_file(rig: Rig, kind: str, seed: int = 1) -> Path:
    size = MULTI_SIZE if kind == "multipart" else SINGLE_SIZE
    return rig.make_file(f"{kind}.bin", size, seed)


# -- storage faults -------------------------------------------------------------------

STORAGE_FAULTS = {
    "refuse": Fault.refuse(),
    "reset_before_body": Fault.reset_before_body(),
    "reset_mid_body": Fault.reset_mid_body(after=300_000),
    "stall_body": Fault.stall_body(10, after=200_000),  # longer than the storage timeouts
    "stall": Fault.stall(10),
    "drop_response": Fault.drop_response(),  # stored, but the answer is lost
    "slow_down": Fault.slow_down(retry_after=0.05),
    "internal_error": Fault.internal_error(),
}


@pytest.mark.parametrize("kind", ["single", "multipart"])
@pytest.mark.parametrize("name", sorted(STORAGE_FAULTS))
def test_storage_faults_are_retried(rig: Rig, kind: str, name: str) -> None:
    fault = STORAGE_FAULTS[name]
    path = one_file(rig, kind)
    # twice on the same PUT: the one single PUT, or part 2 of 3 (mid-upload)
    rig.proxy.inject(fault, method="PUT", path=PART_2 if kind == "multipart" else None, times=2)
    # A short read timeout only where the fault is a stall; elsewhere a slow
    # storage server on a loaded machine must not time out before the fault acts.
    # A response stall acts once storage has answered the request, so it gets
    # long enough for that; a body stall acts at once.
    read_timeout = {"stall_body": 1.0, "stall": 4.0}.get(name, 10.0)
    results = rig.upload([path], storage_timeout=(2.0, read_timeout))
    rig.verify(results)
    assert rig.proxy.counts[fault.kind.value] == 2
    if kind == "multipart":
        assert results[0].part_count == 3
        assert results[0].checksums.etag_match is True


# -- API faults (the emulator's knobs) ---------------------------------------------------

API_FAULTS = {
    "429-retry-after": ApiFault.rate_limited(retry_after="0.05"),
    "429-ratelimit-reset": ApiFault.rate_limited(retry_after=None, reset=0.05),
    "502": ApiFault.server_error(502),
    "503": ApiFault.server_error(503, retry_after="0.05"),
}
OPERATIONS = {  # the operation, and the kind of upload that calls it
    "initiate": "single",
    "initiate_multipart": "multipart",
    "sign": "multipart",
    "complete": "multipart",
}


@pytest.mark.parametrize(
    ("operation", "kind", "name"),
    [
        pytest.param(op, kind, name, id=f"{op}-{name}")
        for op, kind in OPERATIONS.items()
        for name in API_FAULTS
    ],
)
def test_api_faults_are_retried(rig_both: Rig, operation: str, kind: str, name: str) -> None:
    rig = rig_both
    fault = API_FAULTS[name]
    path = one_file(rig, kind)
    rig.emu.faults.inject(fault, operation=operation, times=2)
    try:
        results = rig.upload([path])
    finally:
        assert rig.emu.list_multipart_uploads() == []
    rig.verify(results)
    assert rig.emu.faults.counts[fault.kind] == 2


FATAL = Fault.http_error(
    400,
    '<?xml version="1.0"?><Error><Code>InvalidArgument</Code><Message>injected</Message></Error>',
    {"Content-Type": "application/xml"},
)


@pytest.mark.parametrize("name", ["429-retry-after", "503"])
def test_abort_after_a_fatal_error_survives_api_faults_on_cancel(rig_both: Rig, name: str) -> None:
    rig = rig_both
    path = one_file(rig, "multipart")
    rig.proxy.inject(FATAL, method="PUT", path=PART_2)
    rig.emu.faults.inject(API_FAULTS[name], operation="cancel", times=2)
    error = rig.expect_failure([path])
    assert error.aborted is True
    assert error.upload_id and error.key
    assert error.file == str(path)
    assert error.status == 400
    assert 2 not in error.completed_parts
    assert rig.emu.faults.counts[API_FAULTS[name].kind] == 2
    assert rig.emu.list_multipart_uploads() == []
    assert rig.emu.list_objects() == []


# -- network faults between the SDK and the API -------------------------------------------

API_ROUTES = {  # operation: (method, path pattern, the kind of upload that calls it)
    "initiate": ("POST", r"^/v2/upload/s3/params", "single"),
    "initiate_multipart": ("POST", r"^/v2/upload/s3/multipart(\?|$)", "multipart"),
    "sign": ("GET", r"^/v2/upload/s3/multipart/[^/?]+/\d+", "multipart"),
    "complete": ("POST", r"/complete(\?|$)", "multipart"),
}
NOT_SENT = {"refuse": Fault.refuse(), "reset_before_body": Fault.reset_before_body()}
ANSWER_LOST = {"drop_response": Fault.drop_response(), "stall": Fault.stall(10)}


def inject_api(rig: Rig, operation: str, fault: Fault) -> Path:
    method, path, kind = API_ROUTES[operation]
    rig.api_timeout = (2.0, 3.0)  # a stalled answer times out soon, a slow one does not
    rig.api_proxy.inject(fault, method=method, path=path)
    return one_file(rig, kind)


@pytest.mark.parametrize("name", sorted({**NOT_SENT, **ANSWER_LOST}))
def test_network_faults_on_sign_are_retried(rig: Rig, name: str) -> None:
    fault = {**NOT_SENT, **ANSWER_LOST}[name]
    path = inject_api(rig, "sign", fault)
    rig.verify(rig.upload([path]))
    assert rig.api_proxy.counts[fault.kind.value] == 1


@pytest.mark.parametrize("operation", ["initiate", "initiate_multipart"])
@pytest.mark.parametrize("name", sorted(NOT_SENT))
def test_an_initiate_cut_on_its_way_is_sent_again(rig: Rig, operation: str, name: str) -> None:
    # A refused connection never reached the server: sent again at once. A reset
    # while sending may have: the pending list is searched for what it made (it
    # made nothing, since the body never arrived), then it is sent again.
    path = inject_api(rig, operation, NOT_SENT[name])
    rig.verify(rig.upload([path]))
    assert rig.api_proxy.counts[NOT_SENT[name].kind.value] == 1
    initiates = [
        r for r in rig.api_proxy.requests if r.method == "POST" and "complete" not in r.target
    ]
    assert len(initiates) == 2  # the one cut off, and the one that worked
    assert rig.emu.list_multipart_uploads() == []


@pytest.mark.parametrize("name", sorted(NOT_SENT))
def test_a_complete_cut_on_its_way_is_sent_again(rig: Rig, name: str) -> None:
    # Completing the same parts twice is harmless, so complete is retried.
    path = inject_api(rig, "complete", NOT_SENT[name])
    rig.verify(rig.upload([path]))
    assert rig.api_proxy.counts[NOT_SENT[name].kind.value] == 1
    assert rig.emu.list_multipart_uploads() == []


# A POST that was processed but whose answer never came back. Complete is
# retried (completing the same parts again is harmless) and succeeds. An
# initiate is sent again, so the file is stored; the multipart upload the lost
# one started stays pending (empty: no parts), because the API's pending list
# has no upload id, key or metadata to cancel it with (the uploader names its
# record in a warning: test_signal_resource_faults). A fix needs the API to
# list them, or an idempotency key. Strict, so a fix shows.
ANSWER_LOST_CASES = [
    pytest.param(op, name, id=f"{op}-{name}")
    for op in ("initiate", "complete")
    for name in sorted(ANSWER_LOST)
] + [
    pytest.param(
        "initiate_multipart",
        name,
        id=f"initiate_multipart-{name}",
        marks=pytest.mark.xfail(
            strict=True,
            reason="initiate's answer lost: the empty multipart upload it started stays "
            "pending (the API's pending list has no upload id or key to cancel it with)",
        ),
    )
    for name in sorted(ANSWER_LOST)
]


@pytest.mark.parametrize(("operation", "name"), ANSWER_LOST_CASES)
def test_a_post_whose_answer_is_lost_leaves_nothing_half_done(
    rig: Rig, operation: str, name: str
) -> None:
    path = inject_api(rig, operation, ANSWER_LOST[name])
    source = path.read_bytes()
    pending: list[Any] = []
    try:
        rig.upload([path])
        stored_ok = True
    except TransferError as error:
        rig.seen.error(error)
        stored_ok = False
        pending = rig.emu.list_multipart_uploads()
        objects = rig.emu.list_objects()
        # whatever happened, nothing stored is corrupt
        assert all(rig.emu.read_object(o.key) == source for o in objects)
        try:
            assert pending == [], "an initiated upload was left pending"
            assert objects == [], "a stored object was reported as a failure"
        finally:
            with lilt.ApiClient(rig.api_config()) as client:  # tidy up for the next test
                for upload in pending:
                    lilt.UploadsApi(client).cancel_multipart_upload(upload.upload_id, upload.key)
    assert rig.api_proxy.counts[ANSWER_LOST[name].kind.value] == 1
    if stored_ok:
        assert rig.emu.list_multipart_uploads() == []


# -- presigned URLs that expire on the way ----------------------------------------------


@pytest.mark.parametrize("kind", ["single", "multipart"])
def test_a_url_that_expires_between_signing_and_use_is_signed_again(
    s3: Any, tmp_path: Path, suite_ledger: Ledger, kind: str
) -> None:
    rig = Rig(s3, tmp_path, "basic", suite_ledger, url_lifetime=2)
    try:
        path = one_file(rig, kind)
        # held 3.5 s on the way to storage: the 2 s signature has expired on arrival
        rig.proxy.inject(
            Fault.delay(3.5), method="PUT", path=PART_2 if kind == "multipart" else None
        )
        results = rig.upload([path], storage_timeout=(10.0, 10.0))  # wait for the answer
        rig.verify(results)
        statuses = [r.status for r in rig.proxy.requests if r.method == "PUT"]
        assert 403 in statuses  # storage did refuse the expired URL ...
        if kind == "multipart":  # ... and the part was signed again
            signs = rig.emu.requests("sign")
            assert len(signs) >= 4
        else:  # ... and a single PUT was initiated again
            assert len(rig.emu.requests("initiate")) == 2
        rig.assert_no_credentials_reached_storage()
    finally:
        rig.close()


# -- many files at once --------------------------------------------------------------------


def test_a_batch_of_many_files_under_random_faults(rig_both: Rig) -> None:
    rig = rig_both
    sizes = random.Random(5)
    paths = [
        rig.make_file(f"small-{n:02}.bin", sizes.randrange(0, 200_000), seed=n) for n in range(40)
    ]
    paths += [rig.make_file(f"big-{n}.bin", MULTI_SIZE + n, seed=100 + n) for n in range(2)]
    storage_menu = [
        Fault.refuse(),
        Fault.reset_before_body(),
        Fault.reset_mid_body(after=1000),
        Fault.stall(10),
        Fault.drop_response(),
        Fault.slow_down(retry_after=0.02),
        Fault.internal_error(),
    ]
    rig.proxy.randomly(seed=11, rate=0.15, faults=storage_menu, limit=14, method="PUT")
    api_menu = [
        ApiFault.rate_limited(retry_after="0.02"),
        ApiFault.rate_limited(retry_after=None, reset=0.02),
    ]
    rig.emu.faults.randomly(seed=12, rate=0.25, faults=api_menu, limit=8)
    rig.emu.faults.randomly(
        seed=13, rate=0.3, faults=[ApiFault.server_error(503)], limit=3, operation="sign"
    )
    # more attempts than API faults in all, so no call can run out of them (the
    # uploader's policy governs its API calls too: one retry layer)
    many = lilt.RetryPolicy(attempts=12, backoff_base=0.01, backoff_cap=0.02)
    results = rig.upload(paths, concurrency=4, storage_timeout=(2.0, 1.0), retry=many)
    assert [r.path for r in results] == [str(p) for p in paths]
    rig.verify(results)
    assert sum(rig.proxy.counts.values()) >= 5
    assert sum(rig.emu.faults.counts.values()) >= 3
    # small files were initiated in bulk, not one request each
    assert len(rig.emu.requests("initiate")) < len(paths) // 2


# -- kill -9 in the middle, then resume from the journal --------------------------------------

CONCURRENCY = 2
PARTS = 6
CHILD = """
import sys
import lilt

path, journal, part_size, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
config = lilt.TransferConfig(
    journal=journal, part_size=part_size, multipart_threshold=part_size,
    concurrency=concurrency,
    retry=lilt.RetryPolicy(attempts=5, backoff_base=0.01, backoff_cap=0.05),
)
with lilt.ApiClient(lilt.Configuration()) as client:  # LILT_API_KEY, LILT_API_HOST
    lilt.upload_file(path, client=client, config=config)
"""


def kill_and_resume(rig: Rig, seed: int) -> bool:
    """One seeded run; True when the kill landed before the upload finished."""
    rng = random.Random(1000 + seed)
    size = (PARTS - 1) * PART + rng.randrange(1, PART)
    path = rig.make_file(f"killed-{seed}.bin", size, seed)
    journal = rig.tmp / f"killed-{seed}.journal"
    # every part PUT pauses 0.5 s at a seeded point of its body, so kills land mid-upload
    rig.proxy.inject(
        Fault.stall_body(0.5, after=rng.randrange(0, PART)), method="PUT", times=10_000
    )
    kill_after = rng.randrange(1, PARTS)  # part PUTs storage has seen when the kill comes
    first = len(rig.proxy.requests)

    def puts() -> int:
        return sum(r.method == "PUT" for r in rig.proxy.requests[first:])

    env = {**os.environ, **rig.emu.env}
    argv = [sys.executable, "-c", CHILD, str(path), str(journal), str(PART), str(CONCURRENCY)]
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as child:
        try:
            wait_for(lambda: puts() >= kill_after or child.poll() is not None)
            time.sleep(rng.random() * 0.1)
        finally:
            child.kill()  # SIGKILL: no clean-up, no journal close, no abort
            _, stderr = child.communicate(timeout=30)
    killed = child.returncode == -9
    assert killed or child.returncode == 0, stderr.decode(errors="replace")
    rig.proxy.clear()

    upload_id = next(u.upload_id for u in rig.emu.list_multipart_uploads()) if killed else None
    results = rig.upload([path], journal=journal, concurrency=CONCURRENCY)
    rig.verify(results)
    if killed:
        assert results[0].upload_id == upload_id  # the same upload, resumed
    # Parts storage received more than once, across both processes: at most the
    # parts in flight when the process died.
    sent = Counter(
        r.query.get("partNumber") for r in rig.proxy.requests[first:] if r.method == "PUT"
    )
    twice = [n for n, count in sent.items() if count > 1]
    assert len(twice) <= CONCURRENCY, sent
    assert set(sent) == {str(n) for n in range(1, PARTS + 1)}
    rig.totals.note("kill -9 runs")
    rig.totals.note("kill -9 landed mid-upload", int(killed))
    rig.totals.note("parts sent twice after kill -9", len(twice))
    return killed


def test_kill_9_at_random_points_then_resume(rig: Rig) -> None:
    kills = [kill_and_resume(rig, seed) for seed in range(10)]
    assert sum(kills) >= 8, f"only {sum(kills)} of 10 kills landed mid-upload"
