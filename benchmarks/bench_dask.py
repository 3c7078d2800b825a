"""Dask executor: a large numpy output between two steps, and many independent no-op steps.

Side by side in one run, on one ``LocalCluster`` (2 worker processes of 1 thread):

* ``big``: a step returns a numpy array (1 GiB; ``--quick``: 64 MiB) that a second step
  sums, stored in a ``file://`` store; on Dask against the same pipeline in-process.
* ``noop``: 1,000 (``--quick``: 50) independent no-op steps (``persist=False``) on Dask
  against the same number of ``client.submit`` calls made directly and gathered.

Baseline and Dask runs alternate, ``--reps`` times each (default 3; ``--quick``: 1), and
the medians are reported, with their ratio (targets: <= 1.5x).
Run: ``python -m benchmarks.bench_dask [--quick] [--reps N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

import anyio

from flowyml import Pipeline, step
from flowyml.execution import DaskExecutor


def _noop() -> None:
    return None


def _big_pipeline(n_bytes: int, root: str) -> Pipeline:
    import numpy as np

    @step
    def make() -> Any:
        return np.ones(n_bytes // 8)

    @step
    def reduce(make: Any) -> float:
        return float(make.sum())

    return (
        Pipeline("bench-dask-big", store=f"sqlite:///{root}/m.db", artifacts=f"file://{root}/a")
        .add_step(make)
        .add_step(reduce)
    )


async def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    await fn()
    return time.perf_counter() - t0


async def _alternate(base: Any, ours: Any, reps: int) -> tuple[float, float]:
    """Medians of ``reps`` timings of each, run alternately (the load changes over time)."""
    bases, ourss = [], []
    for _ in range(reps):
        bases.append(await _timed(base))
        ourss.append(await _timed(ours))
    return statistics.median(bases), statistics.median(ourss)


async def bench_big(executor: DaskExecutor, n_bytes: int, reps: int) -> dict[str, float]:
    """The same two-step pipeline in-process and on Dask (fresh stores each, no cache)."""
    with tempfile.TemporaryDirectory() as local, tempfile.TemporaryDirectory() as remote:
        here = _big_pipeline(n_bytes, local)
        there = _big_pipeline(n_bytes, remote)

        async def in_process() -> None:
            assert (await here.arun(enable_cache=False)).success

        async def on_dask() -> None:
            assert (await there.arun(executor=executor, enable_cache=False)).success

        base, dask = await _alternate(in_process, on_dask, reps)
    return {"in_process_s": base, "dask_s": dask, "ratio": dask / base}


async def bench_noop(executor: DaskExecutor, n: int, reps: int = 1) -> dict[str, float]:
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

    base, ours = await _alternate(direct, flowyml, reps)
    return {"direct_submit_s": base, "dask_s": ours, "ratio": ours / base}


async def run(quick: bool, reps: int) -> dict[str, Any]:
    """Both benchmarks on one LocalCluster."""
    n_bytes = (64 if quick else 1024) * 2**20
    n = 50 if quick else 1000
    async with DaskExecutor(n_workers=2) as executor:
        await bench_noop(executor, 10)  # warm the workers' imports
        return {
            "reps": reps,
            "big": {"bytes": n_bytes, **await bench_big(executor, n_bytes, reps)},
            "noop": {"steps": n, **await bench_noop(executor, n, reps)},
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
