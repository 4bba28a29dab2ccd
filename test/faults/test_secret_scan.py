"""The fault suite's secret scan, checked on its own.

The scan runs when the session ends (``secret_scan`` in conftest.py), in
every process that ran fault tests, over everything those tests logged and
raised; it no longer needs to be the last test to run. These tests show
that what it reads is really captured, and that it finds a secret wherever
one is, so a clean scan means something.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from faults.conftest import Capturing
from faults.helpers import Readable, find_leaks

from lilt.exceptions import ApiException
from lilt.transfer.storage_client import StorageError

SECRET = "planted-Secret/0123456789"  # never registered with the session's scan


def test_sdk_errors_are_captured_where_they_are_made(capture_everything: Capturing) -> None:
    # made and dropped, as an error retried away inside the SDK is
    api = ApiException(status=503, reason="Service Unavailable")
    storage = StorageError("PUT failed", status=500, code="InternalError")
    assert capture_everything.created == [api, storage]


def test_every_logger_is_captured_at_debug_and_the_server_side_left_out(seen: Readable) -> None:
    logging.getLogger("lilt.rest").debug("client %s", "c-marker-1")
    logging.getLogger("urllib3.connectionpool").debug("pool %s", "c-marker-2")
    logging.getLogger("lilt.testing.app").info("server %s", "s-marker")
    client = seen.client_logs()
    assert any("c-marker-1" in line for line in client)
    assert any("c-marker-2" in line for line in client)
    assert not any("s-marker" in line for line in client)
    assert any("s-marker" in line for line in seen.logs.lines)


def test_the_scan_finds_a_secret_in_an_errors_text_attributes_chain_and_logs() -> None:
    readable = Readable()
    readable.secret(SECRET, "short")
    cause = StorageError("signed URL refused", status=403)
    cause.detail = f"...?X-Amz-Signature={quote(SECRET, safe='')}"  # only in an attribute
    try:
        raise StorageError("PUT failed after 5 attempts", status=403) from cause
    except StorageError as error:
        readable.error(error)
    readable.logs.lines.append(f"lilt DEBUG sent {SECRET}")
    readable.logs.lines.append(f"lilt.testing.app DEBUG stored {SECRET}")  # the server side

    found = readable.leaks()
    assert [
        (where, text.startswith("lilt DEBUG")) for _, where, text in found if where == "logs"
    ] == [("logs", True)]
    assert any(where == "errors" for _, where, _ in found)
    assert {prefix for prefix, _, _ in found} <= {SECRET[:6], quote(SECRET, safe="")[:6]}
    # values under 8 characters are too common to search for
    assert find_leaks(["a short line"], [], {"short"}) == []
    assert find_leaks([], [], {SECRET}) == []
