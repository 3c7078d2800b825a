"""Mapped steps: one full step instance per element, results in input order."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ..definition._params import FromOutput
from ..errors import MapError, SerializationError, StepCancelledError, StepError
from ..events import StepSkipped, StepStarted, StepSucceeded
from ..results import ElementFailure, ElementResults, PartialResults, StepResult
from ._chain import CUT, Chains, Feed, Follow
from ._core import FAILED, OK, PARTIAL, Element, Emit, Fail, RunState
from ._spawn import Starter, start_windowed
from ._stray import CancelGuard

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..compile._dag import DagNode
    from ..storage._records import ArtifactRecord
    from ._attempts import StepCalls
    from ._persist import Persistence

__all__ = ("CUT", "Mapper")

_cancelled = anyio.get_cancelled_exc_class


class Mapper:
    """Runs a mapped node's elements under the run's limits and failure rules.

    Each element is a step of its own (``fetch[17]``: events, retries, cache,
    artifacts).  A failed element fails the map (its dependents that accept partial
    results get the successes); with ``fail_fast``, ``stop`` is called at once.

    :param interrupted: called when an element raises a ``BaseException`` such as
        ``KeyboardInterrupt`` (the runner then stops the run)
    :param streams: the DAG's chained maps, and ``streaming``, told when a map they are
        chained to starts its elements (see :mod:`._chain`)
    """

    def __init__(
        self,
        *,
        run_id: str,
        state: RunState,
        calls: StepCalls,
        persistence: Persistence | None,
        emit: Emit,
        fail: Fail,
        resumed: Mapping[str, tuple[str, Mapping[str, ArtifactRecord]]],
        fail_fast: bool,
        stop: Callable[[str], None],
        interrupted: Callable[[Any, StepResult, BaseException], None],
        streams: Mapping[int, Sequence[int]] | None = None,
        streaming: Callable[[DagNode], None] = lambda node: None,
    ) -> None:
        self.run_id = run_id
        self.state = state
        self.calls = calls
        self.persistence = persistence
        self.emit = emit
        self.fail = fail
        self.resumed = resumed
        self.fail_fast = fail_fast
        self.stop = stop
        self.interrupted = interrupted
        self.chains = Chains(
            run_id=run_id,
            state=state,
            emit=emit,
            persistence=persistence,
            remote=calls.remote,
            streams=streams or {},
            streaming=streaming,
        )
        #: map -> the output its elements' items come from (``None``: not an output)
        self._sources: dict[str, str | None] = {}

    async def run(
        self, node: DagNode, kwargs: dict[str, Any], ctx_params: list[str], inputs: dict[str, str]
    ) -> object:
        """Run every element of ``node``; return the map's outcome (OK, FAILED, PARTIAL,
        or CUT for a chained map whose upstream map failed)."""
        name, param = node.name, node.map_param
        assert param is not None
        t0 = time.perf_counter()
        self.emit(StepStarted(run_id=self.run_id, ts=time.time(), step=name, inputs=inputs), None)
        source = self.chains.source(node)
        try:
            items = source.results if source is not None else list(kwargs[param])
        except TypeError as exc:
            self.fail(node, 1, StepError(name, f"cannot map over {param!r}: {exc}"), t0)
            return FAILED
        results: list[Any] = [None] * len(items)
        table = self.state.results.add_map(ElementResults(name, node.outputs[0], results))
        failures: list[ElementFailure] = []
        run = functools.partial(
            self._run_element, node, items, source, kwargs, ctx_params, table, failures
        )
        feed = self.chains.open(node, results)
        follow = None if source is None else Follow(node, source, feed)
        outcome: object = FAILED
        try:
            await self._start_all(node, len(items), follow, run, feed)
            if follow is not None and follow.cut:
                why = self.chains.reason(node)
                self.emit(
                    StepSkipped(run_id=self.run_id, ts=time.time(), step=name, reason=why), None
                )
                outcome = CUT
                return outcome
            if follow is not None:
                self.chains.record_inputs(follow, inputs)
            outcome = await self._conclude(node, t0, len(items), results, failures, follow)
            return outcome
        finally:
            if feed is not None:  # after the list is stored: chained maps may record it
                feed.close(cut=outcome is FAILED or outcome is CUT)

    async def _start_all(
        self,
        node: DagNode,
        count: int,
        follow: Follow | None,
        run: Callable[[int], Coroutine[Any, Any, None]],
        feed: Feed | None,
    ) -> None:
        """Start the elements, lazily under the step's window; return when all ended."""
        if feed is not None:
            run = self.chains.announcing(feed, run)
        window = self.calls.limits.element_window(node.step)
        async with anyio.create_task_group() as tg:
            if follow is not None:
                await self.chains.follow(tg, run, follow, window)
            elif window is None:
                Starter(tg).start(run, range(count))
            else:
                await start_windowed(tg, run, count, window)

    async def _conclude(
        self,
        node: DagNode,
        t0: float,
        count: int,
        results: list[Any],
        failures: list[ElementFailure],
        follow: Follow | None,
    ) -> object:
        """Record the map's end from its elements' (the skipped ones of a chained map are
        left out of its list)."""
        name = node.name
        if self.persistence is not None:
            await self.persistence.realize_elements(node, results)
        out = node.outputs[0]
        dropped = follow.dropped if follow is not None else set()
        if failures:
            failures.sort(key=lambda f: f.index)
            bad = {f.index for f in failures} | dropped
            kept = [r for i, r in enumerate(results) if i not in bad]
            self.state.values[out] = PartialResults(kept, failures)
            err = MapError(name, count, [(f"{name}[{f.index}]", f.error) for f in failures])
            self.fail(node, 1, err, t0)
            return PARTIAL
        if dropped:
            results = [r for i, r in enumerate(results) if i not in dropped]
        outputs = {out: results}
        try:
            refs = (
                {}
                if self.persistence is None
                else await self.persistence.store_outputs(node, outputs)
            )
        except SerializationError as exc:
            self.fail(node, 1, exc, t0)
            return FAILED
        done = StepSucceeded(
            run_id=self.run_id,
            ts=time.time(),
            step=name,
            duration=time.perf_counter() - t0,
            outputs=refs,
        )
        self.emit(done, None)
        self.state.results[name].outputs = outputs
        self.state.values[out] = results
        return OK

    async def _run_element(
        self,
        node: DagNode,
        items: list[Any],
        source: Feed | None,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        table: ElementResults,
        failures: list[ElementFailure],
        index: int,
    ) -> None:
        """An element's task: like a step's, nothing escapes it but the run's cancellation.
        Its value goes to ``table.values``, its failure to ``failures``."""
        el = Element(node, index)
        r = table.add(index)
        guard = CancelGuard()
        error: BaseException | None = None
        try:
            outputs = await self._element(el, r, items, source, kwargs, ctx_params, guard)
        except _cancelled():
            if not guard.is_stray():
                raise
            error = StepCancelledError(el.name)
        except Exception as exc:  # e.g. loading a cached element's inputs
            error = exc
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop the run
            self.interrupted(el, r, exc)
            return
        if error is not None:  # it escaped the attempts: record it
            self.fail(el, max(r.attempts, 1), error, time.perf_counter())
        elif outputs is not None:
            table.values[index] = outputs[el.outputs[0]]
            table.settle(index)  # what is left of it is kept compactly
            return
        else:  # the attempts failed (and recorded it)
            error = r.error
            assert error is not None
        failures.append(ElementFailure(node.name, index, items[index], error))
        if self.fail_fast:
            self.stop(f"cancelled: fail_fast after element {el.name!r} failed")

    def _item_input(self, el: Element) -> dict[str, str]:
        """Element ``el``'s input: its item, when the item is a stored artifact of its own.

        That is the case when the map is fed by another map: item ``i`` is the output of
        that map's element ``i`` (``parse[i]`` reads ``fetch[i]``), so lineage links the
        two elements.  An item of a list made by one step has no artifact of its own: the
        map step records the list as its input.
        """
        if self.persistence is None or el.map_param is None:
            return {}
        source = self._sources.get(el.name.rpartition("[")[0], "")
        if source is None:
            return {}
        if not source:  # first element of this map: find the output it maps over
            binding = next((b for p, b in el.bindings if p == el.map_param), None)
            source = binding.output if isinstance(binding, FromOutput) else None
            self._sources[el.name.rpartition("[")[0]] = source
            if source is None:
                return {}
        if isinstance(self.state.values.get(source), PartialResults):
            return {}  # the failed elements were left out: indices moved
        ref = self.state.refs.get(f"{source}[{el.index}]")
        return {} if ref is None else {el.map_param: ref.id}

    def _element(
        self,
        el: Element,
        r: StepResult,
        items: list[Any],
        source: Feed | None,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        guard: CancelGuard,
    ) -> Awaitable[dict[str, Any] | None]:
        """Element ``el``'s outputs (``None``: it failed, and that is recorded), to await
        (``guard``: its task's, see :class:`CancelGuard`).  An item of a list adds no
        coroutine to the element's task: in a map of a million, each one costs."""
        if source is not None or (self.persistence is not None and el.name in self.resumed):
            return self._element_from(el, r, items, source, kwargs, ctx_params, guard)
        inputs = {} if self.persistence is None else self._item_input(el)
        return self._call(el, r, kwargs, items[el.index], inputs, ctx_params, guard)

    async def _element_from(
        self,
        el: Element,
        r: StepResult,
        items: list[Any],
        source: Feed | None,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        guard: CancelGuard,
    ) -> dict[str, Any] | None:
        """:meth:`_element` of a resumed run (the outputs it had, if they load) or of a map
        chained to another (its item is the upstream element's value, read now if it came
        from the cache)."""
        resumed = self.resumed.get(el.name)
        if resumed is not None and self.persistence is not None:
            run_id, records = resumed
            if await self.persistence.load_outputs(el, records, source_run=run_id, cache_key=""):
                return r.outputs
        if source is None:
            item, inputs = items[el.index], self._item_input(el)
        else:
            item, inputs = await self.chains.take(source, el)
        return await self._call(el, r, kwargs, item, inputs, ctx_params, guard)

    def _call(
        self,
        el: Element,
        r: StepResult,
        kwargs: dict[str, Any],
        item: Any,
        inputs: dict[str, str],
        ctx_params: list[str],
        guard: CancelGuard,
    ) -> Awaitable[dict[str, Any] | None]:
        """Element ``el``'s attempts on ``item`` (to await)."""
        assert el.map_param is not None
        ekw = dict(kwargs)
        ekw[el.map_param] = item
        return self.calls.run_one(el, r, ekw, ctx_params, inputs, guard)
