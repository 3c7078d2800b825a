"""Prepare a run: parameters, DAG, runtime (stores) and resume state; then run it."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.lowlevel

from .._ids import new_run_id
from ..compile._compiler import build_dag
from ..definition._params import FromParam
from ..definition._tags import merge_tags
from ..errors import NotFoundError, RunExistsError
from ..events import Event
from ..storage._fingerprint import fingerprint_of
from ._core import Snapshot
from ._debug import debugging
from ._persist import precompute_constant_keys
from ._runner import Runner
from ._runtime import Runtime, active_runtime

if TYPE_CHECKING:
    from ..compile._dag import Dag
    from ..definition._pipeline import PipelineSpec
    from ..results import PipelineResult
    from ..storage._records import ArtifactRecord
    from ._protocol import Executor

__all__ = ("code_version", "launch")

T = TypeVar("T")


async def launch(
    pipeline: PipelineSpec,
    params: Mapping[str, Any],
    *,
    run_id: str | None = None,
    store: str | None = None,
    artifacts: str | None = None,
    persist: bool | None = None,
    enable_cache: bool | None = None,
    on_event: Callable[[Event], Any] | None = None,
    runtime: Runtime | None = None,
    resume_from: str | None = None,
    executor: Executor | None = None,
    debug: bool = False,
    tags: Sequence[str] | None = None,
) -> PipelineResult:
    """Run ``pipeline`` with ``params`` (see :meth:`Pipeline.arun` for the options)."""
    persist = pipeline.persist if persist is None else persist
    async with AsyncExitStack() as stack:
        if debug:
            executor, on_event = stack.enter_context(debugging(executor, on_event))
        rt, opening = (
            runtime,
            None,
        )  # opening: stores this run opens (the last run using them closes them)
        if rt is None and (persist or resume_from is not None):
            rt, opening = _runtime_for(
                stack, store or pipeline.store, artifacts or pipeline.artifacts
            )
        resumed: dict[str, tuple[str, Mapping[str, ArtifactRecord]]] = {}
        changed: set[str] = set()
        inherited: Sequence[str] = ()  # a resumed run's tags
        if resume_from is not None:
            assert rt is not None
            if opening is not None:
                await stack.enter_async_context(opening.opened_for_runs())
                opening = None
            previous, resumed, inherited = await _resume_state(rt, pipeline.name, resume_from)
            changed = _changed_params(previous, params)
            params = {**previous, **params}
        merged = {**pipeline.context, **params}
        cache_on = pipeline.enable_cache if enable_cache is None else enable_cache
        if opening is None:
            dag = build_dag(pipeline, params)
        else:
            dag = await _build_while_opening(stack, opening, pipeline, params, cache_on)
        resumed = _unaffected(resumed, dag, changed)
        if rt is not None and run_id is not None:
            await _claim(stack, rt, run_id)
        register, snapshot = None, None
        if rt is not None:
            register, snapshot = await _prepare(rt, pipeline, dag, cache_on)
        runner = Runner(
            dag=dag,
            params=merged,
            run_id=run_id or new_run_id(),
            runtime=rt,
            enable_cache=cache_on,
            cache_expiry=pipeline.cache_expiry,
            max_concurrency=1 if debug else pipeline.max_concurrency,
            max_threads=pipeline.max_threads,
            fail_fast=pipeline.fail_fast,
            on_event=on_event,
            resumed=resumed,
            resume_from=resume_from,
            executor=executor if executor is not None else pipeline.executor,
            background=register,
            snapshot=snapshot,
            debug=debug,
        )
        runner.tags = merge_tags(pipeline.tags, inherited, tags or ())
        return await runner.run()
    raise AssertionError("unreachable")  # pragma: no cover


def _runtime_for(
    stack: AsyncExitStack, store: str | None, artifacts: str | None
) -> tuple[Runtime, Runtime | None]:
    """The open runtime of this event loop for these stores, else a new one to open for
    this run (returned twice: the run's runtime, and the one it must open).

    A runtime that another run opened is shared: this run counts itself in at once (no
    await between finding it and joining it), so whichever run ends last closes it.
    """
    candidate = Runtime(store=store, artifacts=artifacts)
    active = active_runtime(candidate.store_url, candidate.artifacts_url)
    if active is None:
        return candidate, candidate
    if active.join():
        stack.push_async_callback(active.release)
    return active, None


async def _prepare(
    rt: Runtime, pipeline: PipelineSpec, dag: Dag, cache_on: bool
) -> tuple[Callable[[], Awaitable[None]] | None, Snapshot | None]:
    """Read what a persisted run needs before its steps start: its cache snapshot, and
    whether the pipeline must be registered (done beside the steps, off the critical
    path, by the function returned)."""
    version, snapshot = await _version_and_snapshot(rt, dag, cache_on, pipeline.cache_expiry)
    if rt.registered.get(pipeline.name) == version:
        return None, snapshot

    async def register() -> None:
        await _register(rt, pipeline.name, dag, version)

    return register, snapshot


async def _alongside(
    side: Callable[[], Awaitable[None]] | None, main: Callable[[], Awaitable[T]]
) -> T:
    """Run ``side`` in a task while ``main`` runs here; return what ``main`` returns.

    Errors are raised as themselves, not inside an exception group: ``main``'s (``side``
    is then cancelled), else ``side``'s.
    """
    failed: list[Exception] = []
    result: list[T] = []

    async def run_side() -> None:
        assert side is not None
        try:
            await side()
        except Exception as exc:
            failed.append(exc)

    async with anyio.create_task_group() as tg:
        if side is not None:
            tg.start_soon(run_side)
        try:
            result.append(await main())
        except Exception as exc:
            failed.insert(0, exc)
            tg.cancel_scope.cancel()
    if failed:
        raise failed[0]
    return result[0]


async def _build_while_opening(
    stack: AsyncExitStack,
    opening: Runtime,
    pipeline: PipelineSpec,
    params: Mapping[str, Any],
    cache_on: bool,
) -> Dag:
    """Compile the DAG, and fingerprint its code, while the stores open (their
    connections are made in worker threads).

    A compile error is raised as is (the stores opened so far are closed again); so is a
    store that cannot be opened.
    """

    async def open_stores() -> None:
        await stack.enter_async_context(opening.opened_for_runs())

    async def build() -> Dag:
        await anyio.lowlevel.checkpoint()  # the opening reaches its first worker thread
        dag = build_dag(pipeline, params)
        await _code_version(opening, dag, keys=cache_on)
        return dag

    return await _alongside(open_stores, build)


async def _version_and_snapshot(
    rt: Runtime, dag: Dag, cache_on: bool, expiry: float | None
) -> tuple[str, Snapshot | None]:
    """The DAG's code version and the cache entries of its steps, read side by side."""
    found: list[Snapshot] = []
    snap = getattr(rt.metadata, "cache_snapshot", None) if cache_on else None

    async def read_snapshot() -> None:
        assert snap is not None
        nodes = dag.nodes
        mapped = [name for name, node in nodes.items() if node.map_param is not None]
        found.append(await snap(dag.pipeline, steps=nodes.keys(), mapped=mapped, max_age=expiry))

    async def version() -> str:
        return await _code_version(rt, dag, keys=cache_on)

    code_version = await _alongside(read_snapshot if snap is not None else None, version)
    return code_version, (found[0] if found else None)


async def _code_version(rt: Runtime, dag: Dag, *, keys: bool = False) -> str:
    """The DAG's code version, computed once per DAG and runtime (``rt`` need not be open).

    Fingerprinting reads source files (once per function): it runs in a worker thread,
    and it also fills the steps' fingerprints that cache keys use later.  With ``keys``,
    the same thread computes the cache keys that need no input (see
    :func:`~flowyml.execution._persist.precompute_constant_keys`).
    """
    version = rt.versions.get(dag)
    if version is None:

        def work() -> str:
            found = code_version(dag)
            if keys:
                precompute_constant_keys(dag)
            return found

        version = rt.versions[dag] = await anyio.to_thread.run_sync(work)
    return version


async def _register(rt: Runtime, name: str, dag: Any, version: str) -> None:
    import time

    from ..storage._records import PipelineRecord

    now = time.time()
    graph = await anyio.to_thread.run_sync(dag.to_dict)  # thousands of nodes: off the loop
    await rt.metadata.save_pipeline(
        PipelineRecord(name=name, dag=graph, code_version=version, created_at=now, updated_at=now)
    )
    rt.registered[name] = version


async def _resume_state(
    rt: Runtime, pipeline: str, run_id: str
) -> tuple[dict[str, Any], dict[str, tuple[str, Mapping[str, ArtifactRecord]]], list[str]]:
    """What a resumed run takes from run ``run_id``: its parameters, the outputs of its
    steps that succeeded (with the run that produced each), and its tags."""
    store = rt.metadata
    run = await store.get_run(run_id)
    if run is None:
        raise NotFoundError(f"cannot resume run {run_id!r}: no such run in {store.url}")
    if run.pipeline != pipeline:
        raise NotFoundError(
            f"cannot resume run {run_id!r} with pipeline {pipeline!r}: it is a run of "
            f"{run.pipeline!r}"
        )
    done: dict[str, tuple[str, Mapping[str, ArtifactRecord]]] = {}
    for sr in await store.list_step_runs(run_id):
        if sr.status not in ("succeeded", "cached") or not sr.outputs:
            continue
        records: dict[str, ArtifactRecord] = {}
        for out, aid in sr.outputs.items():
            rec = await store.get_artifact(aid)
            if rec is None:
                break
            records[out] = rec
        else:
            done[sr.step] = (sr.cached_from or run_id, records)
    return dict(run.params), done, list(run.tags)


def code_version(dag: Dag) -> str:
    """A hash of every step's code and the graph's shape (reads the steps' source)."""
    h = hashlib.sha256(dag.pipeline.encode())
    for name, node in dag.nodes.items():
        h.update(name.encode())
        h.update(fingerprint_of(node.step).encode())
        h.update(repr(node.upstream).encode())
    return h.hexdigest()[:16]


#: (store URL, run id) of the runs of this event loop started with an id the caller chose
_CLAIMED: anyio.lowlevel.RunVar[set[tuple[str, str]]] = anyio.lowlevel.RunVar(
    "flowyml_claimed_run_ids"
)


async def _claim(stack: AsyncExitStack, rt: Runtime, run_id: str) -> None:
    """Hold ``run_id`` (an id the caller chose) for this run until it ends.

    Raise :class:`RunExistsError` when a run of this event loop on the same store holds it
    or the store already has it.  The id is taken before the store is read, so two runs
    started together with one id cannot both pass the check, whether they share a
    ``Runtime`` or each opened their own.
    """
    try:
        claimed = _CLAIMED.get()
    except LookupError:
        claimed = set()
        _CLAIMED.set(claimed)
    key = (rt.store_url, run_id)
    if key in claimed:
        raise RunExistsError(run_id, rt.metadata.url)
    claimed.add(key)
    stack.callback(claimed.discard, key)
    if await rt.metadata.get_run(run_id):
        raise RunExistsError(run_id, rt.metadata.url)


def _changed_params(previous: Mapping[str, Any], given: Mapping[str, Any]) -> set[str]:
    """The parameters of a resume whose value differs from the resumed run's (compared by
    cache hash: a value that lost its type when stored counts as changed)."""
    from ..storage._cache import hash_value

    return {
        k for k, v in given.items() if k not in previous or hash_value(v) != hash_value(previous[k])
    }


def _unaffected(
    resumed: dict[str, tuple[str, Mapping[str, ArtifactRecord]]], dag: Dag, changed: set[str]
) -> dict[str, tuple[str, Mapping[str, ArtifactRecord]]]:
    """The resumed steps whose outputs a changed parameter cannot have affected: steps
    reading one, and everything downstream of them, run again."""
    if not resumed or not changed:
        return resumed
    stale: set[str] = set()
    for name in dag.topological_order():
        node = dag.nodes[name]
        reads = any(isinstance(b, FromParam) and b.name in changed for _, b in node.bindings)
        if reads or any(up in stale for up in node.upstream):
            stale.add(name)
    # A mapped step's elements are resumed as ``step[i]``.
    return {k: v for k, v in resumed.items() if k.partition("[")[0] not in stale}
