"""One run: a task group that starts each step the moment its inputs are ready."""

from __future__ import annotations

import functools
import inspect
import logging
import math
import os
import socket
import time
import traceback as tb_module
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from .._ids import time_stamp
from ..assets import Asset
from ..definition._context import StepContext
from ..definition._params import Const, FromContext, FromOutput, FromParam
from ..errors import (
    SerializationError,
    StepError,
    StepOutputError,
    StepTimeoutError,
    StoreError,
)
from ..events import (
    ArtifactRef,
    Event,
    RunFinished,
    RunStarted,
    RunStatus,
    StepCached,
    StepFailed,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from ..results import PipelineResult, StepResult
from ._core import FAILED, OK, PARTIAL, SKIP, Snapshot, StepFailure, record_to_ref
from ._mapping import MappingMixin
from ._persist import PersistenceMixin
from ._retry import retry_delay
from ._scheduler import Scheduler
from ._spawn import Starter
from ._writer import EventWriter

if TYPE_CHECKING:
    from ..compile._dag import Dag, DagNode
    from ..storage._records import ArtifactRecord
    from ..storage.artifacts._values import SavedScalars
    from ._protocol import Executor
    from ._runtime import Runtime

__all__ = ("Runner", "record_to_ref")

log = logging.getLogger("flowyml")

HEARTBEAT_SECONDS = 10.0
_cancelled = anyio.get_cancelled_exc_class


@functools.cache
def _host() -> str:
    return socket.gethostname()


def _jsonable(value: Any) -> Any:
    return msgspec.to_builtins(value, enc_hook=repr, str_keys=True)


class Runner(PersistenceMixin, MappingMixin):
    """Executes one run of a compiled DAG and derives its result from its events."""

    def __init__(
        self,
        *,
        dag: Dag,
        params: Mapping[str, Any],
        run_id: str,
        runtime: Runtime | None,
        enable_cache: bool,
        cache_expiry: float | None,
        max_concurrency: int | None,
        max_threads: int | None,
        fail_fast: bool,
        on_event: Callable[[Event], Any] | None = None,
        resumed: Mapping[str, tuple[str, Mapping[str, ArtifactRecord]]] | None = None,
        resume_from: str | None = None,
        executor: Executor | None = None,
        background: Callable[[], Awaitable[None]] | None = None,
        snapshot: Snapshot | None = None,
    ) -> None:
        self.dag = dag
        self._background = background
        self._background_done = anyio.Event()
        if background is None:
            self._background_done.set()
        self._executor = executor
        self.params = dict(params)
        self.run_id = run_id
        self.runtime = runtime
        self.cache_on = enable_cache and runtime is not None
        self.cache_expiry = cache_expiry
        self.fail_fast = fail_fast
        self.on_event = on_event
        self.resumed = dict(resumed or {})
        self.resume_from = resume_from
        self._limiter = anyio.CapacityLimiter(max_concurrency) if max_concurrency else None
        self._threads = anyio.CapacityLimiter(max_threads or 64)
        self._writer = EventWriter(runtime.metadata, runtime.hub) if runtime else None
        self._sched = Scheduler(dag.parents, dag.children)
        self._order = dag.order
        self._values: dict[str, Any] = {}
        self._refs: dict[str, ArtifactRef] = {}
        # Each step's result, by position (the steps' tasks reach theirs without a
        # lookup by name) and by name (mapped elements are added there as they start).
        self._by_pos = [StepResult(name) for name in dag.nodes]
        self._results = dict(zip(dag.nodes, self._by_pos, strict=True))
        self._failed_first: str | None = None
        self._lazy = 0
        # Without a snapshot, cache lookups query the store.
        self._snapshot = snapshot if self.cache_on else None
        self._starter: Starter  # set when the steps' task group opens
        self._steps_scope: anyio.CancelScope | None = None
        self._t0 = 0.0
        self._id_stamp = ""  # set when the run starts (its start time)
        self._saved: SavedScalars = {}  # small outputs stored so far (see save_value)

    # ------------------------------------------------------------------ events
    def _emit(self, ev: Event, r: StepResult | None = None) -> None:
        """Apply ``ev`` to its step's result (``r`` if the caller has it), then send it on."""
        self._apply(ev, r)
        if self._writer is not None:
            self._writer.submit(ev)
        if self.on_event is not None:
            self.on_event(ev)

    def _apply(self, ev: Event, r: StepResult | None) -> None:
        """Fold an event into the step results (the result derives from events)."""
        if r is None:
            step = getattr(ev, "step", None)
            if step is None:
                return
            r = self._results[step]
        if isinstance(ev, StepStarted):
            r.status = "running"
            r.attempts = ev.attempt
            if r.started_at is None:
                r.started_at = ev.ts
        elif isinstance(ev, StepSucceeded):
            r.status = "succeeded"
            r.duration_seconds = ev.duration
            r.finished_at = ev.ts
            if ev.outputs:  # none when nothing is persisted: keep the empty default
                r.artifact_ids = {k: v.id for k, v in ev.outputs.items()}
        elif isinstance(ev, StepCached):
            r.status = "cached"
            r.cached = True
            r.finished_at = ev.ts
            r.artifact_ids = {k: v.id for k, v in ev.outputs.items()}
        elif isinstance(ev, StepFailed):
            r.status = "failed"
            r.duration_seconds = ev.duration
            r.finished_at = ev.ts
            r.traceback = ev.traceback
        elif isinstance(ev, StepSkipped):
            r.status = "skipped"
            r.skip_reason = ev.reason
            r.finished_at = ev.ts
        elif isinstance(ev, StepRetrying):
            r.status = "retrying"

    # ------------------------------------------------------------------ run
    async def run(self) -> PipelineResult:
        """Execute every step; return the result (the run is persisted before returning)."""
        started = time.time()
        self._t0 = time.perf_counter()
        self._id_stamp = time_stamp(started)
        self._emit(
            RunStarted(
                run_id=self.run_id,
                ts=started,
                pipeline=self.dag.pipeline,
                params=_jsonable(self.params),
                pid=os.getpid(),
                host=_host(),
                resumed_from=self.resume_from,
                steps=list(self.dag.nodes),
            )
        )
        try:
            async with AsyncExitStack() as stack, anyio.create_task_group() as outer:
                if self._executor is not None:
                    await stack.enter_async_context(self._executor)
                if self._writer is not None:
                    outer.start_soon(self._writer.run)
                    outer.start_soon(self._heartbeat)
                if self._background is not None:
                    outer.start_soon(self._run_background, self._background)
                with anyio.CancelScope() as scope:
                    self._steps_scope = scope
                    async with anyio.create_task_group() as tg:
                        self._starter = Starter(tg)
                        self._starter.start(self._run_step, self._nodes(self._sched.start()))
                if scope.cancelled_caught:
                    self._abandon(f"cancelled: fail_fast after step {self._failed_first!r} failed")
                if self._lazy:
                    await self._realize_all()
                status: RunStatus = "failed" if self._failed_first is not None else "succeeded"
                error = None
                if self._failed_first is not None:
                    error = f"step {self._failed_first!r} failed"
                self._emit(
                    RunFinished(
                        run_id=self.run_id,
                        ts=time.time(),
                        status=status,
                        duration=time.perf_counter() - self._t0,
                        error=error,
                    )
                )
                if self._writer is not None:
                    await self._writer.close()
                await self._background_done.wait()
                outer.cancel_scope.cancel()
        except _cancelled():
            with anyio.move_on_after(10, shield=True):
                await self._finish_cancelled()
            raise
        return self._result(status, started)

    async def _finish_cancelled(self) -> None:
        # No per-step events: `run_finished(cancelled)` itself marks every unfinished step
        # `cancelled` (in the store, the dashboard and here), so all views agree.
        self._sched.abandon()
        for r in self._results.values():
            if r.status not in ("succeeded", "cached", "failed", "skipped"):
                r.status = "cancelled"
                r.skip_reason = "the run was cancelled"
        self._emit(
            RunFinished(
                run_id=self.run_id,
                ts=time.time(),
                status="cancelled",
                duration=time.perf_counter() - self._t0,
                error="the run was cancelled",
            )
        )
        if self._writer is not None:
            await self._writer.drain()

    def _abandon(self, reason: str) -> None:
        """Stop the run's remaining steps (``fail_fast``): each gets a ``step_skipped``."""
        started, waiting = self._sched.abandon()
        now = time.time()
        order = self._order
        for i in started + waiting:
            r = self._by_pos[i]
            if r.status not in ("succeeded", "cached", "failed"):
                self._emit(
                    StepSkipped(run_id=self.run_id, ts=now, step=order[i].name, reason=reason), r
                )

    async def _run_background(self, fn: Callable[[], Awaitable[None]]) -> None:
        try:
            # Bookkeeping (registering the pipeline) yields to the first burst of steps.
            starter: Starter | None = getattr(self, "_starter", None)
            if starter is not None:
                await starter.drained()
            await fn()
        except Exception as exc:  # e.g. registering the pipeline: never fail the run over it
            log.warning("background work of run %s failed: %s", self.run_id, exc)
        finally:
            self._background_done.set()

    async def _heartbeat(self) -> None:
        assert self.runtime is not None
        while True:
            await anyio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.runtime.metadata.heartbeat([self.run_id], time.time())
            except StoreError as exc:
                log.warning("heartbeat for run %s failed: %s", self.run_id, exc)

    def _result(self, status: str, started: float) -> PipelineResult:
        return PipelineResult(
            run_id=self.run_id,
            pipeline_name=self.dag.pipeline,
            status=status,
            outputs=self._values,
            step_results=self._results,
            duration_seconds=time.perf_counter() - self._t0,
            params=self.params,
            resumed_from=self.resume_from,
            started_at=started,
        )

    # ------------------------------------------------------------------ steps
    def _nodes(self, positions: list[int]) -> Iterator[DagNode]:
        """The nodes at ``positions`` (lazily: the starter takes them a batch at a time)."""
        return map(self._order.__getitem__, positions)

    async def _run_step(self, node: DagNode) -> None:
        """A step's task: run it (resumed, conditional, mapped or plain), then release or
        skip its dependents.  One coroutine for all of it: a waiting step holds few frames."""
        name = node.name
        r = self._by_pos[node.index]
        if name in self.resumed:
            source, records = self.resumed[name]
            if await self._load_outputs(node, records, source_run=source, cache_key=""):
                self._settle(node, OK)
                return
        kwargs, ctx_params = self._resolve(node)
        if node.step.condition is not None:
            if self._lazy:
                await self._realize(node, kwargs)
            if not self._condition_holds(node, kwargs):
                self._settle(node, FAILED if r.status == "failed" else SKIP)
                return
        inputs: dict[str, str] = {} if self.runtime is None else self._input_ids(node)
        if node.map_param is not None:
            if self._lazy:
                await self._realize(node, kwargs)
            self._settle(node, await self._execute_mapped(node, kwargs, ctx_params, inputs))
            return
        outputs = await self._run_one(node, r, kwargs, ctx_params, inputs)
        if outputs is None:
            self._settle(node, FAILED)
            return
        self._values.update(outputs)
        self._settle(node, OK)

    def _settle(self, node: DagNode, outcome: object) -> None:
        if outcome is OK:
            ready = self._sched.succeeded(node.index)
            if ready:
                self._starter.start(self._run_step, self._nodes(ready))
            return
        name = node.name
        order = self._order
        now = time.time()
        if outcome is SKIP:
            ready, skipped = self._sched.skipped(node.index, self._optional_consumers(node))
            reason = f"upstream step {name!r} was skipped (its condition is false)"
        else:
            tolerant: tuple[int, ...] = ()
            if outcome is PARTIAL:
                kids = self.dag.children[node.index]
                tolerant = tuple(d for d in kids if order[d].step.allow_partial)
            ready, skipped = self._sched.failed(node.index, tolerant)
            reason = f"upstream step {name!r} failed"
            if self._failed_first is None:
                self._failed_first = name
            if self.fail_fast and self._steps_scope is not None:
                self._steps_scope.cancel()
        for s in skipped:
            self._emit(StepSkipped(run_id=self.run_id, ts=now, step=order[s].name, reason=reason))
        if ready:
            self._starter.start(self._run_step, self._nodes(ready))

    def _optional_consumers(self, node: DagNode) -> tuple[int, ...]:
        """Dependents whose every parameter fed by ``node`` defaults to ``None``."""
        outs = set(node.outputs)
        tolerant = []
        for d in self.dag.children[node.index]:
            dn = self._order[d]
            params = dn.step.signature.parameters
            fed = [p for p, b in dn.bindings if isinstance(b, FromOutput) and b.output in outs]
            if fed and all(p in params and params[p].default is None for p in fed):
                tolerant.append(d)
        for out in node.outputs:
            self._values[out] = None
        return tuple(tolerant)

    def _resolve(self, node: DagNode) -> tuple[dict[str, Any], list[str]]:
        kwargs: dict[str, Any] = {}
        ctx_params: list[str] = []
        values = self._values
        assets = node.step.asset_params
        for param, b in node.bindings:
            kind = type(b)
            if kind is FromOutput:
                v = values[b.output]  # type: ignore[union-attr]
                if isinstance(v, Asset) and param not in assets:
                    v = v.value
                kwargs[param] = v
            elif kind is FromParam:
                kwargs[param] = self.params[b.name]  # type: ignore[union-attr]
            elif kind is Const:
                kwargs[param] = b.value  # type: ignore[union-attr]
            elif kind is FromContext:
                ctx_params.append(param)
        return kwargs, ctx_params

    async def _run_one(
        self,
        node: Any,
        r: StepResult,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        inputs: dict[str, str],
    ) -> dict[str, Any] | None:
        """Cache lookup, then attempts; return the outputs, or ``None`` if the step failed."""
        cache_key: str | None = None
        if self.runtime is not None:
            if self.cache_on and node.step.cache and node.step.persist:
                cache_key = self._cache_key(node, kwargs)
            if cache_key is not None:
                hit = await self._lookup(node.name, cache_key)
                if hit is not None and await self._load_outputs(
                    node, hit[1], source_run=hit[0], cache_key=cache_key, inputs=inputs
                ):
                    return r.outputs
        if self._lazy:
            await self._realize(node, kwargs)
        try:
            return await self._attempts(node, r, kwargs, ctx_params, inputs, cache_key)
        except StepFailure:
            return None

    def _condition_holds(self, node: DagNode, kwargs: dict[str, Any]) -> bool:
        cond = node.step.condition
        assert cond is not None
        try:
            sig = inspect.signature(cond)
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
                args = kwargs
            else:
                args = {k: v for k, v in kwargs.items() if k in sig.parameters}
            holds = bool(cond(**args))
        except Exception as exc:
            err = StepError(node.name, f"its condition raised {type(exc).__name__}: {exc}")
            err.__cause__ = exc
            self._fail(node, 0, err, time.perf_counter())
            return False
        if not holds:
            self._emit(
                StepSkipped(
                    run_id=self.run_id, ts=time.time(), step=node.name, reason="condition is false"
                )
            )
            self._values.update(dict.fromkeys(node.outputs))
        return holds

    async def _attempts(
        self,
        node: DagNode,
        r: StepResult,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        inputs: dict[str, str],
        cache_key: str | None,
    ) -> dict[str, Any]:
        step = node.step
        name = node.name
        attempt = 0
        while True:
            attempt += 1
            if ctx_params:
                sc = StepContext(self.run_id, name, attempt, self.dag.pipeline, self.params)
                for p in ctx_params:
                    kwargs[p] = sc
            self._emit(
                StepStarted(
                    run_id=self.run_id,
                    ts=time.time(),
                    step=name,
                    attempt=attempt,
                    inputs=inputs,
                    cache_key=cache_key,
                ),
                r,
            )
            t0 = time.perf_counter()
            try:
                if self._limiter is not None:
                    async with self._limiter:
                        value = await self._call(node, kwargs)
                elif step.is_async and step.timeout is None and self._executor is None:
                    value = await _invoke(step.fn, node.positional, kwargs)  # one frame less
                else:
                    value = await self._call(node, kwargs)
                outputs = _split(node, value)
            except _cancelled():
                raise
            except Exception as exc:
                error: Exception = exc
            else:
                duration = time.perf_counter() - t0
                try:
                    refs = await self._store_outputs(node, outputs)
                except SerializationError as exc:
                    self._fail(node, attempt, exc, t0)
                    raise StepFailure from exc
                self._emit(
                    StepSucceeded(
                        run_id=self.run_id,
                        ts=time.time(),
                        step=name,
                        attempt=attempt,
                        duration=duration,
                        outputs=refs,
                        cache_key=cache_key,
                    ),
                    r,
                )
                r.outputs = outputs
                return outputs
            if attempt > step.retries or isinstance(error, StepOutputError):
                self._fail(node, attempt, error, t0)
                raise StepFailure from error
            delay = retry_delay(attempt, step.retry_delay, step.backoff)
            self._emit(
                StepRetrying(
                    run_id=self.run_id,
                    ts=time.time(),
                    step=name,
                    attempt=attempt,
                    error=f"{type(error).__name__}: {error}",
                    delay=delay,
                )
            )
            log.info(
                "step %r attempt %d failed (%s); retrying in %.3fs", name, attempt, error, delay
            )
            if delay:
                await anyio.sleep(delay)

    async def _call(self, node: DagNode, kwargs: dict[str, Any]) -> Any:
        step = node.step
        timeout = step.timeout
        if self._executor is not None:
            with anyio.move_on_after(timeout if timeout is not None else math.inf):
                return await self._executor.run_step(
                    step.fn, kwargs, is_async=step.is_async, name=step.name
                )
            raise StepTimeoutError(step.name, timeout if timeout is not None else 0.0)
        pos = node.positional
        if timeout is None:
            if step.is_async:
                return await _invoke(step.fn, pos, kwargs)
            return await anyio.to_thread.run_sync(
                functools.partial(_invoke, step.fn, pos, kwargs),
                abandon_on_cancel=True,
                limiter=self._threads,
            )
        with anyio.move_on_after(timeout) as scope:
            if step.is_async:
                return await _invoke(step.fn, pos, kwargs)
            # A sync step's thread cannot be killed: on timeout it is abandoned, its
            # result discarded, and the step fails.
            return await anyio.to_thread.run_sync(
                functools.partial(_invoke, step.fn, pos, kwargs),
                abandon_on_cancel=True,
                limiter=self._threads,
            )
        if scope.cancelled_caught:
            raise StepTimeoutError(step.name, timeout)
        raise RuntimeError("unreachable")  # pragma: no cover

    def _fail(self, node: DagNode, attempt: int, error: BaseException, t0: float) -> None:
        r = self._results[node.name]
        r.error = error
        self._emit(
            StepFailed(
                run_id=self.run_id,
                ts=time.time(),
                step=node.name,
                attempt=attempt,
                error=f"{type(error).__name__}: {error}",
                error_type=type(error).__qualname__,
                traceback="".join(tb_module.format_exception(error)),
                duration=time.perf_counter() - t0,
            )
        )
        log.warning("step %r of run %s failed: %s", node.name, self.run_id, error)


def _invoke(
    fn: Callable[..., Any], positional: tuple[str, ...] | None, kwargs: dict[str, Any]
) -> Any:
    """Call ``fn`` with the bound values: by position when ``positional`` allows it."""
    if positional is None:
        return fn(**kwargs)
    return fn(*[kwargs[p] for p in positional])


def _split(node: DagNode, value: Any) -> dict[str, Any]:
    outs = node.outputs
    if len(outs) == 1:
        return {outs[0]: value}
    if isinstance(value, dict) and set(value) == set(outs):
        return {o: value[o] for o in outs}
    if not isinstance(value, tuple | list) or len(value) != len(outs):
        got = f"{len(value)} values" if isinstance(value, tuple | list) else type(value).__name__
        raise StepOutputError(
            node.name,
            f"declares {len(outs)} outputs {list(outs)} but returned {got}; return a "
            f"{len(outs)}-tuple (or a dict with those keys)",
        )
    return dict(zip(outs, value, strict=True))
