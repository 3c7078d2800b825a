"""The one bridge from synchronous code: ``run()`` blocks, or returns a coroutine."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import anyio

__all__ = ("dispatch",)

T = TypeVar("T")


def dispatch(
    fn: Callable[..., Coroutine[Any, Any, T]], kwargs: Mapping[str, Any]
) -> T | Coroutine[Any, Any, T]:
    """Call ``fn(**kwargs)``: run it to completion when no loop runs in this thread,
    otherwise return the coroutine for the caller to await."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop here: run to completion (outside the handler, so that errors of
        # the run do not carry this RuntimeError as their context)
    else:
        return fn(**kwargs)
    return anyio.run(functools.partial(fn, **kwargs))
