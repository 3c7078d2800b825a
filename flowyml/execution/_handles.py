"""A run's outputs that stayed on remote workers, turned into what its result holds."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anyio

from ..results import PartialResults, StoredValue
from ._protocol import OutputHandle

if TYPE_CHECKING:
    from ..events import ArtifactRef
    from ._core import RunState
    from ._runtime import Runtime

__all__ = ("local_value", "settle_outputs")


async def local_value(value: Any) -> Any:
    """``value`` with its handles (itself, or the elements of a mapped step's results)
    replaced by their values, copied here when they did not come with their metadata."""
    if isinstance(value, OutputHandle):
        return await value.load()
    if type(value) in (list, PartialResults) and any(isinstance(x, OutputHandle) for x in value):
        values = [await x.load() if isinstance(x, OutputHandle) else x for x in value]
        return PartialResults(values, value.failures) if type(value) is PartialResults else values
    return value


async def settle_outputs(state: RunState, runtime: Runtime | None) -> None:
    """Replace every :class:`OutputHandle` of the run by a value for its result.

    Small values came with their metadata; stored ones become a :class:`StoredValue`,
    read from the artifact store when asked for; the rest (not persisted) are copied to
    the driver now, while the executor is still open.
    """
    done: dict[int, Any] = {}

    async def settle(v: OutputHandle) -> Any:
        if id(v) not in done:
            done[id(v)] = await _settle(v, runtime)
        return done[id(v)]

    containers = [state.values, *(r.outputs for r in state.results.values())]
    for container in containers:
        for key, v in container.items():
            if isinstance(v, OutputHandle):
                container[key] = await settle(v)
            elif type(v) in (list, PartialResults):  # a mapped step's results
                for i, x in enumerate(v):
                    if isinstance(x, OutputHandle):
                        v[i] = await settle(x)


async def _settle(handle: OutputHandle, runtime: Runtime | None) -> Any:
    if handle.has_inline:
        return handle.inline
    if handle.ref is not None and runtime is not None:
        ref, url, registry = handle.ref, runtime.artifacts_url, runtime.materializers
        return StoredValue(ref, lambda: _read_now(url, registry, ref))
    return await handle.fetch()


def _read_now(url: str, registry: Any, ref: ArtifactRef) -> Any:
    """Read an artifact from a plain call, in a thread of its own with its own event loop
    (the caller may be inside one)."""
    from ..storage.artifacts import open_artifact_store
    from ..storage.artifacts._values import load_value

    async def read() -> Any:
        async with open_artifact_store(url) as store:
            return await load_value(store, registry, ref)

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = anyio.run(read)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="flowyml-read-output", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
