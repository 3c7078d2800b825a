"""The event writer rides out a store outage without losing events (failure injection)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from flowyml import Pipeline, Runtime, step
from flowyml.errors import StoreConnectionError
from flowyml.events import Event
from flowyml.storage.metadata import open_metadata_store


class FlakyStore:
    """Wraps a real store; ``append_events`` fails the first ``failures`` times."""

    def __init__(self, inner: Any, failures: int) -> None:
        self._inner = inner
        self.failures = failures
        self.url = inner.url

    async def append_events(self, events: Sequence[Event]) -> list[int]:
        if self.failures:
            self.failures -= 1
            raise StoreConnectionError("injected: database restarting")
        result: list[int] = await self._inner.append_events(events)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_run_survives_a_brief_store_outage(tmp_path: Any) -> None:
    inner = open_metadata_store(f"sqlite:///{tmp_path / 'm.db'}")
    await inner.open()
    flaky = FlakyStore(inner, failures=4)
    try:

        @step
        async def a() -> int:
            return 1

        @step
        def b(a: int) -> int:
            return a + 1

        async with Runtime(store=flaky, artifacts=f"file://{tmp_path / 'art'}") as rt:
            with anyio.fail_after(20):
                result = (
                    await Pipeline("outage").add_step(a).add_step(b, inputs=["a"]).arun(runtime=rt)
                )
        assert result.success and flaky.failures == 0
        events = await inner.events_after(0, run_id=result.run_id)
        assert [e.event.type for e in events] == [
            "run_started",
            "step_started",
            "step_succeeded",
            "step_started",
            "step_succeeded",
            "run_finished",
        ]
        run = await inner.get_run(result.run_id)
        assert run is not None and run.status == "succeeded"
    finally:
        await inner.aclose()
