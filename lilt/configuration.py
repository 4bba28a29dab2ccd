"""Configuration: host, credentials, TLS, pool, timeouts, retries and logging.

Every knob of the generated ``Configuration`` is kept (same constructor
order, attributes and methods). What changed, and why:

- Credentials come from the environment when none are passed:
  ``LILT_API_KEY`` becomes Basic auth with the key as user and password (the
  way LILT recommends), ``LILT_API_HOST`` the host; ``LILT_LOG=debug`` turns on
  redacted request logging.
- When Basic auth is configured the API key is not also put in the URL, and
  an empty key sends nothing (the generated client sent ``key=None``).
- ``timeout`` gives every call a connect and read timeout and a deadline for
  the whole call (the generated client had none, so a stalled server hung
  forever); ``_request_timeout`` still wins per call.
- ``max_response_bytes`` refuses a response body over 16 MiB.
- ``retries=None`` now means the SDK's default policy (connection errors and
  429/502/503/504, honouring ``Retry-After``; POSTs only when provably not
  processed); ``retries=0`` turns retrying off.
- ``debug`` and ``logger_file`` touch only the ``lilt`` logger, never
  ``http.client`` or the ``urllib3`` logger, and never pile up handlers.
- ``get_default()`` is thread-safe; ``get_default_copy()`` returns a copy.
- ``repr()`` never shows the key, password or Basic token.
"""

from __future__ import annotations

import copy
import functools
import http.client as httplib
import logging
import multiprocessing
import os
import sys
import threading
import weakref
from logging import FileHandler
from typing import Any, ClassVar, Optional, Union

import urllib3
from typing_extensions import NotRequired, Self, TypedDict

from lilt._redact import secret_variants
from lilt._retry import RetryPolicy

__all__ = [
    "JSON_SCHEMA_VALIDATION_KEYWORDS",
    "APIKeyAuthSetting",
    "AuthSettings",
    "BasicAuthSetting",
    "BearerAuthSetting",
    "BearerFormatAuthSetting",
    "Configuration",
    "GenericAuthSetting",
    "HTTPSignatureAuthSetting",
    "HostSetting",
    "HostSettingVariable",
    "OAuth2AuthSetting",
    "ServerVariablesT",
    "copy",
    "httplib",
    "logging",
    "multiprocessing",
    "sys",
    "urllib3",
    "FileHandler",
]

JSON_SCHEMA_VALIDATION_KEYWORDS = {
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
}

ServerVariablesT = dict[str, str]

GenericAuthSetting = TypedDict(
    "GenericAuthSetting", {"type": str, "in": str, "key": str, "value": str}
)
OAuth2AuthSetting = TypedDict(
    "OAuth2AuthSetting", {"type": str, "in": str, "key": str, "value": str}
)
APIKeyAuthSetting = TypedDict(
    "APIKeyAuthSetting", {"type": str, "in": str, "key": str, "value": Optional[str]}
)
BasicAuthSetting = TypedDict(
    "BasicAuthSetting", {"type": str, "in": str, "key": str, "value": Optional[str]}
)
BearerFormatAuthSetting = TypedDict(
    "BearerFormatAuthSetting",
    {"type": str, "in": str, "format": str, "key": str, "value": str},
)
BearerAuthSetting = TypedDict(
    "BearerAuthSetting", {"type": str, "in": str, "key": str, "value": str}
)
HTTPSignatureAuthSetting = TypedDict(
    "HTTPSignatureAuthSetting", {"type": str, "in": str, "key": str, "value": None}
)


class AuthSettings(TypedDict, total=False):
    BasicAuth: BasicAuthSetting
    ApiKeyAuth: APIKeyAuthSetting


class HostSettingVariable(TypedDict):
    description: str
    default_value: str
    enum_values: list[str]


class HostSetting(TypedDict):
    url: str
    description: str
    variables: NotRequired[dict[str, HostSettingVariable]]


DEFAULT_HOST = "https://api.lilt.com"
#: when neither the call nor the configuration sets one: 10 s to connect, 120 s for
#: each piece of the response, and 300 s for the whole call, retries included
DEFAULT_TIMEOUT = urllib3.Timeout(connect=10.0, read=120.0, total=300.0)
#: the largest response body an API call accepts, in bytes (after decoding)
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: retry policy for API calls when ``Configuration.retries`` is None
DEFAULT_API_RETRY_POLICY = RetryPolicy(
    attempts=4,
    backoff_base=0.5,
    backoff_cap=8.0,
    budget=120.0,
    max_retry_after=60.0,
    statuses=frozenset({429, 502, 503, 504}),
)

TimeoutT = Union[None, float, tuple[float, float], urllib3.Timeout]
RetriesT = Union[None, bool, int, urllib3.Retry, RetryPolicy]

_package_logger = logging.getLogger("lilt")
# Reentrant: a configuration collected while this thread holds it reconciles too.
_log_handler_lock = threading.RLock()
#: live configurations with ``debug`` on; the stderr handler stays while there is one
_debug_configurations: weakref.WeakSet[Configuration] = weakref.WeakSet()
_debug_finalizers: weakref.WeakKeyDictionary[Configuration, weakref.finalize[Any, Any]] = (
    weakref.WeakKeyDictionary()
)


def enable_debug_logging(stream: Any = None) -> logging.Handler:
    """Send the ``lilt`` logger's redacted DEBUG lines to ``stream`` (stderr by default).

    Idempotent: calling it again reuses the handler it installed. Only the
    ``lilt`` logger is touched.
    """
    with _log_handler_lock:
        for handler in _package_logger.handlers:
            if getattr(handler, "_lilt_debug", False):
                return handler
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._lilt_debug = True  # type: ignore[attr-defined]
        _package_logger.addHandler(handler)
        _package_logger.setLevel(logging.DEBUG)
        return handler


def _want_debug(configuration: Configuration, wanted: bool) -> None:
    """Count ``configuration`` in or out of those that want the debug handler."""
    with _log_handler_lock:
        if wanted:
            _debug_configurations.add(configuration)
            if configuration not in _debug_finalizers:
                # A configuration dropped with debug on stops wanting it too.
                _debug_finalizers[configuration] = weakref.finalize(
                    configuration, _reconcile_debug_handler
                )
        else:
            _debug_configurations.discard(configuration)
    _reconcile_debug_handler()


def _reconcile_debug_handler() -> None:
    """Install the debug handler while a live configuration wants it; remove it after."""
    with _log_handler_lock:
        wanted = any(True for _ in _debug_configurations)  # skips the collected ones
        if wanted:
            enable_debug_logging()
            return
        for handler in list(_package_logger.handlers):
            if getattr(handler, "_lilt_debug", False):
                _package_logger.removeHandler(handler)
                _package_logger.setLevel(logging.NOTSET)


class Configuration:
    """This class contains various settings of the API client.

    :param host: Base url (default ``https://api.lilt.com``, or ``LILT_API_HOST``).
    :param api_key: Dict of API keys; the identifier that matters is ``'ApiKeyAuth'``.
    :param api_key_prefix: Dict of prefixes for the keys.
    :param username: Username for HTTP basic authentication (with LILT: the API key).
    :param password: Password for HTTP basic authentication (with LILT: the API key).
    :param access_token: Kept for compatibility; unused by the uploads API.
    :param server_index: Index into the server settings (ignored when ``host`` is given).
    :param server_variables: Values for the server URL template.
    :param server_operation_index: Kept for compatibility (no per-operation servers here).
    :param server_operation_variables: Kept for compatibility.
    :param ignore_operation_servers: Kept for compatibility.
    :param ssl_ca_cert: Path to a CA bundle to verify the server with.
    :param retries: None for the SDK's default policy; an int, a urllib3 ``Retry`` or a
        :class:`lilt.RetryPolicy`; 0 or False to turn retrying off.
    :param ca_cert_data: PEM (str) or DER (bytes) CA data.
    :param cert_file: Client certificate file.
    :param key_file: Client key file.
    :param debug: Log every request (redacted) to stderr through the ``lilt`` logger.
    """

    _default: ClassVar[Optional[Configuration]] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        host: Optional[str] = None,
        api_key: Optional[dict[str, str]] = None,
        api_key_prefix: Optional[dict[str, str]] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        access_token: Optional[str] = None,
        server_index: Optional[int] = None,
        server_variables: Optional[ServerVariablesT] = None,
        server_operation_index: Optional[dict[int, int]] = None,
        server_operation_variables: Optional[dict[int, ServerVariablesT]] = None,
        ignore_operation_servers: bool = False,
        ssl_ca_cert: Optional[str] = None,
        retries: RetriesT = None,
        ca_cert_data: Optional[Union[str, bytes]] = None,
        cert_file: Optional[str] = None,
        key_file: Optional[str] = None,
        *,
        debug: Optional[bool] = None,
    ) -> None:
        env = os.environ
        if host is None and server_index is None and env.get("LILT_API_HOST"):
            host = env["LILT_API_HOST"]
        env_key = env.get("LILT_API_KEY")
        if env_key and username is None and password is None and not api_key:
            username = password = env_key

        self._base_path = DEFAULT_HOST if host is None else host
        # A host given explicitly wins over server settings (the generated
        # client silently ignored it when server_index=0 was also passed).
        self.server_index: Optional[int] = None
        if host is None:
            self.server_index = 0 if server_index is None else server_index
        self.server_operation_index = server_operation_index or {}
        self.server_variables = server_variables or {}
        self.server_operation_variables = server_operation_variables or {}
        self.ignore_operation_servers = ignore_operation_servers
        self.temp_folder_path: Optional[str] = None

        self.api_key: dict[str, str] = {} if api_key is None else api_key
        self.api_key_prefix: dict[str, str] = {} if api_key_prefix is None else api_key_prefix
        self.refresh_api_key_hook: Any = None
        self.username = username
        self.password = password
        self.access_token = access_token

        self.logger = {
            "package_logger": logging.getLogger("lilt"),
            "urllib3_logger": logging.getLogger("urllib3"),
        }
        self.logger_format = "%(asctime)s %(levelname)s %(message)s"
        self.logger_stream_handler: Optional[logging.Handler] = None
        self.logger_file_handler: Optional[FileHandler] = None
        self.__logger_file: Optional[str] = None
        self.__debug = False
        if debug is not None:
            self.debug = debug
        elif env.get("LILT_LOG", "").lower() in ("debug", "1", "true"):
            self.debug = True

        self.verify_ssl = True
        self.ssl_ca_cert = ssl_ca_cert
        self.ca_cert_data = ca_cert_data
        self.cert_file = cert_file
        self.key_file = key_file
        self.assert_hostname: Optional[bool] = None
        self.tls_server_name: Optional[str] = None

        # 32 at least: a client shared by 16 threads (or an uploader's workers)
        # must not see "Connection pool is full" and throw connections away.
        self.connection_pool_maxsize = max(32, multiprocessing.cpu_count() * 5)
        #: wait for a free pooled connection instead of opening throwaway ones
        self.connection_pool_block = False
        self.proxy: Optional[str] = None
        self.proxy_headers: Optional[dict[str, str]] = None
        self.safe_chars_for_path_param = ""
        self.retries: RetriesT = retries
        #: default timeout of every call; ``_request_timeout`` overrides it per call.
        #: A number is a deadline for the whole call, a (connect, read) pair per-phase
        #: limits, a ``urllib3.Timeout`` both (its ``total`` is the deadline).
        self.timeout: TimeoutT = DEFAULT_TIMEOUT
        #: a larger response body raises ResponseTooLargeError (None: no limit)
        self.max_response_bytes: Optional[int] = DEFAULT_MAX_RESPONSE_BYTES
        self.client_side_validation = True
        self.socket_options: Any = None
        self.datetime_format = "%Y-%m-%dT%H:%M:%S.%f%z"
        self.date_format = "%Y-%m-%d"

    # -- copying and the default instance ---------------------------------

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        cls = self.__class__
        result = cls.__new__(cls)
        memo[id(self)] = result
        for k, v in self.__dict__.items():
            if k in ("logger", "logger_file_handler", "logger_stream_handler"):
                continue
            setattr(result, k, copy.deepcopy(v, memo))
        # Loggers are shared; file handlers stay with the original, so copying
        # never adds a second handler (the generated client's duplicates).
        result.logger = copy.copy(self.logger)
        result.logger_file_handler = None
        result.logger_stream_handler = None
        if result.debug:
            # The copy wants the debug handler as much as the original does.
            _want_debug(result, True)
        return result

    def __repr__(self) -> str:
        auth = []
        if self.username is not None and self.password is not None:
            auth.append("basic")
        if self.api_key:
            auth.append("api_key")
        return f"<Configuration host={self.host!r} auth={'+'.join(auth) or 'none'}>"

    @classmethod
    def set_default(cls, default: Optional[Configuration]) -> None:
        """Set the default configuration used by ``ApiClient()`` with no arguments."""
        with cls._default_lock:
            cls._default = default

    @classmethod
    def get_default_copy(cls) -> Configuration:
        """Deprecated alias of :meth:`get_default` that really returns a copy."""
        return copy.deepcopy(cls.get_default())

    @classmethod
    def get_default(cls) -> Configuration:
        """Return the shared default configuration, creating it once (thread-safe)."""
        with cls._default_lock:
            if cls._default is None:
                cls._default = cls()
            return cls._default

    # -- logging ----------------------------------------------------------

    @property
    def logger_file(self) -> Optional[str]:
        """File that the ``lilt`` logger writes to (None: no file)."""
        return self.__logger_file

    @logger_file.setter
    def logger_file(self, value: Optional[str]) -> None:
        # Replace, never accumulate: the previous handler is detached first.
        if self.logger_file_handler is not None:
            self.logger["package_logger"].removeHandler(self.logger_file_handler)
            self.logger_file_handler.close()
            self.logger_file_handler = None
        self.__logger_file = value
        if value:
            handler = FileHandler(value)
            handler.setFormatter(self.logger_formatter)
            self.logger["package_logger"].addHandler(handler)
            self.logger_file_handler = handler

    @property
    def debug(self) -> bool:
        """Whether requests are logged (redacted) at DEBUG on the ``lilt`` logger."""
        return self.__debug

    @debug.setter
    def debug(self, value: bool) -> None:
        value = bool(value)
        if value != self.__debug:
            self.__debug = value
            _want_debug(self, value)

    @property
    def logger_format(self) -> str:
        return self.__logger_format

    @logger_format.setter
    def logger_format(self, value: str) -> None:
        self.__logger_format = value
        self.logger_formatter = logging.Formatter(value)

    # -- auth ---------------------------------------------------------------

    def get_api_key_with_prefix(
        self, identifier: str, alias: Optional[str] = None
    ) -> Optional[str]:
        """Gets API key (with prefix if set)."""
        if self.refresh_api_key_hook is not None:
            self.refresh_api_key_hook(self)
        return self._api_key_value(identifier, alias)

    def _api_key_value(self, identifier: str, alias: Optional[str] = None) -> Optional[str]:
        key = self.api_key.get(identifier, self.api_key.get(alias) if alias is not None else None)
        if key:
            prefix = self.api_key_prefix.get(identifier)
            return f"{prefix} {key}" if prefix else key
        return None

    def get_basic_auth_token(self) -> Optional[str]:
        """Gets HTTP basic authentication header (string)."""
        username = self.username if self.username is not None else ""
        password = self.password if self.password is not None else ""
        return _basic_token(username, password)

    def auth_settings(self) -> AuthSettings:
        """The auth settings to apply, by scheme name.

        Basic auth is used when a username and password are set; the API key
        goes into the query only when Basic auth is not configured and the key
        is not empty.
        """
        # The hook runs once per request (the generated client ran it twice).
        if self.refresh_api_key_hook is not None:
            self.refresh_api_key_hook(self)
        auth: AuthSettings = {}
        if self.username is not None and self.password is not None:
            auth["BasicAuth"] = {
                "type": "basic",
                "in": "header",
                "key": "Authorization",
                "value": self.get_basic_auth_token(),
            }
            return auth
        if "ApiKeyAuth" in self.api_key:
            value = self._api_key_value("ApiKeyAuth")
            if value:
                auth["ApiKeyAuth"] = {
                    "type": "api_key",
                    "in": "query",
                    "key": "key",
                    "value": value,
                }
        return auth

    def _secret_values(self) -> frozenset[str]:
        """The credentials this configuration sends, in every form text may hold them.

        What :mod:`lilt._redact` scrubs by value for the clients built on it;
        recomputed only when the key, prefix, user name or password change.
        """
        state = (
            tuple(self.api_key.items()),
            tuple(self.api_key_prefix.items()),
            self.username,
            self.password,
        )
        cached = self.__dict__.get("_secrets_cache")
        if cached is not None and cached[0] == state:
            return cached[1]  # type: ignore[no-any-return]
        values: set[str] = set()
        for identifier, key in self.api_key.items():
            values |= secret_variants(key)
            prefix = self.api_key_prefix.get(identifier)
            if prefix and isinstance(key, str):
                values |= secret_variants(f"{prefix} {key}")
        values |= secret_variants(self.username) | secret_variants(self.password)
        if self.username is not None and self.password is not None:
            token = _basic_token(str(self.username), str(self.password))
            values |= secret_variants(token.partition(" ")[2])
        result = frozenset(values)
        self._secrets_cache = (state, result)
        return result

    # -- reports and hosts ------------------------------------------------

    def to_debug_report(self) -> str:
        """Gets the essential information for debugging."""
        return (
            "Python SDK Debug Report:\n"
            f"OS: {sys.platform}\n"
            f"Python Version: {sys.version}\n"
            "Version of the API: v3.0.3\n"
            "SDK Package Version: 3.1.0"
        )

    def get_host_settings(self) -> list[HostSetting]:
        """Gets an array of host settings."""
        return [{"url": DEFAULT_HOST, "description": "No description provided"}]

    def get_host_from_settings(
        self,
        index: Optional[int],
        variables: Optional[ServerVariablesT] = None,
        servers: Optional[list[HostSetting]] = None,
    ) -> str:
        """Gets host URL based on the index and variables."""
        if index is None:
            return self._base_path
        variables = {} if variables is None else variables
        servers = self.get_host_settings() if servers is None else servers
        try:
            server = servers[index]
        except IndexError:
            raise ValueError(
                f"Invalid index {index} when selecting the host settings. "
                f"Must be less than {len(servers)}"
            ) from None
        url = server["url"]
        for name, variable in server.get("variables", {}).items():
            used = variables.get(name, variable["default_value"])
            if variable["enum_values"] and used not in variable["enum_values"]:
                raise ValueError(
                    f"The variable `{name}` in the host URL has invalid value {used}. "
                    f"Must be {variable['enum_values']}."
                )
            url = url.replace("{" + name + "}", used)
        return url

    @property
    def host(self) -> str:
        """Return generated host."""
        return self.get_host_from_settings(self.server_index, variables=self.server_variables)

    @host.setter
    def host(self, value: str) -> None:
        """Fix base path."""
        self._base_path = value
        self.server_index = None

    # -- derived transport settings -----------------------------------------

    def retry_for_urllib3(self) -> Union[bool, int, urllib3.Retry]:
        """The ``retries`` value handed to urllib3 for API calls."""
        if self.retries is None:
            return DEFAULT_API_RETRY_POLICY.to_urllib3()
        if isinstance(self.retries, RetryPolicy):
            return self.retries.to_urllib3()
        if self.retries is False or self.retries == 0:
            # No retries, but still map connection failures (not raw errors).
            return urllib3.Retry(0, redirect=5, raise_on_redirect=False, raise_on_status=False)
        if isinstance(self.retries, urllib3.Retry) and self.retries.raise_on_status:
            # Hand the last error response back so it raises its own status class
            # (ServiceException, RateLimitError...) instead of a bare MaxRetryError.
            return self.retries.new(raise_on_status=False)
        return self.retries


@functools.lru_cache(maxsize=16)
def _basic_token(username: str, password: str) -> str:
    """The Basic ``Authorization`` value, computed once per pair."""
    return urllib3.util.make_headers(basic_auth=f"{username}:{password}")["authorization"]
