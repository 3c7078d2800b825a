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
    StepCancelledError,
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
from ._callbacks import EventCallback
from ._core import FAILED, OK, PARTIAL, SKIP, TERMINAL, Snapshot, StepFailure, record_to_ref
from ._mapping import MappingMixin
from ._persist import PersistenceMixin
from ._retry import retry_delay
from ._scheduler import Scheduler
from ._spawn import Starter
from ._stray import CancelGuard
from ._threads import run_in_thread
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
        self._callback = EventCallback(on_event) if on_event is not None else None
        self.resumed = dict(resumed or {})
        self.resume_from = resume_from
        self._limiter = anyio.CapacityLimiter(max_concurrency) if max_concurrency else None
        # Sync steps share the process-wide daemon threads (see _threads); max_threads
        # bounds this run's share of them.
        self._threads = anyio.CapacityLimiter(max_threads) if max_threads else None
        self._writer = (
            EventWriter(runtime.metadata, runtime.hub, on_failure=self._store_failed)
            if runtime
            else None
        )
        self._sched = Scheduler(dag.parents, dag.children)
        self._order = dag.order
        self._values: dict[str, Any] = {}
        self._refs: dict[str, ArtifactRef] = {}
        # Each step's result, by position (the steps' tasks reach theirs without a
        # lookup by name) and by name (mapped elements are added there as they start).
        self._by_pos = [StepResult(name) for name in dag.nodes]
        self._results = dict(zip(dag.nodes, self._by_pos, strict=True))
        self._failed_first: str | None = None
        #: why the steps' scope was cancelled (fail_fast, a step's KeyboardInterrupt, ...)
        self._stop_reason = ""
        #: a BaseException a step raised (KeyboardInterrupt, SystemExit): re-raised once
        #: the run is recorded cancelled
        self._fatal: BaseException | None = None
        #: the metadata store failed for good: the run cannot be recorded
        self._store_error: StoreError | None = None
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
        if self._callback is not None:
            self._callback(ev)

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
        """Execute every step; return the result (the run is persisted before returning).

        Whatever ends the run, it ends with a ``run_finished`` event that says what
        happened: ``succeeded`` only if every step reached a successful end; ``failed``;
        ``cancelled`` (the caller's cancel, or a step raising ``KeyboardInterrupt`` or
        another ``BaseException``, which is then re-raised as is).  A metadata store that
        fails for good is raised as its :class:`~flowyml.errors.StoreError`.
        """
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
        status: RunStatus = "failed"
        try:
            async with AsyncExitStack() as stack, anyio.create_task_group() as outer:
                if self._executor is not None:
                    await stack.enter_async_context(self._executor)
                if self._writer is not None:
                    outer.start_soon(self._writer.run)
                    outer.start_soon(self._heartbeat)
                if self._callback is not None:
                    outer.start_soon(self._callback.run)
                if self._background is not None:
                    outer.start_soon(self._run_background, self._background)
                with anyio.CancelScope() as scope:
                    self._steps_scope = scope
                    async with anyio.create_task_group() as tg:
                        self._starter = Starter(tg)
                        self._starter.start(self._run_step, self._nodes(self._sched.start()))
                if self._store_error is None:
                    status = await self._finish(stopped=scope.cancelled_caught)
                outer.cancel_scope.cancel()
        except _cancelled():
            with anyio.move_on_after(10, shield=True):
                await self._finish_cancelled("the run was cancelled")
            raise
        finally:
            if self._callback is not None:
                self._callback.discard()
        if self._store_error is not None:
            raise self._store_error
        if self._fatal is not None:
            raise self._fatal
        return self._result(status, started)

    async def _finish(self, *, stopped: bool) -> RunStatus:
        """Record the run's end (``stopped``: its steps' scope was cancelled)."""
        status: RunStatus
        error: str | None
        if self._fatal is not None:
            status, error = "cancelled", self._stop_reason
            self._close_unfinished(error)
        else:
            if stopped:
                self._abandon(self._stop_reason)
            if self._lazy:
                await self._realize_all()
            status, error = self._outcome()
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
            try:
                await self._writer.close()
            except StoreError:
                pass  # _store_failed keeps it; run() raises it
        if self._callback is not None:
            await self._callback.close()
        await self._background_done.wait()
        return status

    def _outcome(self) -> tuple[RunStatus, str | None]:
        """The status of a run whose steps are done: ``succeeded`` only if all succeeded."""
        if self._failed_first is not None:
            return "failed", f"step {self._failed_first!r} failed"
        # Every step task ends with an outcome; one that did not is an engine fault, and
        # the run must not be called a success over it.
        unfinished = [r for r in self._results.values() if r.status not in TERMINAL]
        for r in unfinished:
            err = StepError(r.name, "its task ended without an outcome")
            self._fail(r, r.attempts, err, self._t0)
        if unfinished:
            return "failed", f"step {unfinished[0].name!r} never finished"
        return "succeeded", None

    async def _finish_cancelled(self, reason: str) -> None:
        self._close_unfinished(reason)
        self._emit(
            RunFinished(
                run_id=self.run_id,
                ts=time.time(),
                status="cancelled",
                duration=time.perf_counter() - self._t0,
                error=reason,
            )
        )
        if self._writer is not None and self._store_error is None:
            try:
                await self._writer.drain()
            except StoreError as exc:
                log.error("run %s: cannot record its cancellation: %s", self.run_id, exc)
        if self._callback is not None:
            await self._callback.drain()

    def _close_unfinished(self, reason: str) -> None:
        # No per-step events: `run_finished(cancelled)` itself marks every unfinished step
        # `cancelled` (in the store, the dashboard and here), so all views agree.
        self._sched.abandon()
        for r in self._results.values():
            if r.status not in TERMINAL:
                r.status = "cancelled"
                r.skip_reason = reason

    def _stop(self, reason: str) -> None:
        """Cancel the run's remaining steps (the first reason given is kept)."""
        if not self._stop_reason:
            self._stop_reason = reason
        if self._steps_scope is not None:
            self._steps_scope.cancel()

    def _store_failed(self, error: StoreError) -> None:
        """The metadata store failed for good: stop; :meth:`run` raises ``error``."""
        if self._store_error is None:
            self._store_error = error
            self._stop(f"the metadata store failed: {error}")

    def _abandon(self, reason: str) -> None:
        """Stop the run's remaining steps (``fail_fast``): each gets a ``step_skipped``."""
        self._sched.abandon()
        now = time.time()
        for r in list(self._results.values()):  # mapped elements included
            if r.status not in TERMINAL:
                self._emit(StepSkipped(run_id=self.run_id, ts=now, step=r.name, reason=reason), r)

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
        """A step's task.  Nothing escapes it but the run's own cancellation: whatever
        else goes wrong becomes this step's failure, or stops the run (``BaseException``)."""
        guard = CancelGuard()
        try:
            await self._step_body(node)
        except _cancelled():
            if not guard.is_stray():
                raise
            self._crashed(node, self._by_pos[node.index], StepCancelledError(node.name))
        except Exception as exc:
            self._crashed(node, self._by_pos[node.index], exc)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop the run
            self._interrupted(node, self._by_pos[node.index], exc)

    async def _step_body(self, node: DagNode) -> None:
        """Run the step (resumed, conditional, mapped or plain), then release or skip its
        dependents."""
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

    def _crashed(self, node: DagNode, r: StepResult, error: Exception) -> None:
        """An error escaped the attempt loop (e.g. loading a cached input): fail the step."""
        if r.status in TERMINAL:  # already settled: nothing left to decide for it
            log.error("step %r of run %s: %s", node.name, self.run_id, error, exc_info=error)
            return
        self._fail(node, max(r.attempts, 1), error, self._t0)
        self._settle(node, FAILED)

    def _interrupted(self, node: Any, r: StepResult, exc: BaseException) -> None:
        """A step raised ``KeyboardInterrupt``/``SystemExit``/...: the run is recorded
        ``cancelled``, then :meth:`run` re-raises ``exc``."""
        if self._fatal is None:
            self._fatal = exc
        if r.status not in TERMINAL:
            self._fail(node, max(r.attempts, 1), exc, self._t0)
        self._stop(f"step {node.name!r} raised {type(exc).__name__}: {exc}".rstrip(": "))

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
            if self.fail_fast:
                self._stop(f"cancelled: fail_fast after step {self._failed_first!r} failed")
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
                try:
                    hit = await self._lookup(node.name, cache_key)
                except StoreError as exc:  # the cache only saves time: run the step
                    log.warning("step %r: cache lookup failed (%s); running it", node.name, exc)
                    hit = None
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
                outputs = await self._attempt(node, kwargs)
            except Exception as exc:
                error: Exception = exc
            else:
                duration = time.perf_counter() - t0
                try:
                    refs = await self._store_outputs(node, outputs)
                except SerializationError as exc:  # storing again would fail again
                    self._fail(node, attempt, exc, t0)
                    raise StepFailure from exc
                except Exception as exc:  # the artifact store failed: disk full, S3 error...
                    error = exc
                else:
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

    async def _attempt(self, node: DagNode, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Call the step once; return its outputs by name.

        A ``CancelledError`` that the run did not ask for is the step's own failure
        (:class:`~flowyml.errors.StepCancelledError`), not the run's cancellation.
        """
        guard = CancelGuard()
        try:
            if self._limiter is not None:
                async with self._limiter:
                    value = await self._call(node, kwargs)
            else:
                value = await self._call(node, kwargs)
        except _cancelled():
            if not guard.is_stray():
                raise
            raise StepCancelledError(node.name) from None
        if await guard.pending_stray():  # it cancelled its own task, then returned
            raise StepCancelledError(node.name)
        return _split(node, value)

    async def _call(self, node: DagNode, kwargs: dict[str, Any]) -> Any:
        step = node.step
        timeout = step.timeout
        if self._executor is not None:
            with anyio.move_on_after(timeout if timeout is not None else math.inf):
                return await self._executor.run_step(
                    step.fn, kwargs, is_async=step.is_async, name=step.name
                )
            raise StepTimeoutError(step.name, timeout if timeout is not None else 0.0)
        if timeout is None:
            return await self._invoke(node, kwargs)
        with anyio.move_on_after(timeout):
            return await self._invoke(node, kwargs)
        # A sync step's thread cannot be killed: on timeout it is abandoned (its thread is
        # a daemon, see _threads), its late result dropped, and the step fails.
        raise StepTimeoutError(step.name, timeout)

    async def _invoke(self, node: DagNode, kwargs: dict[str, Any]) -> Any:
        step = node.step
        if step.is_async:
            return await _invoke(step.fn, node.positional, kwargs)
        if self._threads is None:
            return await run_in_thread(_invoke, step.fn, node.positional, kwargs)
        async with self._threads:
            return await run_in_thread(_invoke, step.fn, node.positional, kwargs)

    def _fail(self, node: Any, attempt: int, error: BaseException, t0: float) -> None:
        """Record ``node``'s failure (a node, an element or a step result: its ``name``)."""
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
