"""What ``@step(cache=...)`` may say: a strategy name, a key function, ``True``/``False``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import StepDefinitionError

__all__ = ("CACHE_STRATEGIES", "cache_strategy")

#: the cache strategies a string can name (``True`` is ``"code_hash"``)
CACHE_STRATEGIES = ("code_hash", "input_hash")


def cache_strategy(step: str, cache: object) -> str | Callable[..., Any] | None:
    """What ``@step(cache=...)`` asks for: a strategy name, a key function, or ``None``
    (not cached)."""
    if cache is False:
        return None
    if cache is True:
        return "code_hash"
    if isinstance(cache, str):
        if cache in CACHE_STRATEGIES:
            return cache
        raise StepDefinitionError(
            f"step {step!r}: unknown cache strategy {cache!r}; use 'code_hash', "
            f"'input_hash', True, False or a function (inputs, params) -> key"
        )
    if callable(cache):
        return cache
    raise StepDefinitionError(
        f"step {step!r}: cache must be True, False, 'code_hash', 'input_hash' or a "
        f"function, got {cache!r}"
    )
