"""Every Python code block in README.md and docs/ runs, so the documentation cannot rot.

The blocks of one file run in order in one fresh process (a later block may use what an
earlier one defined), in an empty working directory with its own ``FLOWYML_HOME``.  A block
that cannot run on its own is marked ``<!-- skip: <reason> -->`` just before its fence;
``SKIPPED`` lists how many each file has, so a new skip is a visible decision.  Blocks that
include an example (``--8<-- "examples/..."``) are checked to name an existing file; the
examples themselves run in ``tests/test_examples.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ._blocks import Block, code_blocks

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# How many Python blocks each file marks `<!-- skip: ... -->`, and why.
SKIPPED: dict[str, int] = {
    "docs/executors.md": 3,  # needs a Dask scheduler (on another host, with S3)
    "docs/migrating.md": 5,  # before/after snippets of the published flowyml API
    "docs/storage.md": 1,  # needs PostgreSQL and S3
}


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _runnable(path: Path) -> list[Block]:
    return [b for b in code_blocks(path) if b.skip is None and not b.includes]


RUNNABLE = [p for p in DOCS if _runnable(p)]


def test_skipped_blocks_are_the_listed_ones() -> None:
    found = {_name(p): n for p in DOCS if (n := sum(b.skip is not None for b in code_blocks(p)))}
    assert found == SKIPPED, (
        "the <!-- skip: ... --> markers changed; make the new block runnable, or list the "
        "file's skip count in SKIPPED with the reason"
    )


def test_included_snippets_exist() -> None:
    included = [(b, inc) for p in DOCS for b in code_blocks(p) for inc in b.includes]
    assert included, "the guides include the examples"
    missing = [
        f"{_name(b.path)}:{b.line}: {inc}" for b, inc in included if not (ROOT / inc).is_file()
    ]
    assert not missing


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=_name)
def test_code_blocks_run(path: Path, tmp_path: Path) -> None:
    blocks = [{"path": _name(path), "line": b.line, "code": b.code} for b in _runnable(path)]
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps(blocks), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWYML_", "COV_CORE"))}
    env |= {"FLOWYML_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "docs" / "run_blocks.py"), str(spec)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.returncode == 0, f"a code block of {_name(path)} failed:\n{out.stderr[-4000:]}"
    assert f"ran {len(blocks)} blocks" in out.stdout
    assert "Warning" not in out.stderr, f"a code block of {_name(path)} warned:\n{out.stderr}"
