"""Regression guard: flowyml's per-step overhead (persistence off) over the anyio baseline.

``python -m benchmarks._guard [steps] [tries]`` prints one JSON line: the best of ``tries``
runs of a no-op chain of ``steps`` steps for each, alternating, in this one process (after
a warm-up of both), and their ratio.  ``tests/test_benchmarks_guard.py`` runs it in a fresh
process and fails above 5x.  Best-of-N of a ratio measured side by side keeps it stable on
a noisy shared machine.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio

from ._flowyml import build_pipeline, check_result
from ._protocol import now
from ._shapes import Shape
from .baseline import run_shape

__all__ = ("overhead_ratio",)


async def _flowyml_once(shape: Shape, prefix: str = "") -> float:
    p = build_pipeline(shape, persist=False, prefix=prefix)
    t0 = now()
    result = await p.arun()
    wall = now() - t0
    problem = check_result(result, shape)
    if problem:
        raise RuntimeError(f"flowyml chain of {shape.n} did not succeed: {problem}")
    return wall


async def overhead_ratio(steps: int = 2000, tries: int = 3) -> dict[str, Any]:
    """Best-of-``tries`` ms/step of flowyml and of the baseline on a chain, and the ratio."""
    shape = Shape("chain", steps)
    await run_shape(Shape("chain", 50))
    await _flowyml_once(Shape("chain", 50), prefix="warmup_")
    base: list[float] = []
    mine: list[float] = []
    for _ in range(tries):
        base.append(await run_shape(shape))
        mine.append(await _flowyml_once(shape))
    best_base, best_mine = min(base), min(mine)
    return {
        "steps": steps,
        "baseline_ms_per_step": best_base / steps * 1e3,
        "flowyml_ms_per_step": best_mine / steps * 1e3,
        "ratio": best_mine / best_base,
    }


if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    tries = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(json.dumps(anyio.run(overhead_ratio, steps, tries)))
