"""``-p name=value`` on the command line: run parameters parsed by their annotation.

A parameter's type is the annotation of the step parameter it feeds (the first one that
has one), else the type of its default in the pipeline's context, else ``str``.  Scalars
are parsed as written (``int``, ``float``, ``bool``, ``date``, ``datetime``, ``Path``);
containers and other types are read as JSON and checked against the annotation.
"""

from __future__ import annotations

import datetime as dt
import json
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ..definition._params import Const, FromDefault, FromParam

if TYPE_CHECKING:
    from .._api import Pipeline

__all__ = ("ParamError", "param_types", "parse_params")

_TRUE: Final = frozenset({"true", "1", "yes", "y", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "off"})
_NONE: Final = frozenset({"none", "null"})


class ParamError(ValueError):
    """A ``-p`` value that cannot be used; the message names the parameter."""


def param_types(pipeline: Pipeline) -> dict[str, Any]:
    """The run parameters ``pipeline`` reads, with the type each expects (``Any``: unknown)."""
    from ..server._introspect import PipelineInfo

    info = PipelineInfo.of(pipeline)
    found: dict[str, Any] = dict.fromkeys(info.params, Any)
    for node in info.dag.nodes.values():
        try:
            hints = typing.get_type_hints(node.step.fn)
        except Exception:  # unresolvable annotations: fall back to the defaults' types
            hints = {}
        bindings = dict(node.bindings)
        for param in node.step.parameters:
            binding = bindings.get(param)
            if isinstance(binding, FromParam):
                name = binding.name
            elif (binding is None or isinstance(binding, Const | FromDefault)) and (
                param not in node.step.context_params
            ):
                name = param  # a step parameter with a default: a run may set it by name
            else:
                continue
            if found.get(name, Any) is Any:
                found[name] = hints.get(param, Any)
    for name, default in pipeline.context.items():
        if found.get(name) is Any and default is not None:
            found[name] = type(default)
    return found


def parse_params(pipeline: Pipeline, pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``name=value`` pairs for ``pipeline``.

    :raises ParamError: for a malformed pair, an unknown name or a value of the wrong type
    """
    if not pairs:
        return {}
    types_ = param_types(pipeline)
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParamError(f"-p {pair!r}: expected name=value (e.g. -p epochs=3)")
        if name not in types_:
            known = ", ".join(sorted(types_)) or "none"
            raise ParamError(
                f"pipeline {pipeline.name!r} has no parameter {name!r}; its parameters: {known}"
            )
        out[name] = parse_value(name, text, types_[name])
    return out


def parse_value(name: str, text: str, annotation: Any) -> Any:
    """``text`` as a value of ``annotation`` (see the module docstring)."""
    try:
        return _parse(text, annotation)
    except (ValueError, TypeError, msgspec.ValidationError) as exc:
        raise ParamError(
            f"parameter {name!r} expects {_type_name(annotation)}, got {text!r}: {exc}"
        ) from None


def _parse(text: str, annotation: Any) -> Any:
    if annotation is Any or annotation is str:
        return text
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        if type(None) in args and text.strip().lower() in _NONE:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _parse(text, rest[0])
        return msgspec.convert(json.loads(text), annotation, strict=False)
    if annotation is bool:
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("use true or false")
    if annotation is int:
        return int(text)
    if annotation is float:
        return float(text)
    if annotation is dt.datetime:
        return dt.datetime.fromisoformat(text)
    if annotation is dt.date:
        return dt.date.fromisoformat(text)
    if annotation is Path:
        return Path(text)
    return msgspec.convert(json.loads(text), annotation, strict=False)


def _type_name(annotation: Any) -> str:
    if annotation is dt.date:
        return "a date (YYYY-MM-DD)"
    if annotation is dt.datetime:
        return "a date and time (ISO 8601)"
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__name__
    return f"{annotation} (as JSON)"
