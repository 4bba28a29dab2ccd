"""The transport: the only code that calls urllib3 for API requests.

It owns what the rest of the SDK relies on:

- every urllib3 failure becomes a :mod:`lilt.exceptions` type
  (:func:`map_urllib3_error`), with secrets scrubbed from the message;
- timeouts: a number is a deadline for the whole call, retries included
  (:mod:`lilt._deadline` keeps it); a ``(connect, read)`` pair bounds each phase;
- redirects are followed only within the same origin (scheme, host, port), so
  credentials never reach another host and a POST is never re-sent elsewhere;
- a response body larger than ``Configuration.max_response_bytes`` is refused
  (:class:`~lilt.exceptions.ResponseTooLargeError`) without being held whole;
- one redacted DEBUG log line per request on the ``lilt.rest`` logger
  (method, path without query, status, milliseconds);
- the connection pool's lifetime (:meth:`RESTClientObject.close`).
"""

from __future__ import annotations

import io
import json
import logging
import re
import ssl
import time
from typing import Any, Optional, Union
from urllib.parse import urljoin

import urllib3
from urllib3 import exceptions as u3

from lilt._deadline import Deadline, DeadlineExceeded, activate, guarded_pool_classes, restore
from lilt._redact import install_log_redaction, redact_text, scrub_exception, track, untrack
from lilt._retry import transport_retries
from lilt.configuration import Configuration
from lilt.exceptions import (
    ApiConnectionError,
    ApiException,
    ApiSSLError,
    ApiTimeoutError,
    ApiValueError,
    ResponseTooLargeError,
)

__all__ = [
    "SUPPORTED_SOCKS_PROXIES",
    "ApiException",
    "ApiValueError",
    "RESTClientObject",
    "RESTResponse",
    "RESTResponseType",
    "is_socks_proxy_url",
    "map_urllib3_error",
]

RESTResponseType = urllib3.HTTPResponse
SUPPORTED_SOCKS_PROXIES = {"socks5", "socks5h", "socks4", "socks4a"}

logger = logging.getLogger("lilt.rest")
# Every logger that may show a URL, a header or a response: urllib3's (request
# lines at DEBUG; "Failed to parse headers", with the raw header block and the
# URL, at WARNING) and the SDK's own. A filter sees only the records of its own
# logger, not those its children pass up: every logger the package uses is named.
install_log_redaction(
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "urllib3.contrib.pyopenssl",
    "urllib3.http2.connection",
    "lilt",
    "lilt.rest",
    "lilt.transfer",
    "lilt.testing",
)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "OPTIONS", "DELETE"})
_KNOWN_METHODS = frozenset({"GET", "HEAD", *_BODY_METHODS})
_JSON_CONTENT_TYPE = re.compile(r"json", re.IGNORECASE)
#: same-origin redirects followed per call, as urllib3's default Retry did
MAX_REDIRECTS = 5
#: bytes read per step when a body's size is not known in advance
_READ_CHUNK = 64 * 1024
#: a refused or redirect body this small is read to keep its connection; larger ones close it
_DRAIN_LIMIT = 64 * 1024
#: how much of a refused body an exception keeps
_EXCERPT = 4 * 1024
_METHOD_CHANGING_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "transfer-encoding"}
)


def is_socks_proxy_url(url: Optional[str]) -> bool:
    if url is None:
        return False
    split_section = url.split("://")
    if len(split_section) < 2:
        return False
    return split_section[0].lower() in SUPPORTED_SOCKS_PROXIES


class RESTResponse(io.IOBase):
    """A urllib3 response whose body is read on demand and then cached in ``data``.

    ``read()`` keeps the call's deadline (the socket reads are bounded by it)
    and refuses a body over ``limit`` bytes (after decoding) without holding
    it whole.
    """

    def __init__(
        self,
        resp: urllib3.BaseHTTPResponse,
        url: str = "",
        *,
        deadline: Optional[Deadline] = None,
        limit: Optional[int] = None,
    ) -> None:
        self.response = resp
        self.status = resp.status
        self.reason = resp.reason
        self.data: Optional[bytes] = None
        self._url = url
        self._deadline = deadline
        self._limit = limit

    def read(self) -> bytes:
        """The whole body; a connection that fails mid-body raises a lilt exception."""
        if self.data is None:
            try:
                self.data = self._read_within_limit()
            except (u3.HTTPError, OSError) as exc:
                raise map_urllib3_error(exc, self._url, self._deadline) from exc
        return self.data

    def _read_within_limit(self) -> bytes:
        response = self.response
        limit = self._limit
        declared: Optional[int] = getattr(response, "length_remaining", None)
        if limit is None or (
            declared is not None
            and declared <= limit
            and "content-encoding" not in response.headers
        ):
            return response.data  # the declared length bounds what is read
        if declared is not None and declared > limit:
            self._refuse(limit, declared, b"")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read(_READ_CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                self._refuse(limit, None, b"".join(chunks)[:_EXCERPT])

    def _refuse(self, limit: int, declared: Optional[int], excerpt: bytes) -> None:
        _discard(self.response, drain=False)
        raise ResponseTooLargeError(
            http_resp=self,
            body=excerpt.decode("utf-8", errors="replace"),
            limit=limit,
            declared_size=declared,
        )

    def getheaders(self) -> urllib3.HTTPHeaderDict:
        """Returns a dictionary of the response headers."""
        return self.response.headers

    def getheader(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """Returns a given response header."""
        return self.response.headers.get(name, default)


def split_timeout(value: Any) -> tuple[Optional[urllib3.Timeout], Optional[float]]:
    """``(per-phase timeout for urllib3, deadline in seconds for the whole call)``.

    A number is a deadline only; a (connect, read) pair per-phase limits only;
    a ``urllib3.Timeout`` keeps its connect and read limits, and its ``total``
    becomes the deadline (urllib3 itself would restart it on every retry).
    Anything else (None, 0) means neither.
    """
    if value is None:
        return None, None
    if isinstance(value, urllib3.Timeout):
        if not _is_seconds(value.total):
            return value, None
        # urllib3 keeps the unresolved limits only in these attributes.
        total = float(value.total)  # type: ignore[arg-type]  # checked just above
        return urllib3.Timeout(connect=value._connect, read=value._read), total
    if _is_seconds(value) and value > 0:
        return None, float(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return urllib3.Timeout(connect=value[0], read=value[1]), None
    return None, None


def _is_seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def map_urllib3_error(
    exc: Exception, url: str, deadline: Optional[Deadline] = None
) -> ApiException:
    """The :mod:`lilt.exceptions` type for a urllib3 failure (the most specific one).

    urllib3's message names the URL with its query string, which may hold the
    API key, so the message is scrubbed, and so are the original exception's
    arguments and everything reachable from it (:func:`lilt._redact.scrub_exception`),
    since it stays reachable as ``__cause__``. When the call's
    ``deadline`` has passed, a timeout says so.
    """
    root: BaseException = exc
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        root = exc.reason
    # The whole chain: urllib3 keeps the URL in ``url`` and in its pools and
    # connections, and response bytes in IncompleteRead.partial.
    scrub_exception(exc)
    detail = str(exc)
    expired = deadline is not None and deadline.expired()
    target: type[ApiConnectionError]
    if isinstance(root, (u3.SSLError, ssl.SSLError)):
        target = ApiSSLError
    elif isinstance(root, u3.NewConnectionError):
        # urllib3 derives it from ConnectTimeoutError, but a refusal is no timeout.
        target = ApiConnectionError
    elif isinstance(root, (u3.TimeoutError, TimeoutError)) or (
        expired and isinstance(root, u3.EmptyPoolError)
    ):
        target = ApiTimeoutError
    else:
        target = ApiConnectionError
    if target is ApiTimeoutError and expired:
        assert deadline is not None
        detail = f"the call's deadline of {deadline.seconds:g} s passed: {detail}"
    return target(detail, url=url)


class RESTClientObject:
    """Sends API requests through one urllib3 pool manager built from a Configuration."""

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        pool_args: dict[str, Any] = {
            "cert_reqs": ssl.CERT_REQUIRED if configuration.verify_ssl else ssl.CERT_NONE,
            "retries": configuration.retry_for_urllib3(),
        }
        # Only what differs from urllib3's defaults (None, and block=False): the pool
        # manager turns every keyword into its pool key again on each request.
        optional = {
            "ca_certs": configuration.ssl_ca_cert,
            "cert_file": configuration.cert_file,
            "key_file": configuration.key_file,
            "ca_cert_data": configuration.ca_cert_data,
            "block": configuration.connection_pool_block or None,
        }
        pool_args.update((name, value) for name, value in optional.items() if value is not None)
        if configuration.assert_hostname is not None:
            pool_args["assert_hostname"] = configuration.assert_hostname
        if configuration.tls_server_name:
            pool_args["server_hostname"] = configuration.tls_server_name
        if configuration.socket_options is not None:
            pool_args["socket_options"] = configuration.socket_options
        if configuration.connection_pool_maxsize is not None:
            pool_args["maxsize"] = configuration.connection_pool_maxsize

        self.pool_manager: urllib3.PoolManager
        if configuration.proxy:
            if is_socks_proxy_url(configuration.proxy):
                from urllib3.contrib.socks import SOCKSProxyManager

                pool_args["proxy_url"] = configuration.proxy
                pool_args["headers"] = configuration.proxy_headers
                self.pool_manager = SOCKSProxyManager(**pool_args)
            else:
                pool_args["proxy_url"] = configuration.proxy
                pool_args["proxy_headers"] = configuration.proxy_headers
                self.pool_manager = urllib3.ProxyManager(**pool_args)
        else:
            self.pool_manager = urllib3.PoolManager(**pool_args)
        # Connections that keep a call's deadline in every phase (lilt._deadline).
        self.pool_manager.pool_classes_by_scheme = guarded_pool_classes(
            self.pool_manager.pool_classes_by_scheme
        )
        self._timeout_source: Any = object()
        self._timeout_split: tuple[Optional[urllib3.Timeout], Optional[float]] = (None, None)
        # While open, this client's credentials are scrubbed from every log
        # record and exception (lilt._redact); closing or dropping it ends that.
        self._tracked = True
        track(self)

    def _secret_values(self) -> frozenset[str]:
        """The credentials this client sends (see :mod:`lilt._redact`)."""
        return self.configuration._secret_values()

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool_manager.clear()
        self._tracked = False
        untrack(self)

    def request(
        self,
        method: str,
        url: str,
        headers: Optional[dict[str, Any]] = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Union[float, tuple[float, float], urllib3.Timeout, None] = None,
    ) -> RESTResponse:
        """Perform one request and return its response unread.

        :param _request_timeout: a number (a deadline, in seconds, for the whole
            call: connecting, sending, the response head and body, and every
            retry), a (connect, read) pair (the longest wait to connect, and
            for each piece of the response), or a ``urllib3.Timeout`` (its
            ``total`` is the deadline); when unset, the configuration's
            ``timeout`` applies.
        """
        method = method.upper()
        if method not in _KNOWN_METHODS:
            raise ApiValueError(f"Unsupported HTTP method {method!r}")
        if post_params and body:
            raise ApiValueError("body parameter cannot be used with post_params parameter.")
        headers = headers or {}
        if not self._tracked:  # used again after close()
            self._tracked = True
            track(self)
        timeout, total = (
            split_timeout(_request_timeout) if _request_timeout is not None else (None, None)
        )
        if timeout is None and total is None:
            timeout, total = self._configured_timeout()
        kwargs = self._body_arguments(method, headers, body, post_params)
        once = transport_retries(self.pool_manager.connection_pool_kw.get("retries"))
        if once is not None:  # the caller (the managed uploader) retries this call itself
            kwargs["retries"] = once
        deadline = Deadline(total) if total is not None else None
        started = time.perf_counter()
        previous = activate(deadline) if deadline is not None else None
        try:
            response, url = self._follow(method, url, headers, timeout, deadline, kwargs)
        except DeadlineExceeded as exc:
            scrub_exception(exc)  # its cause may be a urllib3 error holding the URL
            error: ApiException = ApiTimeoutError(str(exc), url=url)
            self._log_failure(method, url, error)
            raise error from exc
        except (u3.HTTPError, OSError) as exc:
            error = map_urllib3_error(exc, url, deadline)
            self._log_failure(method, url, error)
            raise error from exc
        finally:
            if deadline is not None:
                restore(previous)
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("%s %s -> %s (%.1f ms)", method, _path_of(url), response.status, elapsed)
        return RESTResponse(
            response, url, deadline=deadline, limit=self.configuration.max_response_bytes
        )

    def _configured_timeout(self) -> tuple[Optional[urllib3.Timeout], Optional[float]]:
        """The configuration's timeout, split (cached while it is the same object)."""
        value = self.configuration.timeout
        if value is not self._timeout_source or isinstance(value, list):  # a list may change
            self._timeout_split = split_timeout(value)
            self._timeout_source = value
        return self._timeout_split

    def _follow(
        self,
        method: str,
        url: str,
        headers: dict[str, Any],
        timeout: Optional[urllib3.Timeout],
        deadline: Optional[Deadline],
        kwargs: dict[str, Any],
    ) -> tuple[urllib3.BaseHTTPResponse, str]:
        """Send the request; follow redirects that stay on the same origin.

        urllib3 would follow a redirect to any host, a POST included (dropping
        only the Authorization header, not a ``key=`` in the URL). Here a
        redirect to another scheme, host or port is not followed: the 3xx is
        returned and raises like any non-2xx status.
        """
        for hop in range(MAX_REDIRECTS + 1):
            if deadline is not None and self.configuration.connection_pool_block:
                # Waiting for a free pooled connection is bounded too.
                kwargs["pool_timeout"] = max(deadline.remaining(), 0.001)
            response = self.pool_manager.request(
                method,
                url,
                headers=headers,
                timeout=timeout,
                preload_content=False,
                redirect=False,
                **kwargs,
            )
            location = response.get_redirect_location()
            if not location or hop == MAX_REDIRECTS:
                return response, url
            target = urljoin(url, location)
            if not _same_origin(url, target):
                return response, url
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s %s -> %s, following to %s",
                    method,
                    _path_of(url),
                    response.status,
                    _path_of(target),
                )
            _discard(response, drain=True)
            if response.status == 303 and method != "HEAD":
                method = "GET"
                headers = {
                    k: v for k, v in headers.items() if k.lower() not in _METHOD_CHANGING_HEADERS
                }
                kwargs = self._body_arguments(method, headers, None, None)
            url = target
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _log_failure(method: str, url: str, error: ApiException) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s failed: %s", method, _path_of(url), error.reason)

    @staticmethod
    def _body_arguments(
        method: str, headers: dict[str, Any], body: Any, post_params: Any
    ) -> dict[str, Any]:
        """urllib3 keyword arguments carrying the body, chosen by Content-Type."""
        if method not in _BODY_METHODS:
            return {"fields": {}}
        content_type = headers.get("Content-Type")
        if not content_type or _JSON_CONTENT_TYPE.search(content_type):
            return {"body": None if body is None else json.dumps(body)}
        if content_type == "application/x-www-form-urlencoded":
            return {"fields": post_params, "encode_multipart": False}
        if content_type == "multipart/form-data":
            # urllib3 writes the header itself, with the boundary.
            del headers["Content-Type"]
            fields = [
                (k, json.dumps(v) if isinstance(v, dict) else v) for k, v in post_params or []
            ]
            return {"fields": fields, "encode_multipart": True}
        if isinstance(body, (str, bytes)):
            return {"body": body}
        if content_type.startswith("text/") and isinstance(body, bool):
            return {"body": str(body).lower()}
        raise ApiException(
            status=0,
            reason=(
                "Cannot prepare a request message for provided arguments. "
                "Please check that your arguments match declared content type."
            ),
        )


def _same_origin(url: str, other: str) -> bool:
    """Whether both URLs have the same scheme, host and port."""
    first, second = urllib3.util.parse_url(url), urllib3.util.parse_url(other)
    return (
        (first.scheme or "").lower() == (second.scheme or "").lower()
        and (first.host or "").lower() == (second.host or "").lower()
        and _port(first) == _port(second)
    )


def _port(url: urllib3.util.Url) -> Optional[int]:
    if url.port is not None:
        return url.port
    return {"http": 80, "https": 443}.get((url.scheme or "").lower())


def _discard(response: urllib3.BaseHTTPResponse, *, drain: bool) -> None:
    """Let go of a response whose body is not wanted, returning its connection slot.

    A small body is read, so the connection can be reused; a large or unknown
    one closes the connection instead of being read.
    """
    length: Optional[int] = getattr(response, "length_remaining", None)
    if drain and length is not None and length <= _DRAIN_LIMIT:
        response.drain_conn()
    else:
        response.close()
    response.release_conn()


def _path_of(url: str) -> str:
    """The path of ``url`` without scheme, host or query: what a log line may show."""
    path = urllib3.util.parse_url(url).path or "/"
    return redact_text(path)
