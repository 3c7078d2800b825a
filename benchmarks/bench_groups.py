"""Step groups: a chain of steps run as one task, against the same chain ungrouped.

Side by side in one run:

* ``dask``: a chain of 50 (``--quick``: 5) small sync steps on one ``LocalCluster`` (2
  worker processes of 1 thread), in one ``execution_group`` (one Dask task) against the
  same steps ungrouped (one task, and one round trip to the driver, each).
* ``local``: a chain of 200 (``--quick``: 20) small async steps in-process, grouped against
  ungrouped: what running a group in one task costs or saves per step.

(``persist=False``: the figures are the engine's, not the stores'.)

Grouped and ungrouped runs alternate, ``--reps`` times each (default 3; ``--quick``: 1);
the medians are reported with their ratio (grouped / ungrouped: below 1 is faster).
Run: ``python -m benchmarks.bench_groups [--quick] [--reps N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from flowyml import Pipeline, step
from flowyml.execution import DaskExecutor


def _first() -> int:
    return 0


def _next(x: int) -> int:
    return x + 1


async def _pass(x: int) -> int:
    return x + 1


def _chain(name: str, n: int, group: str | None, *, sync: bool) -> Pipeline:
    """``s0 -> s1 -> ... -> s{n-1}``, each reading the previous step's output."""
    p = Pipeline(name, persist=False)
    for i in range(n):
        inputs = [f"v{i - 1}"] if i else []
        fn: Callable[..., Any]
        if sync:
            fn = _next if i else _first
        else:
            fn = _pass if i else _start
        p.add_step(step(name=f"s{i}", inputs=inputs, outputs=[f"v{i}"], execution_group=group)(fn))
    return p


async def _start() -> int:
    return 0


async def _timed(fn: Callable[[], Awaitable[None]]) -> float:
    t0 = time.perf_counter()
    await fn()
    return time.perf_counter() - t0


async def _compare(
    ungrouped: Pipeline, grouped: Pipeline, reps: int, **options: Any
) -> dict[str, float]:
    """Medians of ``reps`` alternating runs of each (the machine's load changes)."""
    plain_s, group_s = [], []

    async def run(p: Pipeline) -> None:
        assert (await p.arun(**options)).success

    for _ in range(reps):
        plain_s.append(await _timed(lambda: run(ungrouped)))
        group_s.append(await _timed(lambda: run(grouped)))
    plain, group = statistics.median(plain_s), statistics.median(group_s)
    return {"ungrouped_s": plain, "grouped_s": group, "ratio": group / plain}


async def run(quick: bool, reps: int) -> dict[str, Any]:
    """Both comparisons."""
    n_dask, n_local = (5, 20) if quick else (50, 200)
    local = await _compare(
        _chain("bench-groups-local", n_local, None, sync=False),
        _chain("bench-groups-local-g", n_local, "g", sync=False),
        reps,
    )
    async with DaskExecutor(n_workers=2) as executor:
        warm = _chain("bench-groups-warm", 2, None, sync=True)
        assert (await warm.arun(executor=executor)).success  # the workers' imports
        dask = await _compare(
            _chain("bench-groups-dask", n_dask, None, sync=True),
            _chain("bench-groups-dask-g", n_dask, "g", sync=True),
            reps,
            executor=executor,
        )
    return {
        "reps": reps,
        "dask": {"steps": n_dask, **dask},
        "local": {"steps": n_local, **local},
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--reps", type=int, default=None, help="timings of each (median)")
    args = parser.parse_args(argv)
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    print(json.dumps(anyio.run(run, args.quick, reps), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
