"""Scrub secrets from anything that may be logged or shown.

Three kinds of secret can end up in text: the API key (``?key=`` in a URL),
Basic credentials (the ``Authorization`` header, or ``user:pass@`` in a URL)
and presigned-URL signatures (``X-Amz-Signature``, ``X-Amz-Credential``,
``X-Amz-Security-Token``, GCS ``Signature``). Every log line, exception
message and repr in the SDK passes through here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

_SECRET_QUERY_NAMES = (
    "key",
    "api_key",
    "apikey",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "signature",
    "x-goog-signature",
    "x-goog-credential",
    "awsaccesskeyid",
)
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:" + "|".join(re.escape(n) for n in _SECRET_QUERY_NAMES) + r")=)[^&#\s'\"]*"
)
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/@\s'\"]+@")
_AUTH_VALUE = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]+")

# Secrets registered at runtime (the configured API key and password), so that
# they are scrubbed even where they appear outside any recognisable syntax.
_known_secrets: set[str] = set()


def register_secret(value: object) -> None:
    """Remember a credential so :func:`redact_text` removes it wherever it appears."""
    if isinstance(value, str) and len(value) >= 4:
        _known_secrets.add(value)


def redact_text(text: str) -> str:
    """Return ``text`` with URL secrets, auth header values and known credentials removed."""
    text = _QUERY_SECRET.sub(r"\1" + REDACTED, text)
    text = _USERINFO.sub(r"\1" + REDACTED + "@", text)
    text = _AUTH_VALUE.sub(r"\1 " + REDACTED, text)
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_url(url: str) -> str:
    """Return ``url`` safe to log: secret query values and user info replaced."""
    return redact_text(url)


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return a copy of ``headers`` with credential-bearing values replaced."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {
        name: REDACTED if name.lower() in _SECRET_HEADERS else redact_text(str(value))
        for name, value in items
    }


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction(*logger_names: str) -> None:
    """Attach one :class:`RedactingFilter` to each named logger (idempotent).

    urllib3 logs request lines with the full URL, query string included, at
    DEBUG; with the API key in the query that would leak it to any handler.
    """
    for name in logger_names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
