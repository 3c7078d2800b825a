"""What runs on a Dask worker: a step's call, its inputs and its stored outputs.

A step's task returns an :class:`Outcome` that stays on the worker (Dask moves it to
another worker only when a step there reads it); the driver receives only its summary
(each output's artifact, type, and value when small), sent as a Dask event.  Artifacts are written from here, straight to
the shared store, and cached inputs are read from here too.  Sync steps run in the
worker's task threads; async steps, and all store I/O, on the worker's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..assets import Asset
from ..storage.artifacts._materializers import type_name_of
from ..storage.artifacts._values import load_value, save_value
from ._attempts import split_outputs
from ._dask_logs import Line, worker_capture

try:
    from distributed import WorkerPlugin as _Plugin
except ImportError:  # the executor explains how to install it when it opens
    _Plugin = object  # type: ignore[misc,assignment]

if TYPE_CHECKING:
    from ..events import ArtifactRef
    from ..storage._records import ArtifactRecord
    from ._protocol import SaveTo

__all__ = (
    "ATTEMPTS_TOPIC",
    "PLUGIN",
    "Listed",
    "Outcome",
    "StoresPlugin",
    "Task",
    "assemble",
    "described_of",
    "load_stored",
    "pick",
    "store_listed",
)

#: the event topic of the tasks' ends (their summaries and log lines), and of the
#: starts of step groups' tasks (a second start means a worker was lost)
ATTEMPTS_TOPIC: Final = "flowyml-attempts"
#: the worker plugin's name
PLUGIN: Final = "flowyml-stores"
#: values up to this many bytes (by ``dask.sizeof``) travel to the driver with the summary
INLINE_BYTES: Final = 64 * 1024

#: a mapped step's results, sent to a step on a worker: whether they are a
#: ``PartialResults``; the items, each one that stayed on a worker as ``(future, output)``
#: (Dask hands the task the future's outcome); the indices of those; the failures as
#: ``(step, index, item, whether the item stayed on a worker, error)``
Listed = tuple[bool, list[Any], list[int], list[tuple[str, int, Any, bool, BaseException]]]

#: one output's description: (its stored artifact, its type name, whether it is inline,
#: the value when inline)
Described = tuple["ArtifactRef | None", str, bool, Any]


@dataclass(frozen=True, slots=True)
class Task:
    """The parts of a step call a worker needs (the inputs travel separately)."""

    fn: Callable[..., Any]
    is_async: bool
    name: str
    outputs: tuple[str, ...]
    asset_params: frozenset[str]
    save: SaveTo | None
    key: str
    max_log_lines: int = 10_000
    capture_output: bool = False


@dataclass(slots=True, eq=False)
class Outcome:
    """A step's outputs, kept on the worker that made them."""

    values: dict[str, Any]
    described: dict[str, Described]
    worker: str

    def __sizeof__(self) -> int:
        # What Dask's scheduler counts for this task's result: without it, an outcome
        # holding 1 GiB weighed 56 bytes, so placement and work stealing moved the next
        # step away from its data as if that were free.
        from dask.sizeof import sizeof

        return 64 + sum(int(sizeof(v)) for v in self.values.values())


class StoresPlugin(_Plugin):
    """A worker plugin holding the artifact stores the worker's tasks use, opened on
    first use and closed with the worker."""

    name = PLUGIN

    def __init__(self) -> None:
        self._stores: dict[str, Any] = {}
        self._registry: Any = None

    def setup(self, worker: Any) -> None:
        self._stores = {}

    @property
    def materializers(self) -> Any:
        """The built-in materializers (assets first), as a run's stores hold them."""
        if self._registry is None:
            from ..storage.artifacts._assets import AssetMaterializer
            from ..storage.artifacts._materializers import default_registry

            registry = default_registry()
            registry.register(AssetMaterializer(registry), first=True)
            self._registry = registry
        return self._registry

    async def teardown(self, worker: Any) -> None:
        stores, self._stores = self._stores, {}
        for store in stores.values():
            await store.aclose()

    async def store(self, url: str) -> Any:
        """The open store at ``url`` (one per worker process; runs on the worker's loop)."""
        store = self._stores.get(url)
        if store is None:
            from ..storage.artifacts import open_artifact_store

            store = open_artifact_store(url)
            await store.open()
            self._stores[url] = store
        return store


def _worker() -> Any:
    from distributed import get_worker

    return get_worker()


async def _stores(worker: Any, task: Task) -> tuple[Any, Any]:
    """The open artifact store and the materializers."""
    assert task.save is not None
    plugin: StoresPlugin = worker.plugins[PLUGIN]
    return await plugin.store(task.save.artifacts_url), plugin.materializers


def _inputs(
    task: Task,
    plain: dict[str, Any],
    upstream: dict[str, tuple[Outcome, str]],
    lists: dict[str, Listed] | None = None,
) -> dict[str, Any]:
    kwargs = dict(plain)
    for param, (outcome, out) in upstream.items():
        kwargs[param] = _unwrap(task, param, outcome.values[out])
    for param, listed in (lists or {}).items():
        kwargs[param] = assemble(listed)
    return kwargs


def assemble(listed: Listed) -> Any:
    """A mapped step's results, put together on this worker from its elements' outcomes
    (Dask brought them here) and the small values that travelled by value."""
    partial, items, far, failures = listed
    values = list(items)
    for i in far:
        outcome, out = values[i]
        values[i] = outcome.values[out]
    if not partial:
        return values
    from ..results import ElementFailure, PartialResults

    return PartialResults(
        values,
        [
            ElementFailure(step, index, item[0].values[item[1]] if is_far else item, error)
            for step, index, item, is_far, error in failures
        ],
    )


async def store_listed(listed: Listed, save: SaveTo, out: str) -> ArtifactRef:
    """Store a mapped step's whole list of results from this worker (the shared store)."""
    worker = _worker()
    plugin: StoresPlugin = worker.plugins[PLUGIN]
    store = await plugin.store(save.artifacts_url)
    return await save_value(
        store,
        plugin.materializers,
        assemble(listed),
        artifact_id_seed=f"{save.run_id}/{save.step}/{out}",
        name=out,
        step=save.step,
        id_stamp=save.id_stamp,
    )


async def load_stored(record: ArtifactRecord, artifacts_url: str) -> Outcome:
    """A stored output (an earlier run's), read from the shared store into this worker."""
    worker = _worker()
    plugin: StoresPlugin = worker.plugins[PLUGIN]
    value = await load_value(await plugin.store(artifacts_url), plugin.materializers, record)
    return Outcome({"value": value}, {}, worker.address)


def _unwrap(task: Task, param: str, value: Any) -> Any:
    if isinstance(value, Asset) and param not in task.asset_params:
        return value.value
    return value


async def _load_cached(
    worker: Any, task: Task, kwargs: dict[str, Any], cached: dict[str, ArtifactRecord]
) -> None:
    assert task.save is not None  # the executor sends cached inputs only with a store
    store, registry = await _stores(worker, task)
    for param, record in cached.items():
        kwargs[param] = _unwrap(task, param, await load_value(store, registry, record))


def _saves(task: Task) -> bool:
    return task.save is not None and task.save.persist


async def _store_all(worker: Any, task: Task, outputs: dict[str, Any]) -> dict[str, ArtifactRef]:
    """Store each output in the shared store; return their references."""
    save = task.save
    assert save is not None
    store, registry = await _stores(worker, task)
    return {
        out: await save_value(
            store,
            registry,
            value,
            artifact_id_seed=f"{save.run_id}/{save.step}/{out}",
            name=out,
            step=save.step,
            id_stamp=save.id_stamp,
        )
        for out, value in outputs.items()
    }


def _describe(outputs: dict[str, Any], refs: dict[str, ArtifactRef]) -> dict[str, Described]:
    from dask.sizeof import sizeof

    described: dict[str, Described] = {}
    for out, value in outputs.items():
        small = sizeof(value) <= INLINE_BYTES
        described[out] = (refs.get(out), type_name_of(value), small, value if small else None)
    return described


def _started(worker: Any, task: Task) -> None:
    """Announce a task's start (a step group's: see :mod:`._dask_watch`)."""
    worker.log_event(ATTEMPTS_TOPIC, {"key": task.key, "worker": worker.address})


def _finished(
    worker: Any, task: Task, outputs: dict[str, Any], described: Any, lines: list[Line]
) -> Outcome:
    """Send the outcome's summary and the step's log lines to the driver; keep the
    outcome here."""
    import cloudpickle

    summary = cloudpickle.dumps(described)
    # (the scheduler adds the worker's address to the event)
    worker.log_event(ATTEMPTS_TOPIC, {"key": task.key, "summary": summary, "logs": lines})
    return Outcome(outputs, described, worker.address)


def _failed(worker: Any, task: Task, lines: list[Line]) -> None:
    """Send the log lines of a step that raised (its error follows)."""
    worker.log_event(ATTEMPTS_TOPIC, {"key": task.key, "failed": True, "logs": lines})


def _capture(task: Task, lines: list[Line]) -> Any:
    return worker_capture(task.name, task.max_log_lines, task.capture_output, lines)


def run_sync(
    task: Task,
    plain: dict[str, Any],
    upstream: dict[str, tuple[Outcome, str]],
    cached: dict[str, ArtifactRecord],
    lists: dict[str, Listed] | None = None,
) -> Outcome:
    """A sync step, in one of the worker's task threads; store I/O on its loop."""
    from distributed.utils import sync

    worker = _worker()
    lines: list[Line] = []
    try:
        kwargs = _inputs(task, plain, upstream, lists)
        if cached:
            sync(worker.loop, _load_cached, worker, task, kwargs, cached)
        with _capture(task, lines):
            value = task.fn(**kwargs)
        outputs = split_outputs(task, value)
        refs = sync(worker.loop, _store_all, worker, task, outputs) if _saves(task) else {}
    except BaseException:
        _failed(worker, task, lines)
        raise
    return _finished(worker, task, outputs, _describe(outputs, refs), lines)


async def run_async(
    task: Task,
    plain: dict[str, Any],
    upstream: dict[str, tuple[Outcome, str]],
    cached: dict[str, ArtifactRecord],
    lists: dict[str, Listed] | None = None,
) -> Outcome:
    """An async step, on the worker's own event loop (each Dask task runs in an asyncio
    task of its own, so concurrent steps keep their own log lines)."""
    worker = _worker()
    lines: list[Line] = []
    try:
        kwargs = _inputs(task, plain, upstream, lists)
        if cached:
            await _load_cached(worker, task, kwargs, cached)
        with _capture(task, lines):
            value = await task.fn(**kwargs)
        outputs = split_outputs(task, value)
        refs = await _store_all(worker, task, outputs) if _saves(task) else {}
    except BaseException:
        _failed(worker, task, lines)
        raise
    return _finished(worker, task, outputs, _describe(outputs, refs), lines)


def described_of(outcome: Outcome) -> tuple[dict[str, Described], str]:
    """The summary and worker of an outcome (when its event did not reach the driver)."""
    return outcome.described, outcome.worker


def pick(outcome: Outcome, out: str) -> Any:
    """One output's value (to copy it to the driver)."""
    return outcome.values[out]
