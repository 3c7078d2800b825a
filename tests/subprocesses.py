"""Run a Python command in a fresh process, as a user would: ``from tests.subprocesses import run_python``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> str:
    """``python *args`` from the repository root; assert it succeeded, return its stdout."""
    out = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout
