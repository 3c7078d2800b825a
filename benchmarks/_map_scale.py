"""The scale cases of ``bench_map``: 100,000 and 1,000,000 async elements.

Each element ``await anyio.sleep(0.01)`` and returns an int, ``max_concurrency=1000``.
Three runs side by side, each in a fresh process with its own ``FLOWYML_HOME``:

* ``anyio``: the bounded baseline, plain anyio (a ``CapacityLimiter`` of the same width,
  tasks started in batches of 32 per loop iteration, results in a list);
* ``map off``: the flowyml map with ``persist=False``;
* ``map on``: the same map with default persistence (SQLite metadata, local artifacts).

Reported: wall time, CPU time, peak RSS of the process, bytes left in ``FLOWYML_HOME``
per element, and the ratios the issue sets targets for (persisted / in-memory, in-memory
/ baseline), of wall time and of CPU time.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WIDTH = 1000
SLEEP = 0.01


def _baseline(n: int) -> Callable[[], object]:
    import anyio
    import anyio.lowlevel

    async def main() -> None:
        limiter = anyio.CapacityLimiter(WIDTH)
        results = [0] * n

        async def element(i: int) -> None:
            async with limiter:
                await anyio.sleep(SLEEP)
                results[i] = i

        async with anyio.create_task_group() as tg:
            for start in range(0, n, 32):
                for i in range(start, min(start + 32, n)):
                    tg.start_soon(element, i)
                await anyio.lowlevel.checkpoint()

    return lambda: anyio.run(main)


def _mapped(n: int, persist: bool) -> Callable[[], object]:
    import anyio

    from flowyml import pipeline, step

    @step
    async def items(n: int) -> list[int]:
        return list(range(n))

    @step
    async def work(x: int) -> int:
        await anyio.sleep(SLEEP)
        return x

    @pipeline(persist=persist, enable_cache=False, max_concurrency=WIDTH)
    def scale(n: int = n):  # type: ignore[no-untyped-def]
        return work.map(items(n))

    def run() -> None:
        result = scale.run()
        if not result.success:
            raise SystemExit(f"map run failed: {result.summary()}")

    return run


def child(kind: str, n: int) -> dict[str, Any]:
    """Run one case in this process; return its time and CPU time (imports excluded) and
    peak RSS.  On a shared machine the CPU time (every thread of the process) is the
    steadier figure: wall time also counts the moments other processes had the cores."""
    run = _baseline(n) if kind == "anyio" else _mapped(n, persist=kind == "map on")
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    run()
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"seconds": elapsed, "cpu_seconds": cpu, "peak_rss": after.ru_maxrss * 1024}


def _disk(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def measure(kind: str, n: int) -> dict[str, Any]:
    """Run one case in a fresh process and home folder."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "FLOWYML_HOME": home}
        argv = [sys.executable, "-m", "benchmarks.bench_map", "--scale-child", kind, str(n)]
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        row.update(kind=kind, n=n, disk=_disk(Path(home)))
    return row


def run_cases(sizes: list[int], persisted: bool = True) -> list[dict[str, Any]]:
    """Every case at every size, in turn, in this one run."""
    kinds = ["anyio", "map off", *(["map on"] if persisted else [])]
    return [measure(kind, n) for n in sizes for kind in kinds]


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the rows with the ratios against their size's references."""
    ref = {(r["n"], r["kind"]): r for r in rows}
    lines = [
        (
            "| elements | run | time | CPU | peak RSS | disk / element | vs map off "
            "(time, CPU) | vs anyio (time, CPU) |"
        ),
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        off, base = ref.get((r["n"], "map off")), ref[(r["n"], "anyio")]
        vs_off = _ratios(r, off) if off else "-"
        lines.append(
            f"| {r['n']:,} | {r['kind']} | {r['seconds']:.2f} s | {r['cpu_seconds']:.2f} s | "
            f"{r['peak_rss'] / 2**20:.0f} MB | {r['disk'] / r['n']:.0f} B | {vs_off} | "
            f"{_ratios(r, base)} |"
        )
    return "\n".join(lines)


def _ratios(row: dict[str, Any], ref: dict[str, Any]) -> str:
    return f"{row['seconds'] / ref['seconds']:.2f}x, {row['cpu_seconds'] / ref['cpu_seconds']:.2f}x"
