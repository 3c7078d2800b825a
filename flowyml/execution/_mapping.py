"""Mapped steps: one full step instance per element, results in input order."""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import MapError, SerializationError, StepCancelledError, StepError
from ..events import StepStarted, StepSucceeded
from ..results import ElementFailure, PartialResults, StepResult
from ._core import FAILED, OK, PARTIAL, Element, Lazy, RunnerCore, param_of
from ._spawn import Starter
from ._stray import CancelGuard

_cancelled = anyio.get_cancelled_exc_class
if TYPE_CHECKING:
    from ..compile._dag import DagNode

__all__ = ("MappingMixin",)


class MappingMixin(RunnerCore):
    """Runs a mapped node's elements under the run's limits and failure rules."""

    async def _execute_mapped(
        self, node: DagNode, kwargs: dict[str, Any], ctx_params: list[str], inputs: dict[str, str]
    ) -> object:
        name = node.name
        param = node.map_param
        assert param is not None
        t0 = time.perf_counter()
        self._emit(StepStarted(run_id=self.run_id, ts=time.time(), step=name, inputs=inputs))
        try:
            items = list(kwargs[param])
        except TypeError as exc:
            self._fail(node, 1, StepError(name, f"cannot map over {param!r}: {exc}"), t0)
            return FAILED
        results: list[Any] = [None] * len(items)
        failures: list[ElementFailure] = []
        run = functools.partial(
            self._run_element, node, items, kwargs, ctx_params, results, failures
        )
        async with anyio.create_task_group() as tg:
            Starter(tg).start(run, range(len(items)))
        out = node.outputs[0]
        await self._realize_elements(node, results)
        if failures:
            failures.sort(key=lambda f: f.index)
            bad = {f.index for f in failures}
            self._values[out] = PartialResults(
                [r for i, r in enumerate(results) if i not in bad], failures
            )
            err = MapError(name, len(items), [(f"{name}[{f.index}]", f.error) for f in failures])
            self._fail(node, 1, err, t0)
            return PARTIAL
        outputs = {out: results}
        try:
            refs = await self._store_outputs(node, outputs)
        except SerializationError as exc:
            self._fail(node, 1, exc, t0)
            return FAILED
        self._emit(
            StepSucceeded(
                run_id=self.run_id,
                ts=time.time(),
                step=name,
                duration=time.perf_counter() - t0,
                outputs=refs,
            )
        )
        self._results[name].outputs = outputs
        self._values[out] = results
        return OK

    async def _realize_elements(self, node: DagNode, results: list[Any]) -> None:
        """Load the elements that came from the cache or a resumed run, in batches, and
        keep the values on their step results too (so the end of the run reads none twice).
        """
        from ..storage.artifacts._values import load_values

        lazy = [i for i, r in enumerate(results) if type(r) is Lazy]
        if not lazy:
            return
        rt = self.runtime
        assert rt is not None
        out = node.outputs[0]
        for start in range(0, len(lazy), 512):
            chunk = lazy[start : start + 512]
            values = await load_values(
                rt.artifacts, rt.materializers, [results[i].record for i in chunk]
            )
            for i, value in zip(chunk, values, strict=True):
                results[i] = value
                self._results[f"{node.name}[{i}]"].outputs = {f"{out}[{i}]": value}
        self._lazy = max(0, self._lazy - len(lazy))

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
        r = self._results[el.name] = StepResult(el.name)
        guard = CancelGuard()
        try:
            error = await self._element_body(
                el, r, index, items[index], kwargs, ctx_params, results
            )
        except _cancelled():
            if not guard.is_stray():
                raise
            error = StepCancelledError(el.name)
            self._fail(el, max(r.attempts, 1), error, time.perf_counter())
        except Exception as exc:  # e.g. loading a cached element's inputs
            error = exc
            self._fail(el, max(r.attempts, 1), error, time.perf_counter())
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: stop the run
            self._interrupted(el, r, exc)
            return
        if error is None:
            return
        failures.append(ElementFailure(node.name, index, items[index], error))
        if self.fail_fast:
            self._stop(f"cancelled: fail_fast after element {el.name!r} failed")

    async def _element_body(
        self,
        el: Element,
        r: StepResult,
        index: int,
        item: Any,
        kwargs: dict[str, Any],
        ctx_params: list[str],
        results: list[Any],
    ) -> BaseException | None:
        """Run element ``index``; store its result in ``results``, or return its error."""
        ekw = dict(kwargs)
        ekw[param_of(el)] = item
        if el.name in self.resumed:
            source, records = self.resumed[el.name]
            if await self._load_outputs(el, records, source_run=source, cache_key=""):
                results[index] = r.outputs[el.outputs[0]]
                return None
        outputs = await self._run_one(el, r, ekw, ctx_params, {})
        if outputs is None:
            assert r.error is not None
            return r.error
        results[index] = outputs[el.outputs[0]]
        return None
