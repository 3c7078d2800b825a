"""The chaining case of ``bench_map``: two maps, chained element-wise or one after the other.

``fetch.map(urls)`` then ``parse.map(...)`` over its results: each element sleeps 20 ms
(I/O), every fifth one of ``fetch`` four times longer (a slow host), and each step has its own
``max_concurrency`` (as a crawler bounds its requests and its parsing separately).  Two
runs side by side, each in a fresh process with its own ``FLOWYML_HOME``:

* ``whole``: ``@step(chain=False)`` on ``parse``: it starts once all of ``fetch`` is done;
* ``chained``: the default, ``parse[i]`` starts when ``fetch[i]`` has succeeded.

Reported: wall time, the time until the first ``parse`` element ended, and the ratio of
the chained run to the whole one (same machine, same run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

WIDTH = 50
SLEEP = 0.02


def _run(kind: str, n: int, persist: bool) -> tuple[Callable[[], object], list[float]]:
    import anyio

    from flowyml import pipeline, step
    from flowyml.events import Event, StepSucceeded

    first: list[float] = []

    @step(max_concurrency=WIDTH)
    async def fetch(url: int) -> int:
        await anyio.sleep(SLEEP * (4 if url % 5 == 0 else 1))
        return url

    @step(max_concurrency=WIDTH, chain=kind == "chained")
    async def parse(page: int) -> int:
        await anyio.sleep(SLEEP)
        return page + 1

    @pipeline(persist=persist, enable_cache=False)
    def crawl(urls: list[int] = list(range(n))):  # type: ignore[no-untyped-def]  # noqa: B006
        return parse.map(fetch.map(urls))

    t0 = time.perf_counter()

    def seen(event: Event) -> None:
        if not first and isinstance(event, StepSucceeded) and event.step.startswith("parse["):
            first.append(time.perf_counter() - t0)

    def run() -> None:
        nonlocal t0
        t0 = time.perf_counter()
        result = crawl.run(on_event=seen)
        if not result.success or result["parse"] != [i + 1 for i in range(n)]:
            raise SystemExit(f"{kind} run failed: {result.summary()}")

    return run, first


def child(kind: str, n: int, persist: bool) -> dict[str, Any]:
    """Run one case in this process; return its wall time and time to the first result."""
    run, first = _run(kind, n, persist)
    t0 = time.perf_counter()
    run()
    return {"seconds": time.perf_counter() - t0, "first": first[0]}


def measure(kind: str, n: int, persist: bool) -> dict[str, Any]:
    """Run one case in a fresh process and home folder."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "FLOWYML_HOME": home}
        argv = [sys.executable, "-m", "benchmarks.bench_map", "--chain-child", kind, str(n)]
        out = subprocess.run(
            [*argv, str(int(persist))], env=env, capture_output=True, text=True, check=True
        )
        row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    row.update(kind=kind, n=n, persist=persist)
    return row


def run_cases(n: int) -> list[dict[str, Any]]:
    """Both kinds, persistence off and on, in turn, in this one run."""
    return [measure(k, n, p) for p in (False, True) for k in ("whole", "chained")]


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the rows, each chained run against the whole one beside it."""
    ref = {(r["persist"], r["kind"]): r for r in rows}
    lines = [
        "| maps | persistence | elements | time | first parse result | chained / whole |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        whole = ref[(r["persist"], "whole")]
        ratio = f"{r['seconds'] / whole['seconds']:.2f}x" if r["kind"] == "chained" else "-"
        lines.append(
            f"| {r['kind']} | {'on' if r['persist'] else 'off'} | {r['n']:,} | "
            f"{r['seconds']:.2f} s | {r['first']:.3f} s | {ratio} |"
        )
    return "\n".join(lines)
