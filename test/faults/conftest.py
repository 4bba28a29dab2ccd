"""Fixtures of the fault suite: storage, an emulator behind a fault proxy, the totals
and the secret scan.

Every test in this folder runs with every logger at DEBUG into one capture,
and adds the text of every error it provokes to ``seen``; when the session
ends, :func:`secret_scan` asserts that no secret appears in any of it (in
each xdist worker, over what that worker ran). The totals (faults injected
by kind, uploads and bytes verified, losses) are printed at the end of the
session by :mod:`faults.totals`. Both live in this process's
:class:`~faults.helpers.Ledger`, not in module globals, so neither depends
on the order the tests run in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from faults.helpers import Ledger, Readable, Totals, ledger
from faults.rig import Rig

# -- totals, and everything logged or raised --------------------------------------------

SERVER_SIDE = ("botocore", "boto3", "s3transfer", "werkzeug")


@pytest.fixture(scope="session")
def suite_ledger(pytestconfig: pytest.Config) -> Ledger:
    return ledger(pytestconfig)


@pytest.fixture(scope="session")
def totals(suite_ledger: Ledger) -> Totals:
    """This process's fault-suite totals (tests add what they injected and verified)."""
    return suite_ledger.totals


@pytest.fixture(scope="session")
def seen(suite_ledger: Ledger) -> Readable:
    """Everything this process's fault tests logged or raised, and the secrets they used."""
    return suite_ledger.seen


@pytest.fixture(scope="session", autouse=True)
def secret_scan(seen: Readable, totals: Totals) -> Iterator[None]:
    """After the last test of the session: no secret in anything the fault tests logged
    or raised.

    Everything logged (every logger at DEBUG, tracebacks included) and the text
    of every SDK error created (``str``, ``repr``, the formatted traceback with
    its causes, and every attribute and pickle in its chain, errors retried away
    inside the SDK included) are searched for every secret the tests used: the
    emulator API keys (plain and percent-encoded), the Basic tokens made from
    them, the storage server's secret key, the core tests' API key, and every
    presigned signature the storage proxy saw. A leak fails the run (an error
    at the teardown of its last test).
    """
    yield
    logs = seen.client_logs()
    totals.note("log lines checked for secrets", len(logs))
    totals.note("error texts checked for secrets", len(seen.errors))
    totals.note("distinct secrets searched for", len({s for s in seen.secrets if len(s) >= 8}))
    assert seen.leaks() == [], "a secret was logged or shown in an error"


@dataclass
class Capturing:
    """What :func:`capture_everything` caught during one test so far."""

    created: list[BaseException] = field(default_factory=list)


@pytest.fixture(autouse=True)
def capture_everything(monkeypatch: pytest.MonkeyPatch, seen: Readable) -> Iterator[Capturing]:
    """Every logger at DEBUG into ``seen.logs``; every SDK error created goes into
    ``seen.errors`` when the test ends.

    Errors are caught where they are made (their constructors are wrapped), so
    the ones retried away inside the SDK are checked too, not only those a
    test sees.
    """
    from lilt.exceptions import ApiException
    from lilt.transfer.storage_client import StorageError

    capturing = Capturing()
    for cls in (ApiException, StorageError):
        original = cls.__init__

        def recording(
            self: BaseException, *args: Any, __original: Any = original, **kwargs: Any
        ) -> None:
            __original(self, *args, **kwargs)
            capturing.created.append(self)

        monkeypatch.setattr(cls, "__init__", recording)
    names = ("", "lilt", "urllib3", *SERVER_SIDE)
    saved = {name: logging.getLogger(name).level for name in names}
    root = logging.getLogger()
    root.addHandler(seen.logs)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    # The emulator's own S3 client logs its signing at DEBUG; that is the
    # server side of the test, not the SDK, and it is very chatty.
    for name in SERVER_SIDE:
        logging.getLogger(name).setLevel(logging.INFO)
    seen.tests += 1
    try:
        yield capturing
    finally:
        for error in capturing.created:
            seen.error(error)
        root.removeHandler(seen.logs)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


# -- storage and the emulator ----------------------------------------------------------


@pytest.fixture(scope="session")
def s3(lilt_storage: Any, seen: Readable) -> Any:
    """The session's shared S3 server (lilt's pytest plugin); each rig gets its own bucket."""
    seen.secret(lilt_storage.secret_key)
    return lilt_storage


@pytest.fixture(params=["basic", "query"])
def auth(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _rig(s3: Any, tmp_path: Path, auth: str, suite_ledger: Ledger) -> Iterator[Rig]:
    running = Rig(s3, tmp_path, auth, suite_ledger)
    try:
        yield running
        running.assert_no_credentials_reached_storage()
        assert running.proxy.errors == running.api_proxy.errors == []
    finally:
        running.close()


@pytest.fixture
def rig(s3: Any, tmp_path: Path, suite_ledger: Ledger) -> Iterator[Rig]:
    """A rig with Basic auth (tests that care about both take ``rig_both``)."""
    yield from _rig(s3, tmp_path, "basic", suite_ledger)


@pytest.fixture
def rig_both(s3: Any, tmp_path: Path, auth: str, suite_ledger: Ledger) -> Iterator[Rig]:
    yield from _rig(s3, tmp_path, auth, suite_ledger)
