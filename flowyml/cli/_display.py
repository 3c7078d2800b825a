"""What ``flowyml run`` shows while a run goes on, built from the run's events.

:class:`RunView` folds events into a small state (each step's status and times, each map's
element counts, the last log line of each step); :func:`render` draws it as a ``rich``
table.  On a terminal the table is redrawn in place a few times a second; otherwise one
plain line is printed per finished step, so that logs and CI output stay readable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from ..events import (
    Event,
    RunFinished,
    RunStarted,
    StepCached,
    StepFailed,
    StepLog,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ("MapCounts", "RunView", "StepView", "dashboard_url", "render", "summary_lines")

#: how a status is shown: symbol and rich style
_LOOK: Final = {
    "pending": ("·", "dim"),
    "running": ("▶", "cyan"),
    "retrying": ("↻", "yellow"),
    "succeeded": ("✓", "green"),
    "cached": ("✓", "blue"),
    "failed": ("✗", "red"),
    "skipped": ("-", "dim"),
    "cancelled": ("■", "magenta"),
}
_DONE: Final = frozenset({"succeeded", "cached", "failed", "skipped", "cancelled"})
_LOG_WIDTH: Final = 60


@dataclass(slots=True)
class StepView:
    """One step of the DAG as the display knows it."""

    name: str
    status: str = "pending"
    attempt: int = 0
    started: float | None = None
    finished: float | None = None
    last_log: str = ""
    error: str = ""


@dataclass(slots=True)
class MapCounts:
    """Elements of a mapped step seen so far (the total is known only at the end)."""

    seen: set[int] = field(default_factory=set)
    done: int = 0
    failed: int = 0


class RunView:
    """The state of one run for the display, folded from its events."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console
        self.run_id = ""
        self.pipeline = ""
        self.status = "running"
        self.t0 = time.time()
        self.steps: dict[str, StepView] = {}
        self.maps: dict[str, MapCounts] = {}

    def on_event(self, ev: Event) -> None:
        """Apply one event (pass this as the run's ``on_event``)."""
        if isinstance(ev, RunStarted):
            self.run_id, self.pipeline, self.t0 = ev.run_id, ev.pipeline, ev.ts
            for name in ev.steps:
                self.steps.setdefault(name, StepView(name))
            return
        if isinstance(ev, RunFinished):
            self.status = ev.status
            for s in self.steps.values():
                if s.status not in _DONE:
                    s.status = "cancelled" if ev.status == "cancelled" else "skipped"
            return
        base, index = _split(ev.step)
        if index is not None:
            self._element(base, index, ev)
            return
        self._step(self.steps.setdefault(base, StepView(base)), ev)

    def _step(self, s: StepView, ev: Event) -> None:
        if isinstance(ev, StepStarted):
            s.status, s.attempt = "running", max(ev.attempt, 1)
            s.started = s.started or ev.ts
        elif isinstance(ev, StepLog) and ev.lines:
            s.last_log = ev.lines[-1].message
        elif isinstance(ev, StepRetrying):
            s.status, s.error = "retrying", ev.error
        elif isinstance(ev, StepSucceeded | StepCached | StepFailed | StepSkipped):
            s.status = _final_status(ev)
            s.finished = ev.ts
            if isinstance(ev, StepFailed):
                s.error = ev.error
            self._print_plain(s)

    def _element(self, base: str, index: int, ev: Event) -> None:
        counts = self.maps.setdefault(base, MapCounts())
        counts.seen.add(index)
        parent = self.steps.setdefault(base, StepView(base))
        if isinstance(ev, StepLog) and ev.lines:
            parent.last_log = f"[{index}] {ev.lines[-1].message}"
        elif isinstance(ev, StepSucceeded | StepCached):
            counts.done += 1
        elif isinstance(ev, StepFailed):
            counts.failed += 1
            parent.error = f"[{index}] {ev.error}"

    def _print_plain(self, s: StepView) -> None:
        """Without a terminal, one line per finished step."""
        if self.console is None or self.console.is_terminal:
            return
        took = (
            ""
            if s.started is None or s.finished is None
            else f" in {_secs(s.finished - s.started)}"
        )
        extra = f": {s.error}" if s.error and s.status == "failed" else ""
        self.console.print(f"{s.name} {s.status}{took}{extra}", markup=False, highlight=False)

    def counts(self) -> dict[str, int]:
        """How many steps are in each status."""
        out: dict[str, int] = {}
        for s in self.steps.values():
            out[s.status] = out.get(s.status, 0) + 1
        return out


def _final_status(ev: Event) -> str:
    if isinstance(ev, StepSucceeded):
        return "succeeded"
    if isinstance(ev, StepCached):
        return "cached"
    if isinstance(ev, StepFailed):
        return "failed"
    return "skipped"


def _split(step: str) -> tuple[str, int | None]:
    """``"fetch[17]"`` -> ``("fetch", 17)``; a plain step name -> ``(name, None)``."""
    if step.endswith("]") and "[" in step:
        base, _, rest = step.rpartition("[")
        if rest[:-1].isdigit():
            return base, int(rest[:-1])
    return step, None


def _secs(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes}m{sec:02d}s"


def _clip(text: str, width: int) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def render(view: RunView, now: float | None = None) -> RenderableType:
    """The live table: one row per step; maps get a progress bar."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    now = time.time() if now is None else now
    head = Text.assemble(
        (f"{view.pipeline or 'pipeline'} ", "bold"),
        (f"run {view.run_id or '…'}  ", "dim"),
        (f"{view.status}  ", _LOOK.get(view.status, ("", ""))[1]),
        (f"elapsed {_secs(now - view.t0)}", ""),
    )
    table = Table(show_header=False, box=None, padding=(0, 1), expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("time", no_wrap=True, justify="right")
    table.add_column("detail", overflow="ellipsis", no_wrap=True)
    for s in view.steps.values():
        symbol, style = _LOOK.get(s.status, ("?", ""))
        end = s.finished if s.finished is not None else now
        took = "" if s.started is None else _secs(end - s.started)
        detail: RenderableType = Text("")
        counts = view.maps.get(s.name)
        if counts is not None:
            total = max(len(counts.seen), 1)
            bar = ProgressBar(total=total, completed=counts.done + counts.failed, width=20)
            label = f" {counts.done}/{len(counts.seen)} done"
            if counts.failed:
                label += f", {counts.failed} failed"
            detail = Table.grid(padding=(0, 0))
            detail.add_row(bar, Text(label))
        elif s.status in ("running", "retrying") and s.last_log:
            detail = Text(_clip(s.last_log, _LOG_WIDTH), style="dim")
        elif s.status == "failed" and s.error:
            detail = Text(_clip(s.error, _LOG_WIDTH), style="red")
        table.add_row(Text(f"{symbol} {s.status}", style=style), s.name, took, detail)
    return Group(head, table)


def summary_lines(view: RunView, duration: float | None, url: str | None) -> list[str]:
    """The lines printed once the run is over (plain text, no markup)."""
    counts = view.counts()
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    took = "" if duration is None else f" in {_secs(duration)}"
    lines = [f"run {view.run_id} {view.status}{took} ({', '.join(parts) or 'no steps'})"]
    if url:
        lines.append(f"dashboard: {url}")
    return lines


def dashboard_url(base: str | None, run_id: str) -> str | None:
    """The dashboard page of ``run_id`` under the server URL ``base`` (if one is set)."""
    if not base or not run_id:
        return None
    return f"{base.rstrip('/')}/runs/{run_id}"
