"""Which LILT API a command talks to, and as whom: ``--host``/``--api-key`` first, then
``LILT_API_HOST``/``LILT_API_KEY``.

Both are checked before anything is sent, so a typo in a host is a usage
error (exit code 2) that names the option or variable it came from, not a
connection error after retries.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING, Optional
from urllib.parse import urlsplit

from lilt.cli.exit_codes import UsageError

if TYPE_CHECKING:
    import lilt
    from lilt.transfer.state import Target

DEFAULT_HOST = "https://api.lilt.com"


def check_host(host: str, source: str = "--host") -> str:
    """``host`` if it is an http(s) URL with a host name; otherwise a UsageError saying why."""
    parts = urlsplit(host.strip())
    if not parts.scheme:
        guess = host.strip()
        if re.match(r"^https?//", guess):
            fixed = re.sub(r"^(https?)//", r"\1://", guess)
            raise UsageError(f"{source} {host!r} is not a URL (missing ':'); did you mean {fixed}?")
        raise UsageError(
            f"{source} {host!r} has no scheme; use https://{guess.lstrip('/')} "
            f"(or http:// for a local emulator)"
        )
    if parts.scheme not in ("http", "https"):
        raise UsageError(
            f"{source} {host!r}: the scheme must be https or http, not {parts.scheme!r}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise UsageError(f"{source} {host!r}: {exc}") from None
    if not parts.hostname:
        raise UsageError(f"{source} {host!r} has no host name")
    if parts.query or parts.fragment:
        raise UsageError(f"{source} {host!r}: a base URL takes no '?' or '#' part")
    return host.strip().rstrip("/")


def target(args: argparse.Namespace) -> Target:
    """The host and account of this command, both checked before anything is sent."""
    from lilt.transfer.state import Target

    key = _api_key(args)
    host = getattr(args, "host", None)
    if host is not None:
        host = check_host(host, "--host")
    elif os.environ.get("LILT_API_HOST"):
        host = check_host(os.environ["LILT_API_HOST"], "LILT_API_HOST")
    if not key:
        raise UsageError("no API key: pass --api-key or set LILT_API_KEY")
    return Target.of(host or DEFAULT_HOST, key)


def api_client(args: argparse.Namespace, target: Target) -> lilt.ApiClient:
    """A client for ``target`` (from :func:`target`), with the key it was made from."""
    import lilt

    key = _api_key(args)
    return lilt.ApiClient(lilt.Configuration(host=target.host, username=key, password=key))


def _api_key(args: argparse.Namespace) -> Optional[str]:
    key: Optional[str] = getattr(args, "api_key", None) or os.environ.get("LILT_API_KEY")
    return key
