"""``flowyml run`` driven in a pseudo-terminal, as a user at a terminal runs it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pexpect
import pytest

from flowyml import Client

pytestmark = pytest.mark.slow

FLOWYML = str(Path(sys.executable).with_name("flowyml"))

DEMO = """
import logging
import time
from pathlib import Path

from flowyml import StepContext, pipeline, step

GATE = Path(__file__).with_name("gate")


@step
def numbers(n: int, ctx: StepContext) -> list[int]:
    ctx.logger.info("making %d numbers", n)
    return list(range(n))


@step(map_over="numbers")
def square(numbers: int) -> int:
    return numbers * numbers


@step
def wait(square: list[int], ctx: StepContext) -> int:
    ctx.logger.info("waiting for the gate file")
    while not GATE.exists():
        time.sleep(0.02)
    return sum(square)


@step
def total(wait: int, fail: bool) -> int:
    if fail:
        raise ValueError("asked to fail")
    return wait


@pipeline
def demo(n: int = 4, fail: bool = False):
    return total(wait(square(numbers(n))), fail)
"""


def _spawn(tmp_path: Path, *args: str) -> pexpect.spawn:
    (tmp_path / "demo.py").write_text(DEMO)
    env = {**os.environ, "FLOWYML_HOME": str(tmp_path / "home"), "COLUMNS": "100"}
    env.pop("FLOWYML_STORE", None)
    env["FLOWYML_SERVER_URL"] = "http://127.0.0.1:8080"
    return pexpect.spawn(
        FLOWYML,
        ["run", "demo:demo", *args],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 100),
    )


def _status(tmp_path: Path, run_id: str) -> str:
    async def read() -> str:
        async with Client(store=f"sqlite:///{tmp_path / 'home' / 'metadata.db'}") as client:
            return (await client.get_run(run_id)).status

    return anyio.run(read)


def test_live_display_then_summary_and_exit_0(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-p", "n=5")
    # While `wait` runs: the live table shows it running with its last log line, and the
    # map's progress.
    child.expect("waiting for the gate file")
    child.expect("5/5 done")
    (tmp_path / "gate").touch()
    child.expect(r"run ([0-9a-f]{32}) succeeded")
    run_id = child.match.group(1)
    child.expect("dashboard: http://127.0.0.1:8080/runs/" + run_id)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert _status(tmp_path, run_id) == "succeeded"


def test_failed_run_shows_the_user_frames_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "gate").touch()
    child = _spawn(tmp_path, "-p", "fail=true")
    child.expect("step total failed:")
    child.expect(r'File ".*demo\.py", line \d+, in total')
    child.expect("ValueError: asked to fail")
    child.expect(r"run ([0-9a-f]{32}) failed")
    run_id = child.match.group(1)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "_attempts.py" not in (child.before or "")
    assert _status(tmp_path, run_id) == "failed"


def test_ctrl_c_records_the_run_cancelled_and_exits_130(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    child.expect(r"run ([0-9a-f]{32})")
    run_id = child.match.group(1)
    child.expect("waiting for the gate file")
    child.sendintr()
    child.expect(f"run {run_id} cancelled")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    (tmp_path / "gate").touch()  # lets the abandoned worker thread finish
    assert _status(tmp_path, run_id) == "cancelled"


def test_bad_parameter_names_it_and_exits_2(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "-p", "n=many")
    child.expect("parameter 'n' expects int, got 'many'")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
