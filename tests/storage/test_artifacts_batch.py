"""Batched reads: ``get_many`` and ``load_values`` keep order and report missing blobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flowyml.errors import ArtifactError
from flowyml.storage.artifacts import default_registry, open_artifact_store, save_value
from flowyml.storage.artifacts._values import load_values


@pytest.mark.parametrize("scheme", ["file", "memory"])
async def test_get_many_and_load_values_keep_order(tmp_path: Path, scheme: str) -> None:
    url = f"file://{tmp_path / 'a'}" if scheme == "file" else f"memory://batch-{tmp_path.name}"
    store = open_artifact_store(url)
    await store.open()
    try:
        registry = default_registry()
        big = b"b" * 10_000  # stored as a blob; the others are small enough to be inline
        values: list[Any] = [{"i": i} for i in range(20)] + ["text", b"raw", np.arange(5), big]
        refs = [
            await save_value(store, registry, v, artifact_id_seed=f"r/s/{i}", name=f"o{i}")
            for i, v in enumerate(values)
        ]
        blobs = await store.get_many([r.uri for r in refs])
        assert blobs == [await store.get(r.uri) for r in refs]
        loaded = await load_values(store, registry, refs)
        assert loaded[:22] == values[:22]
        assert np.array_equal(loaded[22], values[22])
        assert loaded[23] == big
        missing = refs[23].uri.replace(refs[23].content_hash, "0" * 64)
        with pytest.raises(ArtifactError):
            await store.get_many([refs[1].uri, missing])
    finally:
        await store.aclose()
