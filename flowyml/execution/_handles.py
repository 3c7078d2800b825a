"""Outputs that stayed on remote workers: what the driver reads of them (a condition's
answer, the elements of a list to map over) and what a run's result holds."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import anyio

from ..assets import Asset
from ..errors import StepError
from ..results import ElementFailure, PartialResults, StoredValue
from ._core import Lazy, record_to_ref
from ._inputs import condition_args, condition_holds
from ._protocol import OutputHandle, ReadsOnWorkers, SaveTo

if TYPE_CHECKING:
    from ..events import ArtifactRef
    from ..storage._records import ArtifactRecord
    from ._core import RunState
    from ._persist import Persistence
    from ._runtime import Runtime

__all__ = (
    "READ_HERE",
    "OnWorkers",
    "chained_item",
    "driver_inputs",
    "lists_for",
    "local_value",
    "remote_condition",
    "settle_outputs",
)

#: stored outputs up to this many bytes are read by the driver, not sent for on a worker
READ_HERE: Final = 64 * 1024


async def local_value(value: Any) -> Any:
    """``value`` with its handles (itself, or the elements of a mapped step's results)
    replaced by their values, copied here when they did not come with their metadata."""
    if isinstance(value, OutputHandle):
        return await value.load()
    if type(value) is PartialResults:
        values = [await x.load() if isinstance(x, OutputHandle) else x for x in value]
        return PartialResults(values, [await _failure_here(f) for f in value.failures])
    if type(value) is list and any(isinstance(x, OutputHandle) for x in value):
        return [await x.load() if isinstance(x, OutputHandle) else x for x in value]
    return value


async def lists_for(remote: Any, kwargs: dict[str, Any]) -> None:
    """Mapped steps' results among a step's inputs, ready for ``remote``: an executor that
    reads on its workers sends their elements where the step runs; for any other, they
    are copied here."""
    if isinstance(remote, ReadsOnWorkers):
        return
    for k, v in kwargs.items():
        if type(v) in (list, PartialResults):
            kwargs[k] = await local_value(v)


async def chained_item(remote: Any, value: Any, *, hashed: bool) -> Any:
    """A chained map's item (an element of the map it follows): when ``remote`` reads on
    its workers, an element that stayed there stays a handle (hashed there when the step
    is cached by its inputs, ``hashed``); anything else is copied here."""
    if not isinstance(remote, ReadsOnWorkers) or not _far(value):
        return await local_value(value)
    if hashed and value.digest is None:
        value = dataclasses.replace(value, digest=await remote.digest(value))
    return value


class OnWorkers:
    """What a run's store does where the steps run, for an executor that reads on its
    workers: store a mapped step's list, read an earlier run's large output (only when
    the workers share the store, ``shared()``; otherwise the driver does)."""

    __slots__ = ("_remote", "_run_id", "_shared", "_store")

    def __init__(
        self, remote: Any, store: Persistence, shared: Callable[[], bool], run_id: str
    ) -> None:
        self._remote = remote if isinstance(remote, ReadsOnWorkers) else None
        self._store = store
        self._shared = shared
        self._run_id = run_id

    async def store(self, node: Any, out: str, value: Any) -> ArtifactRef | None:
        """Store a mapped step's list where its elements are (``None``: not done)."""
        if self._remote is None or type(value) is not list or not self._shared():
            return None
        store = self._store
        save = SaveTo(store.runtime.artifacts_url, self._run_id, node.name, store.id_stamp)
        return await self._remote.store_list(value, save, out)

    async def read(self, record: ArtifactRecord) -> OutputHandle | None:
        """A handle to a large stored output, read by a worker (``None``: not done)."""
        if self._remote is None or record.size <= READ_HERE or not self._shared():
            return None
        return await self._remote.stored(record, self._store.runtime.artifacts_url)


async def _failure_here(failure: ElementFailure) -> ElementFailure:
    """A failed element whose input (an element of a list split on a worker) is here."""
    if isinstance(failure.item, OutputHandle):
        return dataclasses.replace(failure, item=await failure.item.load())
    return failure


def _far(value: Any) -> bool:
    """Whether ``value`` is a handle whose value did not come with its metadata, or a
    mapped step's results holding one."""
    if type(value) in (list, PartialResults):
        return any(_far(x) for x in value)
    return isinstance(value, OutputHandle) and not value.has_inline


async def driver_inputs(
    remote: Any,
    node: Any,
    kwargs: dict[str, Any],
    *,
    hashed: bool,
    shared: str | None = None,
    realize: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> None:
    """Make the inputs of a step with a condition, or of a mapped step, ready for the
    driver, which reads the condition's answer and the list to map over.

    When ``remote`` reads on its workers (:class:`ReadsOnWorkers`), the values stay there:
    the list a step maps over is split where it is (its large elements become handles of
    their own, keyed by ``digest`` when ``hashed``) and the condition is evaluated there
    (:func:`remote_condition`); large cached outputs of earlier runs are read from the
    ``shared`` store by a worker and stay there too.  Otherwise, or for a cached step
    keyed by a function of the user's (which reads the inputs here), every value is
    copied here.  ``realize(kwargs)`` reads the cached outputs that remain, here.

    :raises StepError: when the list to map over is not iterable
    """
    keyed_here = hashed and not isinstance(node.step.cache_by, str)
    there = isinstance(remote, ReadsOnWorkers) and not keyed_here
    if realize is not None:
        if there and shared is not None:
            for k, v in kwargs.items():
                if isinstance(v, Lazy) and v.record.size > READ_HERE:
                    kwargs[k] = await remote.stored(v.record, shared)
        await realize(kwargs)
    if not there:
        for k, v in kwargs.items():
            kwargs[k] = await local_value(v)
        return
    param = node.map_param
    if param is None or not isinstance(kwargs.get(param), OutputHandle):  # (chained: absent)
        return
    handle: OutputHandle = kwargs[param]
    unwrap = param not in node.step.asset_params
    if handle.has_inline:
        value = handle.inline
        kwargs[param] = value.value if unwrap and isinstance(value, Asset) else value
        return
    try:
        kwargs[param] = await remote.elements(handle, unwrap=unwrap, hashed=hashed)
    except TypeError as exc:
        raise StepError(node.name, f"cannot map over {param!r}: {exc}") from exc


async def remote_condition(remote: Any, node: Any, kwargs: dict[str, Any]) -> bool:
    """Whether ``node``'s condition holds, evaluated on a worker that holds its inputs when
    some of them stayed there (only the answer comes back), else here.

    :raises StepError: when the condition raises (naming the step)
    """
    cond = node.step.condition
    assert cond is not None
    try:
        args = condition_args(cond, kwargs)
    except ValueError:  # its signature cannot be read: condition_holds says so
        args = {}
    if isinstance(remote, ReadsOnWorkers) and any(_far(v) for v in args.values()):
        try:
            return await remote.holds(cond, args, asset_params=node.step.asset_params)
        except Exception as exc:
            err = StepError(node.name, f"its condition raised {type(exc).__name__}: {exc}")
            raise err from exc
    assets = node.step.asset_params
    here = {k: await _here(v, k not in assets) for k, v in args.items()}
    return condition_holds(node, here)


async def _here(value: Any, unwrap: bool) -> Any:
    if not isinstance(value, OutputHandle):
        return await local_value(value)  # a list split for a map: its elements
    value = await value.load()
    return value.value if unwrap and isinstance(value, Asset) else value


async def settle_outputs(state: RunState, runtime: Runtime | None) -> None:
    """Replace every :class:`OutputHandle` of the run by a value for its result.

    Small values came with their metadata; stored ones become a :class:`StoredValue`,
    read from the artifact store when asked for (as do large cached outputs of earlier
    runs, and a mapped step's list when some of its elements stayed on the workers); the
    rest (not persisted) are copied to the driver now, while the executor is still open.
    """
    done: dict[int, Any] = {}

    async def settle(v: Any) -> Any:
        if id(v) not in done:
            done[id(v)] = await _settle(v, runtime)
        return done[id(v)]

    # A mapped step's elements that succeeded keep their values in its list (the
    # results of the others are active); that list is settled element by element last,
    # once the map's output has been seen whole (a list stored whole stays one value).
    lists = {n: e.values for n, e in state.results.maps()}
    containers = [state.values, *(r.outputs for r in state.results.active()), lists]
    for container in containers:
        for key, v in container.items():
            if isinstance(v, OutputHandle) or _stays(v, runtime):
                container[key] = await settle(v)
            elif type(v) is list and runtime is not None and _far(v) and key in state.refs:
                ref = state.refs[key]  # a mapped step's list, stored whole
                container[key] = done.setdefault(id(v), _stored(ref, runtime))
            elif type(v) in (list, PartialResults):  # a mapped step's results
                for i, x in enumerate(v):
                    if isinstance(x, OutputHandle):
                        v[i] = await settle(x)
                if type(v) is PartialResults:
                    v.failures[:] = [await _failure_here(f) for f in v.failures]


def _stays(value: Any, runtime: Runtime | None) -> bool:
    """Whether ``value`` is a large cached output, left in the store for the result."""
    return isinstance(value, Lazy) and runtime is not None and value.record.size > READ_HERE


async def _settle(value: OutputHandle | Lazy, runtime: Runtime | None) -> Any:
    if isinstance(value, Lazy):
        assert runtime is not None
        return _stored(record_to_ref(value.record), runtime)
    if value.has_inline:
        return value.inline
    if value.ref is not None and runtime is not None:
        return _stored(value.ref, runtime)
    return await value.fetch()


def _stored(ref: ArtifactRef, runtime: Runtime) -> StoredValue:
    url, registry = runtime.artifacts_url, runtime.materializers
    return StoredValue(ref, lambda: _read_now(url, registry, ref))


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
