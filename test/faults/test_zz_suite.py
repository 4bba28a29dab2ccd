"""The last test of the fault suite (files run in name order): no secret leaked, totals.

Everything the suite logged (every logger at DEBUG, tracebacks included)
and the text of every SDK error it created (``str``, ``repr`` and the
formatted traceback with its causes, including errors retried away inside
the SDK) are searched for every secret the suite used: the emulator API
keys (plain and percent-encoded), the Basic tokens made from them, the
storage server's secret key, the core tests' API key, and every presigned
signature the storage proxy saw.

The emulator and its S3 client are the server side of these tests: records
from ``lilt.testing`` and the S3 client's loggers are not the SDK's and are
left out of the search (the S3 client is kept at INFO in any case).
"""

from __future__ import annotations

import pytest
from faults.helpers import SEEN, TOTALS

SERVER_LOGGERS = ("lilt.testing", "botocore", "boto3", "s3transfer", "werkzeug")


def client_side(line: str) -> bool:
    name = line.split(" ", 1)[0]
    return not any(name == s or name.startswith(s + ".") for s in SERVER_LOGGERS)


def test_no_secret_in_anything_the_fault_suite_logged_or_raised() -> None:
    if SEEN.tests <= 1:
        pytest.skip("checks what the rest of the fault suite produced; run the whole folder")
    logs = [line for line in SEEN.logs.lines if client_side(line)]
    assert logs, "the suite logged nothing at DEBUG"
    assert SEEN.errors, "the suite raised no SDK error"
    secrets = sorted(s for s in SEEN.secrets if len(s) >= 8)
    assert len(secrets) >= 4
    leaks = [
        (secret[:6], where, text[:300])
        for where, texts in (("logs", logs), ("errors", SEEN.errors))
        for text in texts
        for secret in secrets
        if secret in text
    ]
    assert leaks == []
    TOTALS.note("log lines checked for secrets", len(logs))
    TOTALS.note("error texts checked for secrets", len(SEEN.errors))
    TOTALS.note("distinct secrets searched for", len(secrets))
