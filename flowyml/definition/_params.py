"""How each parameter of a step gets its value: bindings, resolved at compile time (pure)."""

from __future__ import annotations

import inspect
import typing
import weakref
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
    "Signature",
    "analyse",
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


class Signature(typing.NamedTuple):
    """What a step needs to know about its function's parameters."""

    signature: inspect.Signature
    parameters: tuple[str, ...]
    context_params: frozenset[str]
    asset_params: frozenset[str]


#: function -> its analysed signature.  A pure memo: many steps often wrap one function
#: (steps made in a loop), and analysing a signature costs tens of microseconds.
_analysed: weakref.WeakKeyDictionary[Callable[..., Any], Signature] = weakref.WeakKeyDictionary()


def analyse(fn: Callable[..., Any]) -> Signature:
    """The signature of ``fn`` with the parameters that take a value, a ``StepContext``
    or an :class:`~flowyml.Asset` (string annotations included)."""
    try:
        cached = _analysed.get(fn)
    except TypeError:  # not weak-referenceable
        cached = None
    if cached is not None:
        return cached
    sig = inspect.signature(fn)
    hints: dict[str, Any] = {}
    if getattr(fn, "__annotations__", None):
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolved forward refs: fall back to the raw annotations
            hints = {}
    from ..assets import Asset

    context: set[str] = set()
    assets: set[str] = set()
    for name, p in sig.parameters.items():
        hint = hints.get(name, p.annotation)
        if _is_step_context(hint):
            context.add(name)
        origin = typing.get_origin(hint) or hint
        if isinstance(origin, type) and issubclass(origin, Asset):
            assets.add(name)
    result = Signature(sig, value_parameters(sig), frozenset(context), frozenset(assets))
    try:
        _analysed[fn] = result
    except TypeError:
        pass
    return result


def value_parameters(sig: inspect.Signature) -> tuple[str, ...]:
    """Parameters that can receive a value by name (no ``*args``/``**kwargs``)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(n for n, p in sig.parameters.items() if p.kind in kinds)
