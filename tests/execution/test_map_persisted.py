"""Persisted maps: element rows, element inputs and lineage, run counters."""

from __future__ import annotations

from pathlib import Path

import anyio

from flowyml import Client, Runtime, pipeline, step


async def test_elements_of_a_map_fed_by_a_map_record_their_item_as_input(
    tmp_path: Path,
) -> None:
    @step
    def ids(n: int) -> list[int]:
        return list(range(n))

    @step
    async def fetch(i: int) -> str:
        return f"page {i}"

    @step
    async def parse(page: str) -> int:
        return len(page)

    @pipeline(enable_cache=False)
    def crawl(n: int = 5):  # type: ignore[no-untyped-def]
        return parse.map(fetch.map(ids(n)))

    async with Runtime(store=f"sqlite:///{tmp_path / 'm.db'}") as rt, Client(runtime=rt) as client:
        with anyio.fail_after(20):
            result = await crawl.arun(runtime=rt)
        assert result.success and result["parse"] == [6] * 5
        detail = await client.get_run(result.run_id)
        # Three steps, whatever the number of elements (not "13/3").
        assert (detail.run.steps_total, detail.run.steps_done) == (3, 3)
        steps = {s.step: s for s in detail.steps}
        page3 = steps["fetch[3]"].outputs["fetch[3]"]
        # parse[3] read fetch[3]'s output: its input, and the lineage between them.
        assert steps["parse[3]"].inputs == {"page": page3}
        lineage = await client.lineage(page3)
        assert [c.step for c in lineage.consumers] == ["parse[3]"]
        assert [a.id for a in lineage.derived] == [steps["parse[3]"].outputs["parse[3]"]]
        # fetch's items are parts of one list: the map step records the list.
        assert steps["fetch[3]"].inputs == {}
        assert steps["fetch"].inputs == {"i": steps["ids"].outputs["ids"]}
