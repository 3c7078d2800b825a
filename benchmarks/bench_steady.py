"""Steady state of scenario (c) with persistence: many runs against one store.

The harness times one run per fresh process, on a home that holds only its warm-up run.
A script run again and again, or a service, keeps writing to the same SQLite file: every
~4 MB of write-ahead log SQLite checkpoints it into the database file, inside the commit
that crossed the limit.  This runs the 1,000 async steps x 0.2 s shape ``--runs`` times in
one process on one ``FLOWYML_HOME`` and reports every wall time, in two styles:

- ``script``: each ``arun()`` opens and closes the stores (what the harness times);
- ``service``: one :class:`flowyml.Runtime` kept open around all the runs.

    python -m benchmarks.bench_steady            # 12 runs per style
    python -m benchmarks.bench_steady --quick    # 3 runs of 100 steps x 0.05 s

Results go to ``benchmarks/results/steady-<date>.json`` and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ._flowyml import build_pipeline, check_result
from ._shapes import Shape

RESULTS = Path(__file__).parent / "results"


async def _style(style: str, shape: Shape, runs: int) -> list[float]:
    from flowyml import Runtime

    walls: list[float] = []

    async def one(i: int) -> None:
        p = build_pipeline(shape, persist=True, prefix=f"r{i}_")  # no cache hits
        t0 = time.perf_counter()
        result = await p.arun()
        walls.append(time.perf_counter() - t0)
        problem = check_result(result, shape)
        if problem:
            raise RuntimeError(problem)

    warm = build_pipeline(Shape(shape.kind, 20, 0.001), persist=True, prefix="warmup_")
    if style == "service":
        async with Runtime():
            await warm.arun()
            for i in range(runs):
                await one(i)
    else:
        await warm.arun()
        for i in range(runs):
            await one(i)
    return walls


def main(argv: list[str] | None = None) -> int:
    """Run both styles, print the table, write the JSON."""
    import anyio

    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_steady")
    ap.add_argument("--quick", action="store_true", help="3 runs of 100 steps x 0.05 s")
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    shape = Shape("sleep_async", 100, 0.05) if args.quick else Shape("sleep_async", 1000, 0.2)
    runs = 3 if args.quick else args.runs
    record: dict[str, Any] = {"shape": shape.label, "runs": runs, "styles": {}}
    print("| style | runs | median | min | max | walls (ms) |\n|---|---:|---:|---:|---:|---|")
    for style in ("script", "service"):
        with tempfile.TemporaryDirectory() as home:
            os.environ["FLOWYML_HOME"] = home
            walls = anyio.run(_style, style, shape, runs)
        record["styles"][style] = walls
        ms = [round(w * 1e3, 1) for w in walls]
        print(
            f"| {style} | {runs} | {statistics.median(ms):.1f} ms | {min(ms):.1f} ms "
            f"| {max(ms):.1f} ms | {', '.join(map(str, ms))} |"
        )
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"steady-{dt.date.today().isoformat()}.json"
        path.write_text(json.dumps(record, indent=1) + "\n")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
