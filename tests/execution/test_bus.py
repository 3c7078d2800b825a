"""The bounded broadcast behind both live feeds: the runtime's hub and the server's fan-out."""

from __future__ import annotations

import math
from pathlib import Path

import anyio
import pytest

from flowyml import Pipeline, step
from flowyml.execution._bus import Broadcast, Subscriber
from flowyml.execution._runtime import Runtime
from flowyml.storage._records import EventRecord


def topic(item: tuple[str, int]) -> str:
    return item[0]


async def drain(sub: Subscriber[tuple[str, int]]) -> list[tuple[str, int]]:
    with anyio.fail_after(5):
        return [item async for item in sub]


async def test_each_subscriber_gets_its_topic_in_publication_order() -> None:
    bus = Broadcast(topic, maxsize=100)
    everything, only_a, only_b = bus.subscribe(), bus.subscribe("a"), bus.subscribe("b")
    items = [("a", 1), ("b", 2), ("a", 3), ("c", 4)]
    bus.publish(items[:2])
    bus.publish(items[2:])
    bus.close_all()
    assert await drain(everything) == items
    assert await drain(only_a) == [("a", 1), ("a", 3)]
    assert await drain(only_b) == [("b", 2)]
    # Ended by the broadcast, not dropped: nobody has to resync.
    assert not (everything.overflowed or only_a.overflowed or only_b.overflowed)
    assert bus.subscriber_count == 0


async def test_a_subscriber_that_falls_behind_is_dropped_and_nobody_waits() -> None:
    bus = Broadcast(topic, maxsize=2)
    slow = bus.subscribe("a")
    roomy = bus.subscribe("a", maxsize=math.inf)
    bus.publish([("a", i) for i in range(5)])  # returns at once although `slow` reads nothing
    assert slow.overflowed and not roomy.overflowed
    assert bus.overflows == 1
    assert bus.subscriber_count == 1
    # It still reads what it had buffered, then its iteration ends: time to resync.
    assert await drain(slow) == [("a", 0), ("a", 1)]
    with pytest.raises(anyio.EndOfStream):
        await slow.receive()
    bus.close_all()
    assert [i for _, i in await drain(roomy)] == [0, 1, 2, 3, 4]


async def test_a_closed_subscriber_is_forgotten() -> None:
    bus = Broadcast(topic)
    async with bus.subscribe("a") as sub:
        bus.publish([("a", 1)])
        assert sub.receive_nowait() == ("a", 1)
        with pytest.raises(anyio.WouldBlock):
            sub.receive_nowait()
    assert bus.subscriber_count == 0
    bus.publish([("a", 2)])  # nobody listens: nothing to do, nothing raised
    assert bus.overflows == 0
    sub.close()  # idempotent


async def test_the_hub_carries_a_runs_committed_records_with_their_store_ids(
    tmp_path: Path,
) -> None:
    @step
    async def one() -> int:
        return 1

    @step
    async def two(one: int) -> int:
        return one + 1

    p = Pipeline("hub", enable_cache=False).add_step(one).add_step(two, inputs=["one"])
    async with Runtime(store=f"sqlite:///{tmp_path}/m.db", artifacts=str(tmp_path / "a")) as rt:
        everything = rt.hub.subscribe(maxsize=math.inf)
        this_run = rt.hub.subscribe("run-1", maxsize=math.inf)
        other_run = rt.hub.subscribe("run-2", maxsize=math.inf)
        await p.arun(run_id="run-1", runtime=rt)
        stored = await rt.metadata.events_after(0, run_id="run-1", limit=1000)
        assert len(stored) >= 6  # run_started, 2 x (started, succeeded), run_finished
        rt.hub.close_all()
        seen: list[EventRecord] = [r async for r in this_run]
        assert [(r.id, r.event) for r in seen] == [(r.id, r.event) for r in stored]
        assert [r.id async for r in everything] == [r.id for r in stored]
        assert [r async for r in other_run] == []
