"""Tracebacks of failed steps with the user's frames first.

A step's exception travels through flowyml's engine and anyio before it is recorded, so a
plain traceback shows a dozen frames of machinery around the one or two lines of user
code that matter.  :func:`format_step_traceback` keeps every frame of the user's code
(and of any library that is not flowyml's or anyio's) and folds each run of internal
frames into one line saying how many were left out.  The chained exceptions
(``raise ... from``, "during handling of ...") are kept, each folded the same way.

A leaf module: it imports nothing else of flowyml.
"""

from __future__ import annotations

import os
import traceback
from typing import Final

__all__ = ("format_step_traceback", "is_internal_frame")

# Folders whose frames are machinery to a user reading a step's failure.
_FLOWYML_DIR: Final = os.path.dirname(os.path.abspath(__file__)) + os.sep
_INTERNAL_DIRS: Final = [_FLOWYML_DIR]
try:  # anyio is a dependency; a missing one only means nothing of it to fold
    import anyio as _anyio

    _INTERNAL_DIRS.append(os.path.dirname(os.path.abspath(_anyio.__file__)) + os.sep)
except ImportError:  # pragma: no cover
    pass
_ASYNCIO_DIR: Final = os.path.dirname(os.path.abspath(traceback.__file__)) + os.sep + "asyncio"
_INTERNAL_DIRS.append(_ASYNCIO_DIR + os.sep)
_THREADING: Final = os.path.abspath(
    os.path.join(os.path.dirname(traceback.__file__), "threading.py")
)
_CONCURRENT: Final = os.path.dirname(os.path.abspath(traceback.__file__)) + os.sep + "concurrent"


def is_internal_frame(filename: str) -> bool:
    """Whether a frame of ``filename`` is flowyml's, anyio's or asyncio's machinery."""
    path = os.path.abspath(filename)
    if path == _THREADING or path.startswith(_CONCURRENT + os.sep):
        return True
    return any(path.startswith(d) for d in _INTERNAL_DIRS)


def _fold(stack: traceback.StackSummary) -> tuple[list[str], int]:
    """The frames of ``stack`` with internal runs folded, and how many internal frames
    came before the first user frame (left out: they are the engine calling the step)."""
    lines: list[str] = []
    leading = 0
    hidden = 0
    for frame in stack:
        if is_internal_frame(frame.filename):
            hidden += 1
            continue
        if hidden and lines:
            lines.append(_hidden(hidden))
        elif hidden:
            leading = hidden
        hidden = 0
        lines.extend(traceback.StackSummary.from_list([frame]).format())
    if hidden:
        lines.append(_hidden(hidden))
    return lines, leading


def _hidden(n: int) -> str:
    return f"  [... {n} frame{'s' if n != 1 else ''} of flowyml/anyio internals hidden]\n"


def format_step_traceback(error: BaseException) -> str:
    """``error``'s traceback, the user's frames first, internal frames folded.

    The frames of the engine calling the step are left out (one line after the error says
    how many); internal frames between user frames fold into one line each.
    A traceback made only of internal frames (an error of flowyml itself) is shown whole,
    so that nothing needed to report it is lost.
    """
    te = traceback.TracebackException.from_exception(error, capture_locals=False)
    if all(is_internal_frame(f.filename) for f in _all_frames(te)):
        return "".join(te.format())
    parts: list[str] = []
    chain: list[tuple[traceback.TracebackException, str]] = []
    seen: set[int] = set()
    current: traceback.TracebackException | None = te
    note = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, note))
        if current.__cause__ is not None:
            current, note = current.__cause__, _CAUSE
        elif _user_context(current):
            current, note = current.__context__, _CONTEXT
        else:
            current = None
    for exc, link in reversed(chain):
        leading = 0
        if exc.stack:
            lines, leading = _fold(exc.stack)
            parts.append("Traceback (most recent call last):\n")
            parts.extend(lines)
        parts.extend(exc.format_exception_only())
        if leading:
            parts.append(f"  (called by {leading} frames of flowyml/anyio internals, hidden)\n")
        if link:
            parts.append(link)
    return "".join(parts)


_CAUSE: Final = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT: Final = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _user_context(te: traceback.TracebackException) -> bool:
    """Whether ``te`` was raised while handling an exception worth showing (one raised
    inside flowyml itself, such as an engine's fallback, is not the user's concern)."""
    ctx = te.__context__
    if ctx is None or te.__suppress_context__:
        return False
    return not all(is_internal_frame(f.filename) for f in _all_frames(ctx))


def _all_frames(te: traceback.TracebackException) -> list[traceback.FrameSummary]:
    frames: list[traceback.FrameSummary] = []
    seen: set[int] = set()
    todo: list[traceback.TracebackException | None] = [te]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        frames.extend(current.stack)
        todo.extend((current.__cause__, current.__context__))
    return frames
