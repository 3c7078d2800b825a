"""Step logs: the records logged while a step attempt runs become ``step_log`` events.

How a record finds its step.  A :class:`~contextvars.ContextVar` holds the
:class:`LogSink` of the step attempt that is running (the sink sets it around the
attempt: ``with LogSink(...)``).  An async step runs in a task that inherits it; a sync
step's thread runs in a copy of the caller's context (see :mod:`._threads`), so both see
their own attempt, and concurrent steps never mix.

How records are caught.  While a run goes on (:func:`capturing_run`), one
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

An attempt that logs nothing costs setting and resetting the context variable: no
handler is added or removed per attempt, and nothing is sent when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final, Self, TextIO

from .._steplog import CAPTURED, LineSink, current_sink
from ..events import LogLine, StepLog

if TYPE_CHECKING:
    from ._core import Emit

__all__ = ("LogSink", "RunLogs", "capturing_run")

#: most lines in one ``step_log`` event
_CHUNK: Final = 1000

_current = current_sink


class RunLogs:
    """Where the step logs of one run go: its emit path, its event loop, and one lock for
    the buffers of its attempts (lines arrive from the loop and from threads)."""

    __slots__ = ("emit", "lock", "loop", "run_id")

    def __init__(self, emit: Emit, run_id: str, loop: Any = None) -> None:
        self.emit = emit
        self.run_id = run_id
        #: where flushes are scheduled (default: the running loop)
        self.loop = asyncio.get_running_loop() if loop is None else loop
        self.lock = threading.Lock()


class _Lines:
    """What one attempt has logged: made with its first line, changed under the run's
    lock."""

    __slots__ = ("count", "dropped", "partial", "pending", "scheduled")

    def __init__(self) -> None:
        self.pending: list[LogLine] = []  # not sent yet
        self.count = 0  # kept so far (numbers the lines)
        self.dropped = 0  # over the step's max_log_lines
        self.scheduled = False  # a flush is on its way
        #: printed text not ended by a newline yet, by stream
        self.partial: dict[str, str] = {}


class LogSink:
    """The log of one step attempt: its lines are sent as ``step_log`` events in batches.

    ``with LogSink(run_logs, node, attempt):`` around the attempt (``node``: a DAG node
    or a mapped element) makes it the attempt's sink (see the module's docstring), while
    :func:`capturing_run` holds the handler in place; on the way out it sends what is
    left.  Its buffer (:class:`_Lines`) is only made when a first line arrives.
    """

    __slots__ = ("_attempt", "_closed", "_lines", "_node", "_run", "_token", "capture_output")
    _token: contextvars.Token[LineSink | None]  # set by __enter__

    def __init__(self, run: RunLogs, node: Any, attempt: int) -> None:
        self._run = run
        self._node = node
        self._attempt = attempt
        #: whether the step keeps what it prints (``@step(capture_output=True)``)
        self.capture_output: bool = node.step.capture_output
        self._lines: _Lines | None = None
        self._closed = False

    def __enter__(self) -> Self:
        if self.capture_output:
            _outputs.enter()
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._token)
        if self.capture_output:
            _outputs.exit()
        self._closed = True  # from now on, lines are dropped (see _open_lines)
        if self._lines is not None:  # (a line racing this is sent by its own flush)
            self._send_rest(self._lines)

    def _open_lines(self) -> _Lines | None:
        """The attempt's buffer, made if need be; ``None`` once the attempt is over (an
        abandoned sync step logging after its attempt ended).  Call under the lock."""
        if self._closed:
            return None
        if self._lines is None:
            self._lines = _Lines()
        return self._lines

    def write(self, level: str, stream: str, text: str) -> None:
        """Keep printed ``text``: each completed line becomes a line of the log."""
        with self._run.lock:
            buf = self._open_lines()
            if buf is None:
                return
            *lines, buf.partial[stream] = (buf.partial.get(stream, "") + text).split("\n")
        now = time.time()
        for line in lines:
            self.add(now, level, stream, line)

    def add(self, created: float, level: str, logger: str, message: str) -> None:
        """Keep one line (from any thread); schedule a flush if none is pending."""
        with self._run.lock:
            buf = self._open_lines()
            if buf is None or not self._keep(buf, created, level, logger, message):
                return
            if buf.scheduled:
                return
            buf.scheduled = True
        try:
            self._run.loop.call_soon_threadsafe(self.flush)
        except RuntimeError:  # the loop is closed: nobody reads this log any more
            pass

    def _keep(self, buf: _Lines, created: float, level: str, logger: str, message: str) -> bool:
        """Append one line to ``buf`` unless the step's cap is reached (under the lock)."""
        if buf.count >= self._node.step.max_log_lines:
            buf.dropped += 1
            return False
        buf.count += 1
        buf.pending.append(LogLine(buf.count, created, level, logger, message))
        return True

    def flush(self) -> None:
        """Send the buffered lines (on the event loop)."""
        with self._run.lock:
            buf = self._lines
            if buf is None:
                return
            lines, buf.pending = buf.pending, []
            buf.scheduled = False
        for i in range(0, len(lines), _CHUNK):
            ev = StepLog(
                run_id=self._run.run_id,
                ts=time.time(),
                step=self._node.name,
                attempt=self._attempt,
                lines=lines[i : i + _CHUNK],
            )
            self._run.emit(ev, None)

    def _send_rest(self, buf: _Lines) -> None:
        """Send what is left once the attempt is over, and say how many lines were
        dropped."""
        now = time.time()
        with self._run.lock:
            partial, buf.partial = buf.partial, {}
            for stream, rest in partial.items():  # a last print without a newline
                if rest:
                    self._keep(buf, now, "ERROR" if stream == "stderr" else "INFO", stream, rest)
            if buf.dropped:
                marker = (
                    f"{buf.dropped} more log lines dropped (this step keeps "
                    f"{self._node.step.max_log_lines}; raise @step(max_log_lines=...) to "
                    "keep more)"
                )
                buf.count += 1
                buf.pending.append(LogLine(buf.count, now, "WARNING", "flowyml", marker))
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


class _Counted:
    """Keeps something process-wide installed while at least one user needs it (the root
    logger and ``sys.stdout`` are the process's, so their users are counted across runs
    and threads)."""

    def __init__(self, install: Callable[[], None], uninstall: Callable[[], None]) -> None:
        self._install = install
        self._uninstall = uninstall
        self._lock = threading.Lock()
        self._users = 0

    def enter(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1:
                self._install()

    def exit(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._uninstall()


class _Routers:
    """Puts :class:`_OutputRouter` in place of ``sys.stdout``/``sys.stderr`` and back."""

    def __init__(self) -> None:
        self._routers: tuple[_OutputRouter, _OutputRouter] | None = None

    def install(self) -> None:
        out = _OutputRouter(sys.stdout, "INFO", "stdout")
        err = _OutputRouter(sys.stderr, "ERROR", "stderr")
        self._routers = (out, err)
        sys.stdout, sys.stderr = out, err

    def uninstall(self) -> None:
        if self._routers is None:
            return
        out, err = self._routers
        self._routers = None
        # Someone else replaced a stream meanwhile: leave theirs in place.
        if sys.stdout is out:
            sys.stdout = out.target
        if sys.stderr is err:
            sys.stderr = err.target


_handler: Final = _CaptureHandler()
#: the capture handler on the root logger, while runs go on
_root: Final = _Counted(
    lambda: logging.getLogger().addHandler(_handler),
    lambda: logging.getLogger().removeHandler(_handler),
)
_routers: Final = _Routers()
#: the output routers, while attempts of steps with ``capture_output=True`` run
_outputs: Final = _Counted(_routers.install, _routers.uninstall)


@contextlib.contextmanager
def capturing_run() -> Iterator[None]:
    """Keep the capture handler on the root logger while a run goes on (its attempts'
    records reach their sinks through it)."""
    _root.enter()
    try:
        yield
    finally:
        _root.exit()
