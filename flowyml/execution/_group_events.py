"""A remote step group's events, recorded as they happen on the worker.

The executor hands each :class:`~._group_remote.MemberEvent` to a :class:`GroupRecorder`
the moment it arrives (on the event loop); the recorder turns it into the step's own
event, keeping the worker's time: ``step_started``, ``step_log``, ``step_retrying``,
``step_succeeded`` (with the artifacts the worker stored, and the step's cache key) and
``step_failed``.  The scheduler learns how each step ended once the task has ended
(:meth:`GroupRecorder.finish`), in the group's order: only then can the steps that read
its outputs get them.  With a store the workers do not share, its outputs are copied here and stored then,
so its ``step_succeeded`` waits for that too.

A worker lost mid-group costs the step that was running one attempt: a ``step_retrying``
whose error starts with ``WorkerLost:``, then its next attempt's ``step_started`` from the
task's new run.  Steps that had ended keep their events; their outputs, when stored, are
read back by the new run instead of being made again.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ..events import StepLog, StepRetrying, StepStarted, StepSucceeded
from ._core import FAILED, OK, TERMINAL
from ._group_remote import MemberEvent, stored_inputs

if TYPE_CHECKING:
    from ..events import ArtifactRef
    from ._group_remote import GroupOutcome, _Planned
    from ._runner import Runner

__all__ = ("GroupRecorder",)

log = logging.getLogger("flowyml")


class _Step:
    """What has been recorded of one step of the group."""

    __slots__ = ("attempt", "ended", "key", "offset", "pending", "planned", "settled", "worker")

    def __init__(self, planned: _Planned) -> None:
        self.planned = planned
        self.key = planned.cache_key
        self.attempt = 0  # the last attempt recorded as started
        self.worker = ""  # where it started
        #: added to the worker's attempt numbers (a loss it kept no record of)
        self.offset = 0
        self.ended = False  # its success or failure arrived
        self.settled = False  # the scheduler was told how it ended
        #: its success, waiting for its outputs to be stored from here
        self.pending: MemberEvent | None = None


class GroupRecorder:
    """Records the events of one group task's steps (see the module's docstring)."""

    def __init__(self, runner: Runner, planned: list[_Planned]) -> None:
        self._runner = runner
        self._steps = {p.node.name: _Step(p) for p in planned}

    def __call__(self, ev: MemberEvent) -> None:
        """Record ``ev`` (on the event loop, as it arrives)."""
        step = self._steps.get(ev.step)
        if step is None:
            return
        if step.ended:  # the task's run after a lost worker, making its outputs again
            if ev.kind == "lost":
                log.warning(
                    "step %r: its outputs were not stored and were lost with the worker; "
                    "the group's task makes them again (%s)",
                    ev.step,
                    ev.message,
                )
            return
        ev.attempt += step.offset
        if ev.kind == "started" and 0 < ev.attempt <= step.attempt:
            self._unrecorded_loss(step, ev)
        if ev.kind != "log" and step.attempt < ev.attempt:
            self._start(step, ev.attempt, ev.started or ev.ts)
        if ev.kind == "started":
            step.worker = ev.message
        if ev.kind == "log":
            self._emit(
                StepLog(
                    run_id=self._run_id, ts=ev.ts, step=ev.step, attempt=ev.attempt, lines=ev.lines
                )
            )
        elif ev.kind in ("retrying", "lost"):
            self._retrying(ev)
        elif ev.kind == "succeeded":
            self._succeeded(step, ev)
        elif ev.kind == "failed":
            self._failed(step, ev)

    @property
    def _run_id(self) -> str:
        return self._runner.run_id

    def _emit(self, event: StepLog | StepRetrying) -> None:
        self._runner._emit(event, None)

    def _start(self, step: _Step, attempt: int, ts: float) -> None:
        p, persist = step.planned, self._runner._persist
        if persist is not None:  # the outputs it reads from the task are stored by now
            p.inputs = persist.input_ids(p.node)
        started = StepStarted(
            run_id=self._run_id,
            ts=ts,
            step=p.node.name,
            attempt=attempt,
            inputs=p.inputs,
            cache_key=self._key(step),
        )
        self._runner._emit(started, self._runner.state.by_pos[p.node.index])
        step.attempt = attempt

    def _unrecorded_loss(self, step: _Step, ev: MemberEvent) -> None:
        """The task's run after a lost worker starts an attempt already recorded: the
        worker was lost before its record of that attempt reached the scheduler.  Record
        the loss, and number this run's attempts after the lost one."""
        lost = step.attempt
        step.offset += lost + 1 - ev.attempt
        cause = (
            f"WorkerLost: Dask worker {step.worker} was lost while running the step; "
            f"Dask runs it again on {ev.message}"
        )
        self._retrying(MemberEvent(ev.step, "lost", lost, ev.ts, message=cause))
        ev.attempt = lost + 1

    def _retrying(self, ev: MemberEvent) -> None:
        retry = StepRetrying(
            run_id=self._run_id,
            ts=ev.ts,
            step=ev.step,
            attempt=ev.attempt,
            error=ev.message,
            delay=ev.delay,
        )
        self._emit(retry)
        if ev.kind == "lost":
            log.warning("step %r attempt %d: %s", ev.step, ev.attempt, ev.message)

    def _key(self, step: _Step) -> str | None:
        """The step's cache key; a step reading outputs made in the task has one once
        they are stored (its key is made from their hashes)."""
        persist, node = self._runner._persist, step.planned.node
        if (
            step.key is None
            and persist is not None
            and stored_inputs(node, self._runner.state.refs)
        ):
            step.key = persist.cache_key(node, step.planned.kwargs)
        return step.key

    def _succeeded(self, step: _Step, ev: MemberEvent) -> None:
        step.ended = True
        node, persist = step.planned.node, self._runner._persist
        if persist is not None and node.step.persist and set(ev.refs) != set(node.outputs):
            step.pending = ev  # copied here and stored once the task has ended
            return
        self._record_success(step, ev, ev.refs if persist is not None and node.step.persist else {})

    def _record_success(self, step: _Step, ev: MemberEvent, refs: dict[str, ArtifactRef]) -> None:
        runner, node = self._runner, step.planned.node
        key = self._key(step)
        runner.state.refs.update(refs)
        done = StepSucceeded(
            run_id=self._run_id,
            ts=ev.ts,
            step=node.name,
            attempt=ev.attempt,
            duration=max(0.0, ev.ts - (ev.started or ev.ts)),
            outputs=refs,
            cache_key=key,
        )
        runner._emit(done, runner.state.by_pos[node.index])

    def _failed(self, step: _Step, ev: MemberEvent) -> None:
        step.ended = True
        runner, node = self._runner, step.planned.node
        error = ev.error or RuntimeError("the step failed on its Dask worker")
        t0 = time.perf_counter() - max(0.0, ev.ts - (ev.started or ev.ts))
        runner._fail(node, ev.attempt, error, t0, ts=ev.ts)

    async def finish(self, outcome: GroupOutcome) -> None:
        """The task ended: record what did not arrive, store the outputs the workers could
        not, and settle each step, in the group's order."""
        runner = self._runner
        state, persist = runner.state, runner._persist
        for step in self._steps.values():
            if step.settled:
                continue
            node = step.planned.node
            got = outcome.get(node.name)
            if got is None or got.status == "skipped":
                continue  # skipped when the step it reads from failed (settled there)
            now = time.time()
            attempt = max(step.attempt, 1)
            if got.status != "succeeded":
                if not step.ended:  # its failure did not arrive: the outcome has it
                    self(MemberEvent(node.name, "failed", attempt, now, error=got.error))
                step.settled = True
                runner._settle(node, FAILED)
                continue
            if not step.ended:  # its success did not arrive
                refs = {out: h.ref for out, h in got.outputs.items() if h.ref is not None}
                self(MemberEvent(node.name, "succeeded", attempt, now, refs=refs))
            if step.pending is not None:
                assert persist is not None
                refs = await persist.store_outputs(node, got.outputs)
                self._record_success(step, step.pending, dict(refs))
                step.pending = None
            r = state.by_pos[node.index]
            r.outputs = dict(got.outputs)
            state.values.update(got.outputs)
            step.settled = True
            runner._settle(node, OK)

    def crashed(self, error: Exception) -> None:
        """The task failed as a whole: its steps still running fail with ``error``; those
        that had ended are settled as failed (the outputs of those that succeeded are
        gone), so the steps reading them are skipped.  In the group's order: the scheduler
        learns of a step's end only after its inputs'."""
        runner = self._runner
        for step in self._steps.values():
            node = step.planned.node
            r = runner.state.by_pos[node.index]
            if step.settled or r.status == "skipped":
                continue
            step.settled = True
            if r.status not in TERMINAL:
                runner._crashed(node, r, error)
            else:
                runner._settle(node, FAILED)
