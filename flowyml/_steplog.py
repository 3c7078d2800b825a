"""The step attempt whose logs are being captured, and ``StepContext.logger``.

A leaf module (it imports nothing else of flowyml), so that both the definition layer
(``StepContext``) and the engine (:mod:`flowyml.execution._logs`, which sets the context
variable around each attempt and owns the rest of the capture) can use it.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import traceback
from collections.abc import Mapping
from typing import Any, Final, Protocol

__all__ = ("CAPTURED", "LineSink", "StepLogger", "current_sink")

#: set on records already kept by :class:`StepLogger`, so the root handler skips them
CAPTURED: Final = "_flowyml_captured"


class LineSink(Protocol):
    """Where the lines of one step attempt go."""

    def add(self, created: float, level: str, logger: str, message: str) -> None:
        """Keep one line (callable from any thread)."""


#: the sink of the step attempt running in this context (``None`` outside steps)
current_sink: contextvars.ContextVar[LineSink | None] = contextvars.ContextVar(
    "flowyml_step_log", default=None
)


class StepLogger(logging.LoggerAdapter[logging.Logger]):
    """``StepContext.logger``: a ``flowyml.step.<step>`` logger whose lines are kept.

    Inside a captured step attempt, a record at ``INFO`` or above (or below, when the
    logger is enabled for it) goes straight to the attempt's log, without the cost of the
    logging machinery, whatever the user's logging configuration; it then goes through
    ``logging`` as usual only if that configuration wants it.
    """

    def __init__(self, logger: logging.Logger, extra: Mapping[str, object]) -> None:
        super().__init__(logger, extra)

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Log ``msg % args`` at ``level`` (keeping it in the step's log when captured)."""
        sink = current_sink.get()
        logger = self.logger
        if sink is None or not (level >= logging.INFO or logger.isEnabledFor(level)):
            super().log(level, msg, *args, **kwargs)
            return
        sink.add(time.time(), logging.getLevelName(level), logger.name, _text(msg, args, kwargs))
        if logger.isEnabledFor(level):
            extra = {**(self.extra or {}), **(kwargs.pop("extra", None) or {}), CAPTURED: True}
            kwargs.setdefault("stacklevel", 1)
            kwargs["stacklevel"] += 1
            logger.log(level, msg, *args, extra=extra, **kwargs)


def _text(msg: object, args: tuple[object, ...], kwargs: Mapping[str, Any]) -> str:
    """The message as ``logging.Formatter("%(message)s")`` would give it."""
    try:
        text = str(msg) % args if args else str(msg)
    except Exception:  # as logging does: never fail the caller over a bad format
        text = f"{msg} {args!r}"
    exc_info = kwargs.get("exc_info")
    if exc_info:
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        elif not isinstance(exc_info, tuple):
            exc_info = sys.exc_info()
        if exc_info[0] is not None:
            text += "\n" + "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    return text
