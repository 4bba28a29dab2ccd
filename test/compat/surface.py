"""Describe the public surface of an installed ``lilt`` package as flat, comparable facts.

The same code describes the generated 3.1.0 client (to take the snapshot in
``generated_3_1_0.json``, see ``snapshot_generated.py``) and this package (in
``test_generated_diff.py``), so the two can be diffed key by key. Every fact
is one string, keyed by where it lives::

    module lilt.rest name ApiException          -> "class lilt.exceptions.ApiException"
    class lilt.api.uploads_api.UploadsApi member get_upload_by_id -> "function (self, upload_id: ...) -> ..."
    model InitiateUploadBody field filename    -> "alias=None required=True ... description='...'"

Annotations are written out by :func:`annotation` in one canonical spelling
(``List``/``list`` alike, ``Optional[X]`` for ``Union[X, None]``, pydantic's
``Field`` by its set attributes), so the facts do not depend on how the
source spelled a type or on which Python runs the comparison. Only the
uploads subset is described in depth; the generated package's other APIs and
models are only listed (``NOT_SHIPPED``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import types
import typing
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any, Callable, Union

import typing_extensions

UPLOAD_MODELS = {
    "cancel_multipart_upload200_response": "CancelMultipartUpload200Response",
    "complete_multipart_upload200_response": "CompleteMultipartUpload200Response",
    "complete_multipart_upload_body": "CompleteMultipartUploadBody",
    "complete_multipart_upload_body_parts_inner": "CompleteMultipartUploadBodyPartsInner",
    "error": "Error",
    "get_pending_uploads200_response_inner": "GetPendingUploads200ResponseInner",
    "get_s3_upload_params200_response": "GetS3UploadParams200Response",
    "initiate_multipart_upload200_response": "InitiateMultipartUpload200Response",
    "initiate_multipart_upload_body": "InitiateMultipartUploadBody",
    "initiate_multipart_upload_body_metadata": "InitiateMultipartUploadBodyMetadata",
    "initiate_upload_body": "InitiateUploadBody",
    "initiate_upload_body_metadata": "InitiateUploadBodyMetadata",
    "sign_upload_part200_response": "SignUploadPart200Response",
}
CORE_MODULES = [
    "lilt",
    "lilt.api",
    "lilt.api.uploads_api",
    "lilt.api_client",
    "lilt.api_response",
    "lilt.configuration",
    "lilt.exceptions",
    "lilt.models",
    *(f"lilt.models.{module}" for module in UPLOAD_MODELS),
    "lilt.rest",
]
#: what the uploads surface consists of in the three modules that also list
#: the generated package's other APIs and models
UPLOADS_SUBSET = {
    "lilt": {
        "__version__",
        "UploadsApi",
        "ApiClient",
        "ApiResponse",
        "Configuration",
        "OpenApiException",
        "ApiTypeError",
        "ApiValueError",
        "ApiKeyError",
        "ApiAttributeError",
        "ApiException",
        *UPLOAD_MODELS.values(),
        "api",
        "api_client",
        "api_response",
        "configuration",
        "exceptions",
        "models",
        "rest",
    },
    "lilt.api": {"UploadsApi", "uploads_api"},
    "lilt.models": {*UPLOAD_MODELS.values(), *UPLOAD_MODELS},
}
CLASSES = [
    "lilt.api.uploads_api.UploadsApi",
    "lilt.api_client.ApiClient",
    "lilt.api_response.ApiResponse",
    "lilt.configuration.Configuration",
    "lilt.rest.RESTClientObject",
    "lilt.rest.RESTResponse",
    *(
        f"lilt.exceptions.{name}"
        for name in (
            "OpenApiException",
            "ApiTypeError",
            "ApiValueError",
            "ApiAttributeError",
            "ApiKeyError",
            "ApiException",
            "BadRequestException",
            "UnauthorizedException",
            "ForbiddenException",
            "NotFoundException",
            "ConflictException",
            "UnprocessableEntityException",
            "ServiceException",
        )
    ),
    *(f"lilt.models.{module}.{name}" for module, name in UPLOAD_MODELS.items()),
]
#: private members that are part of the contract (section 2.1, 3)
PRIVATE_MEMBERS = {"__init__", "__enter__", "__exit__", "_apply_auth_params", "_pool", "_default"}
#: partial wire dicts for ``from_dict``: what it leaves set, dumps and rejects
FROM_DICT_SAMPLES: dict[str, dict[str, Any]] = {
    "CancelMultipartUpload200Response": {"success": True},
    "CompleteMultipartUpload200Response": {"location": "s3://b/k"},
    "CompleteMultipartUploadBody": {"parts": [{"ETag": "e1", "PartNumber": 1}]},
    "CompleteMultipartUploadBodyPartsInner": {"ETag": "e1", "PartNumber": 2},
    "Error": {},
    "GetPendingUploads200ResponseInner": {"id": 5, "created_at": "2026-01-02T03:04:05"},
    "GetS3UploadParams200Response": {"url": "https://s/u", "method": "PUT"},
    "InitiateMultipartUpload200Response": {"uploadId": "u1"},
    "InitiateMultipartUploadBody": {
        "filename": "f.zip",
        "type": "application/zip",
        "metadata": {"size": 10},
    },
    "InitiateMultipartUploadBodyMetadata": {"labels": ["a"]},
    "InitiateUploadBody": {"filename": "f.txt", "type": "text/plain", "metadata": {}},
    "InitiateUploadBodyMetadata": {"size": 3, "upload_id": "ignored"},
    "SignUploadPart200Response": {"url": "https://s/p"},
}

Facts = dict[str, str]


def describe(leave_out: Mapping[str, Collection[str]] = MappingProxyType({})) -> Facts:
    """Every fact about the ``lilt`` importable in this process (imports all of it).

    ``leave_out`` names, per module, what not to describe: for the generated
    package, its other APIs and models (:func:`not_shipped`).
    """
    facts: Facts = {}
    for module_name in CORE_MODULES:
        facts.update(_module_facts(module_name, set(leave_out.get(module_name, ()))))
    for path in CLASSES:
        module_name, _, name = path.rpartition(".")
        cls = getattr(importlib.import_module(module_name), name, None)
        if cls is None:
            continue  # the module facts already say the name is missing
        facts.update(_class_facts(path, cls))
        if hasattr(cls, "model_fields") and module_name.startswith("lilt.models."):
            facts.update(_model_facts(cls))
    facts.update(_reachability_facts())
    return facts


def not_shipped() -> dict[str, list[str]]:
    """Names of the generated package's other APIs and models (not described in depth)."""
    out = {}
    for module_name, subset in UPLOADS_SUBSET.items():
        module = importlib.import_module(module_name)
        names = _public_names(module) | set(getattr(module, "__all__", ()))
        out[module_name] = sorted(names - subset)
    return out


# -- modules ------------------------------------------------------------------


def _public_names(module: types.ModuleType) -> set[str]:
    # (pytest's assertion rewriting adds non-identifier names such as "@py_builtins")
    return {n for n in dir(module) if not n.startswith("_") and n.isidentifier()} | (
        {"__version__"} if hasattr(module, "__version__") else set()
    )


def _module_facts(module_name: str, leave_out: set[str]) -> Facts:
    module = importlib.import_module(module_name)
    prefix = f"module {module_name}"
    facts: Facts = {}
    listed = getattr(module, "__all__", None)
    if listed is None:
        facts[f"{prefix} __all__"] = "<absent>"
    else:
        facts[f"{prefix} __all__"] = " ".join(sorted(n for n in listed if n not in leave_out))
    for name in sorted(_public_names(module) - leave_out):
        facts[f"{prefix} name {name}"] = _kind(getattr(module, name))
    return facts


def _reachability_facts() -> Facts:
    """Which submodules a bare ``import lilt`` makes reachable as attributes."""
    facts: Facts = {}
    import lilt

    for name in (
        "api",
        "api_client",
        "api_response",
        "configuration",
        "exceptions",
        "models",
        "rest",
    ):
        value = getattr(lilt, name, None)
        facts[f"reachable lilt.{name}"] = _kind(value) if value is not None else "<missing>"
    models = importlib.import_module("lilt.models")
    for module in UPLOAD_MODELS:
        value = getattr(models, module, None)
        facts[f"reachable lilt.models.{module}"] = (
            _kind(value) if value is not None else "<missing>"
        )
    api = importlib.import_module("lilt.api")
    value = getattr(api, "uploads_api", None)
    facts["reachable lilt.api.uploads_api"] = _kind(value) if value is not None else "<missing>"
    return facts


def _kind(value: Any) -> str:
    """What a module attribute is, in words that do not depend on the Python version.

    ``lilt``'s own classes and functions by qualified name (so a re-export is
    checked to be the same object); typing constructs and other libraries'
    objects only as present, since their spelling changes between Pythons.
    """
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    if isinstance(value, (set, frozenset)):
        return f"value {type(value).__name__} {sorted(value)!r}"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return f"value {type(value).__name__} {value!r}"
    if isinstance(value, typing.TypeVar):
        return f"typevar {value.__name__}"
    if _is_alias(value) or typing_extensions.get_args(value):
        return f"alias {annotation(value)}"
    origin = getattr(value, "__module__", None) or ""
    if origin.startswith(("typing", "_collections_abc", "collections.abc", "abc")):
        return "typing construct"
    if isinstance(value, type):
        return f"class {_qualified(value)}"
    if inspect.isfunction(value) or inspect.isbuiltin(value):
        return f"function {origin}.{value.__qualname__}"
    if isinstance(value, tuple):
        return f"value tuple {value!r}"
    return f"value {type(value).__name__}"


def _is_alias(value: Any) -> bool:
    return (
        isinstance(value, type)
        and getattr(value, "__pydantic_generic_metadata__", {}).get("origin") is not None
    )


def _qualified(cls: Any) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# -- classes --------------------------------------------------------------------


def _class_facts(path: str, cls: type) -> Facts:
    prefix = f"class {path}"
    facts: Facts = {f"{prefix} mro": " ".join(_qualified(c) for c in cls.__mro__)}
    base_model = _pydantic_base_model()
    mangled = f"_{cls.__name__}__properties"
    for name in sorted(dir(cls)):
        private = name.startswith("_") and not (
            name in PRIVATE_MEMBERS or name.endswith("_serialize") or name == mangled
        )
        if private:
            continue
        raw = inspect.getattr_static(cls, name)
        if base_model is not None and _inherited_from(cls, name, base_model):
            continue
        if _defined_by_builtins(cls, name):  # Exception.add_note, AttributeError.obj, ...
            continue
        if name == "__init__" and raw is object.__init__:
            continue
        facts[f"{prefix} member {name}"] = _member(cls, name, raw)
    return facts


def _pydantic_base_model() -> Any:
    try:
        from pydantic import BaseModel
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return None
    return BaseModel


def _inherited_from(cls: type, name: str, base: type) -> bool:
    """True when ``name`` comes unchanged from ``base`` (pydantic's own API)."""
    if cls is base or not issubclass(cls, base) or not hasattr(base, name):
        return False
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass is base or klass.__module__.startswith(("pydantic.", "typing"))
    return True


def _defined_by_builtins(cls: type, name: str) -> bool:
    """True for members that come from a built-in class (they vary with the Python)."""
    owner = next((klass for klass in cls.__mro__ if name in vars(klass)), None)
    return owner is not None and owner.__module__ == "builtins"


def _member(cls: type, name: str, raw: Any) -> str:
    if isinstance(raw, property):
        return "property"
    if isinstance(raw, classmethod):
        return "classmethod " + _signature(raw.__func__, bound=True)
    if isinstance(raw, staticmethod):
        return "staticmethod " + _signature(raw.__func__)
    value = getattr(cls, name)
    if inspect.isfunction(raw) or inspect.isfunction(inspect.unwrap(raw)):
        return "function " + _signature(raw)
    if callable(raw) and not isinstance(raw, type):
        return f"callable {type(raw).__name__}"
    return "attribute " + _kind(value)


def _signature(func: Callable[..., Any], bound: bool = False) -> str:
    """The signature as JSON: ``{"params": [[name, annotation, default]], "return": ...}``.

    Names carry their kind (``*name`` keyword-only or var-positional, ``**``
    var-keyword, ``/name`` positional-only); an absent annotation or default
    is null. Annotations are resolved with ``typing.get_type_hints``; when that
    fails, the failure is what is written.
    """
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        return json.dumps({"error": str(exc)})
    hints = _hints(func)
    params = list(signature.parameters.values())[1 if bound else 0 :]
    shown = []
    for p in params:
        ann = None
        if p.annotation is not inspect.Parameter.empty:
            ann = _annotation_of(hints, p.name, p.annotation)
        default = None if p.default is inspect.Parameter.empty else repr(p.default)
        shown.append([_param_prefix(p) + p.name, ann, default])
    returns = None
    if signature.return_annotation is not inspect.Signature.empty:
        returns = _annotation_of(hints, "return", signature.return_annotation)
    return json.dumps({"params": shown, "return": returns})


def _param_prefix(p: inspect.Parameter) -> str:
    return {
        inspect.Parameter.POSITIONAL_ONLY: "/",
        inspect.Parameter.KEYWORD_ONLY: "*",
        inspect.Parameter.VAR_POSITIONAL: "*",
        inspect.Parameter.VAR_KEYWORD: "**",
    }.get(p.kind, "")


def _hints(func: Callable[..., Any]) -> dict[str, Any] | str:
    """The resolved annotations, or why ``get_type_hints`` cannot resolve them."""
    target = inspect.unwrap(func)
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:  # the failure itself is the fact
        pass
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # the failure itself is the fact
        return f"<get_type_hints fails: {type(exc).__name__}>"


def _annotation_of(hints: dict[str, Any] | str, name: str, raw: Any) -> str:
    if isinstance(hints, str):
        return hints
    return annotation(hints.get(name, raw))


# -- annotations ------------------------------------------------------------------

_NONE = type(None)
_GENERIC_NAMES = {list: "List", dict: "Dict", tuple: "Tuple", set: "Set", frozenset: "FrozenSet"}


def annotation(t: Any) -> str:
    """One canonical spelling of a type annotation (see the module docstring)."""
    if isinstance(t, str):
        return f"<unresolved {t!r}>"
    if t is Any:
        return "Any"
    if t is _NONE or t is None:
        return "None"
    if t is typing_extensions.Self:
        return "Self"
    if isinstance(t, typing.TypeVar):
        return f"~{t.__name__}"
    metadata = getattr(t, "__pydantic_generic_metadata__", None)
    if metadata and metadata.get("origin") is not None:
        args = ", ".join(annotation(a) for a in metadata["args"])
        return f"{_qualified(metadata['origin'])}[{args}]"
    origin = typing_extensions.get_origin(t)
    args = typing_extensions.get_args(t)
    if origin is typing_extensions.Annotated:
        base, *extras = args
        return f"Annotated[{annotation(base)}, {', '.join(_metadata(m) for m in extras)}]"
    if origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        if Any in args:
            return "Any"
        if len(args) == 2 and _NONE in args:
            return f"Optional[{annotation(next(a for a in args if a is not _NONE))}]"
        return f"Union[{', '.join(annotation(a) for a in args)}]"
    if origin is not None:
        name = _GENERIC_NAMES.get(origin) or getattr(origin, "__qualname__", repr(origin))
        if origin is typing.Literal:
            return f"Literal[{', '.join(repr(a) for a in args)}]"
        if name == "ClassVar" or origin is typing.ClassVar:
            name = "ClassVar"
        return f"{name}[{', '.join(annotation(a) for a in args)}]" if args else name
    if isinstance(t, type):
        return _qualified(t)
    return repr(t)


def _metadata(m: Any) -> str:
    """pydantic's FieldInfo by the attributes that were set; other metadata by repr."""
    cls_name = type(m).__name__
    if cls_name == "FieldInfo":
        parts = []
        for attr in ("alias", "description", "title", "examples", "json_schema_extra"):
            value = getattr(m, attr, None)
            if value is not None:
                parts.append(f"{attr}={value!r}")
        default = getattr(m, "default", None)
        if default is not None and type(default).__name__ != "PydanticUndefinedType":
            parts.append(f"default={default!r}")
        parts.extend(_metadata(x) for x in getattr(m, "metadata", []))
        return f"Field({', '.join(parts)})"
    return repr(m)


# -- models -----------------------------------------------------------------------


#: the model settings compared (newer pydantic versions add derived keys of their own)
_CONFIG_KEYS = (
    "populate_by_name",
    "validate_assignment",
    "protected_namespaces",
    "extra",
    "strict",
    "frozen",
    "arbitrary_types_allowed",
    "use_enum_values",
)


def _model_facts(cls: Any) -> Facts:
    prefix = f"model {cls.__name__}"
    facts: Facts = {
        # cleaned: Python 3.13 strips docstring indentation when it compiles
        f"{prefix} doc": repr(inspect.cleandoc(cls.__doc__ or "")),
        f"{prefix} config": repr({key: cls.model_config.get(key) for key in _CONFIG_KEYS}),
        f"{prefix} properties": repr(getattr(cls, f"_{cls.__name__}__properties", "<absent>")),
        f"{prefix} schema": json.dumps(cls.model_json_schema(), sort_keys=True),
    }
    for name, info in cls.model_fields.items():
        default = info.default
        shown_default = (
            "<required>" if type(default).__name__ == "PydanticUndefinedType" else repr(default)
        )
        facts[f"{prefix} field {name}"] = (
            f"alias={info.alias!r} required={info.is_required()} default={shown_default} "
            f"annotation={annotation(info.annotation)} "
            f"metadata=[{', '.join(_metadata(m) for m in info.metadata)}] "
            f"description={info.description!r}"
        )
    sample = FROM_DICT_SAMPLES[cls.__name__]
    facts.update(_from_dict_facts(prefix, cls, sample))
    return facts


def _from_dict_facts(prefix: str, cls: Any, sample: Mapping[str, Any]) -> Facts:
    facts: Facts = {}
    made = cls.from_dict(dict(sample))
    facts[f"{prefix} from_dict fields_set"] = repr(sorted(made.model_fields_set))
    facts[f"{prefix} from_dict dump_unset"] = repr(made.model_dump(exclude_unset=True))
    facts[f"{prefix} from_dict to_dict"] = repr(made.to_dict())
    facts[f"{prefix} from_dict to_str"] = made.to_str()
    facts[f"{prefix} from_dict None"] = repr(cls.from_dict(None))
    facts[f"{prefix} from_dict str"] = _outcome(lambda: cls.from_dict("x"))
    facts[f"{prefix} from_dict empty"] = _outcome(lambda: cls.from_dict({}))
    return facts


def _outcome(call: Callable[[], Any]) -> str:
    try:
        value = call()
    except Exception as exc:  # which error, and for which fields, is the fact
        errors = getattr(exc, "errors", None)
        if callable(errors):
            shown = [(e["type"], e["loc"]) for e in errors()]
            return f"raises {type(exc).__name__} {getattr(exc, 'title', '')} {shown}"
        return f"raises {type(exc).__name__}"
    fields_set = sorted(getattr(value, "model_fields_set", ()))
    return f"returns {type(value).__name__} set={fields_set}"
