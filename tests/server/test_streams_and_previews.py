"""Event streams over many pages, and previews of odd artifacts (real stores, no HTTP)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import anyio
import msgspec

from flowyml.events import Event, RunFinished, RunStarted, StepStarted
from flowyml.server import FlowymlServer
from flowyml.server._preview import MAX_DEPTH, _Truncator, build_preview
from flowyml.server._sse import PAGE, event_frames
from flowyml.storage._records import ArtifactRecord
from flowyml.storage.artifacts import open_artifact_store

from .conftest import api, make_app


def ids_of(chunks: list[bytes]) -> list[int]:
    """Event ids in stream chunks (a chunk holds one or more frames)."""
    frames = [f for chunk in chunks for f in chunk.split(b"\r\n\r\n") if f]
    return [int(f.split(b"\r\n", 1)[0].removeprefix(b"id: ")) for f in frames]


async def test_replays_span_many_pages(urls: tuple[str, str]) -> None:
    app = make_app(urls)
    server: FlowymlServer = app.state.flowyml
    async with api(app):
        now = time.time()
        events: list[Event] = [RunStarted(run_id="big", ts=now, pipeline="p")]
        events += [StepStarted(run_id="big", ts=now, step=f"s{i}") for i in range(2 * PAGE)]
        events.append(RunFinished(run_id="big", ts=now, status="succeeded"))
        stored = await server.store.append_events(events)

        got = [f async for f in event_frames(server, run_id="big", after=None, finished=True)]
        assert ids_of(got) == stored
        got = [f async for f in event_frames(server, run_id="big", after=stored[7], finished=True)]
        assert ids_of(got) == stored[8:]

        frames = event_frames(server, run_id=None, after=0)
        try:
            replay = [await frames.__anext__()]
            with anyio.fail_after(10):
                while len(ids_of(replay)) < len(stored):
                    replay.append(await frames.__anext__())
        finally:
            await frames.aclose()
        assert ids_of(replay) == stored
        assert server.fanout.client_count == 0


def record(uri: str, materializer: str, size: int) -> ArtifactRecord:
    return ArtifactRecord(
        id="a",
        name="a",
        run_id="r",
        step="s",
        uri=uri,
        type_name="x",
        materializer=materializer,
        size=size,
        content_hash="h",
        created_at=0.0,
    )


async def test_previews_of_odd_artifacts(tmp_path: Path) -> None:
    store = open_artifact_store(f"file://{tmp_path}")
    await store.open()
    try:

        async def preview(data: bytes, materializer: str) -> dict[str, object]:
            info = await store.put(data)
            return await build_preview(store, record(info.uri, materializer, info.size))

        huge = msgspec.json.encode(["x" * 100] * 20_000)  # over 1 MiB of JSON
        p = await preview(huge, "json")
        assert p["kind"] == "text" and p["truncated"] is True
        p = await preview(b"{not json", "json")
        assert p == {"kind": "text", "content": "{not json", "truncated": False}
        p = await preview(msgspec.json.encode({"k": list(range(300))} | {"s": "y" * 5000}), "json")
        assert p["kind"] == "json" and p["truncated"] is True
        cut = "é" * 40_000  # 80 000 bytes: the 64 KiB cut falls inside a character
        p = await preview(cut.encode(), "str")
        assert p["kind"] == "text" and p["truncated"] is True
        assert set(str(p["content"])) == {"é"}
        p = await preview(b"\x80\x04not parquet", "pandas")
        assert p["kind"] == "binary"
        p = await preview(b"PAR1 but broken", "pandas")
        assert p["kind"] == "binary"
        p = await preview(b"anything", "someone-elses")
        assert p == {"kind": "binary", "content": {"size": 8, "type_name": "x"}, "truncated": False}
    finally:
        await store.aclose()


def test_truncation_is_bounded() -> None:
    deep: object = 1
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    cut = _Truncator()
    out = cut({"deep": deep, "nan": math.nan, "wide": {str(i): i for i in range(500)}})
    assert cut.truncated
    assert out["nan"] == "nan"
    assert len(out["wide"]) == 100
    text = msgspec.json.encode(out)
    assert len(text) < 10_000
    everything = _Truncator()
    everything([[i] * 50 for i in range(100)])
    assert everything.truncated and everything.budget <= 0
