"""Behaviour shared by every model, written once.

The generated client repeated ``to_dict``/``from_dict``/``to_json``/...
in each of its model modules; here each model module holds only its fields.
Semantics follow the generated client (contract section 7), with one fix:
``to_json`` works for every model, datetimes included (ISO 8601).

Each model module keeps the generated metadata that tools read: field
descriptions (so ``model_json_schema()`` is the generated one), the class
docstring and the name-mangled ``__properties`` list of wire names.
"""

from __future__ import annotations

import json
import pprint
from typing import Any, Callable, ClassVar, Dict, ForwardRef, Optional

from pydantic import BaseModel, ConfigDict
from typing_extensions import Self, get_args, get_origin

#: each model class's field names, and those that may hold models (what
#: mark_fields_set walks): kept here, since pydantic's model_fields is a computed
#: property that cost more than the rest of a decode, and annotations on the class
#: would be evaluated again for every subclass
_FIELDS: dict[type[Any], tuple[frozenset[str], tuple[str, ...]]] = {}


class LiltModel(BaseModel):
    """Base class of the upload models: pydantic v2 with the generated client's config."""

    model_config = ConfigDict(
        populate_by_name=True,
        validate_assignment=True,
        protected_namespaces=(),
    )

    # (wire name, how from_dict reads its value): built once per class
    _readers: ClassVar[tuple[tuple[str, Callable[[Any], Any]], ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        fields = cls.model_fields
        cls._readers = tuple(
            (field.alias or name, _reader(field.annotation)) for name, field in fields.items()
        )
        _FIELDS[cls] = (
            frozenset(fields),
            tuple(name for name, field in fields.items() if _may_hold_models(field.annotation)),
        )

    def to_str(self) -> str:
        """Returns the string representation of the model using alias"""
        return pprint.pformat(self.model_dump(by_alias=True))

    def to_json(self) -> str:
        """Returns the JSON representation of the model using alias"""
        return json.dumps(self.model_dump(mode="json", by_alias=True, exclude_none=True))

    @classmethod
    def from_json(cls, json_str: str) -> Optional[Self]:
        """Create an instance of the model from a JSON string"""
        try:
            parsed = json.loads(json_str)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        return cls.from_dict(parsed)

    def to_dict(self) -> dict[str, Any]:
        """Return the dictionary representation of the model using alias.

        Fields that are None are left out, even when set explicitly; nested
        models become dicts; datetimes stay datetime objects.
        """
        return self.model_dump(by_alias=True, exclude_none=True)

    @classmethod
    def from_dict(cls, obj: Optional[Dict[str, Any]]) -> Optional[Self]:
        """Create an instance of the model from a dict, reading wire (alias) keys only.

        As generated: every field is passed (a missing key as None), so every
        field counts as set (``model_fields_set``, ``exclude_unset``), and
        nested models are read by their own ``from_dict``.
        """
        value: Any = obj
        if value is None:
            return None
        if not isinstance(value, dict):
            return cls.model_validate(value)
        return cls.model_validate({wire: read(value.get(wire)) for wire, read in cls._readers})


def _reader(annotation: Any) -> Callable[[Any], Any]:
    """How ``from_dict`` reads a field: nested models (alone or in a list) by their from_dict.

    A value of the wrong shape (``"parts": false``) is passed on as it is, so
    pydantic rejects it with a ValidationError (the generated code iterated
    it and raised TypeError).
    """
    args = get_args(annotation)
    if get_origin(annotation) is list and args and _is_model(args[0]):
        item = args[0].from_dict
        return lambda v: [item(x) for x in v] if isinstance(v, list) else v
    nested = next((a for a in (annotation, *args) if _is_model(a)), None)
    if nested is not None:
        return lambda v: None if v is None else nested.from_dict(v)
    return _same


def _same(value: Any) -> Any:
    return value


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, LiltModel)


def _may_hold_models(annotation: Any) -> bool:
    """Whether a field of this type can hold a model (in a list, an Optional ...);
    a type not resolved to a class counts as one that can."""
    if isinstance(annotation, (str, ForwardRef)):
        return True
    return _is_model(annotation) or any(_may_hold_models(a) for a in get_args(annotation))


def mark_fields_set(value: Any) -> Any:
    """Mark every field of every model in ``value`` as set, as ``from_dict`` would.

    Responses are decoded in one pydantic pass from the JSON bytes; this makes
    the result indistinguishable from the generated client's ``from_dict``
    output, where ``model_dump(exclude_unset=True)`` shows every field.
    """
    known = _FIELDS.get(type(value))
    if known is not None:
        names, nested = known
        object.__setattr__(value, "__pydantic_fields_set__", set(names))
        for name in nested:
            mark_fields_set(getattr(value, name))
    elif isinstance(value, list):
        for item in value:
            mark_fields_set(item)
    return value
