"""Prepare a run: parameters, DAG, runtime (stores) and resume state; then run it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio

from .._gc import collector_paused
from ..errors import NotFoundError
from ..events import Event
from ._runner import Runner
from ._runtime import Runtime, active_runtime

if TYPE_CHECKING:
    from ..definition._pipeline import Pipeline
    from ..results import PipelineResult
    from ..storage._records import ArtifactRecord
    from ._protocol import Executor

__all__ = ("launch", "new_run_id")


def new_run_id() -> str:
    """A fresh run id (uuid4, hex)."""
    return uuid.uuid4().hex


async def launch(
    pipeline: Pipeline,
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
) -> PipelineResult:
    """Run ``pipeline`` with ``params`` (see :meth:`Pipeline.arun` for the options)."""
    persist = pipeline.persist if persist is None else persist
    async with AsyncExitStack() as stack:
        rt: Runtime | None = runtime
        if rt is None and (persist or resume_from is not None):
            candidate = Runtime(
                store=store or pipeline.store, artifacts=artifacts or pipeline.artifacts
            )
            rt = active_runtime(candidate.store_url, candidate.artifacts_url)
            if rt is None:
                rt = await stack.enter_async_context(candidate)
        resumed: dict[str, tuple[str, Mapping[str, ArtifactRecord]]] = {}
        if resume_from is not None:
            assert rt is not None
            previous, resumed = await _resume_state(rt, pipeline.name, resume_from)
            params = {**previous, **params}
        merged = {**pipeline.context, **params}
        dag = pipeline.build(**params)
        register = None
        if rt is not None and rt.registered.get(pipeline.name) != (
            version := await _code_version(rt, dag)
        ):
            runtime_, version_ = rt, version

            async def register() -> None:  # runs beside the steps, off the critical path
                await _register(runtime_, pipeline.name, dag, version_)

        with collector_paused():  # one result per step: bulk, synchronous, acyclic
            runner = Runner(
                dag=dag,
                params=merged,
                run_id=run_id or new_run_id(),
                runtime=rt,
                enable_cache=pipeline.enable_cache if enable_cache is None else enable_cache,
                cache_expiry=pipeline.cache_expiry,
                max_concurrency=pipeline.max_concurrency,
                max_threads=pipeline.max_threads,
                fail_fast=pipeline.fail_fast,
                on_event=on_event,
                resumed=resumed,
                resume_from=resume_from,
                executor=executor if executor is not None else pipeline.executor,
                background=register,
            )
        return await runner.run()
    raise AssertionError("unreachable")  # pragma: no cover


async def _code_version(rt: Runtime, dag: Any) -> str:
    """The DAG's code version, computed once per DAG.

    Fingerprinting reads source files (once per function): it runs in a worker thread,
    and it also fills the steps' fingerprints that cache keys use later.
    """
    version = rt.versions.get(dag)
    if version is None:
        version = rt.versions[dag] = await anyio.to_thread.run_sync(dag.code_version)
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
) -> tuple[dict[str, Any], dict[str, tuple[str, Mapping[str, ArtifactRecord]]]]:
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
    return dict(run.params), done
