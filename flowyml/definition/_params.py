"""How each parameter of a step gets its value: bindings, resolved at compile time (pure)."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

__all__ = (
    "Binding",
    "Const",
    "FromContext",
    "FromDefault",
    "FromInput",
    "FromOutput",
    "FromParam",
    "asset_parameters",
    "context_parameters",
    "value_parameters",
)


class FromInput(typing.NamedTuple):
    """Declared input (explicit style): an upstream output, or else a run parameter."""

    source: str


class FromOutput(typing.NamedTuple):
    """The value of the upstream output ``output``."""

    output: str


class FromParam(typing.NamedTuple):
    """The run parameter (context value) ``name``."""

    name: str


class Const(typing.NamedTuple):
    """A literal passed in a functional-style call."""

    value: Any


class FromContext(typing.NamedTuple):
    """The :class:`~flowyml.StepContext` of the attempt."""


class FromDefault(typing.NamedTuple):
    """The function's own default value (the parameter is simply not passed)."""


Binding = FromInput | FromOutput | FromParam | Const | FromContext | FromDefault


def _is_step_context(annotation: Any) -> bool:
    from ._context import StepContext

    if annotation is StepContext:
        return True
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] == "StepContext"
    return False


def context_parameters(fn: Callable[..., Any], sig: inspect.Signature) -> frozenset[str]:
    """Names of parameters annotated ``StepContext`` (string annotations included)."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolved forward refs: fall back to the raw annotations
        hints = {}
    found = set()
    for name, p in sig.parameters.items():
        if _is_step_context(hints.get(name, p.annotation)):
            found.add(name)
    return frozenset(found)


def asset_parameters(fn: Callable[..., Any], sig: inspect.Signature) -> frozenset[str]:
    """Parameters annotated with an :class:`~flowyml.Asset` type: they get the asset itself,
    other parameters get the wrapped value."""
    from ..assets import Asset

    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        return frozenset()
    found = set()
    for name in sig.parameters:
        hint = hints.get(name)
        origin = typing.get_origin(hint) or hint
        if isinstance(origin, type) and issubclass(origin, Asset):
            found.add(name)
    return frozenset(found)


def value_parameters(sig: inspect.Signature) -> tuple[str, ...]:
    """Parameters that can receive a value by name (no ``*args``/``**kwargs``)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(n for n, p in sig.parameters.items() if p.kind in kinds)
