"""The API's pydantic models mirror the msgspec records they serve, field for field."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from flowyml.server import _schemas
from flowyml.storage import _records


def record_fields(cls: Any) -> list[tuple[str, bool, Any]]:
    """(name, required, default) of a msgspec Struct, in order."""
    out = []
    for f in msgspec.structs.fields(cls):
        default = f.default
        if default is msgspec.NODEFAULT and f.default_factory is not msgspec.NODEFAULT:
            default = f.default_factory()
        out.append((f.name, f.required, None if f.required else default))
    return out


def model_fields(cls: type[BaseModel]) -> list[tuple[str, bool, Any]]:
    """(name, required, default) of a pydantic model, in order."""
    out = []
    for name, info in cls.model_fields.items():
        required = info.is_required()
        if required:
            default = None
        elif info.default is not PydanticUndefined:
            default = info.default
        else:
            default = info.get_default(call_default_factory=True)
        out.append((name, required, default))
    return out


def json_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Each property's JSON type(s), ignoring titles, descriptions and refs' names."""

    def kind(prop: dict[str, Any]) -> Any:
        if "anyOf" in prop:
            return sorted(str(kind(p)) for p in prop["anyOf"])
        if "$ref" in prop or "enum" in prop:
            return "enum-or-ref"
        return prop.get("type", "any")

    return {name: kind(prop) for name, prop in schema.get("properties", {}).items()}


@pytest.mark.parametrize("name", ["RunRecord", "StepRunRecord", "ArtifactRecord"])
def test_response_models_mirror_the_records(name: str) -> None:
    record = getattr(_records, name)
    model = getattr(_schemas, name)
    assert model_fields(model) == record_fields(record)
    (_, components) = msgspec.json.schema_components([record])
    assert json_types(model.model_json_schema()) == json_types(components[name])
