"""Build a shape as a flowyml :class:`~flowyml.Pipeline` with the public explicit-style API."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio

from ._shapes import Shape, dependencies
from ._shapes import node_name as _node_name

if TYPE_CHECKING:
    from flowyml import Pipeline, PipelineResult

__all__ = ("build_pipeline", "check_result")


async def _source() -> int:
    return 0


async def _noop(x: Any) -> Any:
    return x


def _sink_function(n: int, prefix: str) -> Any:
    """An ``async def`` taking ``n`` named inputs (flowyml binds inputs by parameter name)."""
    params = ", ".join(prefix + _node_name(i) for i in range(1, n + 1))
    namespace: dict[str, Any] = {}
    exec(f"async def sink({params}):\n    return {n}\n", namespace)  # noqa: S102
    return namespace["sink"]


def build_pipeline(
    shape: Shape, *, persist: bool, name: str | None = None, prefix: str = ""
) -> Pipeline:
    """A pipeline of ``shape``; ``persist=False`` keeps the run in memory.

    :param prefix: put before every step (and output) name; a warm-up run uses its own
        names, so that none of its cache entries can serve the measured run
    """
    from flowyml import Pipeline, step

    def node_name(i: int) -> str:
        return prefix + _node_name(i)

    p = Pipeline(name or shape.kind, persist=persist)
    if shape.kind == "sleep_async":
        delay = shape.sleep

        async def sleeping() -> None:
            await anyio.sleep(delay)

        for i in range(shape.n):
            p.add_step(step(name=node_name(i))(sleeping))
        return p
    if shape.kind == "sleep_sync":
        delay = shape.sleep

        def blocking() -> None:
            time.sleep(delay)

        for i in range(shape.n):
            p.add_step(step(name=node_name(i))(blocking))
        return p
    sink = _sink_function(shape.n, prefix) if shape.kind == "fanout" else _noop
    for i in range(shape.steps):
        deps = dependencies(shape, i)
        if not deps:
            p.add_step(step(name=node_name(i))(_source))
        elif len(deps) == 1:
            p.add_step(step(name=node_name(i), inputs={"x": node_name(deps[0])})(_noop))
        else:
            p.add_step(step(name=node_name(i), inputs=[node_name(d) for d in deps])(sink))
    return p


def check_result(result: PipelineResult, shape: Shape, *, cached: bool = False) -> str | None:
    """``None`` if every step succeeded (or, with ``cached``, was a cache hit); else why not."""
    if result.status != "succeeded":
        return f"run status {result.status!r}"
    results = result.step_results
    if len(results) != shape.steps:
        return f"{len(results)} step results for {shape.steps} steps"
    if cached:
        missed = [name for name, r in results.items() if not r.cached]
        if missed:
            return f"{len(missed)} of {shape.steps} steps were not cache hits (e.g. {missed[0]!r})"
    return None
