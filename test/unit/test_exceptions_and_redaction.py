"""The exception tree and the scrubbing of secrets from messages."""

from __future__ import annotations

import urllib3

from lilt import exceptions as exc
from lilt._redact import REDACTED, redact_headers, redact_text


def test_the_generated_tree_is_kept_and_new_classes_extend_it() -> None:
    assert issubclass(exc.ApiTypeError, TypeError) and issubclass(exc.ApiValueError, ValueError)
    assert issubclass(exc.ApiKeyError, KeyError) and issubclass(
        exc.ApiAttributeError, AttributeError
    )
    for cls in (
        exc.RateLimitError,
        exc.ResponseDecodeError,
        exc.ApiConnectionError,
        exc.TransferError,
    ):
        assert issubclass(cls, exc.ApiException) and issubclass(cls, exc.OpenApiException)
    assert issubclass(exc.ResponseDecodeError, ValueError)
    assert issubclass(exc.ApiConnectionError, urllib3.exceptions.MaxRetryError)
    assert issubclass(exc.ApiConnectionError, urllib3.exceptions.ProtocolError)
    assert issubclass(exc.ApiTimeoutError, urllib3.exceptions.ReadTimeoutError)
    assert issubclass(exc.ApiSSLError, urllib3.exceptions.SSLError)


def test_messages_with_paths() -> None:
    assert str(exc.ApiTypeError("bad", path_to_item=["a", 0])) == "bad at ['a'][0]"
    assert exc.render_path(["x", 1, "y"]) == "['x'][1]['y']"


def test_str_and_repr_are_redacted() -> None:
    error = exc.ApiConnectionError(
        "url: /v2/upload?ids=1&key=TOPSECRET", url="http://h/v2/upload?key=TOPSECRET"
    )
    assert "TOPSECRET" not in str(error) and "TOPSECRET" not in repr(error)
    assert error.url == f"http://h/v2/upload?key={REDACTED}"
    transfer = exc.TransferError(
        "PUT https://s3/b/k?X-Amz-Signature=abcdef failed",
        file="f",
        upload_id="u",
        key="k",
        completed_parts=[1, 2],
    )
    assert "abcdef" not in str(transfer)
    assert "completed_parts=[1,2]" in str(transfer)


def test_redaction_rules() -> None:
    url = "https://user:pw@s3.local/b/k?uploadId=1&X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ff&s3Key=a"
    cleaned = redact_text(url)
    assert "pw" not in cleaned and "AKIA" not in cleaned and "=ff" not in cleaned
    assert "uploadId=1" in cleaned and "s3Key=a" in cleaned
    assert redact_text("Authorization: Basic dTpw") == f"Authorization: Basic {REDACTED}"
    assert redact_headers({"Authorization": "Basic x", "Accept": "a"}) == {
        "Authorization": REDACTED,
        "Accept": "a",
    }
