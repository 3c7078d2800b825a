"""A program in the published flowyml's style, run as it is (see docs/migrating.md).

    python examples/published_style.py

``flowyml.core`` imports, ``Pipeline`` plus ``add_step``, outputs namespaced with ``/``,
the asset factories, one cache strategy per step and ``cache_stats()``.  Run it twice:
the second run takes the cached steps from the store.
"""

from __future__ import annotations

from typing import Any

from flowyml.core.assets import Dataset, Metrics, Model
from flowyml.core.context import context
from flowyml.core.pipeline import Pipeline
from flowyml.core.step import step

ctx = context(n_rows=200, slope=3.0, model_type="least_squares", seed=7)


@step(outputs=["data/raw"], cache="code_hash")
def load_data(n_rows: int, slope: float) -> Dataset[list[tuple[float, float]]]:
    """Reused while this code, n_rows and slope are unchanged."""
    rows = [(x / n_rows, slope * x / n_rows + 1.0) for x in range(n_rows)]
    return Dataset.create(data=rows, name="line", source="generated")


@step(inputs=["data/raw"], outputs=["data/train"], cache="input_hash")
def split(data: Dataset[list[tuple[float, float]]]) -> Dataset[list[tuple[float, float]]]:
    """Reused while its input is unchanged, even after edits to this function."""
    return Dataset.create(data=data.data[::2], name="train", parent=data.name)


def by_model_type(inputs: dict[str, Any], params: dict[str, Any]) -> str:
    """The seed does not change a least-squares fit: key the cache on the model type."""
    return str(params["model_type"])


@step(inputs=["data/train"], outputs=["model/trained"], cache=by_model_type)
def train(
    data: Dataset[list[tuple[float, float]]], model_type: str, seed: int
) -> Model[dict[str, float]]:
    xs, ys = zip(*data.data, strict=True)
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in data.data) / sum((x - mx) ** 2 for x in xs)
    fitted = {"slope": slope, "intercept": my - slope * mx}
    return Model.create(data=fitted, name=model_type, trained_on=data)


@step(inputs=["model/trained", "data/raw"], outputs=["metrics/eval"], cache=False)
def evaluate(model: Model[dict[str, float]], data: Dataset[list[tuple[float, float]]]) -> Metrics:
    """Always runs."""
    w = model.data
    err = max(abs(w["slope"] * x + w["intercept"] - y) for x, y in data.data)
    return Metrics.create(max_error=round(err, 9), rows=len(data.data))


pipeline = Pipeline("published_style", context=ctx)
pipeline.add_step(load_data)
pipeline.add_step(split)
pipeline.add_step(train)
pipeline.add_step(evaluate)

if __name__ == "__main__":
    result = pipeline.run()
    print(result.summary())
    model = result.outputs["model/trained"]
    print(f"model: slope={model.data['slope']:.3f} trained on {model.properties['trained_on']}")
    print(f"metrics: {result.outputs['metrics/eval'].data}")
    stats = pipeline.cache_stats()
    print(f"cache: {stats['hits']} hits, {stats['misses']} misses ({stats['hit_rate']:.0%})")
