"""Operations as data, and the one request path every operation goes through.

An :class:`Endpoint` describes one API operation: HTTP method, path
template, how Python parameter names map to path and query wire names, and
which parameter is the JSON body. Its ``signature`` is a declaration, never
called: a function named after the operation (a leading ``_`` aside) whose
parameters are the method's (``self`` first, then the operation's parameters
with the generated client's annotations and pydantic constraints, as real
objects) and whose return annotation is the success type. The operation's
name and response types are read from it, and its signature is what
pydantic's ``validate_call`` checks arguments against, exactly as in the
generated client.

:func:`operation` turns an Endpoint into a method in one of three modes
(deserialize and unwrap, deserialize, or hand back the unread response), and
:func:`serializer` into the ``_<op>_serialize`` helper; :func:`api_class`
gives them their class's qualified names. All of them call :func:`invoke`,
the single request path:
``param_serialize`` → ``call_api`` → ``read`` → ``response_deserialize``.
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Generic,
    Literal,
    Optional,
    TypeVar,
    Union,
    get_args,
    get_origin,
    overload,
)

from pydantic import TypeAdapter, validate_call
from typing_extensions import ParamSpec
from urllib3 import HTTPHeaderDict

from lilt._content_type import JSON, choose_content_type
from lilt.api_client import RequestSerialized
from lilt.api_response import ApiResponse
from lilt.exceptions import ApiValueError
from lilt.rest import RESTResponseType

if TYPE_CHECKING:
    from lilt.api_client import ApiClient

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C", bound=type)

#: the generated client's per-call keyword options, in their order
CALL_OPTIONS = ("_request_timeout", "_request_auth", "_content_type", "_headers", "_host_index")
#: the most bodies one bulk (list) request may carry; the uploader batches by it too
MAX_BULK_ITEMS = 100


class Mode(enum.Enum):
    """What an operation method returns: the three views of one request."""

    DATA = "data"  # the decoded body
    INFO = "info"  # ApiResponse with status, headers, data and raw bytes
    RAW = "raw"  # the unread urllib3 response; never raises for a status


@dataclass(frozen=True)
class Endpoint(Generic[P, T]):
    """One API operation, described as data; name and success type come from ``signature``."""

    method: str
    path: str
    signature: Callable[P, T]
    path_params: Mapping[str, str] = field(default_factory=dict)
    query_params: Mapping[str, str] = field(default_factory=dict)
    body: Optional[str] = None
    auth: tuple[str, ...] = ("BasicAuth", "ApiKeyAuth")

    @cached_property
    def name(self) -> str:
        """The operation's name: the signature function's, without its leading ``_``."""
        return self.signature.__name__.lstrip("_")

    def validator(self, qualname: str) -> Callable[..., dict[str, Any]]:
        """``validate_call`` over the signature: checks and coerces arguments, returns them.

        Built for one method, under its qualified name, so a ``ValidationError``
        reads as the generated one did ("1 validation error for
        UploadsApi.get_upload_by_id", positions counted from ``self``). The
        signature function itself is never called: what pydantic calls is a
        stand-in with the same signature that hands back the arguments it got.
        """
        parameters = inspect.signature(self.signature).parameters
        names = tuple(parameters)
        defaults = {
            name: p.default
            for name, p in parameters.items()
            if p.default is not inspect.Parameter.empty
        }

        @functools.wraps(self.signature)
        def arguments(*args: object, **kwargs: object) -> dict[str, Any]:
            # pydantic has checked the arguments against the signature already, so
            # binding is only naming them (Signature.bind cost a tenth of a call)
            return {**defaults, **dict(zip(names, args)), **kwargs}

        arguments.__name__ = qualname.rpartition(".")[2]
        arguments.__qualname__ = qualname
        return validate_call(arguments)

    @cached_property
    def public_signature(self) -> inspect.Signature:
        """The method's signature, ``self`` first (unannotated, as in a written-out
        method); annotations are objects, not strings."""
        signature = inspect.signature(self.signature)
        self_param, *params = signature.parameters.values()
        self_param = self_param.replace(annotation=inspect.Parameter.empty)
        return signature.replace(parameters=[self_param, *params])

    @cached_property
    def parameters(self) -> list[inspect.Parameter]:
        """The operation's parameters (``self`` left out)."""
        return list(self.public_signature.parameters.values())[1:]

    @cached_property
    def success(self) -> Any:
        """The success type: the signature's return annotation."""
        return self.public_signature.return_annotation

    @cached_property
    def response(self) -> Any:
        """What a 2xx body decodes to: the success type, or for a bulk
        operation (success ``Union[X, List[X]]``) the single result ``X``."""
        bulk = _bulk_results(self.success)
        return self.success if bulk is None else bulk[0]

    @cached_property
    def bulk_response(self) -> Any:
        """What a 2xx body decodes to when a list was sent (``List[X]``), or None
        for an operation without bulk."""
        bulk = _bulk_results(self.success)
        return None if bulk is None else bulk[1]

    def serialize(self, client: ApiClient, args: Mapping[str, Any]) -> RequestSerialized:
        """Turn validated arguments into ``(method, url, headers, body, post_params)``."""
        # values as text, as they are sent (HTTPHeaderDict joins repeated names' values)
        extra = args["_headers"]
        headers: MutableMapping[str, str]
        if extra:
            headers = HTTPHeaderDict({name: str(value) for name, value in extra.items()})
            if "Accept" not in headers:
                headers["Accept"] = JSON
        else:  # the usual call: no case-insensitive merging to do, so a plain dict
            headers = {"Accept": JSON}
        body = args[self.body] if self.body else None
        if self.body:
            _check_bulk(self.body, body)
            # _content_type wins, then a Content-Type the caller put in _headers.
            from_headers = headers.pop("Content-Type", None)
            headers["Content-Type"] = choose_content_type(
                args["_content_type"], from_headers, default=JSON
            )
        return client.param_serialize(
            method=self.method,
            resource_path=self.path,
            path_params={wire: args[name] for name, wire in self.path_params.items()},
            query_params=[
                (wire, args[name])
                for name, wire in self.query_params.items()
                if args[name] is not None
            ],
            header_params=headers,
            body=body,
            post_params=[],
            files={},
            auth_settings=self.auth,
            collection_formats={},
            _host=None,
            _request_auth=args["_request_auth"],
        )

    def response_types(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Status → decoder for this call: a list body gets the list (bulk) response."""
        if self.body and isinstance(args[self.body], list) and self.bulk_response is not None:
            return {"2XX": self._bulk_adapter}
        return {"2XX": self._adapter}

    @cached_property
    def _adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.response)

    @cached_property
    def _bulk_adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.bulk_response)


def _bulk_results(success: object) -> Optional[tuple[object, object]]:
    """``(X, List[X])`` when ``success`` is ``Union[X, List[X]]`` (a bulk operation), else None."""
    if get_origin(success) is not Union:
        return None
    members = get_args(success)
    if len(members) != 2 or get_origin(members[1]) is not list:
        return None
    one, many = members
    return (one, many) if get_args(many) == (one,) else None


def _check_bulk(param: str, body: Any) -> None:
    if isinstance(body, list) and not 1 <= len(body) <= MAX_BULK_ITEMS:
        raise ApiValueError(
            f"{param} takes one item or a list of 1 to {MAX_BULK_ITEMS}, got {len(body)} items"
        )


class _HasClient:
    api_client: ApiClient


def invoke(
    api: _HasClient, endpoint: Endpoint[..., Any], args: Mapping[str, Any], mode: Mode
) -> Any:
    """The single request path behind every operation method."""
    client = api.api_client
    serialized = endpoint.serialize(client, args)
    response = client.call_api(*serialized, _request_timeout=args["_request_timeout"])
    if mode is Mode.RAW:
        return response.response
    response.read()
    types = endpoint.response_types(args)
    data_of = getattr(client, "_response_data", None) if mode is Mode.DATA else None
    if data_of is not None:  # the body alone; a subclass's response_deserialize still runs
        return data_of(response, types)
    result = client.response_deserialize(response, types)
    return result if mode is Mode.INFO else result.data


_SUFFIX = {Mode.DATA: "", Mode.INFO: "_with_http_info", Mode.RAW: "_without_preload_content"}
_RETURNS = {
    Mode.DATA: "Returns the decoded response body.",
    Mode.INFO: "Returns an ``ApiResponse`` with status, headers, decoded data and raw bytes.",
    Mode.RAW: (
        "Returns the unread urllib3 response (no status check, no decoding); "
        "read or release it to return the connection to the pool."
    ),
}


@overload
def operation(endpoint: Endpoint[P, T], mode: Literal[Mode.DATA]) -> Callable[P, T]: ...
@overload
def operation(
    endpoint: Endpoint[P, T], mode: Literal[Mode.INFO]
) -> Callable[P, ApiResponse[T]]: ...
@overload
def operation(
    endpoint: Endpoint[P, T], mode: Literal[Mode.RAW]
) -> Callable[P, RESTResponseType]: ...
def operation(endpoint: Endpoint[P, Any], mode: Mode) -> Callable[..., Any]:
    """A method for ``endpoint`` in ``mode``, with the endpoint's exact public signature."""
    validators: list[Callable[..., dict[str, Any]]] = []

    def method(self: _HasClient, *args: Any, **kwargs: Any) -> Any:
        # The validator is built on the first call of the method, not at import.
        if not validators:
            validators.append(endpoint.validator(method.__qualname__))
        return invoke(self, endpoint, validators[0](self, *args, **kwargs), mode)

    def raw_function(self: _HasClient, *args: Any, **kwargs: Any) -> Any:
        return invoke(self, endpoint, _bind(endpoint, args, kwargs), mode)

    success = endpoint.success
    return_type = {
        Mode.DATA: success,
        Mode.INFO: ApiResponse[success],  # type: ignore[valid-type]
        Mode.RAW: RESTResponseType,
    }[mode]
    _present(method, endpoint, mode, return_type)
    method.raw_function = raw_function  # type: ignore[attr-defined]
    return method


def api_class(cls: C) -> C:
    """Class decorator: name the operation methods of ``cls`` as methods of ``cls``.

    ``UploadsApi.get_upload_by_id.__qualname__`` is then
    ``"UploadsApi.get_upload_by_id"`` and its ``__module__`` the class's module,
    as for methods written out by hand (the generated client's).
    """
    for name, value in vars(cls).items():
        if getattr(value, "_lilt_endpoint", None) is not None:
            value.__qualname__ = f"{cls.__qualname__}.{name}"
            value.__module__ = cls.__module__
    return cls


def serializer(endpoint: Endpoint[..., Any]) -> Callable[..., RequestSerialized]:
    """The generated ``_<op>_serialize`` helper: every parameter required and, as
    generated, unannotated; no timeout."""
    params = [
        p.replace(default=inspect.Parameter.empty, annotation=inspect.Parameter.empty)
        for p in endpoint.parameters
        if p.name != "_request_timeout"
    ]

    def serialize(self: _HasClient, *args: Any, **kwargs: Any) -> RequestSerialized:
        bound = _bind(endpoint, args, kwargs, [p.name for p in params])
        bound["_request_timeout"] = None
        return endpoint.serialize(self.api_client, bound)

    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    serialize.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [self_param, *params], return_annotation=RequestSerialized
    )
    serialize.__annotations__ = {"return": RequestSerialized}
    serialize.__name__ = serialize.__qualname__ = f"_{endpoint.name}_serialize"
    serialize._lilt_endpoint = endpoint  # type: ignore[attr-defined]
    return serialize


def _bind(
    endpoint: Endpoint[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    required: Optional[list[str]] = None,
) -> dict[str, Any]:
    """Bind arguments to the endpoint's parameters without validating them.

    ``required`` lists the parameters that must be given (the serialize helpers
    take every parameter); otherwise the declared defaults fill in.
    """
    if required is None:
        names = [p.name for p in endpoint.parameters]
        defaults = {
            p.name: p.default
            for p in endpoint.parameters
            if p.default is not inspect.Parameter.empty
        }
    else:
        names, defaults = required, {}
    if len(args) > len(names):
        raise TypeError(f"{endpoint.name}() takes {len(names)} arguments, got {len(args)}")
    bound = {**defaults, **dict(zip(names, args)), **kwargs}
    missing = [n for n in names if n not in bound]
    unknown = [k for k in kwargs if k not in names]
    if missing or unknown:
        raise TypeError(
            f"{endpoint.name}(): missing {missing or 'nothing'}, unexpected {unknown or 'nothing'}"
        )
    return bound


def _present(
    method: Callable[..., Any], endpoint: Endpoint[..., Any], mode: Mode, return_type: Any
) -> None:
    """Give ``method`` the name, signature, annotations and docstring a reader,
    ``inspect`` and ``typing.get_type_hints`` expect."""
    method.__signature__ = endpoint.public_signature.replace(  # type: ignore[attr-defined]
        return_annotation=return_type
    )
    method.__name__ = method.__qualname__ = endpoint.name + _SUFFIX[mode]
    doc = inspect.getdoc(endpoint.signature) or ""
    method.__doc__ = f"{doc}\n\n{_RETURNS[mode]}"
    annotations = {k: v for k, v in endpoint.signature.__annotations__.items() if k != "self"}
    method.__annotations__ = {**annotations, "return": return_type}
    method._lilt_endpoint = endpoint  # type: ignore[attr-defined]
