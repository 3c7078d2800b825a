"""A step-grouping program in the published flowyml's style runs here unchanged.

It groups steps with ``execution_group=``, declares their needs with Kubernetes-style
``ResourceRequirements`` (``cpu="2"``, ``memory="4Gi"``, ``GPUConfig``), reads
``pipeline.step_groups`` after ``build()`` the way that API's users do, and runs.
docs/migrating.md lists what differs.
"""

from __future__ import annotations

from typing import Any

from flowyml.core import Pipeline, step
from flowyml.core.resources import GPUConfig, ResourceRequirements

GIB = 1024**3


@step(outputs=["data/raw"], execution_group="preprocessing")
def read_orders() -> list[dict[str, Any]]:
    return [
        {"id": i, "amount": float(i * 10), "country": "fr" if i % 2 else "de"} for i in range(8)
    ]


@step(inputs=["data/raw"], outputs=["data/clean"], execution_group="preprocessing")
def drop_small(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in raw if row["amount"] >= 20]


@step(inputs=["data/clean"], outputs=["data/features"], execution_group="preprocessing")
def add_features(clean: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "is_fr": row["country"] == "fr"} for row in clean]


@step(inputs=["data/features"], outputs=["report"])
def summarise(features: list[dict[str, Any]]) -> str:
    return f"{len(features)} orders, {sum(r['is_fr'] for r in features)} from France"


def test_a_grouped_preprocessing_pipeline_runs_and_lists_its_group() -> None:
    pipeline = Pipeline("orders_preprocessing")
    pipeline.add_step(read_orders)
    pipeline.add_step(drop_small)
    pipeline.add_step(add_features)
    pipeline.add_step(summarise)
    result = pipeline.run()

    assert result.success
    assert result.outputs["report"] == "6 orders, 3 from France"
    assert len(pipeline.step_groups) == 1
    group = pipeline.step_groups[0]
    assert group.group_name == "preprocessing"
    assert [s.name for s in group.steps] == ["read_orders", "drop_small", "add_features"]
    for name in ("read_orders", "drop_small", "add_features", "summarise"):
        assert result.step_results[name].status == "succeeded"


@step(
    outputs=["dataset"],
    execution_group="training",
    resources=ResourceRequirements(cpu="2", memory="4Gi"),
)
def prepare() -> list[float]:
    return [0.5, 1.5, 2.5]


@step(
    inputs=["dataset"],
    outputs=["model"],
    execution_group="training",
    resources=ResourceRequirements(
        cpu="4", memory="8Gi", gpu=GPUConfig(gpu_type="nvidia-v100", count=2)
    ),
)
def fit(dataset: list[float]) -> dict[str, float]:
    return {"mean": sum(dataset) / len(dataset)}


@step(
    inputs=["model"],
    outputs=["evaluation"],
    execution_group="training",
    resources=ResourceRequirements(
        cpu="500m", memory="2Gi", gpu=GPUConfig(gpu_type="nvidia-a100", count=1)
    ),
)
def score(model: dict[str, float]) -> dict[str, float]:
    return {"accuracy": 0.9, **model}


def test_a_groups_resources_are_the_largest_of_its_steps() -> None:
    pipeline = Pipeline("training_pipeline")
    pipeline.add_step(prepare)
    pipeline.add_step(fit)
    pipeline.add_step(score)
    pipeline.build()

    (group,) = pipeline.step_groups
    res = group.aggregated_resources
    assert res is not None
    assert (res.cpu, res.memory) == (4.0, 8 * GIB)
    assert res.gpu == GPUConfig(gpu_type="nvidia-a100", count=2)  # most capable type, most GPUs

    result = pipeline.run()
    assert result.success and result.outputs["evaluation"] == {"accuracy": 0.9, "mean": 1.5}


@step(outputs=["a"], execution_group="same_name")
def step_a() -> str:
    return "a"


@step(outputs=["x"])
def step_x() -> str:
    return "x"


@step(inputs=["a", "x"], outputs=["b"], execution_group="same_name")
def step_b(a: str, x: str) -> str:
    return a + x + "b"


@step(inputs=["b"], outputs=["y"])
def step_y(b: str) -> str:
    return b + "y"


@step(inputs=["y"], outputs=["c"], execution_group="same_name")
def step_c(y: str) -> str:
    return y + "c"


def test_steps_of_one_name_split_by_an_outside_step_become_numbered_groups() -> None:
    pipeline = Pipeline("split_groups")
    for s in (step_a, step_x, step_b, step_y, step_c):
        pipeline.add_step(s)
    pipeline.build()

    groups = {g.group_name: [s.name for s in g.steps] for g in pipeline.step_groups}
    assert groups == {"same_name_0": ["step_a", "step_b"], "same_name_1": ["step_c"]}
    assert pipeline.run().outputs["c"] == "axbyc"
