"""What step logs cost: a step that logs N lines vs. writing the same rows to SQLite.

Three measurements, each in a fresh process on a fresh SQLite store:

* ``logging``: a run whose one step calls ``ctx.logger.info`` N times (lines captured,
  sent as ``step_log`` events and stored in ``step_logs``);
* ``quiet``: the same run with a step that logs nothing;
* ``sqlite``: the baseline, the same N rows inserted with :mod:`sqlite3` in batches of
  1,000 (one transaction each, WAL, ``synchronous = NORMAL`` as flowyml's store).

The figure of merit is ``(logging - quiet) / sqlite``: how many times the cost of simply
storing the rows the lines add to a run (1.0 would be free capture).

    python -m benchmarks.bench_logs            # N = 100,000, 3 repetitions
    python -m benchmarks.bench_logs --quick    # N = 2,000, 1 repetition

Full runs write ``benchmarks/results/logs-<date>.json`` and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
_BATCH = 1000


def _run(n: int, folder: Path, *, log: bool) -> float:
    """One run of a one-step pipeline on a fresh store; its wall time."""
    from flowyml import Pipeline, StepContext, step

    @step
    def chatty(n: int, ctx: StepContext) -> int:
        if log:
            info = ctx.logger.info
            for i in range(n):
                info("processed record %d of the batch", i)
        return n

    p = Pipeline("logs-bench", enable_cache=False, context={"n": n}).add_step(chatty)
    t0 = time.perf_counter()
    p.run(store=f"sqlite:///{folder / 'meta.db'}", artifacts=str(folder / "artifacts"))
    return time.perf_counter() - t0


def _sqlite(n: int, folder: Path) -> float:
    """Insert ``n`` log rows (the shape of ``step_logs``) in batches; the wall time."""
    conn = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE step_logs (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,"
        " step TEXT NOT NULL, attempt INTEGER NOT NULL, line INTEGER NOT NULL,"
        " created_at REAL NOT NULL, level TEXT NOT NULL, logger TEXT NOT NULL,"
        " message TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX step_logs_run_seq ON step_logs (run_id, seq)")
    t0 = time.perf_counter()
    rows = (
        ("0" * 32, "chatty", 1, i + 1, time.time(), "INFO", "flowyml.step.chatty",
         f"processed record {i} of the batch")
        for i in range(n)
    )  # fmt: skip
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH:
            _commit(conn, batch)
            batch = []
    if batch:
        _commit(conn, batch)
    took = time.perf_counter() - t0
    conn.close()
    return took


def _commit(conn: sqlite3.Connection, batch: Sequence[tuple[object, ...]]) -> None:
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO step_logs (run_id, step, attempt, line, created_at, level,"
                     " logger, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)  # fmt: skip
    conn.execute("COMMIT")


def _child(kind: str, n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if kind == "sqlite":
            return _sqlite(n, folder)
        return _run(n, folder, log=kind == "logging")


def _measure(kind: str, n: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_", "COVERAGE_"))}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_logs", "--child", kind, str(n)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a markdown table; write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 lines, one repetition")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.stdout.write(f"{_child(args.child[0], int(args.child[1]))}\n")
        return 0
    n, reps = (2_000, 1) if args.quick else (100_000, 3)
    times: dict[str, list[float]] = {"logging": [], "quiet": [], "sqlite": []}
    for _ in range(reps):  # interleaved, so load on the machine hits all alike
        for kind, found in times.items():
            found.append(_measure(kind, n))
    med = {k: statistics.median(v) for k, v in times.items()}
    added = med["logging"] - med["quiet"]
    ratio = added / med["sqlite"] if med["sqlite"] > 0 else float("inf")
    sys.stdout.write(
        "| lines | run logging (s) | run quiet (s) | added (s) | sqlite rows (s) | ratio |\n"
        "|---:|---:|---:|---:|---:|---:|\n"
        f"| {n} | {med['logging']:.3f} | {med['quiet']:.3f} | {added:.3f} "
        f"| {med['sqlite']:.3f} | {ratio:.2f}x |\n"
    )
    if args.quick:  # a smoke test: nothing to keep
        return 0
    RESULTS.mkdir(exist_ok=True)
    name = f"logs-{dt.date.today().isoformat()}.json"
    (RESULTS / name).write_text(
        json.dumps({"lines": n, "reps": reps, "times": times, "ratio": ratio}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
