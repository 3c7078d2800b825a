"""How a measuring child process talks to the harness (stdlib only: peer venvs load it too).

The harness starts ``<python> <child> '<json spec>'`` in a fresh process; the child prints
exactly one line ``@@BENCH@@ {json}`` with its measurements (or ``{"error": ...}``).
Anything else it prints is ignored (kept for error reports).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ("MARK", "child_main", "emit", "maxrss_kb", "now", "parse", "settle")

MARK = "@@BENCH@@ "


def now() -> float:
    """A monotonic clock in seconds (``time.perf_counter``)."""
    return time.perf_counter()


def settle() -> None:
    """Collect garbage before a timed run, so that it starts from the same collector state.

    In a fresh process, CPython's cycle collector makes its first full pass over the whole
    heap (everything imported so far) once enough objects have been allocated: after a
    warm-up that imported a system's modules, that pass (15-35 ms for flowyml with its
    stores) would fall inside the timed run, or not, depending on how much the warm-up
    allocated.  A long-lived process pays it once.  Every measuring child (baselines,
    flowyml, peers) calls this just before its timed run; the collector stays enabled.
    """
    gc.collect()


def maxrss_kb() -> int:
    """Peak resident set size of this process so far, in KiB (Linux ``ru_maxrss``)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def emit(result: dict[str, Any]) -> None:
    """Print the one result line the harness reads."""
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


def parse(stdout: str) -> dict[str, Any] | None:
    """The result a child printed, or ``None`` if it printed none."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            value = json.loads(line[len(MARK) :])
            return value if isinstance(value, dict) else None
    return None


def child_main(measure: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Run ``measure`` on the spec in ``sys.argv[1]`` and emit its result or its error."""
    spec = json.loads(sys.argv[1])
    try:
        result = measure(spec)
    except Exception as exc:  # reported to the harness, which records it and goes on
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    emit(result)
