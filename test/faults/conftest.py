"""Fixtures of the fault suite: storage, an emulator behind a fault proxy, and the totals.

Every test in this folder runs with every logger at DEBUG into one capture,
and adds the text of every error it provokes to :data:`SEEN`; the last test
of the suite (``test_zz_suite.py``) asserts that no secret appears in any
of it. The totals (faults injected by kind, uploads and bytes verified,
losses) are printed at the end of the session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults.helpers import SEEN, TOTALS
from faults.rig import Rig

# -- everything logged, every error seen (kept in faults.helpers) --------------------

SERVER_SIDE = ("botocore", "boto3", "s3transfer", "werkzeug")


@pytest.fixture(autouse=True)
def capture_everything(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every logger at DEBUG into SEEN.logs; every SDK error created goes into SEEN.errors.

    Errors are caught where they are made (their constructors are wrapped), so
    the ones retried away inside the SDK are checked too, not only those a
    test sees.
    """
    from lilt.exceptions import ApiException
    from lilt.transfer.storage import StorageError

    created: list[BaseException] = []
    for cls in (ApiException, StorageError):
        original = cls.__init__

        def recording(self: BaseException, *args: Any, __original: Any = original,
                      **kwargs: Any) -> None:
            __original(self, *args, **kwargs)
            created.append(self)

        monkeypatch.setattr(cls, "__init__", recording)
    names = ("", "lilt", "urllib3", *SERVER_SIDE)
    saved = {name: logging.getLogger(name).level for name in names}
    root = logging.getLogger()
    root.addHandler(SEEN.logs)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    # The emulator's own S3 client logs its signing at DEBUG; that is the
    # server side of the test, not the SDK, and it is very chatty.
    for name in SERVER_SIDE:
        logging.getLogger(name).setLevel(logging.INFO)
    SEEN.tests += 1
    try:
        yield
    finally:
        for error in created:
            SEEN.error(error)
        root.removeHandler(SEEN.logs)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (TOTALS.uploads or TOTALS.faults):
        return
    terminalreporter.section("fault suite totals")
    for line in TOTALS.lines():
        terminalreporter.write_line(line)


# -- storage and the emulator ----------------------------------------------------------


@pytest.fixture(scope="session")
def s3(lilt_storage: Any) -> Any:
    """The session's shared S3 server (lilt's pytest plugin); each rig gets its own bucket."""
    SEEN.secret(lilt_storage.secret_key)
    return lilt_storage


@pytest.fixture(params=["basic", "query"])
def auth(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _rig(s3: Any, tmp_path: Path, auth: str) -> Iterator[Rig]:
    running = Rig(s3, tmp_path, auth)
    try:
        yield running
        running.assert_no_credentials_reached_storage()
        assert running.proxy.errors == running.api_proxy.errors == []
    finally:
        running.close()


@pytest.fixture
def rig(s3: Any, tmp_path: Path) -> Iterator[Rig]:
    """A rig with Basic auth (tests that care about both take ``rig_both``)."""
    yield from _rig(s3, tmp_path, "basic")


@pytest.fixture
def rig_both(s3: Any, tmp_path: Path, auth: str) -> Iterator[Rig]:
    yield from _rig(s3, tmp_path, auth)
