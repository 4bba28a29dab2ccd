"""Model behaviour (written once in the base class), with property-based round trips."""

from __future__ import annotations

import datetime
import inspect
import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lilt
from lilt import models
from lilt.models._base import LiltModel

ALL_MODELS = [getattr(models, name) for name in models.__all__]

text = st.text(max_size=20)
nonneg = st.integers(min_value=0, max_value=2**53)
metadata = st.builds(
    dict,
    size=st.none() | nonneg,
    category=st.none() | text,
    uuid=st.none() | text,
    labels=st.none() | st.lists(text, max_size=3),
)
parts = st.lists(
    st.builds(dict, ETag=text, PartNumber=st.integers(min_value=1, max_value=10_000)), max_size=5
)
moments = st.datetimes(
    min_value=datetime.datetime(1971, 1, 1),
    max_value=datetime.datetime(2100, 1, 1),
    timezones=st.just(datetime.timezone.utc),
)
WIRE: dict[type[LiltModel], Any] = {
    models.CancelMultipartUpload200Response: st.fixed_dictionaries(
        {}, optional={"success": st.booleans(), "message": text}
    ),
    models.CompleteMultipartUpload200Response: st.fixed_dictionaries(
        {}, optional={"success": st.booleans(), "location": text}
    ),
    models.CompleteMultipartUploadBody: st.builds(dict, parts=parts),
    models.CompleteMultipartUploadBodyPartsInner: st.builds(
        dict, ETag=text, PartNumber=st.integers(1, 10_000)
    ),
    models.Error: st.fixed_dictionaries({}, optional={"message": text}),
    models.GetPendingUploads200ResponseInner: st.fixed_dictionaries(
        {}, optional={"id": st.integers(), "filename": text, "status": text, "created_at": moments}
    ),
    models.GetS3UploadParams200Response: st.fixed_dictionaries(
        {}, optional={"url": text, "key": text, "method": text}
    ),
    models.InitiateMultipartUpload200Response: st.fixed_dictionaries(
        {}, optional={"uploadId": text, "key": text}
    ),
    models.InitiateMultipartUploadBody: st.fixed_dictionaries(
        {"filename": text, "type": text}, optional={"metadata": metadata}
    ),
    models.InitiateMultipartUploadBodyMetadata: metadata,
    models.InitiateUploadBody: st.fixed_dictionaries(
        {"filename": text, "type": text}, optional={"metadata": metadata}
    ),
    models.InitiateUploadBodyMetadata: metadata,
    models.SignUploadPart200Response: st.fixed_dictionaries(
        {}, optional={"url": text, "method": text}
    ),
}


def test_every_model_has_a_strategy() -> None:
    assert set(WIRE) == set(ALL_MODELS)
    assert len(ALL_MODELS) == 13


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_json_and_dict_round_trips(model: type[LiltModel], data: st.DataObject) -> None:
    wire = data.draw(WIRE[model])
    instance = model.from_dict(wire)
    assert instance is not None
    again = model.from_json(instance.to_json())
    assert again == instance
    assert model.from_dict(instance.to_dict()) == instance
    assert all(v is not None for v in instance.to_dict().values())


def test_to_json_handles_datetimes() -> None:
    """Defect 7: the generated to_json raised TypeError when created_at was set."""
    upload = models.GetPendingUploads200ResponseInner(
        id=1, created_at=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    )
    assert json.loads(upload.to_json()) == {"id": 1, "created_at": "2026-01-02T03:04:05Z"}
    assert isinstance(upload.to_dict()["created_at"], datetime.datetime)


def test_to_dict_drops_none_and_to_str_keeps_it() -> None:
    body = models.InitiateUploadBody(
        filename="a", type="b", metadata=models.InitiateUploadBodyMetadata()
    )
    assert body.to_dict() == {"filename": "a", "type": "b", "metadata": {}}
    assert "'category': None" in body.to_str()


def test_from_dict_reads_wire_names_only() -> None:
    part = models.CompleteMultipartUploadBodyPartsInner.from_dict(
        {"ETag": "e", "PartNumber": 2, "e_tag": "x"}
    )
    assert part is not None and part.e_tag == "e"
    with pytest.raises(pydantic.ValidationError):
        models.CompleteMultipartUploadBodyPartsInner.from_dict({"e_tag": "e", "part_number": 2})
    assert models.Error.from_dict(None) is None
    with pytest.raises(pydantic.ValidationError):
        models.Error.from_dict("text")


def test_construction_by_name_or_alias_and_validated_assignment() -> None:
    a = models.InitiateMultipartUpload200Response(upload_id="u")
    b = models.InitiateMultipartUpload200Response(uploadId="u")  # type: ignore[call-arg]
    assert a == b
    with pytest.raises(pydantic.ValidationError):
        a.upload_id = 5  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("model", "wire"),
    [
        (models.GetPendingUploads200ResponseInner, {"id": "5"}),
        (models.CancelMultipartUpload200Response, {"success": "true"}),
        (models.CancelMultipartUpload200Response, {"success": 1}),
        (models.InitiateUploadBodyMetadata, {"size": -1}),
        (models.CompleteMultipartUploadBodyPartsInner, {"ETag": "e", "PartNumber": 0}),
        (models.InitiateUploadBody, {"filename": "a"}),
    ],
)
def test_strict_fields_reject_loose_values(model: type[LiltModel], wire: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        model.from_dict(wire)


def test_models_are_importable_from_every_generated_path() -> None:
    for model in ALL_MODELS:
        assert getattr(lilt, model.__name__) is model
        assert model.__module__.startswith("lilt.models.")


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_generated_metadata_is_kept(model: type[LiltModel]) -> None:
    """``__properties`` lists the wire names in field order; every field is described."""
    properties = getattr(model, f"_{model.__name__}__properties")
    assert properties == [f.alias or name for name, f in model.model_fields.items()]
    assert "__properties" not in model.model_fields
    described = {name: f.description for name, f in model.model_fields.items()}
    nested = {name for name, f in model.model_fields.items() if "metadata" in name}
    assert [n for n, d in described.items() if not d and n not in nested] == []
    assert model.model_json_schema()["description"] == inspect.cleandoc(model.__doc__ or "")


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_from_dict_sets_every_field_like_the_generated_client(
    model: type[LiltModel], data: st.DataObject
) -> None:
    instance = model.from_dict(data.draw(WIRE[model]))
    assert instance is not None
    assert instance.model_fields_set == set(model.model_fields)
    assert set(instance.model_dump(exclude_unset=True)) == set(model.model_fields)
    for value in instance.__dict__.values():  # nested models were read by their own from_dict
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, LiltModel):
                assert item.model_fields_set == set(type(item).model_fields)


def test_from_dict_passes_missing_required_keys_as_none() -> None:
    """As generated: a missing required key is None, so pydantic reports a wrong type."""
    with pytest.raises(pydantic.ValidationError) as error:
        models.InitiateUploadBody.from_dict({"type": "t"})
    assert [(e["type"], e["loc"]) for e in error.value.errors()] == [("string_type", ("filename",))]
    with pytest.raises(pydantic.ValidationError) as nested:
        models.CompleteMultipartUploadBody.from_dict({"parts": ["x"]})
    assert nested.value.title == "CompleteMultipartUploadBodyPartsInner"


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_reference_pages_show_the_field_descriptions(model: type[LiltModel]) -> None:
    """docs/<Model>.md: one row per field, its description first (what tools read)."""
    page = (Path(__file__).parents[2] / "docs" / f"{model.__name__}.md").read_text()
    rows = {
        cells[1].strip("` "): cells[-2].strip()
        for cells in (line.split("|") for line in page.splitlines() if line.startswith("| `"))
    }
    assert set(rows) == set(model.model_fields)
    for name, field in model.model_fields.items():
        if field.description:
            assert rows[name].startswith(field.description.rstrip(".")), name
