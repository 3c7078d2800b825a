"""Small values are kept in their metadata row (a ``data:`` URI), not in a file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from flowyml import Client, Pipeline, Runtime, context, step
from flowyml.errors import ArtifactError
from flowyml.storage.artifacts import default_registry, open_artifact_store, save_value
from flowyml.storage.artifacts._inline import INLINE_MAX, inline_bytes
from flowyml.storage.artifacts._values import load_value, load_values


async def test_small_values_are_inline_and_large_ones_are_blobs(tmp_path: Path) -> None:
    store = open_artifact_store(f"file://{tmp_path / 'a'}")
    await store.open()
    try:
        registry = default_registry()
        small = await save_value(
            store, registry, b"x" * INLINE_MAX, artifact_id_seed="r/s/o", name="o"
        )
        large = await save_value(
            store, registry, b"x" * (INLINE_MAX + 1), artifact_id_seed="r/s/p", name="p"
        )
        assert small.uri.startswith("data:") and not large.uri.startswith("data:")
        assert small.content_hash == hashlib.sha256(b"x" * INLINE_MAX).hexdigest()
        assert small.size == INLINE_MAX
        assert await store.list_blobs() == [large.uri]  # no file for the small one
        assert await load_value(store, registry, small) == b"x" * INLINE_MAX
        assert await load_values(store, registry, [large, small]) == [
            b"x" * (INLINE_MAX + 1),
            b"x" * INLINE_MAX,
        ]
        # the store reads inline URIs like any other, for readers such as the server
        assert await store.get(small.uri) == b"x" * INLINE_MAX
        assert await store.get_many([small.uri, large.uri]) == [
            b"x" * INLINE_MAX,
            b"x" * (INLINE_MAX + 1),
        ]
        assert b"".join([c async for c in store.stream(small.uri, chunk_size=1000)]) == (
            b"x" * INLINE_MAX
        )
        assert await store.exists(small.uri)
    finally:
        await store.aclose()


def test_a_corrupt_inline_uri_is_an_artifact_error() -> None:
    with pytest.raises(ArtifactError, match="corrupt"):
        inline_bytes("data:;base64,@@@")
    with pytest.raises(ArtifactError, match="not an inline value"):
        inline_bytes("data:text/plain,hello")


async def test_inline_values_round_trip_through_each_metadata_backend(
    tmp_path: Path, metadata_url: str
) -> None:
    calls: list[str] = []

    @step(outputs=["word"])
    async def fetch(n: int) -> str:
        calls.append("fetch")
        return "ab" * n

    @step(inputs=["word"], outputs=["count"])
    async def count(word: str) -> int:
        calls.append("count")
        return len(word)

    @step(outputs=["largest"])
    async def largest() -> bytes:
        return b"z" * INLINE_MAX  # the largest inline value: 5.4 KB of base64 in the row

    art = f"file://{tmp_path / 'art'}"
    p = Pipeline("inline", context=context(n=3)).add_step(fetch).add_step(count)
    p.add_step(largest)
    async with Runtime(store=metadata_url, artifacts=art) as rt, Client(runtime=rt) as client:
        first = await p.arun(runtime=rt)
        assert first.success and calls == ["fetch", "count"]
        word_id = first.step_results["fetch"].artifact_ids["word"]
        count_id = first.step_results["count"].artifact_ids["count"]
        record = await client.get_artifact(word_id)
        assert record.uri.startswith("data:") and record.size == len(b"ababab")
        assert record.content_hash == hashlib.sha256(b"ababab").hexdigest()
        assert await client.load_artifact(word_id) == "ababab"
        assert await client.load_artifact(count_id) == 6
        largest_id = first.step_results["largest"].artifact_ids["largest"]
        assert (await client.get_artifact(largest_id)).uri.startswith("data:")
        assert await client.load_artifact(largest_id) == b"z" * INLINE_MAX
        assert not list((tmp_path / "art").rglob("blobs/*/*"))  # nothing written to files
        lineage = await client.lineage(word_id)
        assert lineage.producer is not None and lineage.producer.step == "fetch"
        assert [c.step for c in lineage.consumers] == ["count"]
        assert [a.id for a in lineage.derived] == [count_id]

        again = await p.arun(runtime=rt)  # both steps are cache hits on inline values
        assert calls == ["fetch", "count"]
        assert [again.step_results[s].status for s in ("fetch", "count")] == ["cached"] * 2
        assert again.outputs["count"] == 6 and again.outputs["word"] == "ababab"
