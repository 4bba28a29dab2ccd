"""The transport: the only code that calls urllib3 for API requests.

It owns three things the rest of the SDK relies on:

- every urllib3 failure becomes a :mod:`lilt.exceptions` type
  (:func:`map_urllib3_error`), with secrets scrubbed from the message;
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

import urllib3
from urllib3 import exceptions as u3

from lilt._redact import install_log_redaction, redact_text
from lilt.configuration import Configuration
from lilt.exceptions import (
    ApiConnectionError,
    ApiException,
    ApiSSLError,
    ApiTimeoutError,
    ApiValueError,
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
install_log_redaction("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "OPTIONS", "DELETE"})
_KNOWN_METHODS = frozenset({"GET", "HEAD", *_BODY_METHODS})
_JSON_CONTENT_TYPE = re.compile(r"json", re.IGNORECASE)


def is_socks_proxy_url(url: Optional[str]) -> bool:
    if url is None:
        return False
    split_section = url.split("://")
    if len(split_section) < 2:
        return False
    return split_section[0].lower() in SUPPORTED_SOCKS_PROXIES


class RESTResponse(io.IOBase):
    """A urllib3 response whose body is read on demand and then cached in ``data``."""

    def __init__(self, resp: urllib3.BaseHTTPResponse, url: str = "") -> None:
        self.response = resp
        self.status = resp.status
        self.reason = resp.reason
        self.data: Optional[bytes] = None
        self._url = url

    def read(self) -> bytes:
        """The whole body; a connection that fails mid-body raises a lilt exception."""
        if self.data is None:
            try:
                self.data = self.response.data
            except (u3.HTTPError, OSError) as exc:
                raise map_urllib3_error(exc, self._url) from exc
        return self.data

    def getheaders(self) -> urllib3.HTTPHeaderDict:
        """Returns a dictionary of the response headers."""
        return self.response.headers

    def getheader(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """Returns a given response header."""
        return self.response.headers.get(name, default)


def to_timeout(value: Any) -> Optional[urllib3.Timeout]:
    """A urllib3 ``Timeout`` from a number (total), a (connect, read) pair or a Timeout."""
    if isinstance(value, urllib3.Timeout):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
        return urllib3.Timeout(total=value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return urllib3.Timeout(connect=value[0], read=value[1])
    return None


def map_urllib3_error(exc: Exception, url: str) -> ApiException:
    """The :mod:`lilt.exceptions` type for a urllib3 failure (the most specific one).

    urllib3's message names the URL with its query string, which may hold the
    API key, so the message is scrubbed, and so are the original exception's
    arguments, since it stays reachable as ``__cause__``.
    """
    root: BaseException = exc
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        root = exc.reason
    exc.args = tuple(redact_text(str(a)) for a in exc.args)
    if isinstance(exc, u3.MaxRetryError) and exc.url:
        exc.url = redact_text(exc.url)
    detail = str(exc)
    target: type[ApiConnectionError]
    if isinstance(root, (u3.SSLError, ssl.SSLError)):
        target = ApiSSLError
    elif isinstance(root, u3.NewConnectionError):
        # urllib3 derives it from ConnectTimeoutError, but a refusal is no timeout.
        target = ApiConnectionError
    elif isinstance(root, (u3.TimeoutError, TimeoutError)):
        target = ApiTimeoutError
    else:
        target = ApiConnectionError
    return target(detail, url=url)


class RESTClientObject:
    """Sends API requests through one urllib3 pool manager built from a Configuration."""

    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        pool_args: dict[str, Any] = {
            "cert_reqs": ssl.CERT_REQUIRED if configuration.verify_ssl else ssl.CERT_NONE,
            "ca_certs": configuration.ssl_ca_cert,
            "cert_file": configuration.cert_file,
            "key_file": configuration.key_file,
            "ca_cert_data": configuration.ca_cert_data,
            "retries": configuration.retry_for_urllib3(),
            "block": configuration.connection_pool_block,
        }
        if configuration.assert_hostname is not None:
            pool_args["assert_hostname"] = configuration.assert_hostname
        if configuration.tls_server_name:
            pool_args["server_hostname"] = configuration.tls_server_name
        if configuration.socket_options is not None:
            pool_args["socket_options"] = configuration.socket_options
        if configuration.connection_pool_maxsize is not None:
            pool_args["maxsize"] = configuration.connection_pool_maxsize

        # the configuration's timeout as a urllib3 Timeout, made again only when it changes
        self._timeout_of: Any = None
        self._timeout: Optional[urllib3.Timeout] = None
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

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool_manager.clear()

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

        :param _request_timeout: a number (total seconds) or a (connect, read)
            pair; when unset, the configuration's ``timeout`` applies.
        """
        method = method.upper()
        if method not in _KNOWN_METHODS:
            raise ApiValueError(f"Unsupported HTTP method {method!r}")
        if post_params and body:
            raise ApiValueError("body parameter cannot be used with post_params parameter.")
        headers = headers or {}
        timeout = to_timeout(_request_timeout) or self._default_timeout()
        kwargs = self._body_arguments(method, headers, body, post_params)
        started = time.perf_counter()
        try:
            response = self.pool_manager.request(
                method,
                url,
                headers=headers,
                timeout=timeout,
                preload_content=False,
                **kwargs,
            )
        except (u3.HTTPError, OSError) as exc:
            error = map_urllib3_error(exc, url)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s %s failed: %s", method, _path_of(url), error.reason)
            raise error from exc
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("%s %s -> %s (%.1f ms)", method, _path_of(url), response.status, elapsed)
        return RESTResponse(response, url)

    def _default_timeout(self) -> Optional[urllib3.Timeout]:
        value = self.configuration.timeout
        if value is not self._timeout_of or isinstance(value, list):  # a list may change
            self._timeout_of, self._timeout = value, to_timeout(value)
        return self._timeout

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


def _path_of(url: str) -> str:
    """The path of ``url`` without scheme, host or query: what a log line may show."""
    path = urllib3.util.parse_url(url).path or "/"
    return redact_text(path)
