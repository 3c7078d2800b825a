"""The map benchmark runs (quick mode) so it cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_map_benchmark_quick_mode() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_map", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| 200 |")]
    assert len(rows) == 2  # persistence off and on, each with a map/static ratio
    assert all(line.rstrip().endswith("x |") for line in rows)
