"""Dask executor: a large numpy output between two steps, and many independent no-op steps.

Side by side in one run, on one ``LocalCluster`` (2 worker processes of 1 thread):

* ``big``: a step returns a numpy array (1 GiB; ``--quick``: 64 MiB) that a second step
  sums, stored in a ``file://`` store; on Dask against the same pipeline in-process.
  Each run's array holds new values, so every run writes its 1 GiB (a store does not
  write a blob it already holds, and a worker's store stays open between runs).
* ``noop``: 1,000 (``--quick``: 50) independent no-op steps (``persist=False``) on Dask
  against the same number of ``client.submit`` calls made directly and gathered.

Before timing, every worker imports what the steps use (numpy, the materializers and
the store) and each side runs its pipeline once untimed: a cold worker (one per worker
process, and Dask may place ``make`` on either) pays seconds of imports that belong to
start-up, not to passing data.  Then baseline and Dask runs alternate, ``--reps`` times
each (default 5; ``--quick``: 1); every timing is kept, and the medians are reported
with their ratio (targets: <= 1.5x).  Full runs also write
``benchmarks/results/dask-<date>.json``.
Run: ``python -m benchmarks.bench_dask [--quick] [--reps N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from flowyml import Pipeline, step
from flowyml.execution import DaskExecutor

RESULTS = Path(__file__).parent / "results"


def _noop() -> None:
    return None


def _warm_worker() -> None:
    """Import, on a worker, what the steps and their stores use."""
    import numpy  # noqa: F401

    import flowyml.storage.artifacts
    import flowyml.storage.artifacts._values  # noqa: F401


def _big_pipeline(n_bytes: int, root: str) -> Pipeline:
    import numpy as np

    @step
    def make(seed: int) -> Any:
        return np.full(n_bytes // 8, float(seed))

    @step
    def reduce(make: Any) -> float:
        return float(make.sum())

    return (
        Pipeline("bench-dask-big", store=f"sqlite:///{root}/m.db", artifacts=f"file://{root}/a")
        .add_step(make)
        .add_step(reduce)
    )


async def _cpu(client: Any) -> float:
    """CPU seconds used so far by this process (the driver, and the LocalCluster's
    scheduler) and by the workers."""
    workers = await client.run(time.process_time)
    return time.process_time() + float(sum(workers.values()))


async def _timed(client: Any, fn: Any) -> tuple[float, float]:
    """Wall and CPU seconds of ``fn()``."""
    c0, t0 = await _cpu(client), time.perf_counter()
    await fn()
    wall = time.perf_counter() - t0
    return wall, await _cpu(client) - c0


async def _alternate(client: Any, base: Any, ours: Any, reps: int) -> dict[str, Any]:
    """``reps`` timings of each, run alternately (the load changes over time), after
    one untimed run of each; their medians and the ratio of the medians.

    The CPU seconds the driver and the workers used are kept too: on a machine shared
    with other work, wall times move with the load, CPU seconds much less.
    """
    await base()
    await ours()
    bases: list[float] = []
    ourss: list[float] = []
    base_cpu: list[float] = []
    our_cpu: list[float] = []
    for _ in range(reps):
        for fn, walls, cpus in ((base, bases, base_cpu), (ours, ourss, our_cpu)):
            wall, cpu = await _timed(client, fn)
            walls.append(wall)
            cpus.append(cpu)
    b, o = statistics.median(bases), statistics.median(ourss)
    bc, oc = statistics.median(base_cpu), statistics.median(our_cpu)
    return {
        "base_times": bases,
        "dask_times": ourss,
        "base_cpu": base_cpu,
        "dask_cpu": our_cpu,
        "base_s": b,
        "dask_s": o,
        "ratio": o / b,
        "cpu_ratio": oc / bc,
    }


async def bench_big(executor: DaskExecutor, n_bytes: int, reps: int) -> dict[str, Any]:
    """The same two-step pipeline in-process and on Dask (fresh stores each, no cache)."""
    with tempfile.TemporaryDirectory() as local, tempfile.TemporaryDirectory() as remote:
        here = _big_pipeline(n_bytes, local)
        there = _big_pipeline(n_bytes, remote)

        seeds = itertools.count()

        # New bytes every run: a store that already holds a blob does not write it again,
        # and a worker's store stays open from one run to the next (the driver's does not).
        async def in_process() -> None:
            result = await here.arun(enable_cache=False, seed=next(seeds))
            assert result.success

        async def on_dask() -> None:
            result = await there.arun(executor=executor, enable_cache=False, seed=next(seeds))
            assert result.success

        return await _alternate(executor.client, in_process, on_dask, reps)


async def bench_noop(executor: DaskExecutor, n: int, reps: int = 1) -> dict[str, Any]:
    """``n`` independent no-op steps against ``n`` direct ``client.submit`` calls."""
    p = Pipeline("bench-dask-noop", persist=False)
    for i in range(n):
        p.add_step(step(name=f"noop{i}")(_noop))
    client = executor.client

    async def direct() -> None:
        futures = [client.submit(_noop, pure=False) for _ in range(n)]
        await client.gather(futures)

    async def flowyml() -> None:
        assert (await p.arun(executor=executor)).success

    return await _alternate(client, direct, flowyml, reps)


async def run(quick: bool, reps: int) -> dict[str, Any]:
    """Both benchmarks on one LocalCluster."""
    n_bytes = (64 if quick else 1024) * 2**20
    n = 50 if quick else 1000
    async with DaskExecutor(n_workers=2) as executor:
        await executor.client.run(_warm_worker)
        load = os.getloadavg()[0]
        big = {"bytes": n_bytes, **await bench_big(executor, n_bytes, reps)}
        noop = {"steps": n, **await bench_noop(executor, n, reps)}
        # the machine may be shared: its load when the run started and when it ended
        return {
            "reps": reps,
            "load_average": load,
            "load_average_end": os.getloadavg()[0],
            "big": big,
            "noop": noop,
        }


def main(argv: list[str] | None = None) -> int:
    """Print the figures as JSON (and write them, for a full run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--reps", type=int, default=None, help="timings of each (median)")
    args = parser.parse_args(argv)
    reps = args.reps if args.reps is not None else (1 if args.quick else 5)
    figures = anyio.run(run, args.quick, reps)
    text = json.dumps(figures, indent=2)
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"dask-{dt.date.today().isoformat()}.json").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
