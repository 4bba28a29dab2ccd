"""ApiClient: the single request pipeline shared by every operation.

``param_serialize`` → ``call_api`` → ``response_deserialize``, with the
generated client's names and signatures, so code that subclasses or patches
those steps keeps working. Behaviour fixed on the way through:

- ``_headers`` passed by the caller win over the default headers and the
  client cookie (auth headers still come last), and are never mutated;
- the configuration's auth settings are computed once per request;
- a trailing ``/`` on the host is harmless; ``.``/``..`` path values are refused;
- any 2xx is decoded with the operation's type (empty body → None); a body
  that does not decode raises :class:`~lilt.exceptions.ResponseDecodeError`
  with status, headers and body; error bodies are decoded with replacement;
- ``close()`` and ``with ApiClient(...)`` release the connection pool;
- ``get_default()`` is thread-safe.
"""

from __future__ import annotations

import codecs
import datetime
import decimal
import json
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache, lru_cache
from typing import Any, ClassVar, Dict, Optional, Protocol, Union
from urllib.parse import quote

import urllib3
from dateutil.parser import parse
from pydantic import SecretStr, TypeAdapter, ValidationError
from typing_extensions import Self

import lilt.models
from lilt import rest
from lilt._content_type import choose_content_type
from lilt._redact import redact_text, redact_value, scrub_exception
from lilt.api_response import ApiResponse
from lilt.api_response import T as ApiResponseT
from lilt.configuration import Configuration
from lilt.exceptions import (
    ApiException,
    ApiValueError,
    BadRequestException,
    ForbiddenException,
    NotFoundException,
    ResponseDecodeError,
    ServiceException,
    UnauthorizedException,
)
from lilt.models._base import LiltModel, mark_fields_set

__all__ = [
    "ApiClient",
    "ApiException",
    "ApiResponse",
    "ApiResponseT",
    "ApiValueError",
    "BadRequestException",
    "Configuration",
    "ForbiddenException",
    "NotFoundException",
    "RequestSerialized",
    "SecretStr",
    "ServiceException",
    "UnauthorizedException",
    "parse",
    "quote",
    "rest",
]

RequestSerialized = tuple[str, str, dict[str, str], Optional[Any], list[tuple[str, Any]]]


class Transport(Protocol):
    """What sends an ``ApiClient``'s requests: the part of
    :class:`~lilt.rest.RESTClientObject` the client uses."""

    def request(
        self,
        method: str,
        url: str,
        headers: Optional[dict[str, str]] = None,
        body: object = None,
        post_params: object = None,
        _request_timeout: Union[float, tuple[float, float], urllib3.Timeout, None] = None,
    ) -> rest.RESTResponse: ...

    def close(self) -> None: ...


USER_AGENT = "OpenAPI-Generator/3.1.0/python"
_JSON_MIME = re.compile(r"^application/(json|[\w!#$&.+\-^_]+\+json)\s*(;|$)", re.IGNORECASE)
_TEXT_MIME = re.compile(r"^text/[a-z.+-]+\s*(;|$)", re.IGNORECASE)
_CHARSET = re.compile(r"charset=([a-zA-Z\-\d]+)[\s;]?")
_TYPE_NAME = re.compile(r"^(List|Dict)\[(.+)\]$")
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
# Content-Type values that need neither _JSON_MIME nor _CHARSET: JSON in UTF-8
_UTF8_JSON = frozenset({"application/json", "application/json; charset=utf-8"})
# characters quote() never encodes (and "/", when it is safe): text made only of
# these is returned as it is, without quote()'s work
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")
_PLAIN_OR_SLASH = re.compile(r"[A-Za-z0-9_.~/-]*")


class ApiClient:
    """Generic API client for OpenAPI client library builds.

    :param configuration: the Configuration (default: ``Configuration.get_default()``).
    :param header_name: a header to pass with every request.
    :param header_value: its value.
    :param cookie: a cookie to send with every request.
    :param transport: what sends the requests (keyword only): by default a
        :class:`~lilt.rest.RESTClientObject` made from the configuration; any
        object with its ``request`` and ``close`` will do (a test's fake, a
        wrapper that records calls). ``close()`` closes it. Only a
        ``RESTClientObject`` registers the configuration's credentials for
        redaction by value (:mod:`lilt._redact`); with another transport,
        errors are scrubbed by the syntax rules alone.

    One client may be shared by many threads; close it (or use ``with``) to
    release its connections.
    """

    PRIMITIVE_TYPES = (float, bool, bytes, str, int)
    NATIVE_TYPES_MAPPING: ClassVar[dict[str, Any]] = {
        "int": int,
        "long": int,
        "float": float,
        "str": str,
        "bool": bool,
        "date": datetime.date,
        "datetime": datetime.datetime,
        "decimal": decimal.Decimal,
        "object": object,
    }
    _pool = None
    _default: ClassVar[Optional[ApiClient]] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        configuration: Optional[Configuration] = None,
        header_name: Optional[str] = None,
        header_value: Optional[str] = None,
        cookie: Optional[str] = None,
        *,
        transport: Optional[Transport] = None,
    ) -> None:
        if configuration is None:
            configuration = Configuration.get_default()
        self.configuration = configuration
        self.rest_client: Transport = (
            rest.RESTClientObject(configuration) if transport is None else transport
        )
        self.default_headers: dict[str, Any] = {}
        if header_name is not None:
            self.default_headers[header_name] = header_value
        self.cookie = cookie
        self.user_agent = USER_AGENT
        self.client_side_validation = configuration.client_side_validation

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc_value: object, traceback: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every pooled connection. The client reconnects if used again."""
        self.rest_client.close()

    @property
    def user_agent(self) -> str:
        """User agent for this API client"""
        return str(self.default_headers["User-Agent"])

    @user_agent.setter
    def user_agent(self, value: str) -> None:
        self.default_headers["User-Agent"] = value

    def set_default_header(self, header_name: str, header_value: Any) -> None:
        self.default_headers[header_name] = header_value

    @classmethod
    def get_default(cls) -> ApiClient:
        """Return the shared default client, creating it once (thread-safe)."""
        with cls._default_lock:
            if cls._default is None:
                cls._default = ApiClient()
            return cls._default

    @classmethod
    def set_default(cls, default: Optional[ApiClient]) -> None:
        """Set the client that ``UploadsApi()`` uses when given none."""
        with cls._default_lock:
            cls._default = default

    # -- request --------------------------------------------------------------

    def param_serialize(
        self,
        method: str,
        resource_path: str,
        path_params: Optional[Mapping[str, Any]] = None,
        query_params: Optional[Sequence[tuple[str, Any]]] = None,
        header_params: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        post_params: Optional[list[tuple[str, Any]]] = None,
        files: Optional[Mapping[str, Any]] = None,
        auth_settings: Optional[Sequence[str]] = None,
        collection_formats: Optional[Mapping[str, str]] = None,
        _host: Optional[str] = None,
        _request_auth: Optional[Mapping[str, Any]] = None,
    ) -> RequestSerialized:
        """Builds the HTTP request params needed by the request.

        :return: tuple of form (method, url, header_params, body, post_params)
        """
        config = self.configuration
        headers: dict[str, Any] = dict(self.default_headers)
        if self.cookie:
            headers["Cookie"] = self.cookie
        if header_params:
            headers.update(header_params)
        for name, value in headers.items():  # a loop, not a comprehension: most are str
            if type(value) is not str:
                headers[name] = _header_value(value)

        if path_params:
            safe = config.safe_chars_for_path_param
            for name, value in path_params.items():
                text = str(self.sanitize_for_serialization(value))
                if text in (".", ".."):
                    raise ApiValueError(f"Path parameter {name!r} may not be {text!r}")
                resource_path = resource_path.replace("{" + name + "}", _quote(text, safe))

        if post_params or files:
            post_params = self.parameters_to_tuples(
                self.sanitize_for_serialization(post_params or []), collection_formats
            )
            if files:
                post_params.extend(self.files_parameters(files))

        queries: list[tuple[str, Any]] = list(query_params or [])
        self.update_params_for_auth(
            headers, queries, auth_settings, resource_path, method, body, request_auth=_request_auth
        )

        if body:
            body = self.sanitize_for_serialization(body)

        if _host is None or config.ignore_operation_servers:
            url = config.host.rstrip("/") + resource_path
        else:
            url = _host.rstrip("/") + resource_path
        if queries:
            url += "?" + self.parameters_to_url_query(
                self.sanitize_for_serialization(queries), collection_formats
            )
        return method, url, headers, body, post_params if post_params is not None else []

    def call_api(
        self,
        method: str,
        url: str,
        header_params: Optional[dict[str, Any]] = None,
        body: Any = None,
        post_params: Optional[list[tuple[str, Any]]] = None,
        _request_timeout: Any = None,
    ) -> rest.RESTResponse:
        """Makes the HTTP request (synchronous).

        :return: the response, unread (call ``read()`` before deserializing).
        """
        return self.rest_client.request(
            method,
            url,
            headers=header_params,
            body=body,
            post_params=post_params,
            _request_timeout=_request_timeout,
        )

    # -- response -------------------------------------------------------------

    def response_deserialize(
        self,
        response_data: rest.RESTResponse,
        response_types_map: Optional[Dict[str, ApiResponseT]] = None,
    ) -> ApiResponse[ApiResponseT]:
        """Deserializes a read response into an ``ApiResponse``; raises for non-2xx.

        ``response_types_map`` maps a status (``"200"``) or range (``"2XX"``)
        to a type: a class, a typing form such as ``list[Model]``, or a
        generated-style name such as ``"List[Model]"``. A 2xx status with no
        exact entry uses the 2XX entry, then the 200 entry.
        """
        data = self._body_data(response_data, response_types_map)
        return ApiResponse.model_construct(
            status_code=response_data.status,
            data=data,
            headers=response_data.getheaders(),
            raw_data=response_data.data,
        )

    def _response_data(
        self,
        response_data: rest.RESTResponse,
        response_types_map: Optional[Dict[str, Any]] = None,
    ) -> Any:
        """What ``response_deserialize(...).data`` is, without building the ``ApiResponse``.

        Operations that return only the body come here directly (about a tenth of
        an API call's own CPU), unless a subclass overrides ``response_deserialize``,
        which is then called as the generated client called it.
        """
        if type(self).response_deserialize is not ApiClient.response_deserialize:
            return self.response_deserialize(response_data, response_types_map).data
        return self._body_data(response_data, response_types_map)

    def _body_data(
        self, response_data: rest.RESTResponse, response_types_map: Optional[Mapping[str, Any]]
    ) -> Any:
        """The decoded body of a read response; raises for non-2xx."""
        if response_data.data is None:
            raise ApiValueError(
                "RESTResponse.read() must be called before passing it to response_deserialize()"
            )
        status = response_data.status
        if not 200 <= status <= 299:
            raise ApiException.from_response(
                http_resp=response_data, body=_text_of(response_data), data=None
            )
        response_type = _lookup_type(response_types_map or {}, status)
        if response_type == "bytearray":
            return response_data.data
        if response_type == "file":
            return self.__deserialize_file(response_data)
        if response_type is None:
            return None
        return self._decode(response_data, response_type)

    def _decode(self, response_data: rest.RESTResponse, response_type: Any) -> Any:
        """Decode a 2xx body into ``response_type`` or raise ResponseDecodeError.

        As in the generated client: the body is text in the charset its
        Content-Type declares (UTF-8 when none), and JSON ``null`` is None
        whatever the type. Models come out with every field set, as the
        generated ``from_dict`` left them.
        """
        raw = response_data.data or b""
        if not raw or raw.isspace():
            return None
        content_type = response_data.getheader("content-type")
        try:
            if content_type in _UTF8_JSON:  # the usual answer: no pattern to run
                body: Union[bytes, str] = raw
            elif content_type is not None and not _JSON_MIME.match(content_type):
                raise ValueError(f"content type {content_type!r} is not JSON")
            else:
                body = _in_declared_charset(raw, content_type)
            if body.strip() in (b"null", "null"):
                return None
            adapter = (
                response_type
                if isinstance(response_type, TypeAdapter)
                else _adapter(_resolve(response_type))
            )
            # The adapter's validator itself: TypeAdapter.validate_json only adds
            # the handling of options that are not used here.
            return mark_fields_set(adapter.validator.validate_json(body))
        except (ValueError, ValidationError, RecursionError, LookupError) as exc:
            failure: Exception = exc
        # Raised outside the except block, so the original (which quotes the
        # body, secrets and all) is not kept as __context__ either.
        cause = _without_secrets(failure)
        type_name = getattr(response_type, "__name__", str(response_type))
        raise ResponseDecodeError(
            http_resp=response_data,
            reason=f"Response body is not a valid {type_name}: {_first_line(cause)}",
            body=_text_of(response_data),
        ) from cause

    def deserialize(
        self, response_text: Optional[str], response_type: Any, content_type: Optional[str]
    ) -> Any:
        """Deserializes response text into an object of ``response_type``."""
        if content_type is None:
            try:
                data: Any = json.loads(response_text or "")
            except ValueError:
                data = response_text
        elif _JSON_MIME.match(content_type):
            data = "" if response_text == "" else json.loads(response_text or "")
        elif _TEXT_MIME.match(content_type):
            data = response_text
        else:
            raise ApiException(status=0, reason=f"Unsupported content type: {content_type}")
        return self.__deserialize(data, response_type)

    def __deserialize(self, data: Any, klass: Any) -> Any:
        if data is None:
            return None
        resolved = _resolve(klass)
        if resolved is object:
            return data
        if resolved in (datetime.date, datetime.datetime) and isinstance(data, str):
            try:
                moment = parse(data)
            except ValueError as exc:
                kind = "date" if resolved is datetime.date else "datetime"
                raise ApiException(
                    status=0, reason=f"Failed to parse `{data}` as {kind} object"
                ) from exc
            return moment.date() if resolved is datetime.date else moment
        if isinstance(resolved, type) and issubclass(resolved, Enum):
            try:
                return resolved(data)
            except ValueError as exc:
                raise ApiException(
                    status=0, reason=f"Failed to parse `{data}` as `{resolved}`"
                ) from exc
        return _adapter(resolved).validate_python(data)

    def __deserialize_file(self, response: rest.RESTResponse) -> str:
        """Save a file body into the temp folder and return its path.

        The server's ``Content-Disposition`` filename is reduced to its base
        name, so it cannot escape the folder (the generated client joined it as is).
        """
        fd, path = tempfile.mkstemp(dir=self.configuration.temp_folder_path)
        os.close(fd)
        os.remove(path)
        disposition = response.getheader("Content-Disposition")
        if disposition:
            found = re.search(r'filename=[\'"]?([^\'"\s]+)[\'"]?', disposition)
            name = os.path.basename(found.group(1)) if found else ""
            if name and name not in (".", ".."):
                path = os.path.join(os.path.dirname(path), name)
        with open(path, "wb") as f:
            f.write(response.data or b"")
        return path

    # -- serialization helpers (public in the generated client) ---------------

    def sanitize_for_serialization(self, obj: Any) -> Any:
        """Builds a JSON POST object (see contract: models become alias-keyed dicts)."""
        kind = type(obj)
        if kind in _JSON_SCALARS:  # exact types; str/int enums and subclasses go below
            return obj
        if kind is dict:
            return {key: self.sanitize_for_serialization(val) for key, val in obj.items()}
        if kind is list:
            # (name, value) query pairs are checked here, without a call each
            return [
                sub
                if type(sub) is tuple and _JSON_SCALARS.issuperset(map(type, sub))
                else self.sanitize_for_serialization(sub)
                for sub in obj
            ]
        if kind is tuple:  # (name, value) query pairs: usually nothing to convert
            if _JSON_SCALARS.issuperset(map(type, obj)):
                return obj
            return tuple(self.sanitize_for_serialization(sub) for sub in obj)
        if isinstance(obj, LiltModel) and kind.to_dict is LiltModel.to_dict:
            # One pass in pydantic-core instead of to_dict() and a walk over it.
            return obj.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(obj, Enum):
            return obj.value
        if isinstance(obj, SecretStr):
            return obj.get_secret_value()
        if isinstance(obj, self.PRIMITIVE_TYPES):
            return obj
        if isinstance(obj, uuid.UUID):
            return str(obj)
        if isinstance(obj, list):
            return [self.sanitize_for_serialization(sub) for sub in obj]
        if isinstance(obj, tuple):
            return tuple(self.sanitize_for_serialization(sub) for sub in obj)
        if isinstance(obj, (datetime.datetime, datetime.date)):
            return obj.isoformat()
        if isinstance(obj, decimal.Decimal):
            return str(obj)
        obj_dict: Any
        if isinstance(obj, dict):
            obj_dict = obj
        elif hasattr(obj, "to_dict") and callable(obj.to_dict):
            obj_dict = obj.to_dict()
        else:
            obj_dict = obj.__dict__
        if isinstance(obj_dict, list):
            return self.sanitize_for_serialization(obj_dict)
        return {key: self.sanitize_for_serialization(val) for key, val in obj_dict.items()}

    def parameters_to_tuples(
        self, params: Any, collection_formats: Optional[Mapping[str, str]]
    ) -> list[tuple[str, Any]]:
        """Get parameters as list of tuples, formatting collections."""
        new_params: list[tuple[str, Any]] = []
        formats = collection_formats or {}
        for k, v in params.items() if isinstance(params, dict) else params:
            if k in formats:
                fmt = formats[k]
                if fmt == "multi":
                    new_params.extend((k, value) for value in v)
                else:
                    delimiter = {"ssv": " ", "tsv": "\t", "pipes": "|"}.get(fmt, ",")
                    new_params.append((k, delimiter.join(str(value) for value in v)))
            else:
                new_params.append((k, v))
        return new_params

    def parameters_to_url_query(
        self, params: Any, collection_formats: Optional[Mapping[str, str]]
    ) -> str:
        """Get parameters as an encoded query string, formatting collections."""
        parts: list[str] = []
        formats = collection_formats or {}
        for k, v in params.items() if isinstance(params, dict) else params:
            if k in formats:
                fmt = formats[k]
                if fmt == "multi":
                    parts.extend(f"{k}={quote(str(value))}" for value in v)
                else:
                    delimiter = {"ssv": " ", "tsv": "\t", "pipes": "|"}.get(fmt, ",")
                    parts.append(f"{k}={delimiter.join(quote(str(value)) for value in v)}")
            else:
                kind = type(v)
                text = v if kind is str else str(v) if kind is int else _query_text(v)
                parts.append(f"{k}={_quote(text, '/')}")
        return "&".join(parts)

    def files_parameters(
        self, files: Mapping[str, Any]
    ) -> list[tuple[str, tuple[str, bytes, str]]]:
        """Builds form parameters for file uploads."""
        params: list[tuple[str, tuple[str, bytes, str]]] = []
        for k, v in files.items():
            for item in v if isinstance(v, list) else [v]:
                if isinstance(item, str):
                    with open(item, "rb") as f:
                        filename, filedata = os.path.basename(f.name), f.read()
                elif isinstance(item, bytes):
                    filename, filedata = k, item
                elif isinstance(item, tuple):
                    filename, filedata = item
                else:
                    raise ValueError("Unsupported file value")
                params.append((k, (filename, filedata, choose_content_type(filename=filename))))
        return params

    def select_header_accept(self, accepts: Optional[list[str]]) -> Optional[str]:
        """Returns `Accept` based on an array of accepts provided."""
        if not accepts:
            return None
        return next((a for a in accepts if re.search("json", a, re.IGNORECASE)), accepts[0])

    def select_header_content_type(self, content_types: Optional[list[str]]) -> Optional[str]:
        """Returns `Content-Type` based on an array of content_types provided."""
        return self.select_header_accept(content_types)

    def update_params_for_auth(
        self,
        headers: dict[str, Any],
        queries: list[tuple[str, Any]],
        auth_settings: Optional[Sequence[str]],
        resource_path: str,
        method: str,
        body: Any,
        request_auth: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Updates header and query params based on authentication setting."""
        if not auth_settings:
            return
        if request_auth:
            self._apply_auth_params(headers, queries, resource_path, method, body, request_auth)
            return
        configured: Mapping[str, Any] = self.configuration.auth_settings()
        for name in auth_settings:
            setting = configured.get(name)
            if setting:
                self._apply_auth_params(headers, queries, resource_path, method, body, setting)

    def _apply_auth_params(
        self,
        headers: dict[str, Any],
        queries: list[tuple[str, Any]],
        resource_path: str,
        method: str,
        body: Any,
        auth_setting: Mapping[str, Any],
    ) -> None:
        """Updates the request parameters based on a single auth_setting."""
        where = auth_setting["in"]
        if where == "cookie":
            headers["Cookie"] = auth_setting["value"]
        elif where == "header":
            if auth_setting["type"] != "http-signature":
                headers[auth_setting["key"]] = auth_setting["value"]
        elif where == "query":
            queries.append((auth_setting["key"], auth_setting["value"]))
        else:
            raise ApiValueError("Authentication token must be in `query` or `header`")


def _header_value(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _quote(text: str, safe: str) -> str:
    """``quote(text, safe=safe)``; ids, numbers and keys usually need no quoting at all."""
    plain = _PLAIN_OR_SLASH if "/" in safe else _PLAIN
    return text if plain.fullmatch(text) else quote(text, safe=safe)


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _in_declared_charset(raw: bytes, content_type: Optional[str]) -> Union[bytes, str]:
    """The body as pydantic should read it: bytes when UTF-8, else text decoded strictly."""
    found = _CHARSET.search(content_type or "")
    if found is None or codecs.lookup(found.group(1)).name == "utf-8":
        return raw
    return raw.decode(found.group(1))


def _text_of(response: rest.RESTResponse) -> str:
    """The body as text in its declared charset; undecodable bytes become U+FFFD."""
    content_type = response.getheader("content-type") or ""
    found = _CHARSET.search(content_type)
    encoding = found.group(1) if found else "utf-8"
    try:
        return (response.data or b"").decode(encoding, errors="replace")
    except LookupError:
        return (response.data or b"").decode("utf-8", errors="replace")


def _without_secrets(exc: Exception) -> Exception:
    """The decoding error, or a copy of it whose quoted input has its secrets removed.

    pydantic's errors keep the offending input (for invalid JSON, the whole
    body) and cannot be changed in place, so one that quotes a secret is
    rebuilt with redacted inputs.
    """
    if not isinstance(exc, ValidationError):
        scrub_exception(exc)
        return exc
    errors = exc.errors(include_url=False)
    if redact_text(repr(errors)) == repr(errors):
        return exc
    line_errors: list[Any] = []
    for error in errors:
        line: dict[str, Any] = {
            "type": error["type"],
            "loc": error["loc"],
            "input": redact_value(error["input"]),
        }
        if "ctx" in error:
            line["ctx"] = redact_value(error["ctx"])
        line_errors.append(line)
    try:
        return ValidationError.from_exception_data(exc.title, line_errors)
    except (TypeError, ValueError, KeyError):
        return ValueError(redact_text(str(exc)))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _lookup_type(types_map: Mapping[str, Any], status: int) -> Any:
    code = str(status)
    exact = types_map.get(code)
    if exact is not None:
        return exact
    ranged = types_map.get(code[0] + "XX")
    if ranged is not None:
        return ranged
    # Any 2xx decodes with the success type (the generated client returned None).
    return types_map.get("200") if 200 <= status <= 299 else None


@cache
def _resolve(klass: Any) -> Any:
    """A type from a generated-style type name (``"List[Model]"``); types pass through."""
    if not isinstance(klass, str):
        return klass
    found = _TYPE_NAME.match(klass)
    if found:
        outer, inner = found.groups()
        if outer == "List":
            return list[_resolve(inner)]  # type: ignore[misc]
        value_name = inner.split(",", 1)[1].strip()
        return dict[str, _resolve(value_name)]  # type: ignore[misc]
    if klass in ApiClient.NATIVE_TYPES_MAPPING:
        return ApiClient.NATIVE_TYPES_MAPPING[klass]
    return getattr(lilt.models, klass)


@lru_cache(maxsize=256)
def _adapter(klass: Any) -> TypeAdapter[Any]:
    return TypeAdapter(klass)
