"""Run parameters of a registered pipeline: their JSON Schema, and checking given values.

A parameter's type is the annotation of the step argument that reads it (the first step
that annotates it), its default the pipeline's context value.  The schema is JSON Schema
draft 2020-12, as pydantic writes it: ``int``/``float``/``bool``/``str``,
``date``/``datetime`` as formatted strings, ``Enum`` and ``Literal`` as ``enum``, lists
and dicts as JSON arrays and objects; an unannotated parameter (or a type with no JSON
form) accepts any JSON value.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from pydantic import ConfigDict, TypeAdapter, ValidationError

from ..definition._params import FromParam
from ._errors import InvalidRequestError

if TYPE_CHECKING:
    from ..compile._dag import Dag

__all__ = ("ParamSpec", "check_limits", "param_specs", "params_schema", "validate_values")

_ADAPTER_CONFIG = ConfigDict(arbitrary_types_allowed=True)
_REF = "#/$defs/{model}"


@dataclass(slots=True, frozen=True)
class ParamSpec:
    """One run parameter: its JSON Schema and, when it has a JSON form, its validator."""

    name: str
    schema: dict[str, Any]
    defs: dict[str, Any]
    adapter: TypeAdapter[Any] | None


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # an annotation naming something not importable here
        return {}


def _annotations(dag: Dag) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in dag.order:
        hints: dict[str, Any] | None = None
        for arg, binding in node.bindings:
            if not isinstance(binding, FromParam) or binding.name in found:
                continue
            if hints is None:
                hints = _hints(node.step.fn)
            hint = hints.get(arg, inspect.Parameter.empty)
            if hint is not inspect.Parameter.empty and hint is not Any:
                found[binding.name] = hint
    return found


def _spec(name: str, hint: Any) -> ParamSpec:
    if hint is None:
        return ParamSpec(name=name, schema={}, defs={}, adapter=None)
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(hint, config=_ADAPTER_CONFIG)
        schema = adapter.json_schema(ref_template=_REF)
    except Exception:  # no JSON form (e.g. a DataFrame): accept any JSON value
        return ParamSpec(name=name, schema={}, defs={}, adapter=None)
    defs = schema.pop("$defs", {})
    return ParamSpec(name=name, schema=schema, defs=defs, adapter=adapter)


def param_specs(dag: Dag, names: Mapping[str, Any]) -> dict[str, ParamSpec]:
    """A :class:`ParamSpec` per parameter in ``names`` (typed from the steps of ``dag``)."""
    hints = _annotations(dag)
    return {name: _spec(name, hints.get(name)) for name in names}


def params_schema(
    pipeline: str,
    specs: Mapping[str, ParamSpec],
    defaults: Mapping[str, Any],
    required: frozenset[str],
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ``params`` object of a run request."""
    properties: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    for name, spec in sorted(specs.items()):
        prop = dict(spec.schema)
        if name not in required:
            prop["default"] = defaults.get(name)
        properties[name] = prop
        defs.update(spec.defs)
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Parameters of {pipeline}",
        "type": "object",
        "properties": properties,
        "required": sorted(required),
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of lists/objects in ``value``, counting no further than ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def check_limits(params: Mapping[str, Any], *, max_bytes: int, max_depth: int) -> None:
    """Refuse a parameter too large or too deeply nested, naming it.

    :raises InvalidRequestError: naming the parameter and the limit it breaks
    """
    for name, value in params.items():
        if _depth(value, max_depth) > max_depth:
            raise InvalidRequestError(
                f"run parameter {name!r} is nested more than {max_depth} levels deep "
                f"(ServerOptions.max_param_depth)"
            )
        size = len(msgspec.json.encode(value))
        if size > max_bytes:
            raise InvalidRequestError(
                f"run parameter {name!r} is {size} bytes as JSON, over the limit of "
                f"{max_bytes} (ServerOptions.max_param_bytes); store large inputs as files "
                f"and pass their path"
            )


def validate_values(specs: Mapping[str, ParamSpec], params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` converted to their annotated types (``"2024-01-31"`` to a ``date``).

    :raises InvalidRequestError: naming the first parameter whose value does not fit
    """
    values = dict(params)
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None or spec.adapter is None:
            continue
        try:
            values[name] = spec.adapter.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "".join(f"[{p!r}]" for p in first.get("loc", ()))
            raise InvalidRequestError(
                f"run parameter {name!r}{where}: {first.get('msg', 'invalid value')} "
                f"(got {msgspec.json.encode(value).decode()[:200]})"
            ) from None
    return values
