"""Running one step: a cache lookup, then attempts with retries, timeouts and threads."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.from_thread

from ..definition._context import StepContext
from ..errors import (
    ResourcesUnavailableError,
    SerializationError,
    StepCancelledError,
    StepOutputError,
    StepTimeoutError,
    StoreError,
)
from ..events import StepProgress, StepRetrying, StepStarted, StepSucceeded
from ..results import StepResult
from ._core import Emit, Fail, RunState, started, succeeded
from ._handles import OnWorkers, driver_inputs, lists_for, remote_condition
from ._inputs import condition_holds
from ._logs import LogSink, RunLogs
from ._protocol import KeepsOutputs, SaveTo, StepCall
from ._rate import Limits
from ._retry import retry_delay
from ._stray import CancelGuard
from ._threads import run_in_thread

if TYPE_CHECKING:
    from ._persist import Persistence
    from ._protocol import Executor
    from ._resources import Resources

__all__ = ("StepCalls",)

log = logging.getLogger("flowyml")

_cancelled = anyio.get_cancelled_exc_class
#: failures that another attempt would repeat
_FINAL = (StepOutputError, ResourcesUnavailableError)


class StepCalls:
    """Calls steps for one run: where each attempt runs, and what is retried.

    Async steps run on the event loop; sync steps in flowyml's daemon threads (see
    :mod:`._threads`); with an executor, wherever it runs them.  An attempt that raises,
    times out, cancels itself or cannot store its outputs is retried while the step has
    retries left (a :class:`~flowyml.errors.StepOutputError` or a value that cannot be
    serialised is not: it would fail again).
    """

    def __init__(
        self,
        *,
        run_id: str,
        pipeline: str,
        params: dict[str, Any],
        state: RunState,
        emit: Emit,
        fail: Fail,
        persistence: Persistence | None,
        resources: Resources,
        max_concurrency: int | None,
        max_threads: int | None,
        executor: Executor | None,
        observed: bool = True,
    ) -> None:
        self.run_id = run_id
        self.observed = observed  #: a store or a callback reads the events (see _started)
        self.pipeline = pipeline
        self.params = params
        self.state = state
        self.emit = emit
        self.fail = fail
        self.persistence = persistence
        self.resources = resources
        self.executor = executor
        #: an executor that keeps outputs on its workers (they get handles, not values)
        self.remote = executor if isinstance(executor, KeepsOutputs) else None
        self._shared: bool | None = None
        if self.remote is not None and persistence is not None:
            persistence.remote = True
            persistence.there = OnWorkers(
                self.remote, persistence, lambda: self.shared_store, run_id
            )
        self.limits = Limits(max_concurrency)
        self.logs = RunLogs(emit, run_id)
        # The daemon threads have one bound for the whole process; max_threads bounds
        # this run's share of them.
        self._threads = anyio.CapacityLimiter(max_threads) if max_threads else None

    @property
    def shared_store(self) -> bool:
        """Whether the executor's workers read and write the run's artifact store
        themselves (asked once the executor is open)."""
        if self._shared is None:
            store = self.persistence
            self._shared = (
                self.remote is not None
                and store is not None
                and self.remote.shares_store(store.runtime.artifacts_url)
            )
        return self._shared

    def run_one(
        self,
        node: Any,
        r: StepResult,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        inputs: dict[str, str],
        guard: CancelGuard | None = None,
    ) -> Awaitable[dict[str, Any] | None]:
        """Cache lookup, then attempts (to await): the outputs, or ``None`` if the step failed
        (and that is recorded).  ``guard``: its task's :class:`CancelGuard`, if made yet."""
        if guard is None:
            guard = CancelGuard()
        if self.persistence is None:  # straight to the attempts: one coroutine less
            return self._attempts(node, r, kwargs, ctx_params, inputs, None, guard)
        return self._cached_or_run(self.persistence, node, r, kwargs, ctx_params, inputs, guard)

    async def _cached_or_run(
        self,
        store: Persistence,
        node: Any,
        r: StepResult,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        inputs: dict[str, str],
        guard: CancelGuard,
    ) -> dict[str, Any] | None:
        cache_key = await store.key_for(node, kwargs)
        if cache_key is not None and await self._from_cache(node, cache_key, inputs):
            return r.outputs
        if self.state.lazy and not self.shared_store:  # else workers read them
            await store.realize(node, kwargs)
        return await self._attempts(node, r, kwargs, ctx_params, inputs, cache_key, guard)

    async def _from_cache(self, node: Any, cache_key: str, inputs: dict[str, str]) -> bool:
        store = self.persistence
        assert store is not None
        try:
            hit = await store.lookup(node.name, cache_key)
        except StoreError as exc:  # the cache only saves time: run the step
            log.warning("step %r: cache lookup failed (%s); running it", node.name, exc)
            return False
        if hit is None:
            return False
        source_run, records = hit
        return await store.load_outputs(
            node, records, source_run=source_run, cache_key=cache_key, inputs=inputs
        )

    async def _attempts(
        self,
        node: Any,
        r: StepResult,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        inputs: dict[str, str],
        cache_key: str | None,
        guard: CancelGuard,
    ) -> dict[str, Any] | None:
        """Attempts until one succeeds (its outputs) or the step fails (``None``)."""
        step = node.step
        attempt = 0
        while True:
            attempt += 1
            if ctx_params:
                kwargs.update(dict.fromkeys(ctx_params, self._context(node.name, attempt)))
            self._started(node, r, attempt, inputs, cache_key)
            t0 = time.perf_counter()
            try:
                with LogSink(self.logs, node, attempt):  # the step's logs
                    outputs = await self._attempt(node, r, kwargs, inputs, cache_key, guard)
                attempt = max(attempt, r.attempts)  # a lost worker costs attempts
                duration = time.perf_counter() - t0
                refs = {}
                if self.persistence is not None:
                    refs = await self.persistence.store_outputs(node, outputs)
            except SerializationError as exc:  # storing it again would fail again
                self.fail(node, attempt, exc, t0)
                return None
            except Exception as exc:
                error: Exception = exc
                attempt = max(attempt, r.attempts)
            else:
                if self.observed or refs:
                    done = StepSucceeded(
                        run_id=self.run_id,
                        ts=time.time(),
                        step=node.name,
                        attempt=attempt,
                        duration=duration,
                        outputs=refs,
                        cache_key=cache_key,
                    )
                    self.emit(done, r)
                else:
                    succeeded(r, time.time(), duration)
                r.outputs = outputs
                return outputs
            if attempt > step.retries or isinstance(error, _FINAL):
                self.fail(node, attempt, error, t0)
                return None
            await self._before_retry(node, attempt, error)

    def _started(
        self, node: Any, r: StepResult, attempt: int, inputs: dict[str, str], key: str | None
    ) -> None:
        """Record an attempt's start (as an event only if anything reads the events: else
        the result is updated as the event would; a map of a million saves much)."""
        now = time.time()
        if not self.observed:
            started(r, now, attempt)
            return
        ev = StepStarted(
            run_id=self.run_id,
            ts=now,
            step=node.name,
            attempt=attempt,
            inputs=inputs,
            cache_key=key,
        )
        self.emit(ev, r)

    def _context(self, step: str, attempt: int) -> StepContext:
        # a step run by an executor may run in another process: no progress reports
        elsewhere = self.executor is not None
        report = None if elsewhere else functools.partial(self._progress, step, attempt)
        return StepContext(self.run_id, step, attempt, self.pipeline, self.params, report=report)

    def _progress(self, step: str, attempt: int, done: float, total: float | None) -> None:
        event = StepProgress(
            run_id=self.run_id, ts=time.time(), step=step, attempt=attempt, done=done, total=total
        )
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a sync step, in its thread
            anyio.from_thread.run_sync(self.emit, event, None)
        else:
            self.emit(event, None)

    async def _before_retry(self, node: Any, attempt: int, error: Exception) -> None:
        step = node.step
        delay = retry_delay(attempt, step.retry_delay, step.backoff)
        retrying = StepRetrying(
            run_id=self.run_id,
            ts=time.time(),
            step=node.name,
            attempt=attempt,
            error=f"{type(error).__name__}: {error}",
            delay=delay,
        )
        self.emit(retrying, None)
        log.info(
            "step %r attempt %d failed (%s); retrying in %.3fs", node.name, attempt, error, delay
        )
        if delay:
            await anyio.sleep(delay)

    async def _attempt(
        self,
        node: Any,
        r: StepResult,
        kwargs: dict[str, Any],
        inputs: dict[str, str],
        cache_key: str | None,
        guard: CancelGuard,
    ) -> dict[str, Any]:
        """Call the step once; return its outputs by name.

        A ``CancelledError`` that the run did not ask for is the step's own failure
        (:class:`~flowyml.errors.StepCancelledError`), not the run's cancellation.
        """
        if self.resources.in_use:
            kwargs = await self.resources.inject(node.name, kwargs)
        try:
            args: dict[str, Any] | StepCall = kwargs
            if self.remote is not None:
                await lists_for(self.remote, kwargs)  # a mapped step's results
                args = self._step_call(node, r, kwargs, inputs, cache_key)
            async with self.limits.slot(node.step):
                value = await self._call(node, args)
        except _cancelled():
            if not guard.is_stray():
                raise
            raise StepCancelledError(node.name) from None
        if guard.cancel_requested() and await guard.pending_stray():  # cancelled itself
            raise StepCancelledError(node.name)
        if self.remote is not None:
            return value  # handles by output
        return split_outputs(node, value)

    def _step_call(
        self,
        node: Any,
        r: StepResult,
        kwargs: dict[str, Any],
        inputs: dict[str, str],
        cache_key: str | None,
    ) -> StepCall:
        step = node.step
        save = None
        store = self.persistence
        if store is not None and self.shared_store:
            rt = store.runtime
            save = SaveTo(rt.artifacts_url, self.run_id, node.name, store.id_stamp, step.persist)

        def on_lost(cause: str) -> None:
            self._before_lost_retry(node, r, cause, inputs, cache_key)

        return StepCall(
            fn=step.fn,
            kwargs=kwargs,
            is_async=step.is_async,
            name=node.name,
            outputs=tuple(node.outputs),
            resources=step.resources,
            group=step.execution_group,
            save=save,
            asset_params=step.asset_params,
            on_lost=on_lost,
            max_log_lines=step.max_log_lines,
            capture_output=step.capture_output,
        )

    def _before_lost_retry(
        self,
        node: Any,
        r: StepResult,
        cause: str,
        inputs: dict[str, str],
        cache_key: str | None,
    ) -> None:
        """The executor re-ran the step elsewhere: record the lost attempt and the new one."""
        attempt = max(r.attempts, 1)
        self.emit(
            StepRetrying(
                run_id=self.run_id,
                ts=time.time(),
                step=node.name,
                attempt=attempt,
                error=cause,
                delay=0.0,
            ),
            None,
        )
        log.warning("step %r attempt %d: %s; running it again", node.name, attempt, cause)
        started = StepStarted(
            run_id=self.run_id,
            ts=time.time(),
            step=node.name,
            attempt=attempt + 1,
            inputs=inputs,
            cache_key=cache_key,
        )
        self.emit(started, r)

    async def fetch_inputs(self, node: Any, kwargs: dict[str, Any]) -> None:
        """Make the inputs of a step with a condition, or of a mapped step, ready for the
        driver (see :func:`._handles.driver_inputs`)."""
        store, step = self.persistence, node.step
        hashed = store is not None and store.cache_on and step.cache and step.persist
        if store is None:
            await driver_inputs(self.remote, node, kwargs, hashed=hashed)
            return
        realize = functools.partial(store.realize, node) if self.state.lazy else None
        shared = store.runtime.artifacts_url if self.shared_store else None
        await driver_inputs(
            self.remote, node, kwargs, hashed=hashed, shared=shared, realize=realize
        )

    async def condition_holds(self, node: Any, kwargs: dict[str, Any]) -> bool:
        """Whether ``node``'s condition holds, evaluated where its inputs are.

        :raises StepError: when the condition raises
        """
        if self.remote is None:
            return condition_holds(node, kwargs)
        return await remote_condition(self.remote, node, kwargs)

    def _call(self, node: Any, kwargs: Any) -> Awaitable[Any]:
        """The step's call, to await: with no timeout, an async step's own coroutine (each
        coroutine in between would cost every element of a large map)."""
        timeout = node.step.timeout
        if timeout is None:
            return self._invoke(node, kwargs)
        return self._timed(node, kwargs, timeout)

    async def _timed(self, node: Any, kwargs: Any, timeout: float) -> Any:
        with anyio.move_on_after(timeout):
            return await self._invoke(node, kwargs)
        # A sync step's thread cannot be killed: on timeout it is abandoned (a daemon
        # thread, see _threads), its late result dropped, and the step fails.
        raise StepTimeoutError(node.name, timeout)

    def _invoke(self, node: Any, kwargs: Any) -> Awaitable[Any]:
        step = node.step
        if self.remote is not None:
            return self.remote.call_step(kwargs)
        if self.executor is not None:
            return self.executor.run_step(step.fn, kwargs, is_async=step.is_async, name=step.name)
        if step.is_async:
            return cast("Awaitable[Any]", invoke(step.fn, node.positional, kwargs))
        return self._in_thread(functools.partial(invoke, step.fn, node.positional, kwargs))

    async def _in_thread(self, call: Callable[[], Any]) -> Any:
        if self._threads is None:
            return await run_in_thread(call)
        async with self._threads:
            return await run_in_thread(call)


def invoke(
    fn: Callable[..., Any], positional: tuple[str, ...] | None, kwargs: dict[str, Any]
) -> Any:
    """Call ``fn`` with the bound values: by position when ``positional`` allows it
    (for very wide fan-ins, matching keywords by name costs O(n) per argument)."""
    if positional is None:
        return fn(**kwargs)
    return fn(*map(kwargs.__getitem__, positional))


def split_outputs(node: Any, value: Any) -> dict[str, Any]:
    """A step's return value as ``{output: value}`` (a tuple or dict for several)."""
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
