"""The examples run as documented (in a subprocess, in a fresh FLOWYML_HOME)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.subprocesses import ROOT, run_python

pytestmark = pytest.mark.slow


def run(example: str, home: Path) -> str:
    env = {**os.environ, "FLOWYML_HOME": str(home)}
    return run_python(str(ROOT / "examples" / example), env=env)


def test_quickstart_runs_then_hits_the_cache(tmp_path: Path) -> None:
    first = run("quickstart.py", tmp_path)
    assert "succeeded" in first and "(4 succeeded)" in first
    assert "squares: [0, 1, 4, 9, 16, 25]" in first
    second = run("quickstart.py", tmp_path)
    assert "(4 cached)" in second
    assert (tmp_path / "metadata.db").exists()


def test_async_fetch_fetches_every_resource_concurrently(tmp_path: Path) -> None:
    out = run("async_fetch.py", tmp_path)
    assert "fetched 150 resources" in out
    # "fetched 150 resources in 1.84s wall, 126.68s of step time"
    words = out.split()
    wall = float(words[words.index("wall,") - 1].rstrip("s"))
    busy = float(words[words.index("of") - 1].rstrip("s"))
    assert busy > 2 * wall  # the summed step time far exceeds the wall time: they overlapped


def test_crawl_shares_one_client_across_the_map(tmp_path: Path) -> None:
    env = {**os.environ, "FLOWYML_HOME": str(tmp_path)}
    out = run_python(str(ROOT / "examples" / "crawl.py"), "500", env=env)
    assert "crawled 500 pages" in out and "through one client" in out


def test_published_style_runs_unchanged_then_hits_the_cache(tmp_path: Path) -> None:
    first = run("published_style.py", tmp_path)
    assert "(4 succeeded)" in first and "cache: 0 hits, 3 misses (0%)" in first
    assert "model: slope=3.000 trained on train" in first
    second = run("published_style.py", tmp_path)
    assert "(3 cached, 1 succeeded)" in second and "cache: 3 hits, 0 misses (100%)" in second
    assert "metrics: {'max_error': 0.0, 'rows': 200}" in second
