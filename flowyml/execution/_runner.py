"""One run: a task group that starts each step the moment its inputs are ready.

The :class:`Runner` owns the run's lifecycle and its step tasks.  Its parts, each with one
job, are given what they need explicitly:

* :class:`~._core.RunState`: the values and step results of the run;
* :class:`~._persist.Persistence` (only when the run persists): cache keys and lookups,
  saving outputs as artifacts, loading cached ones;
* :class:`~._attempts.StepCalls`: one step's cache lookup, attempts, retries, timeouts;
* :class:`~._mapping.Mapper`: a mapped step's elements;
* :class:`~._scheduler.Scheduler`: which steps are ready (a pure state machine);
* :class:`~._writer.EventWriter` and :class:`~._callbacks.EventCallback`: where each
  event goes (the metadata store, the user's ``on_event``).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from .._ids import time_stamp
from ..errors import StepCancelledError, StepError, StoreError
from ..events import Event, RunFinished, RunStatus, StepSkipped
from ..results import PipelineResult, StepResult
from ._attempts import StepCalls
from ._callbacks import EventCallback
from ._core import FAILED, OK, PARTIAL, SKIP, TERMINAL, RunState, Snapshot
from ._debug import StepTurns
from ._events import RunEvents, run_started
from ._groups import Groups
from ._handles import settle_outputs
from ._inputs import check_condition, optional_consumers, resolve
from ._logs import capturing_run
from ._mapping import CUT, Mapper
from ._persist import Persistence
from ._resources import Resources
from ._scheduler import Scheduler
from ._spawn import Starter
from ._stray import CancelGuard
from ._writer import EventWriter, heartbeat

if TYPE_CHECKING:
    from ..compile._dag import Dag, DagNode
    from ..storage._records import ArtifactRecord
    from ._protocol import Executor
    from ._runtime import Runtime

__all__ = ("Runner",)

log = logging.getLogger("flowyml")

_cancelled = anyio.get_cancelled_exc_class


class Runner:
    """Executes one run of a compiled DAG and derives its result from its events."""

    tags: tuple[str, ...] = ()  # recorded by ``run_started``

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
        debug: bool = False,
    ) -> None:
        self.dag = dag
        self.params = dict(params)
        self.run_id = run_id
        self.runtime = runtime
        self.fail_fast = fail_fast
        self.resumed = dict(resumed or {})
        self.resume_from = resume_from
        self._executor = executor
        self._background = background
        self._background_done = anyio.Event()
        if background is None:
            self._background_done.set()
        self.state = RunState(dag)
        #: ``debug=True``: one step at a time, in the DAG's order (see _debug)
        self._turns = StepTurns(self.state.by_pos) if debug else None
        #: ``execution_group=``: each group's steps run in one task (not in debug runs)
        self._groups = Groups(dag, self) if dag.groups and not debug else None
        self._callback = EventCallback(on_event) if on_event is not None else None
        self._writer: EventWriter | None = None
        if runtime is not None:
            self._writer = EventWriter(runtime.metadata, runtime.hub, on_failure=self._store_failed)
        events = RunEvents(run_id, self.state, self._writer, self._callback)
        self._emit, self._fail = events.emit, events.fail
        self._persist: Persistence | None = None
        if runtime is not None:
            self._persist = Persistence(
                runtime=runtime,
                state=self.state,
                emit=self._emit,
                run_id=run_id,
                cache_on=enable_cache,
                cache_expiry=cache_expiry,
                snapshot=snapshot,
            )
        self._resources = Resources(self.params)
        self._calls = StepCalls(
            run_id=run_id,
            pipeline=dag.pipeline,
            params=self.params,
            state=self.state,
            emit=self._emit,
            fail=self._fail,
            persistence=self._persist,
            resources=self._resources,
            max_concurrency=max_concurrency,
            max_threads=max_threads,
            executor=executor,
            observed=self._writer is not None or self._callback is not None,
        )
        self._condition = functools.partial(
            check_condition, run_id, self.state, events, self._calls
        )
        self._mapper = Mapper(
            run_id=run_id,
            state=self.state,
            calls=self._calls,
            persistence=self._persist,
            emit=self._emit,
            fail=self._fail,
            resumed=self.resumed,
            fail_fast=fail_fast,
            stop=self._stop,
            interrupted=self._interrupted,
            streams=dag.streams,
            streaming=lambda node: self._start(self._sched.streaming(node.index), ()),
        )
        self._sched = Scheduler(dag.parents, dag.children, dag.streams)
        self._order = dag.order
        self._failed_first: str | None = None
        #: why the steps' scope was cancelled (fail_fast, a step's KeyboardInterrupt, ...)
        self._stop_reason = ""
        #: a step's KeyboardInterrupt or SystemExit: re-raised once the run is recorded cancelled
        self._fatal: BaseException | None = None
        #: the metadata store failed for good: the run cannot be recorded
        self._store_error: StoreError | None = None
        self._starter: Starter | None = None  # set when the steps' task group opens
        self._steps_scope: anyio.CancelScope | None = None
        self._t0 = 0.0

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
        if self._persist is not None:
            self._persist.id_stamp = time_stamp(started)
        self._emit(run_started(self, started))
        status: RunStatus = "failed"
        try:
            async with AsyncExitStack() as stack, anyio.create_task_group() as outer:
                if self._executor is not None:
                    await stack.enter_async_context(self._executor)
                self._start_helpers(outer)
                with anyio.CancelScope() as scope, capturing_run():
                    self._steps_scope = scope
                    async with anyio.create_task_group() as tg:
                        self._starter = Starter(tg)
                        self._start(self._sched.start(), None)
                if self._store_error is None:
                    status = await self._finish(stopped=scope.cancelled_caught)
                outer.cancel_scope.cancel()
        except _cancelled():
            with anyio.move_on_after(10, shield=True):
                await self._finish_cancelled("the run was cancelled")
            raise
        finally:
            await self._resources.aclose()  # shielded and bounded
            if self._callback is not None:
                self._callback.discard()
        if self._store_error is not None:
            raise self._store_error
        if self._fatal is not None:
            raise self._fatal
        return self._result(status, started)

    def _start_helpers(self, tg: anyio.abc.TaskGroup) -> None:
        """Start the tasks that work beside the steps: writer, heartbeat, callbacks."""
        if self._writer is not None and self.runtime is not None:
            tg.start_soon(self._writer.run)
            tg.start_soon(heartbeat, self.runtime.metadata, self.run_id)
        if self._callback is not None:
            tg.start_soon(self._callback.run)
        if self._background is not None:
            tg.start_soon(self._run_background, self._background)

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
            if self._calls.remote is not None:  # (large cached outputs stay in the store)
                await settle_outputs(self.state, self.runtime)
            if self.state.lazy and self._persist is not None:
                await self._persist.realize_all()
            status, error = self._outcome()
        duration = time.perf_counter() - self._t0
        ev = RunFinished(
            run_id=self.run_id, ts=time.time(), status=status, duration=duration, error=error
        )
        self._emit(ev)
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
        if self._failed_first is None:  # fail_fast stopped a map before it could settle
            failed = (r.name for r in self.state.results.active() if r.status == "failed")
            self._failed_first = next(failed, None)
        if self._failed_first is not None:
            return "failed", f"step {self._failed_first!r} failed"
        # A step task without an outcome is an engine fault: never a success over it.
        unfinished = [r for r in self.state.results.active() if r.status not in TERMINAL]
        for r in unfinished:
            self._fail(
                r, r.attempts, StepError(r.name, "its task ended without an outcome"), self._t0
            )
        if unfinished:
            return "failed", f"step {unfinished[0].name!r} never finished"
        return "succeeded", None

    async def _finish_cancelled(self, reason: str) -> None:
        self._close_unfinished(reason)
        duration = time.perf_counter() - self._t0
        ev = RunFinished(
            run_id=self.run_id, ts=time.time(), status="cancelled", duration=duration, error=reason
        )
        self._emit(ev)
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
        for r in self.state.results.active():  # the others succeeded
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
        for r in self.state.results.active():  # running mapped elements included
            if r.status not in TERMINAL:
                self._emit(StepSkipped(run_id=self.run_id, ts=now, step=r.name, reason=reason), r)

    async def _run_background(self, fn: Callable[[], Awaitable[None]]) -> None:
        try:
            # Bookkeeping (registering the pipeline) yields to the first burst of steps.
            if self._starter is not None:
                await self._starter.drained()
            await fn()
        except Exception as exc:  # e.g. registering the pipeline: never fail the run over it
            log.warning("background work of run %s failed: %s", self.run_id, exc)
        finally:
            self._background_done.set()

    def _result(self, status: str, started: float) -> PipelineResult:
        return PipelineResult(
            run_id=self.run_id,
            pipeline_name=self.dag.pipeline,
            status=status,
            outputs=self.state.values,
            step_results=self.state.results,
            duration_seconds=time.perf_counter() - self._t0,
            params=self.params,
            resumed_from=self.resume_from,
            started_at=started,
        )

    # ------------------------------------------------------------------ steps
    def _nodes(self, positions: list[int]) -> Iterator[DagNode]:
        """The nodes at ``positions`` (lazily: the starter takes them a batch at a time)."""
        return map(self._order.__getitem__, positions)

    def _start(self, positions: list[int], ended: Iterable[int] | None) -> None:
        """Start the steps that became ready (``ended``: the steps that just ended, or
        ``None`` at the start); a group's steps wait for their group's task."""
        assert self._starter is not None
        if self._groups is not None:
            positions, due = self._groups.sort(positions, ended)
            if due:
                self._starter.start(self._groups.run, due)
        if positions:
            self._starter.start(self._run_step, self._nodes(positions))

    async def _run_step(self, node: DagNode) -> None:
        """A step's task.  Nothing escapes it but the run's own cancellation: whatever
        else goes wrong becomes this step's failure, or stops the run (``BaseException``)."""
        guard = CancelGuard()
        r = self.state.by_pos[node.index]
        try:
            if self._turns is None:
                await self._step_body(node, r, guard)
            else:
                async with self._turns.turn(node.index):
                    await self._step_body(node, r, guard)
        except _cancelled():
            if not guard.is_stray():
                raise
            self._crashed(node, r, StepCancelledError(node.name))
        except Exception as exc:
            self._crashed(node, r, exc)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop the run
            self._interrupted(node, r, exc)

    async def _took_resumed(self, node: DagNode) -> bool:
        """Settle ``node`` with the outputs it had in the run this one resumes, if they load."""
        resumed = self.resumed.get(node.name)
        if resumed is None or self._persist is None:
            return False
        source, records = resumed
        if not await self._persist.load_outputs(node, records, source_run=source, cache_key=""):
            return False
        self._settle(node, OK)
        return True

    async def _step_body(self, node: DagNode, r: StepResult, guard: CancelGuard) -> None:
        """Run the step (resumed, conditional, mapped or plain), then release or skip its
        dependents (``guard``: its task's, for the attempts)."""
        persist = self._persist
        if await self._took_resumed(node):
            return
        kwargs, ctx_params = resolve(node, self.state.values, self.params)
        if node.step.condition or node.map_param:  # the driver reads these inputs
            if self._calls.remote is not None:  # (cached ones read where they are)
                await self._calls.fetch_inputs(node, kwargs)
            elif persist is not None and self.state.lazy:
                await persist.realize(node, kwargs)
        if node.step.condition is not None and not await self._condition(node, kwargs):
            self._settle(node, FAILED if r.status == "failed" else SKIP)
            return
        inputs = {} if persist is None else persist.input_ids(node)
        if node.map_param is not None:
            self._settle(node, await self._mapper.run(node, kwargs, ctx_params, inputs))
            return
        outputs = await self._calls.run_one(node, r, kwargs, ctx_params, inputs, guard)
        if outputs is not None:
            self.state.values.update(outputs)
        self._settle(node, OK if outputs is not None else FAILED)

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
        """Tell the scheduler how ``node`` ended; start what became ready, skip the rest."""
        if outcome is OK:
            self._start(self._sched.succeeded(node.index), (node.index,))
            return
        if outcome is SKIP:
            self.state.values.update(dict.fromkeys(node.outputs))  # None for the tolerant
            ready, skipped = self._sched.skipped(node.index, optional_consumers(self.dag, node))
            reason = f"upstream step {node.name!r} was skipped (its condition is false)"
        elif outcome is CUT:  # a chained map whose upstream map failed: skipped (_chain)
            ready, skipped = self._sched.skipped(node.index)
            reason = self._mapper.chains.reason(node)
        else:
            tolerant: tuple[int, ...] = ()
            if outcome is PARTIAL:
                kids = self.dag.children[node.index]
                tolerant = tuple(d for d in kids if self._order[d].step.allow_partial)
            ready, skipped = self._sched.failed(node.index, tolerant)
            reason = f"upstream step {node.name!r} failed"
            if self._failed_first is None:
                self._failed_first = node.name
            if self.fail_fast:
                self._stop(f"cancelled: fail_fast after step {self._failed_first!r} failed")
        now = time.time()
        for s in skipped:
            name = self._order[s].name
            self._emit(StepSkipped(run_id=self.run_id, ts=now, step=name, reason=reason))
        self._start(ready, (node.index, *skipped))
