"""Step identity for cache keys: code fingerprint (memoised) plus captured values."""

from __future__ import annotations

import hashlib
import types
import weakref
from collections.abc import Callable
from typing import Any, Final, Protocol

__all__ = ("fingerprint_of", "step_fingerprint")

_MEMO_LIMIT = 8192
#: code object -> fingerprint of its source.  A pure memo (like ``functools.cache``):
#: steps made in a loop share one code object, and reading source is slow.
_by_code: dict[types.CodeType, str] = {}


def _code_fingerprint(fn: Callable[..., Any], code: types.CodeType) -> str:
    fp = _by_code.get(code)
    if fp is None:
        from ._cache import fingerprint_function

        if len(_by_code) >= _MEMO_LIMIT:
            _by_code.clear()
        fp = _by_code[code] = fingerprint_function(fn)
    return fp


_EMPTY: Final = object()


def _captured(fn: Callable[..., Any]) -> list[Any]:
    """The values in ``fn``'s closure cells (``_EMPTY`` for a cell not yet filled)."""
    values = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:
            values.append(_EMPTY)
    return values


def step_fingerprint(fn: Callable[..., Any], _seen: frozenset[int] = frozenset()) -> str:
    """Hash of ``fn``'s code and of the values its closure captured.

    The closure part keeps ``make(1)`` and ``make(2)`` apart: captured values are hashed
    (or, when they cannot be, their type), so two closures of one ``def`` never share
    cache entries by accident.  A function captured in its own closure (a recursive
    inner function) counts once.
    """
    from ._cache import fingerprint_function, hash_value

    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return fingerprint_function(fn)
    base = _code_fingerprint(fn, code)
    captured = _captured(fn)
    if not captured:
        return base
    seen = _seen | {id(fn)}
    h = hashlib.sha256(base.encode())
    for value in captured:
        if value is _EMPTY:
            h.update(b"<empty>")
        elif isinstance(value, types.FunctionType):
            h.update(b"<self>" if id(value) in seen else step_fingerprint(value, seen).encode())
        else:
            try:
                h.update(hash_value(value).encode())
            except Exception:
                h.update(f"{type(value).__module__}.{type(value).__qualname__}".encode())
    return h.hexdigest()


#: step -> fingerprint of its function.  Held here, weakly, rather than on the step: a
#: pipeline that is dropped takes its entries with it, and users' objects stay untouched.
_by_step: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


class _HasFunction(Protocol):
    fn: Callable[..., Any]


def fingerprint_of(step: _HasFunction) -> str:
    """The fingerprint of ``step``'s function, computed once per step."""
    fp = _by_step.get(step)
    if fp is None:
        fp = _by_step[step] = step_fingerprint(step.fn)
    return fp
