"""Measuring child for flowyml and the anyio baseline: ``python -m benchmarks._child '<spec>'``.

The spec is ``{"system", "mode", "shape", "persist"}``:

- ``system``: ``flowyml``, ``baseline`` (anyio only) or ``baseline_sqlite`` (anyio + one
  SQLite row per step);
- ``mode``: ``run`` (time one run after a small warm-up run of the same shape),
  ``cache`` (populate the cache with one run, then time a re-run of a freshly built
  pipeline whose every step must be a cache hit), ``memory`` (one run under
  :mod:`tracemalloc`: peak of the memory allocated during the run), ``import`` (time of
  ``import flowyml`` in this fresh process) or ``cold`` (``import flowyml`` plus a first
  10-step persisted run on the empty ``FLOWYML_HOME`` the harness made).

Only stdlib modules are imported before the measurement starts, so ``import`` and
``cold`` see a truly fresh interpreter.
"""

from __future__ import annotations

import os
import tracemalloc
from typing import Any

from ._protocol import child_main, maxrss_kb, now, settle
from ._shapes import Shape

__all__ = ("measure",)

COLD_STEPS = 10


def _warm(shape: Shape) -> Shape:
    return Shape(shape.kind, min(shape.n, 20), min(shape.sleep, 0.001))


def _measure_baseline(spec: dict[str, Any], shape: Shape) -> dict[str, Any]:
    import anyio

    from .baseline import run_shape

    db = None
    if spec["system"] == "baseline_sqlite":
        db = os.path.join(os.environ["BENCH_TMP"], "baseline.db")
    anyio.run(run_shape, _warm(shape), db, "warm")
    settle()
    rss0 = maxrss_kb()
    if spec["mode"] == "memory":
        tracemalloc.start()
        wall = anyio.run(run_shape, shape, db)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return {"wall_s": wall, "traced_peak_kb": peak / 1024, "maxrss_kb": maxrss_kb()}
    wall = anyio.run(run_shape, shape, db)
    rss1 = maxrss_kb()
    return {"wall_s": wall, "maxrss_kb": rss1, "rss_growth_kb": rss1 - rss0}


def _measure_flowyml(spec: dict[str, Any], shape: Shape) -> dict[str, Any]:
    import anyio

    from ._flowyml import build_pipeline, check_result

    persist = bool(spec.get("persist"))
    mode = spec["mode"]

    async def timed(p: Any) -> tuple[float, Any]:
        t0 = now()
        result = await p.arun()
        return now() - t0, result

    warm_shape = _warm(shape)
    warm = build_pipeline(warm_shape, persist=persist, name="warmup", prefix="warmup_")
    _, result = anyio.run(timed, warm)
    problem = check_result(result, warm_shape)
    if problem:
        return {"error": f"warm-up run: {problem}"}

    out: dict[str, Any] = {}
    if mode == "cache":
        first = build_pipeline(shape, persist=True)
        out["populate_s"], result = anyio.run(timed, first)
        problem = check_result(result, shape)
        if problem:
            return {"error": f"populating run: {problem}"}
    t0 = now()
    p = build_pipeline(shape, persist=persist or mode == "cache")
    out["build_s"] = now() - t0
    settle()
    rss0 = maxrss_kb()
    if mode == "memory":
        tracemalloc.start()
        wall, result = anyio.run(timed, p)
        out["traced_peak_kb"] = tracemalloc.get_traced_memory()[1] / 1024
        tracemalloc.stop()
    else:
        wall, result = anyio.run(timed, p)
    rss1 = maxrss_kb()
    problem = check_result(result, shape, cached=mode == "cache")
    if problem:
        return {"error": problem}
    out.update(wall_s=wall, maxrss_kb=rss1, rss_growth_kb=rss1 - rss0)
    return out


def _measure_startup(spec: dict[str, Any]) -> dict[str, Any]:
    t0 = now()
    import flowyml

    t1 = now()
    if spec["mode"] == "import":
        return {"import_s": t1 - t0, "maxrss_kb": maxrss_kb(), "version": flowyml.__version__}
    from ._flowyml import build_pipeline, check_result

    shape = Shape("chain", COLD_STEPS)
    result = build_pipeline(shape, persist=True).run()
    t2 = now()
    problem = check_result(result, shape)
    if problem:
        return {"error": f"cold run: {problem}"}
    return {"cold_total_s": t2 - t0, "import_s": t1 - t0, "first_run_s": t2 - t1}


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one spec in this process (see the module docstring)."""
    if spec["mode"] in ("import", "cold"):
        return _measure_startup(spec)
    shape = Shape.from_dict(spec["shape"])
    if spec["system"] in ("baseline", "baseline_sqlite"):
        result = _measure_baseline(spec, shape)
    else:
        result = _measure_flowyml(spec, shape)
    result.setdefault("steps", shape.steps)
    return result


if __name__ == "__main__":
    child_main(measure)
