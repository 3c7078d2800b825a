"""How each parameter of a step gets its value: bindings, resolved at compile time (pure)."""

from __future__ import annotations

import inspect
import typing
import weakref
from collections.abc import Callable
from typing import Any

import msgspec

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


# Bindings are small immutable structs.  All but ``Const`` (which holds a user's value)
# are invisible to the cycle collector (``gc=False``): they only ever hold strings, and a
# 100,000-step pipeline has hundreds of thousands of them, which every full collection
# would otherwise walk.


class FromInput(msgspec.Struct, frozen=True, gc=False):
    """Declared input (explicit style): an upstream output, or else a run parameter."""

    source: str


class FromOutput(msgspec.Struct, frozen=True, gc=False):
    """The value of the upstream output ``output``."""

    output: str


class FromParam(msgspec.Struct, frozen=True, gc=False):
    """The run parameter (context value) ``name``."""

    name: str


class Const(msgspec.Struct, frozen=True):
    """A literal passed in a functional-style call."""

    value: Any


class FromContext(msgspec.Struct, frozen=True, gc=False):
    """The :class:`~flowyml.StepContext` of the attempt."""


class FromDefault(msgspec.Struct, frozen=True, gc=False):
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
    parameter_set: frozenset[str]
    context_params: frozenset[str]
    asset_params: frozenset[str]
    #: every parameter is positional-or-keyword (so bound values can go by position)
    positional: bool


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
    positional = all(
        p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in sig.parameters.values()
    )
    values = value_parameters(sig)
    result = Signature(
        sig, values, frozenset(values), frozenset(context), frozenset(assets), positional
    )
    try:
        _analysed[fn] = result
    except TypeError:
        pass
    return result


def value_parameters(sig: inspect.Signature) -> tuple[str, ...]:
    """Parameters that can receive a value by name (no ``*args``/``**kwargs``)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(n for n, p in sig.parameters.items() if p.kind in kinds)
