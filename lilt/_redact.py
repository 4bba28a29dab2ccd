"""Scrub secrets from anything that may be logged, raised or pickled.

Three kinds of secret can end up in text: the API key (``?key=`` in a URL),
Basic credentials (the ``Authorization`` header, or ``user:pass@`` in a URL)
and presigned-URL signatures. Every log line, exception message and repr in
the SDK passes through here. A secret is recognised two ways:

- **By its syntax**, wherever it appears: query parameters that carry
  credentials (``key``, ``X-Amz-Signature``, ``X-Amz-Credential``, GCS
  ``Signature``, Azure ``sig`` ...), also inside a URL that is itself
  percent-encoded once or twice or JSON-escaped; ``user:password@`` in a URL,
  plain or percent-encoded; ``Basic`` followed by base64 that decodes to
  ``user:password`` (so ``Basic realm="api"`` and "Basic usage" stay as they
  are); ``Bearer`` followed by a token.
- **By value**, for the credentials of live clients. Every open
  :class:`~lilt.rest.RESTClientObject` is a *secret source* (:func:`track`):
  its configuration's API keys, user name, password and Basic token, plain
  and percent-encoded, are removed wherever they appear, in any logger's
  records and any exception. The sources are held in a ``WeakSet``: a client
  that is closed (:func:`untrack`) or garbage-collected takes its secrets with
  it, so nothing accumulates over a process's life. A log record does not say
  which client caused it (urllib3 logs for every pool), so the filters scrub
  the secrets of every live client.

Values shorter than :data:`MIN_SECRET_LENGTH` are not scrubbed by value (they
are too common); the syntax rules still catch them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
import threading
import weakref
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Optional, Protocol
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4

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
    "sig",
)
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)

# A query separator and an equals sign, as written, percent-encoded once or
# twice (a URL inside a URL) or JSON-escaped.
_SEPARATOR = r"(?:[?&;]|%3f|%26|%253f|%2526|\\u0026)"
_EQUALS = r"(?:=|%3d|%253d|\\u003d)"
# A value runs to the next separator (encoded ones too), quote, space or end;
# a JSON-escaped slash (\/) stays part of it.
_VALUE = r"(?:\\/|(?!%26|%2526|\\u0026)[^&#\s'\"<>\\])*"
_QUERY_SECRET = re.compile(
    rf"(?i)({_SEPARATOR}(?:{'|'.join(re.escape(n) for n in _SECRET_QUERY_NAMES)}){_EQUALS})"
    + _VALUE
)
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/?#@\s'\"]+@")
_ENCODED_USERINFO = re.compile(
    r"(?i)(\b[a-z][a-z0-9+.-]*%3a%2f%2f)(?:(?!%2f|%3f|%23|%40)[^/?#@&\s'\"])+%40"
)
_BASIC = re.compile(r"(?i)\b(basic)(\s+)([A-Za-z0-9+/]+={0,2})(?![A-Za-z0-9+/=])")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)([A-Za-z0-9\-._~+/]+=*)")


class SecretSource(Protocol):
    """Anything that knows credentials to scrub: an open API client."""

    def _secret_values(self) -> Collection[str]: ...


_sources: weakref.WeakSet[Any] = weakref.WeakSet()
_sources_lock = threading.Lock()


def track(source: SecretSource) -> None:
    """Scrub ``source``'s secrets from now on, until :func:`untrack` or its collection."""
    with _sources_lock:
        _sources.add(source)


def untrack(source: SecretSource) -> None:
    with _sources_lock:
        _sources.discard(source)


def known_secrets() -> list[str]:
    """The secrets of every live source, longest first (so none is cut by a shorter one)."""
    with _sources_lock:
        sources = list(_sources)
    values: set[str] = set()
    for source in sources:
        values.update(source._secret_values())
    return sorted(values, key=len, reverse=True)


def secret_variants(value: object) -> set[str]:
    """``value`` as it may appear in text: plain, percent-encoded, form-encoded."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return set()
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def _looks_like_basic_credentials(token: str) -> bool:
    """Whether ``token`` is base64 of ``user:password`` (not "usage", not "realm=")."""
    padded = token + "=" * (-len(token) % 4)
    try:
        decoded = base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" in decoded and decoded.isprintable()


def _looks_like_bearer_token(token: str) -> bool:
    return len(token) >= 16 and any(c.isdigit() for c in token)


def _scrub_basic(match: re.Match[str]) -> str:
    if _looks_like_basic_credentials(match.group(3)):
        return match.group(1) + match.group(2) + REDACTED
    return match.group(0)


def _scrub_bearer(match: re.Match[str]) -> str:
    if _looks_like_bearer_token(match.group(3)):
        return match.group(1) + match.group(2) + REDACTED
    return match.group(0)


def redact_text(text: str, secrets: Optional[Iterable[str]] = None) -> str:
    """Return ``text`` with URL secrets, credentials and live clients' secrets removed.

    ``secrets`` replaces the live clients' secrets (from :func:`known_secrets`).
    """
    # Known values first: a syntax rule could otherwise take part of one
    # (a password holding "&sig=") and leave the rest readable.
    for secret in known_secrets() if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _QUERY_SECRET.sub(r"\1" + REDACTED, text)
    text = _USERINFO.sub(r"\1" + REDACTED + "@", text)
    text = _ENCODED_USERINFO.sub(r"\1" + REDACTED + "%40", text)
    text = _BASIC.sub(_scrub_basic, text)
    return _BEARER.sub(_scrub_bearer, text)


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return a copy of ``headers`` with credential-bearing values replaced."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    secrets = known_secrets()
    return {
        name: REDACTED if name.lower() in _SECRET_HEADERS else redact_text(str(value), secrets)
        for name, value in items
    }


def redact_value(value: Any, secrets: Optional[list[str]] = None) -> Any:
    """``value`` (text, bytes, or lists and dicts of them) with secrets removed."""
    secrets = known_secrets() if secrets is None else secrets
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("latin-1")
        cleaned = redact_text(text, secrets)
        return value if cleaned == text else cleaned.encode("latin-1")
    if isinstance(value, list):
        return [redact_value(item, secrets) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_value(item, secrets) for item in value)
    if isinstance(value, dict):
        return {k: redact_value(v, secrets) for k, v in value.items()}
    return value


_PLAIN = (type(None), bool, int, float, complex)


def scrub_exception(error: BaseException) -> None:
    """Remove secrets from ``error`` and every exception reachable from it, in place.

    Walks ``args``, attributes (urllib3's ``reason``, ``url``, ...) and the
    ``__cause__``/``__context__`` chain. Text and bytes are redacted; other
    objects held by an exception (pools, connections, sockets, which remember
    the request line with its URL) are dropped, since nobody should need them
    once the exception exists.
    """
    secrets = known_secrets()
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        cleaned = tuple(_scrub_member(a, secrets, pending) for a in current.args)
        if any(new is not old for new, old in zip(cleaned, current.args)):
            current.args = cleaned
        ours = type(current).__module__.startswith("lilt.")  # attributes meant to be kept
        for name, value in list(getattr(current, "__dict__", {}).items()):
            new = _scrub_member(value, secrets, pending)
            if new is None and ours:
                continue
            if new is not value:
                with contextlib.suppress(AttributeError, TypeError):  # read-only attributes
                    setattr(current, name, new)
        for nested in (current.__cause__, current.__context__):
            if nested is not None:
                pending.append(nested)


def _scrub_member(value: Any, secrets: list[str], pending: list[BaseException]) -> Any:
    if isinstance(value, BaseException):
        pending.append(value)
        return value
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (str, bytes, bytearray)):
        return redact_value(value, secrets)
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (str, bytes, *_PLAIN)) for v in value
    ):
        cleaned = redact_value(value, secrets)
        return value if cleaned == value else cleaned
    return None


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from every record it sees.

    The message is formatted and frozen (``args`` dropped, since they may
    hold objects that carry secrets), and an attached exception becomes its
    redacted traceback text (``exc_text``; ``exc_info`` is dropped), which
    every standard formatter prints.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            secrets = known_secrets()
            record.msg = redact_text(record.getMessage(), secrets)
            record.args = None
            if record.exc_info:
                text = record.exc_text or self._formatter.formatException(record.exc_info)
                record.exc_text = redact_text(text, secrets)
                record.exc_info = None
            if record.stack_info:
                record.stack_info = redact_text(record.stack_info, secrets)
        except Exception:  # a record that cannot be formatted is logging's problem, not ours
            pass
        return True


def install_log_redaction(*logger_names: str) -> None:
    """Attach one :class:`RedactingFilter` to each named logger (idempotent).

    urllib3 logs request lines with the full URL, query string included, at
    DEBUG, and a response whose head it cannot parse, with the raw header
    lines and the URL, at WARNING: either could leak a credential to any handler.
    """
    for name in logger_names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
