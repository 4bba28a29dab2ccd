"""Behaviour shared by every model, written once.

The generated client repeated ``to_dict``/``from_dict``/``to_json``/...
in each of its model modules; here each model module holds only its fields.
Semantics follow the generated client (contract section 7), with one fix:
``to_json`` works for every model, datetimes included (ISO 8601).
"""

from __future__ import annotations

import json
import pprint
from typing import Any, ClassVar, Optional

from pydantic import BaseModel, ConfigDict
from typing_extensions import Self


class LiltModel(BaseModel):
    """Base class of the upload models: pydantic v2 with the generated client's config."""

    model_config = ConfigDict(
        populate_by_name=True,
        validate_assignment=True,
        protected_namespaces=(),
    )

    _wire_names: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._wire_names = frozenset(field.alias or name for name, field in cls.model_fields.items())

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
    def from_dict(cls, obj: Optional[Any]) -> Optional[Self]:
        """Create an instance of the model from a dict, reading wire (alias) keys only."""
        if obj is None:
            return None
        if not isinstance(obj, dict):
            return cls.model_validate(obj)
        return cls.model_validate({k: v for k, v in obj.items() if k in cls._wire_names})
