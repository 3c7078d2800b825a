"""The steady-state benchmark runs (quick mode) so it cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_steady_benchmark_quick_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE", "COVERAGE_"))}
    before = sorted(ROOT.glob("benchmarks/results/steady-*"))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_steady", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    rows = {line.split("|")[1].strip(): line for line in out.stdout.splitlines()[2:4]}
    assert set(rows) == {"script", "service"}
    assert all(row.count(" ms") == 3 for row in rows.values())  # median, min, max
    assert sorted(ROOT.glob("benchmarks/results/steady-*")) == before  # quick: no record
