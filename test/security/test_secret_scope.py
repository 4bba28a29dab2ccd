"""How far redaction reaches: urllib3's own warnings, and only the secrets of live clients.

- urllib3 logs "Failed to parse headers" at WARNING (so with no logging set up
  at all) when a response head has a line that is no header: the message
  quotes the request URL, ``?key=`` included, and the raw header block, and the
  record carries the exception. A server that echoes the credentials into such
  a head must not get them into any record of any logger.
- Secrets are known per client: while a client is open its credentials are
  scrubbed wherever they appear, even in no recognisable syntax; once it is
  closed or collected they are forgotten, so rotating through many keys in one
  process leaves nothing behind.
"""

from __future__ import annotations

import base64
import gc
import logging
import uuid
from collections.abc import Iterator
from typing import Callable
from urllib.parse import quote

import pytest

import lilt
from lilt._redact import REDACTED, known_secrets, redact_text
from support.http_server import Seen, Upstream
from support.scripted_server import Connection, ScriptedServer

KEY = "scope-key/7c1e+" + uuid.uuid4().hex[:12]
USER, PASSWORD = "scope-user-91ab", "scope-pass-" + uuid.uuid4().hex[:12]
TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SIGNATURE = "deadbeef" * 8
PRESIGNED = f"http://127.0.0.1:1/b/k?uploadId=U1&X-Amz-Signature={SIGNATURE}"


class Records(logging.Handler):
    """Every record that reaches the root logger, formatted and as it is."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def records() -> Iterator[Records]:
    """The root logger's records at the levels the process already has (no DEBUG)."""
    handler = Records()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def malformed_head(raw_secret: str) -> Callable[[Seen, Connection], None]:
    """A head with a line that is no header, echoing the credentials back."""

    def script(request: Seen, conn: Connection) -> None:
        echo = f"you sent {request.target} with {request.header('Authorization')} and {raw_secret}"
        conn.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            + f"this line is no header: {echo} {PRESIGNED}\r\n".encode()
            + f"X-Echo: {echo}\r\n\r\n{{}}".encode()
        )

    return script


AUTH = {
    "api-key": ({"api_key": {"ApiKeyAuth": KEY}}, KEY, [KEY, quote(KEY), quote(KEY, safe="")]),
    "basic": ({"username": USER, "password": PASSWORD}, PASSWORD, [USER, PASSWORD, TOKEN]),
}


@pytest.mark.parametrize("auth", sorted(AUTH))
def test_urllib3s_header_parsing_warning_leaks_nothing(records: Records, auth: str) -> None:
    credentials, raw_secret, secrets = AUTH[auth]
    secrets = [*secrets, SIGNATURE]
    with ScriptedServer(malformed_head(raw_secret)) as server:
        config = lilt.Configuration(host=server.url, retries=0, **credentials)  # type: ignore[arg-type]
        with lilt.ApiClient(config) as client:
            lilt.UploadsApi(client).get_upload_by_id(7)
        sent = server.seen[0]
    # the credentials went out and came back in the malformed head ...
    if auth == "api-key":
        assert f"key={quote(KEY)}" in sent.target
    else:
        assert sent.header("Authorization") == f"Basic {TOKEN}"
    warnings = [r for r in records.records if r.name == "urllib3.connection"]
    assert warnings and "Failed to parse headers" in warnings[0].getMessage()
    # ... and are in no record: not formatted, not in its message, args or exception
    for record, line in zip(records.records, records.lines):
        texts = [
            line,
            record.getMessage(),
            repr(record.args),
            repr(record.exc_info),
            str(record.exc_text),
            repr(vars(record)),
        ]
        for secret in secrets:
            assert not any(secret in text for text in texts), (secret[:6], line[:300])
    assert any(REDACTED in line for line in records.lines)
    print(f"[secret-scope] {len(secrets)} secrets searched in {len(records.records)} records")


def test_secrets_are_known_while_their_client_lives_and_forgotten_after() -> None:
    with Upstream() as server:
        gc.collect()
        before = set(known_secrets())
        rotated = [f"rotated-{n:03d}-{uuid.uuid4().hex}" for n in range(100)]
        for key in rotated:
            config = lilt.Configuration(host=server.url, api_key={"ApiKeyAuth": key})
            with lilt.ApiClient(config) as client:
                lilt.UploadsApi(client).get_upload_by_id(7)
                # scrubbed by value, in no recognisable syntax
                assert redact_text(f"echo {key}!") == f"echo {REDACTED}!"
            assert key not in known_secrets()  # closed: forgotten at once
            assert redact_text(f"echo {key}!") == f"echo {key}!"
        gc.collect()
        after = set(known_secrets())
        assert after <= before, "closed clients' secrets accumulated"

        # dropped without close(): forgotten once collected
        dropped = lilt.ApiClient(
            lilt.Configuration(host=server.url, username=USER, password=PASSWORD)
        )
        lilt.UploadsApi(dropped).get_upload_by_id(7)
        assert {PASSWORD, TOKEN} <= set(known_secrets())
        del dropped
        gc.collect()
        assert not {PASSWORD, TOKEN} & set(known_secrets())

        # closed, then used again: known again while it is in use
        config = lilt.Configuration(host=server.url, username=USER, password=PASSWORD)
        client = lilt.ApiClient(config)
        client.close()
        assert PASSWORD not in known_secrets()
        lilt.UploadsApi(client).get_upload_by_id(7)
        assert PASSWORD in known_secrets()
        # credentials changed on the configuration are followed
        config.password = PASSWORD + "-rotated"
        assert PASSWORD + "-rotated" in known_secrets() and PASSWORD not in known_secrets()
        client.close()
    print(f"[secret-scope] {len(rotated)} rotated keys, {len(after)} secrets known after")


@pytest.mark.parametrize("name", ["lilt", "lilt.rest", "lilt.transfer", "lilt.testing"])
def test_every_logger_the_package_uses_redacts_its_records(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A logging filter sees only its own logger's records, so each logger the SDK
    logs on must have one; a record's URL and its arguments come out redacted."""
    import lilt.rest  # noqa: F401  (installs the filters)

    signed = "https://storage.example/uploads/a?X-Amz-Signature=0123456789abcdef0123456789abcdef"
    with caplog.at_level(logging.WARNING, logger=name):
        logging.getLogger(name).warning("PUT %s failed", signed)
    [record] = [r for r in caplog.records if r.name == name]
    assert "0123456789abcdef0123456789abcdef" not in record.getMessage()
    assert REDACTED in record.getMessage()
