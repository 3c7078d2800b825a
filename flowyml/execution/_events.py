"""Where a run's events go: its step results, the metadata store, the user's callback."""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
import traceback
from typing import TYPE_CHECKING, Any

import msgspec

from .._traceback import format_step_traceback
from ..events import Event, RunStarted, StepFailed
from ..results import StepResult
from ._callbacks import EventCallback
from ._core import RunState, fold
from ._writer import EventWriter

if TYPE_CHECKING:
    from ._runner import Runner

__all__ = ("RunEvents", "run_started")

log = logging.getLogger("flowyml")


class RunEvents:
    """Records a run's events: each is folded into its step's result (the run's result
    derives from its events), queued for the metadata store, and handed to ``on_event``."""

    def __init__(
        self,
        run_id: str,
        state: RunState,
        writer: EventWriter | None,
        callback: EventCallback | None,
    ) -> None:
        self.run_id = run_id
        self.state = state
        self.writer = writer
        self.callback = callback

    def emit(self, ev: Event, r: StepResult | None = None) -> None:
        """Record ``ev`` (``r``: its step's result, when the caller has it at hand)."""
        if r is None and (step := getattr(ev, "step", None)) is not None:
            r = self.state.results[step]
        if r is not None:
            fold(r, ev)
        if self.writer is not None:
            self.writer.submit(ev)
        if self.callback is not None:
            self.callback(ev)

    def fail(
        self, node: Any, attempt: int, error: BaseException, t0: float, ts: float | None = None
    ) -> None:
        """Record a step's failure (``node``: a node, an element or a result: its name;
        ``ts``: when it failed, if not now)."""
        r = self.state.results[node.name]
        r.error = error
        failed = StepFailed(
            run_id=self.run_id,
            ts=time.time() if ts is None else ts,
            step=node.name,
            attempt=attempt,
            error=f"{type(error).__name__}: {error}",
            error_type=type(error).__qualname__,
            # Whole: the CLI and the dashboard fold flowyml's and anyio's frames when they
            # show it (flowyml._traceback), and nothing is lost for a bug report.
            traceback="".join(traceback.format_exception(error)),
            duration=time.perf_counter() - t0,
        )
        self.emit(failed, r)
        # What the run's result shows: the user's frames first, flowyml's and anyio's folded
        # (the event and the store keep the whole traceback; the dashboard folds it too).
        r.traceback = format_step_traceback(error)
        log.warning("step %r of run %s failed: %s", node.name, self.run_id, error)


def run_started(runner: Runner, ts: float) -> RunStarted:
    """The first event of a run: what runs, with which parameters and tags, where."""
    return RunStarted(
        run_id=runner.run_id,
        ts=ts,
        pipeline=runner.dag.pipeline,
        params=msgspec.to_builtins(runner.params, enc_hook=repr, str_keys=True),
        pid=os.getpid(),
        host=_host(),
        resumed_from=runner.resume_from,
        steps=list(runner.dag.nodes),
        tags=list(runner.tags),
    )


@functools.cache
def _host() -> str:
    return socket.gethostname()
