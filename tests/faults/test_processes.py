"""The user's process always exits, and flowyml changes nothing outside itself.

Scripts run in fresh interpreters, as a user runs them; each must exit on its own
within a deadline (a hang fails the test instead of blocking the suite).
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import pytest

from flowyml import Pipeline, step

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def run_script(
    source: str, tmp_path: Path, deadline: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` in a fresh interpreter; fail if it has not exited by ``deadline``."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    env = {**os.environ, "FLOWYML_HOME": str(tmp_path / "home")}
    try:
        return subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=deadline,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the script did not exit within {deadline} s; output: {exc.stdout!r}")


def test_a_script_whose_sync_step_hangs_past_its_timeout_exits(tmp_path: Path) -> None:
    done = run_script(
        """
        import time
        from flowyml import Pipeline, step

        @step(timeout=1)
        def hang() -> int:
            time.sleep(10**6)
            return 1

        result = Pipeline("hang").add_step(hang).run()
        print("STATUS", result.status)
        print("ERROR", result.step_results["hang"].error)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "STATUS failed" in done.stdout
    assert "timed out after 1 s" in done.stdout


def test_a_script_that_never_closes_its_client_exits(tmp_path: Path) -> None:
    done = run_script(
        """
        import asyncio
        from flowyml import Client, Pipeline, step

        @step
        def one() -> int:
            return 1

        rid = Pipeline("c").add_step(one).run().run_id
        detail = asyncio.run(Client().get_run(rid))  # never closed
        print("STATUS", detail.status)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "STATUS succeeded" in done.stdout


def test_a_cancelled_run_of_a_stuck_sync_step_lets_the_script_exit(tmp_path: Path) -> None:
    done = run_script(
        """
        import threading
        import time
        import anyio
        import anyio.to_thread
        from flowyml import Pipeline, step

        started = threading.Event()

        @step
        def hang() -> int:
            started.set()
            time.sleep(10**6)
            return 1

        async def run() -> None:
            await Pipeline("hang").add_step(hang).arun(run_id="f" * 32)

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await anyio.to_thread.run_sync(started.wait)  # the step is running
                tg.cancel_scope.cancel()

        anyio.run(main)

        from flowyml import Client
        async def status() -> str:
            async with Client() as client:
                return (await client.get_run("f" * 32)).status
        print("STATUS", anyio.run(status))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "STATUS cancelled" in done.stdout


# --------------------------------------------------------------------------- no side effects


class Service:
    """A user's service whose bound methods are the steps of a pipeline it owns."""

    def __init__(self) -> None:
        self.pipeline = Pipeline("service", persist=False).add_step(step(self.load))
        self.pipeline.add_step(step(inputs=["load"])(self.double))

    def load(self) -> int:
        return 21

    def double(self, load: int) -> int:
        return load * 2


def test_a_service_owning_its_pipeline_is_freed() -> None:
    service = Service()
    result = service.pipeline.run()
    assert result["double"] == 42
    ref = weakref.ref(service)
    del service, result
    gc.collect()
    assert ref() is None, "the pipeline (or the engine) keeps its owner alive"


def test_building_and_running_leaves_the_collector_alone() -> None:
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    p = Pipeline("gc", persist=False)
    for i in range(2000):
        p.add_step(step(name=f"s{i}")(lambda: 1))
    assert p.run().success
    assert (gc.isenabled(), gc.get_freeze_count()) == (enabled, frozen)
