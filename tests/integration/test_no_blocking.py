"""The persistence path never blocks the event loop (checked by blockbuster).

blockbuster patches blocking primitives (file and socket I/O, sleeps, locks) to raise when
they are called from the event loop thread; worker threads are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from flowyml import Client, Pipeline, Runtime, StepContext, step

blockbuster = pytest.importorskip("blockbuster")


@pytest.fixture
def no_blocking() -> Iterator[None]:
    with blockbuster.blockbuster_ctx():
        yield


@step(outputs=["rows"])
async def extract(n: int) -> list[dict[str, int]]:
    await anyio.lowlevel.checkpoint()
    return [{"id": i, "value": i * i} for i in range(n)]


@step(inputs=["rows"], outputs=["total"])
def total(rows: list[dict[str, int]], ctx: StepContext) -> int:
    ctx.logger.info("summing %d rows", len(rows))
    return sum(r["value"] for r in rows)


@step(inputs=["total"], outputs=["report"])
async def report(total: int) -> str:
    return f"total={total}"


async def test_persisted_runs_cache_and_resume_do_not_block(
    tmp_path: Path, no_blocking: None
) -> None:
    p = Pipeline("no-blocking", context={"n": 50})
    p.add_step(extract).add_step(total).add_step(report)
    async with Runtime(
        store=f"sqlite:///{tmp_path / 'm.db'}", artifacts=f"file://{tmp_path / 'a'}"
    ) as rt:
        first = await p.arun(runtime=rt)
        assert first.success and first["report"] == "total=40425"
        cached = await p.arun(runtime=rt)
        assert all(r.cached for r in cached.step_results.values())
        assert cached["report"] == "total=40425"
        resumed = await p.aresume(first.run_id, runtime=rt)
        assert resumed.success
        async with Client(runtime=rt) as client:
            detail = await client.get_run(first.run_id)
            rows_id = detail.step("extract").outputs["rows"]
            assert len(await client.load_artifact(rows_id)) == 50
            assert (await client.lineage(rows_id)).consumers[0].step == "total"


async def test_default_stores_open_without_blocking(no_blocking: None) -> None:
    """The zero-config path: a run opens the SQLite file and artifact folder itself."""
    p = Pipeline("defaults", context={"n": 3}).add_step(extract).add_step(total)
    assert (await p.arun())["total"] == 5
