"""A step pinned to a worker (its ``execution_group``) when that worker was the only one
and its nanny restarts it: the step runs on the restarted worker instead of waiting for
the lost one forever."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from flowyml import Pipeline, step
from flowyml.events import StepRetrying
from flowyml.execution import DaskExecutor
from tests.dask_cluster import one_worker_cluster

__all__ = ("one_worker_cluster",)

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("steps", [1, 2], ids=["one-step", "step-group"])
async def test_a_pinned_step_runs_on_the_restarted_only_worker(
    one_worker_cluster: str, tmp_path: Path, steps: int
) -> None:
    marker = tmp_path / "first-pid"

    @step(execution_group="train", outputs=["pid"])
    def fragile() -> int:
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(60)  # killed here
        return os.getpid()

    @step(execution_group="train", outputs=["again"])
    def after(pid: int) -> int:
        return pid

    p = Pipeline(f"restarted-{steps}", persist=False).add_step(fragile)
    if steps == 2:
        p.add_step(after)
    events: list[Any] = []

    async def kill_when_started() -> None:
        while not marker.exists() or not marker.read_text():
            await anyio.sleep(0.05)
        os.kill(int(marker.read_text()), signal.SIGKILL)  # its nanny starts a new one

    with anyio.fail_after(120):  # waited for the lost worker forever before
        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_when_started)
            result = await p.arun(executor=DaskExecutor(one_worker_cluster), on_event=events.append)
    assert result.success, result.summary()
    assert result["pid"] != int(marker.read_text())
    assert result.step_results["fragile"].attempts == 2
    (lost,) = [e for e in events if isinstance(e, StepRetrying)]
    assert lost.step == "fragile" and lost.error.startswith("WorkerLost:")
