"""Mapped steps: one full step instance per element, results in input order."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ..definition._params import FromOutput
from ..errors import MapError, SerializationError, StepCancelledError, StepError
from ..events import StepStarted, StepSucceeded
from ..results import ElementFailure, PartialResults, StepResult
from ._core import FAILED, OK, PARTIAL, Element, Emit, Fail, RunState
from ._spawn import Starter, start_windowed
from ._stray import CancelGuard

if TYPE_CHECKING:
    from ..compile._dag import DagNode
    from ..storage._records import ArtifactRecord
    from ._attempts import StepCalls
    from ._persist import Persistence

__all__ = ("Mapper",)

_cancelled = anyio.get_cancelled_exc_class


class Mapper:
    """Runs a mapped node's elements under the run's limits and failure rules.

    Each element is a step of its own (``fetch[17]``: events, retries, cache,
    artifacts).  A failed element fails the map (its dependents that accept partial
    results get the successes); with ``fail_fast``, ``stop`` is called at once.

    :param interrupted: called when an element raises a ``BaseException`` such as
        ``KeyboardInterrupt`` (the runner then stops the run)
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
        #: map -> the output its elements' items come from (``None``: not an output)
        self._sources: dict[str, str | None] = {}

    async def run(
        self, node: DagNode, kwargs: dict[str, Any], ctx_params: list[str], inputs: dict[str, str]
    ) -> object:
        """Run every element of ``node``; return the map's outcome (OK, FAILED, PARTIAL)."""
        name, param = node.name, node.map_param
        assert param is not None
        t0 = time.perf_counter()
        self.emit(StepStarted(run_id=self.run_id, ts=time.time(), step=name, inputs=inputs), None)
        try:
            items = list(kwargs[param])
        except TypeError as exc:
            self.fail(node, 1, StepError(name, f"cannot map over {param!r}: {exc}"), t0)
            return FAILED
        results: list[Any] = [None] * len(items)
        failures: list[ElementFailure] = []
        run = functools.partial(
            self._run_element, node, items, kwargs, ctx_params, results, failures
        )
        window = self.calls.limits.element_window(node.step)
        async with anyio.create_task_group() as tg:
            if window is None:
                Starter(tg).start(run, range(len(items)))
            else:
                await start_windowed(tg, run, len(items), window)
        if self.persistence is not None:
            await self.persistence.realize_elements(node, results)
        out = node.outputs[0]
        if failures:
            failures.sort(key=lambda f: f.index)
            bad = {f.index for f in failures}
            kept = [r for i, r in enumerate(results) if i not in bad]
            self.state.values[out] = PartialResults(kept, failures)
            err = MapError(name, len(items), [(f"{name}[{f.index}]", f.error) for f in failures])
            self.fail(node, 1, err, t0)
            return PARTIAL
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
        kwargs: dict[str, Any],
        ctx_params: list[str],
        results: list[Any],
        failures: list[ElementFailure],
        index: int,
    ) -> None:
        """An element's task: like a step's, nothing escapes it but the run's cancellation."""
        el = Element(node, index)
        r = self.state.results[el.name] = StepResult(el.name)
        guard = CancelGuard()
        error: BaseException | None
        try:
            error = await self._element(el, r, items[index], kwargs, ctx_params, results)
        except _cancelled():
            if not guard.is_stray():
                raise
            error = StepCancelledError(el.name)
            self.fail(el, max(r.attempts, 1), error, time.perf_counter())
        except Exception as exc:  # e.g. loading a cached element's inputs
            error = exc
            self.fail(el, max(r.attempts, 1), error, time.perf_counter())
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop the run
            self.interrupted(el, r, exc)
            return
        if error is None:
            return
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
        source = self._sources.get(el.name.rpartition("[")[0], "")
        if source is None or self.persistence is None or el.map_param is None:
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

    async def _element(
        self,
        el: Element,
        r: StepResult,
        item: Any,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        results: list[Any],
    ) -> BaseException | None:
        """Run element ``el``; put its result in ``results``, or return its error."""
        ekw = dict(kwargs)
        assert el.map_param is not None
        ekw[el.map_param] = item
        resumed = self.resumed.get(el.name)
        if resumed is not None and self.persistence is not None:
            source, records = resumed
            if await self.persistence.load_outputs(el, records, source_run=source, cache_key=""):
                results[el.index] = r.outputs[el.outputs[0]]
                return None
        outputs = await self.calls.run_one(el, r, ekw, ctx_params, self._item_input(el))
        if outputs is None:
            assert r.error is not None
            return r.error
        results[el.index] = outputs[el.outputs[0]]
        return None
