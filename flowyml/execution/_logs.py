"""Step logs: the records logged while a step attempt runs become ``step_log`` events.

How a record finds its step.  A :class:`~contextvars.ContextVar` names the step attempt
that is running (:func:`capture`, entered around each attempt).  An async step runs in a
task that inherits it; a sync step's thread runs in a copy of the caller's context (see
:mod:`._threads`), so both see their own attempt, and concurrent steps never mix.

How records are caught.  While at least one attempt is being captured, one
:class:`logging.Handler` sits on the root logger.  It keeps the records made inside an
attempt and ignores every other record.  Nothing else about the user's logging changes:
their handlers, levels and formatters stay as they are, so their records still reach
their handlers, and a plain script stays quiet unless it configured logging.
``StepContext.logger`` (:class:`~flowyml._steplog.StepLogger`) hands its lines to the
attempt directly (``INFO`` and above, whatever the configuration), which also spares them
the cost of the logging machinery when nobody else wants them.

With ``@step(capture_output=True)``, ``sys.stdout``/``sys.stderr`` are replaced, while
such an attempt runs, by a router that sends the text written inside a capturing attempt
to that attempt's log (one record per line) and passes everything else through.

Batches.  A record is appended to its attempt's buffer (under a lock: threads log too);
the first record of a batch schedules one flush on the event loop, which sends every
buffered line as one :class:`~flowyml.events.StepLog` event through the run's emit path
(the event writer then commits many events per transaction).  Each attempt keeps at most
``max_log_lines`` lines; a last line says how many were dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, TextIO

from .._steplog import CAPTURED, current_sink
from ..events import LogLine, StepLog

if TYPE_CHECKING:
    from ._core import Emit

__all__ = ("DEFAULT_MAX_LOG_LINES", "LogSink", "capture", "capturing_run")

#: lines kept per step attempt unless the step says otherwise
DEFAULT_MAX_LOG_LINES: Final = 10_000
#: most lines in one ``step_log`` event
_CHUNK: Final = 1000

_current = current_sink


class LogSink:
    """The captured lines of one step attempt, sent as ``step_log`` events in batches."""

    def __init__(
        self,
        emit: Emit,
        run_id: str,
        step: str,
        attempt: int,
        *,
        max_lines: int,
        capture_output: bool,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.step = step
        self.capture_output = capture_output
        self._emit = emit
        self._run_id = run_id
        self._attempt = attempt
        self._max = max_lines
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[LogLine] = []
        self._count = 0
        self._dropped = 0
        self._scheduled = False
        self._closed = False
        #: printed text not ended by a newline yet, by stream
        self._partial: dict[str, str] = {}

    def write(self, level: str, stream: str, text: str) -> None:
        """Keep printed ``text``: each completed line becomes a line of the log."""
        with self._lock:
            *lines, rest = (self._partial.get(stream, "") + text).split("\n")
            self._partial[stream] = rest
        now = time.time()
        for line in lines:
            self.add(now, level, stream, line)

    def add(self, created: float, level: str, logger: str, message: str) -> None:
        """Keep one line (from any thread); schedule a flush if none is pending."""
        with self._lock:
            if self._closed:  # an abandoned sync step logging after its attempt ended
                return
            if self._count >= self._max:
                self._dropped += 1
                return
            self._count += 1
            self._pending.append(LogLine(self._count, created, level, logger, message))
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self.flush)
        except RuntimeError:  # the loop is closed: nobody reads this log any more
            pass

    def flush(self) -> None:
        """Send the buffered lines (on the event loop)."""
        with self._lock:
            lines, self._pending = self._pending, []
            self._scheduled = False
        for i in range(0, len(lines), _CHUNK):
            ev = StepLog(
                run_id=self._run_id,
                ts=time.time(),
                step=self.step,
                attempt=self._attempt,
                lines=lines[i : i + _CHUNK],
            )
            self._emit(ev, None)

    def close(self) -> None:
        """Stop taking lines, send what is left, and say how many lines were dropped."""
        with self._lock:
            partial, self._partial = self._partial, {}
        for stream, rest in partial.items():  # a last print without a newline
            if rest:
                self.add(time.time(), "ERROR" if stream == "stderr" else "INFO", stream, rest)
        with self._lock:
            self._closed = True
            if self._dropped:
                marker = (
                    f"{self._dropped} more log lines dropped (this step keeps "
                    f"{self._max}; raise @step(max_log_lines=...) to keep more)"
                )
                self._count += 1
                self._pending.append(
                    LogLine(self._count, time.time(), "WARNING", "flowyml", marker)
                )
        self.flush()


class _CaptureHandler(logging.Handler):
    """On the root logger: hands records made inside a step attempt to its sink."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        sink = _current.get()
        # With capture_output, the sink's own stderr would take it a second time.
        routed = getattr(sink, "capture_output", False)
        if not routed and not self._others_handle(record):
            # Without this handler, logging would have shown the record through its
            # "last resort" handler (warnings on stderr, in a script that configured
            # nothing): keep doing so.
            last = logging.lastResort
            if last is not None and record.levelno >= last.level:
                last.handle(record)
        if sink is None or getattr(record, CAPTURED, False):
            return
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        sink.add(record.created, record.levelname, record.name, message)

    def _others_handle(self, record: logging.LogRecord) -> bool:
        """Whether a handler other than this one sees ``record``."""
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return True
            logger = logger.parent if logger.propagate else None
        return False


class _OutputRouter:
    """Stands in for ``sys.stdout``/``sys.stderr``: text written inside a capturing step
    attempt goes to its log (a line at a time), everything else to the real stream."""

    def __init__(self, target: TextIO, level: str, logger: str) -> None:
        self.target = target
        self._level = level
        self._logger = logger

    def _sink(self) -> LogSink | None:
        sink = _current.get()
        return sink if isinstance(sink, LogSink) and sink.capture_output else None

    def write(self, text: str) -> int:
        sink = self._sink()
        if sink is None:
            return self.target.write(text)
        sink.write(self._level, self._logger, text)
        return len(text)

    def flush(self) -> None:
        if self._sink() is None:
            self.target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


class _Hooks:
    """Installs the root handler (and the output routers) while attempts are captured."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._output_users = 0
        self._handler = _CaptureHandler()
        self._routers: tuple[_OutputRouter, _OutputRouter] | None = None

    def enter(self, capture_output: bool) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1:
                logging.getLogger().addHandler(self._handler)
            if capture_output:
                self._output_users += 1
                if self._output_users == 1:
                    out = _OutputRouter(sys.stdout, "INFO", "stdout")
                    err = _OutputRouter(sys.stderr, "ERROR", "stderr")
                    self._routers = (out, err)
                    sys.stdout, sys.stderr = out, err

    def exit(self, capture_output: bool) -> None:
        with self._lock:
            if capture_output:
                self._output_users -= 1
                if self._output_users == 0 and self._routers is not None:
                    out, err = self._routers
                    self._routers = None
                    # Someone else replaced a stream meanwhile: leave theirs in place.
                    if sys.stdout is out:
                        sys.stdout = out.target
                    if sys.stderr is err:
                        sys.stderr = err.target
            self._users -= 1
            if self._users == 0:
                logging.getLogger().removeHandler(self._handler)


# The root logger and sys.stdout are process-wide, so the count of their users is too.
_hooks: Final = _Hooks()


@contextlib.contextmanager
def capture(emit: Emit, run_id: str, node: Any, attempt: int) -> Iterator[LogSink]:
    """Capture the logs of one step attempt (``node``: a DAG node or a mapped element)."""
    step = node.step
    sink = LogSink(
        emit,
        run_id,
        node.name,
        attempt,
        max_lines=getattr(step, "max_log_lines", DEFAULT_MAX_LOG_LINES),
        capture_output=getattr(step, "capture_output", False),
        loop=asyncio.get_running_loop(),
    )
    _hooks.enter(sink.capture_output)
    token = _current.set(sink)
    try:
        yield sink
    finally:
        _current.reset(token)
        _hooks.exit(sink.capture_output)
        sink.close()


@contextlib.contextmanager
def capturing_run() -> Iterator[None]:
    """Keep the capture handler installed for a whole run (its attempts then only count
    themselves in and out, instead of adding and removing the handler one by one)."""
    _hooks.enter(False)
    try:
        yield
    finally:
        _hooks.exit(False)
