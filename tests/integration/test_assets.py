"""Typed assets round-trip through every artifact backend with their metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flowyml import Asset, Client, Dataset, Metrics, Model, Pipeline, Runtime, step
from flowyml.storage.artifacts import FsspecArtifactStore
from tests.s3_server import S3Server, s3_server

__all__ = ("s3_server",)


class Tokenizer(Asset[dict[str, int]]):
    kind = "tokenizer"

    def describe(self) -> dict[str, Any]:
        return {"vocab": len(self.value)}


@step(outputs=["data"])
def make_data() -> Dataset[pd.DataFrame]:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.1]})
    return Dataset(frame, name="toy", metadata={"source": "unit-test"})


@step(inputs=["data"], outputs=["model", "tokens"])
def fit(data: pd.DataFrame) -> tuple[Model[Any], Tokenizer]:
    assert isinstance(data, pd.DataFrame)  # un-annotated as asset: gets the value
    slope = float(np.polyfit(data["x"], data["y"], 1)[0])
    return Model({"slope": slope, "bias": 0.0}), Tokenizer({"a": 1, "b": 2})


@step(inputs=["model", "data"], outputs=["metrics"])
def score(model: Model[dict[str, float]], data: Dataset[pd.DataFrame]) -> Metrics:
    assert isinstance(model, Model) and isinstance(data, Dataset)  # annotated: the assets
    pred = data.value["x"] * model.value["slope"]
    return Metrics({"mse": float(((pred - data.value["y"]) ** 2).mean()), "rows": len(data.value)})


def pipeline_() -> Pipeline:
    return Pipeline("assets").add_step(make_data).add_step(fit).add_step(score)


@pytest.fixture(params=["file", "memory", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    if request.param == "file":
        return f"file://{tmp_path / 'artifacts'}"
    if request.param == "memory":
        return f"memory://assets-{id(request)}"
    server: S3Server = request.getfixturevalue("s3_server")  # started outside the loop
    return server


@pytest.fixture
async def artifacts(backend: Any) -> AsyncIterator[Any]:
    if isinstance(backend, str):
        yield backend
        return
    store = FsspecArtifactStore(backend.url(), **backend.storage_options)
    await store.open()
    try:
        yield store
    finally:
        await store.aclose()


async def test_assets_round_trip_with_metadata(artifacts: Any, tmp_path: Any) -> None:
    store = f"sqlite:///{tmp_path / 'meta.db'}"
    async with Runtime(store=store, artifacts=artifacts) as rt:
        result = await pipeline_().arun(runtime=rt)
        assert result.success, result.summary()
        metrics = result["metrics"]
        assert isinstance(metrics, Metrics) and metrics["rows"] == 3
        async with Client(runtime=rt) as client:
            ids = result.step_results["make_data"].artifact_ids
            data_rec = await client.get_artifact(ids["data"])
            assert data_rec.metadata["asset"] == "dataset"
            assert data_rec.metadata["rows"] == 3
            assert data_rec.metadata["schema"] == {"x": "float64", "y": "float64"}
            assert data_rec.metadata["source"] == "unit-test"
            loaded = await client.load_artifact(ids["data"])
            assert isinstance(loaded, Dataset) and loaded.name == "toy"
            pd.testing.assert_frame_equal(loaded.value, make_data.fn().value)

            fit_ids = result.step_results["fit"].artifact_ids
            model_rec = await client.get_artifact(fit_ids["model"])
            assert model_rec.metadata["asset"] == "model"
            assert model_rec.metadata["framework"] == "builtins"
            assert model_rec.metadata["parameters"] == 2
            tok = await client.load_artifact(fit_ids["tokens"])
            assert type(tok) is Tokenizer and tok.value == {"a": 1, "b": 2}
            assert (await client.get_artifact(fit_ids["tokens"])).metadata["vocab"] == 2

            again = await pipeline_().arun(runtime=rt, enable_cache=False)
            assert again.success
            history = await client.metrics("assets")
            assert [h.run_id for h in history] == [again.run_id, result.run_id]
            assert all(h.step == "score" and "mse" in h.metrics for h in history)
            best = min(history, key=lambda h: h.metrics["mse"])
            assert best.metrics["rows"] == 3


def test_metrics_validate_their_values() -> None:
    with pytest.raises(TypeError, match="'acc' is str"):
        Metrics({"acc": "high"})  # type: ignore[dict-item]
    assert Metrics({"acc": np.float64(0.5)})["acc"] == 0.5
