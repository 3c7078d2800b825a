"""Opening and closing the shared resources of a run (``flowyml.shared``)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from contextlib import AsyncExitStack
from typing import Any

import anyio
from anyio.lowlevel import RunVar

from ..definition._shared import Shared
from ..errors import StepError

__all__ = ("Resources", "close_shared")

log = logging.getLogger("flowyml")

#: how long closing a run's resources may take before the run moves on
CLOSE_TIMEOUT = 10.0


class _Opened:
    """Values opened from ``Shared`` specs, and the stack that closes them."""

    def __init__(self) -> None:
        self.stack = AsyncExitStack()
        self.values: dict[Shared, Any] = {}
        self.locks: dict[Shared, anyio.Lock] = {}

    async def get(self, spec: Shared) -> Any:
        if spec in self.values:
            return self.values[spec]
        lock = self.locks.setdefault(spec, anyio.Lock())
        async with lock:  # one opening, however many steps ask at once
            if spec not in self.values:
                self.values[spec] = await _open(self.stack, spec.factory)
        return self.values[spec]

    async def aclose(self) -> None:
        self.values.clear()
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            await self.stack.aclose()


#: the process-scoped resources of the current event loop
_PROCESS: RunVar[_Opened] = RunVar("flowyml_shared")


class Resources:
    """The shared resources a run's steps receive, opened when first needed.

    :param params: the run's parameters (context included): the :class:`Shared` among
        them are the resources, named by their parameter
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        self._names = {v: name for name, v in params.items() if isinstance(v, Shared)}
        self._run = _Opened()

    @property
    def in_use(self) -> bool:
        """Whether the run has shared resources at all."""
        return bool(self._names)

    async def inject(self, step: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` with each :class:`Shared` replaced by its open value.

        :raises StepError: naming ``step`` and the resource, when it cannot be opened
        """
        if not self._names:
            return kwargs
        given = dict(kwargs)
        for param, value in kwargs.items():
            if isinstance(value, Shared):
                given[param] = await self._get(step, value)
        return given

    async def _get(self, step: str, spec: Shared) -> Any:
        holder = self._run if spec.scope == "run" else _process_holder()
        try:
            return await holder.get(spec)
        except Exception as exc:
            name = self._names.get(spec, "?")
            raise StepError(
                step,
                f"the shared resource {name!r} could not be opened: {type(exc).__name__}: {exc}",
            ) from exc

    async def aclose(self) -> None:
        """Close what this run opened (bounded; errors are logged)."""
        try:
            await self._run.aclose()
        except Exception:
            log.exception("closing a shared resource failed")


def _process_holder() -> _Opened:
    try:
        return _PROCESS.get()
    except LookupError:
        holder = _Opened()
        _PROCESS.set(holder)
        return holder


async def close_shared() -> None:
    """Close the ``scope="process"`` resources opened in this event loop.

    A later run opens them again when a step needs them.
    """
    try:
        holder = _PROCESS.get()
    except LookupError:
        return
    _PROCESS.set(_Opened())
    await holder.aclose()


async def _open(stack: AsyncExitStack, factory: Callable[[], Any]) -> Any:
    """Call ``factory`` and make what it returns a value, its closing pushed on ``stack``."""
    made = factory()
    if inspect.isasyncgen(made):
        value = await made.__anext__()
        stack.push_async_callback(_finish_async_generator, made)
        return value
    if inspect.isgenerator(made):
        value = next(made)
        stack.callback(_finish_generator, made)
        return value
    if inspect.isawaitable(made):
        made = await made
    if hasattr(made, "__aenter__"):
        return await stack.enter_async_context(made)
    if hasattr(made, "__enter__"):
        return stack.enter_context(made)
    return made


def _finish_generator(gen: Generator[Any, Any, Any]) -> None:
    try:
        next(gen)
    except StopIteration:
        return
    gen.close()
    raise RuntimeError("a shared resource's generator must yield exactly once")


async def _finish_async_generator(gen: AsyncGenerator[Any, Any]) -> None:
    try:
        await gen.__anext__()
    except StopAsyncIteration:
        return
    await gen.aclose()
    raise RuntimeError("a shared resource's async generator must yield exactly once")
