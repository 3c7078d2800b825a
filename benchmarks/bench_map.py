"""Dynamic map vs. the same width written as static steps (issue: dynamic workflows).

A 10,000-element ``step.map`` of no-op async steps, against a static fan-out of the same
width (one source, N no-op steps, one sink) built with ``add_step``, each run in a fresh
process, persistence off and on.  Reports wall time, per-element overhead and their ratio.
Then two maps chained element-wise against the same two run one after the other (see
_map_chain; 2,000 elements, 200 in quick mode).

    python -m benchmarks.bench_map            # N = 10,000, 3 repetitions
    python -m benchmarks.bench_map --quick    # N = 200, 1 repetition; scale cases at 2,000
    python -m benchmarks.bench_map --scale    # the 100,000-element cases (see _map_scale)
    python -m benchmarks.bench_map --scale --million   # and 1,000,000

Results go to ``benchmarks/results/map-<date>.json`` and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import _map_chain, _map_scale

RESULTS = Path(__file__).parent / "results"


def _child(kind: str, n: int, persist: bool) -> float:
    """Build and run one pipeline in this process; return the run's wall time."""
    import anyio

    from flowyml import Pipeline, pipeline, step

    @step
    async def items(n: int) -> list[int]:
        return [0] * n  # the same values the static steps produce (equal blobs dedupe alike)

    @step
    async def work(x: int) -> int:
        return x

    @step
    async def total(work: list[int]) -> int:
        return len(work)

    if kind == "map":

        @pipeline(persist=persist, enable_cache=False)
        def mapped(n: int = n):  # type: ignore[no-untyped-def]
            return total(work.map(items(n)))

        p = mapped
    else:
        ns: dict[str, Any] = {}
        params = ", ".join(f"w{i}" for i in range(n))
        exec(f"async def sink({params}):\n    return {n}\n", ns)  # noqa: S102
        p = Pipeline("static", persist=persist, enable_cache=False)

        @step(outputs=["source"])
        async def source() -> int:
            return 0

        p.add_step(source)
        for i in range(n):
            p.add_step(step(name=f"w{i}", inputs={"x": "source"})(work.fn))
        p.add_step(step(name="sink", inputs=[f"w{i}" for i in range(n)])(ns["sink"]))
    p.build()

    async def run() -> float:
        t0 = time.perf_counter()
        result = await p.arun()
        elapsed = time.perf_counter() - t0
        if not result.success:
            raise SystemExit(f"{kind} run failed: {result.summary()}")
        return elapsed

    return anyio.run(run)


def _measure(kind: str, n: int, persist: bool, reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "FLOWYML_HOME": home}
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_map",
                    "--child",
                    kind,
                    str(n),
                    str(int(persist)),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--scale", action="store_true", help="only the scale cases")
    parser.add_argument("--million", action="store_true", help="scale cases at 1,000,000 too")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--scale-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--chain-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, n, persist = args.child
        print(_child(kind, int(n), persist == "1"))
        return 0
    if args.scale_child:
        print(json.dumps(_map_scale.child(args.scale_child[0], int(args.scale_child[1]))))
        return 0
    if args.chain_child:
        kind, n, persist = args.chain_child
        print(json.dumps(_map_chain.child(kind, int(n), persist == "1")))
        return 0
    if args.scale:
        return _scale(args)
    n = 200 if args.quick else 10_000
    reps = args.reps or (1 if args.quick else 3)
    rows = []
    for persist in (False, True):
        medians = {k: statistics.median(_measure(k, n, persist, reps)) for k in ("static", "map")}
        rows.append(
            {
                "n": n,
                "persist": persist,
                "static_s": medians["static"],
                "map_s": medians["map"],
                "static_ms_per_element": medians["static"] / n * 1e3,
                "map_ms_per_element": medians["map"] / n * 1e3,
                "ratio": medians["map"] / medians["static"],
            }
        )
    lines = [
        "| width | persistence | static steps | map | ms/element (static -> map) | map / static |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {r['n']:,} | {'on' if r['persist'] else 'off'} | {r['static_s']:.3f} s | "
        f"{r['map_s']:.3f} s | {r['static_ms_per_element']:.4f} -> "
        f"{r['map_ms_per_element']:.4f} | {r['ratio']:.2f}x |"
        for r in rows
    )
    table = "\n".join(lines)
    print(table)
    chain_rows = _map_chain.run_cases(200 if args.quick else 2_000)
    print()
    print(_map_chain.table(chain_rows))
    if args.quick:
        print()
        print(_map_scale.table(_map_scale.run_cases([2_000])))
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        (args.out / f"map-{stamp}.json").write_text(
            json.dumps({"date": stamp, "reps": reps, "rows": rows, "chain": chain_rows}, indent=2)
            + "\n"
        )
    return 0


def _scale(args: argparse.Namespace) -> int:
    sizes = [100_000, 1_000_000] if args.million else [100_000]
    rows = _map_scale.run_cases(sizes)
    print(_map_scale.table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    (args.out / f"map-scale-{stamp}.json").write_text(
        json.dumps({"date": stamp, "rows": rows}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
