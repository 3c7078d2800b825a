"""Programs written against the published flowyml's pipeline API run here unchanged.

Each test is a small program in that API's style (``flowyml.core`` imports, ``Pipeline``
plus ``add_step``, ``/``-namespaced outputs, asset factories, cache strategies,
``run(debug=True)``), then checks what a user of that program relies on.
docs/migrating.md lists what differs.
"""

from __future__ import annotations

import ast
import logging
import pathlib
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

import flowyml
from flowyml import Client
from flowyml.core.assets import Dataset, Metrics, Model
from flowyml.core.context import context
from flowyml.core.pipeline import Pipeline
from flowyml.core.step import step
from flowyml.errors import StepDefinitionError

# ---------------------------------------------------------------------- asset pipeline


def test_a_simple_asset_pipeline_with_context_injection() -> None:
    ctx = context(learning_rate=0.01, epochs=3, dataset_name="iris")

    @step(outputs=["data/train"])
    def load(dataset_name: str) -> Dataset[list[dict[str, float]]]:
        rows = [{"x": float(i), "y": 2.0 * i} for i in range(10)]
        return Dataset.create(data=rows, name=dataset_name, source="generated", split="train")

    @step(inputs=["data/train"], outputs=["model/trained"])
    def train(
        data: Dataset[list[dict[str, float]]], learning_rate: float, epochs: int
    ) -> Model[dict[str, float]]:
        slope = sum(r["y"] for r in data.data) / max(sum(r["x"] for r in data.data), 1.0)
        weights = {"slope": slope, "lr": learning_rate, "epochs": float(epochs)}
        return Model.create(data=weights, name="linear", trained_on=data, framework="custom")

    @step(inputs=["model/trained", "data/train"], outputs=["metrics/eval"])
    def evaluate(model: Model[dict[str, float]], data: Dataset[list[dict[str, float]]]) -> Metrics:
        err = sum(abs(model.data["slope"] * r["x"] - r["y"]) for r in data.data)
        return Metrics.create(mae=err / len(data.data), name="eval", metrics={"rows": 10})

    pipeline = Pipeline("asset_example", context=ctx)
    pipeline.add_step(load)
    pipeline.add_step(train)
    pipeline.add_step(evaluate)
    result = pipeline.run()

    assert result.success
    data = result.outputs["data/train"]
    assert data.name == "iris" and data.properties == {"source": "generated", "split": "train"}
    assert len(data.data) == 10
    model = result.outputs["model/trained"]
    assert model.data == {"slope": 2.0, "lr": 0.01, "epochs": 3.0}  # context injected
    assert model.properties == {"trained_on": "iris", "framework": "custom"}
    metrics = result["metrics/eval"]
    assert metrics.data == {"rows": 10, "mae": 0.0} and metrics["mae"] == 0.0

    # The asset metadata is recorded with the artifacts, readable without the values.
    async def recorded() -> dict[str, dict[str, Any]]:
        async with Client() as client:
            arts = await client.list_artifacts(run_id=result.run_id)
            return {a.name: a.metadata for a in arts}

    import anyio

    meta = anyio.run(recorded)
    assert meta["model/trained"]["trained_on"] == "iris"
    assert meta["data/train"]["rows"] == 10 and meta["data/train"]["split"] == "train"
    assert meta["metrics/eval"]["metrics"] == {"rows": 10, "mae": 0.0}

    # A second run takes all three from the cache, assets and their properties intact.
    again = pipeline.run()
    assert [r.status for r in again.step_results.values()] == ["cached"] * 3
    assert again.outputs["model/trained"].properties["trained_on"] == "iris"
    assert pipeline.cache_stats() == {
        "hits": 3,
        "misses": 0,
        "hit_rate": 1.0,
        "run_id": again.run_id,
    }


def test_asset_factories_keep_the_constructor_and_check_their_input() -> None:
    assert Dataset([1, 2], name="d", metadata={"a": 1}) == Dataset.create(
        data=[1, 2], name="d", a=1
    )
    assert Dataset.create(data=[1], properties={"a": 1}, b=2).properties == {"a": 1, "b": 2}
    assert Model.create(data={}, trained_on="raw").metadata == {"trained_on": "raw"}
    assert Model.create(data={}, trained_on=Dataset([1])).metadata == {"trained_on": "dataset"}
    with pytest.raises(TypeError, match="trained_on must be an asset or a name"):
        Model.create(data={}, trained_on=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'training_time' is str"):
        Metrics.create(accuracy=0.9, training_time="2h")  # type: ignore[arg-type]
    m = Metrics.create({"a": 1}, metadata={"source": "test"}, b=2.5)
    assert (m.data, m.properties) == ({"a": 1, "b": 2.5}, {"source": "test"})


# ---------------------------------------------------------------------- caching pipeline


def _caching_pipeline(calls: list[str], *, preprocess_version: int = 1) -> Pipeline:
    """The published caching example's shape: one step per strategy, ``/`` names."""

    @step(outputs=["data/raw"], cache="code_hash")
    def load_data() -> dict[str, int]:
        calls.append("load")
        return {"rows": 100}

    if preprocess_version == 1:

        def preprocess(data: dict[str, int], data_version: str) -> dict[str, Any]:
            calls.append("preprocess")
            return {"rows": data["rows"], "version": data_version}

    else:

        def preprocess(data: dict[str, int], data_version: str) -> dict[str, Any]:
            calls.append("preprocess v2")  # new code: input_hash keeps its cache entry
            return {"rows": data["rows"], "version": data_version, "v2": True}

    cached_preprocess = step(
        name="preprocess", inputs=["data/raw"], outputs=["data/processed"], cache="input_hash"
    )(preprocess)

    def by_model_type(inputs: dict[str, Any], params: dict[str, Any]) -> str:
        return str(params["model_type"])  # the data does not matter for this key

    @step(inputs=["data/processed"], outputs=["model/trained"], cache=by_model_type)
    def train_model(data: dict[str, Any], model_type: str, seed: int) -> dict[str, Any]:
        calls.append("train")
        return {"type": model_type, "rows": data["rows"], "seed": seed}

    @step(inputs=["model/trained"], outputs=["metrics/report"], cache=False)
    def report(model: dict[str, Any]) -> str:
        calls.append("report")
        return f"{model['type']} on {model['rows']} rows"

    ctx = context(data_version="v1.0", model_type="random_forest", seed=1)
    pipeline = Pipeline("caching_example", context=ctx)
    for s in (load_data, cached_preprocess, train_model, report):
        pipeline.add_step(s)
    return pipeline


def test_a_caching_pipeline_with_slash_names_and_cache_stats() -> None:
    calls: list[str] = []
    pipeline = _caching_pipeline(calls)
    assert pipeline.cache_stats() == {"hits": 0, "misses": 0, "hit_rate": 0.0, "run_id": None}

    first = pipeline.run()
    assert first.success and calls == ["load", "preprocess", "train", "report"]
    assert first.outputs["metrics/report"] == "random_forest on 100 rows"
    assert first.step_results["train_model"].artifact_ids.keys() == {"model/trained"}
    # report (cache=False) is neither a hit nor a miss
    assert pipeline.cache_stats() | {"run_id": None} == {
        "hits": 0,
        "misses": 3,
        "hit_rate": 0.0,
        "run_id": None,
    }

    calls.clear()
    second = pipeline.run()
    assert calls == ["report"]
    assert second.outputs["model/trained"] == {"type": "random_forest", "rows": 100, "seed": 1}
    stats = pipeline.cache_stats()
    assert (stats["hits"], stats["misses"], stats["hit_rate"]) == (3, 0, 1.0)
    assert stats["run_id"] == second.run_id

    # The key function ignores the seed: a new seed is still a hit ...
    calls.clear()
    pipeline.run(seed=2)
    assert calls == ["report"]
    # ... a new model type is a miss.
    pipeline.run(model_type="boosting")
    assert calls == ["report", "train", "report"]
    stats = pipeline.cache_stats()
    assert (stats["hits"], stats["misses"], round(stats["hit_rate"], 3)) == (2, 1, 0.667)


def test_input_hash_survives_a_code_change_and_code_hash_does_not() -> None:
    calls: list[str] = []
    _caching_pipeline(calls).run()
    calls.clear()
    changed = _caching_pipeline(calls, preprocess_version=2).run()
    # preprocess' code changed but its inputs did not: input_hash reuses its output
    assert changed.step_results["preprocess"].status == "cached"
    assert "v2" not in changed.outputs["data/processed"]
    assert calls == ["report"]

    @step(outputs=["data/raw"], cache="code_hash", name="load_data")
    def load_data() -> dict[str, int]:
        calls.append("load v2")
        return {"rows": 100}

    code = Pipeline("caching_example").add_step(load_data).run()
    assert code.step_results["load_data"].status == "succeeded" and calls[-1] == "load v2"


def test_a_failing_cache_function_runs_the_step_uncached(caplog: pytest.LogCaptureFixture) -> None:
    def broken(inputs: dict[str, Any], params: dict[str, Any]) -> str:
        raise KeyError("nope")

    @step(cache=broken)
    def work() -> int:
        return 1

    p = Pipeline("broken_key").add_step(work)
    with caplog.at_level(logging.WARNING, logger="flowyml"):
        assert p.run().success and p.run().step_results["work"].status == "succeeded"
    assert "its cache function failed" in caplog.text
    assert p.cache_stats()["misses"] == 1


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        ("code-hash", "step 'f': unknown cache strategy 'code-hash'"),
        ("always", "step 'f': unknown cache strategy 'always'"),
        (1, "step 'f': cache must be True, False, 'code_hash', 'input_hash' or a function"),
    ],
)
def test_unknown_cache_strategies_are_refused_naming_the_step(cache: Any, message: str) -> None:
    def f() -> int:
        return 1

    with pytest.raises(StepDefinitionError, match=message):
        step(cache=cache)(f)


def test_cache_strategies_show_in_the_dag_and_survive_with_options() -> None:
    @step(cache="input_hash")
    def f() -> int:
        return 1

    assert f.options()["cache_by"] == "input_hash"
    assert f.with_options(name="g").cache_by == "input_hash"
    assert f.with_options(cache=False).cache is False
    assert step(cache=lambda i, p: "k")(f.fn).options()["cache_by"] == "function"
    assert step(f.fn).options()["cache_by"] == "code_hash"


def test_no_cache_stats_when_the_run_does_not_cache() -> None:
    calls: list[str] = []
    pipeline = _caching_pipeline(calls)
    pipeline.run(persist=False)
    assert pipeline.cache_stats()["misses"] == 0
    pipeline.run()
    pipeline.run(enable_cache=False)
    assert (pipeline.cache_stats()["hits"], pipeline.cache_stats()["misses"]) == (0, 0)


# ---------------------------------------------------------------------- names with "/"


@pytest.mark.parametrize("bad", ["/raw", "raw/", "data//raw", "data/ raw", "data/1x"])
def test_slash_names_must_be_names_joined_by_single_slashes(bad: str) -> None:
    def f(x: int = 0) -> int:
        return x

    with pytest.raises(StepDefinitionError, match=r"step 'f': output .* '/' joins such names"):
        step(outputs=[bad])(f)
    with pytest.raises(StepDefinitionError, match=r"step 'f': input .* '/' joins"):
        step(inputs=[bad])(f)
    with pytest.raises(StepDefinitionError, match="name 'data/raw' is not a valid name"):
        step(name="data/raw")(f)


async def test_slash_names_round_trip_through_the_stores_and_the_server(
    tmp_path: pathlib.Path,
) -> None:
    from tests.server.conftest import api, make_app

    store, artifacts = f"sqlite:///{tmp_path / 'm.db'}", f"file://{tmp_path / 'a'}"

    @step(outputs=["data/raw", "data/meta"])
    def load() -> tuple[list[int], dict[str, int]]:
        return [1, 2, 3], {"n": 3}

    @step(inputs=["data/raw"], outputs=["model/trained"])
    def train(rows: list[int]) -> int:
        return sum(rows)

    p = Pipeline("slashes", store=store, artifacts=artifacts).add_step(load).add_step(train)
    result = await p.run()
    assert result.outputs["model/trained"] == 6
    ids = result.step_results["load"].artifact_ids
    assert ids.keys() == {"data/raw", "data/meta"}
    assert all(i.isalnum() for i in ids.values())  # the stored keys: hex ids, no '/'

    async with api(make_app((store, artifacts))) as c:
        detail = (await c.get(f"/api/runs/{result.run_id}/steps/train")).json()
        assert [a["name"] for a in detail["inputs"]] == ["data/raw"]
        assert [a["name"] for a in detail["outputs"]] == ["model/trained"]
        listed = await c.get("/api/artifacts", params={"name": "data/raw"})
        assert [a["id"] for a in listed.json()["items"]] == [ids["data/raw"]]
        content = await c.get(f"/api/artifacts/{ids['data/raw']}/content")
        disposition = content.headers["content-disposition"]
        assert 'filename="data_raw"' in disposition and "data%2Fraw" in disposition

    async with Client(store, artifacts) as client:
        (record,) = await client.list_artifacts(name="data/meta")
        assert await client.load_artifact(record.id) == {"n": 3}

    again = await p.run()
    assert again.step_results["train"].status == "cached"
    assert again.outputs["data/raw"] == [1, 2, 3]


# ---------------------------------------------------------------------- conditions, debug


def test_a_conditional_pipeline_reports_skipped_steps() -> None:
    ctx = context(enable_advanced_features=False, quality_threshold=0.9)

    @step(outputs=["data/cleaned"])
    def clean() -> dict[str, float]:
        return {"quality": 0.85}

    @step(
        inputs=["data/cleaned"],
        outputs=["data/enhanced"],
        condition=lambda data, quality_threshold: data["quality"] < quality_threshold,
    )
    def enhance(data: dict[str, float], quality_threshold: float) -> dict[str, float]:
        return {"quality": 0.95}

    @step(
        inputs=["data/cleaned"],
        outputs=["features/advanced"],
        condition=lambda enable_advanced_features: enable_advanced_features,
    )
    def advanced(data: dict[str, float], enable_advanced_features: bool) -> int:
        return 100

    pipeline = Pipeline("conditional_example", context=ctx, enable_cache=False)
    for s in (clean, enhance, advanced):
        pipeline.add_step(s)
    before = datetime.now(UTC)
    result = pipeline.run()

    assert result.success
    assert {n: r.skipped for n, r in result.step_results.items()} == {
        "clean": False,
        "enhance": False,
        "advanced": True,
    }
    assert result.step_results["advanced"].skip_reason == "condition is false"
    assert result.outputs["data/enhanced"] == {"quality": 0.95}
    assert result.start_time.tzinfo is UTC
    assert before.timestamp() - 1 <= result.start_time.timestamp()
    assert result.start_time <= result.end_time <= datetime.now(UTC)
    assert (result.end_time - result.start_time).total_seconds() == pytest.approx(
        result.duration_seconds, abs=1e-5
    )


def test_debug_runs_one_step_at_a_time_in_definition_order_on_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[tuple[str, int]] = []
    here = threading.get_ident()

    @step(outputs=["data/a"])
    def first() -> int:
        seen.append(("first", threading.get_ident()))
        return 1

    @step(inputs=["data/a"], outputs=["data/c"])
    def second(a: int) -> int:
        seen.append(("second", threading.get_ident()))
        return a + 1

    @step(outputs=["data/b"])
    def third() -> int:  # independent: without debug it could start with ``first``
        seen.append(("third", threading.get_ident()))
        return 2

    pipeline = Pipeline("debug_example", enable_cache=False)
    for s in (first, second, third):
        pipeline.add_step(s)
    with caplog.at_level(logging.DEBUG, logger="flowyml.debug"):
        result = pipeline.run(debug=True)
    assert result.success
    # definition order, and every sync step ran in the caller's (the loop's) thread
    assert seen == [("first", here), ("second", here), ("third", here)]
    assert "step 'second' called with (a=1)" in caplog.text
    assert "StepSucceeded(" in caplog.text and "RunFinished(" in caplog.text
    with pytest.raises(TypeError, match="debug= must be True or False"):
        pipeline.run(debug="yes")


async def test_debug_mode_shows_its_log_on_stderr_when_logging_is_not_set_up(
    capfd: pytest.CaptureFixture[str],
) -> None:
    @step
    def only() -> int:
        return 1

    log = logging.getLogger("flowyml.debug")
    before = (log.level, log.propagate, list(log.handlers))
    await Pipeline("debug_stderr", persist=False).add_step(only).arun(debug=True)
    assert "flowyml debug: step 'only' called with ()" in capfd.readouterr().err
    assert (log.level, log.propagate, list(log.handlers)) == before  # undone


# ---------------------------------------------------------------------- import paths


def test_core_paths_re_export_the_same_objects_and_hold_no_logic() -> None:
    import importlib

    paths = [
        "flowyml.core",
        *(f"flowyml.core.{m}" for m in ("assets", "context", "pipeline", "resources")),
    ]
    modules = [importlib.import_module(p) for p in [*paths, "flowyml.core.step"]]
    # loading a path module does not hide the name it shares with the package
    from flowyml.core import context as ctx_factory
    from flowyml.core import pipeline as pipeline_decorator
    from flowyml.core import step as step_decorator

    assert (ctx_factory, pipeline_decorator, step_decorator) == (
        flowyml.context,
        flowyml.pipeline,
        flowyml.step,
    )
    for module in modules:
        for name in module.__all__:
            assert getattr(module, name) is getattr(flowyml, name), (module.__name__, name)
        tree = ast.parse(pathlib.Path(str(module.__file__)).read_text())
        kinds = {type(node).__name__ for node in tree.body}
        assert kinds <= {"Expr", "ImportFrom", "Assign"}, (module.__name__, kinds)


def test_debug_runs_finish_through_skips_failures_and_maps() -> None:
    order: list[str] = []

    @step(outputs=["data/items"])
    def items() -> list[int]:
        order.append("items")
        return [1, 2, 3]

    @step(inputs=["data/items"], outputs=["data/doubled"], map_over="data/items")
    def double(x: int) -> int:
        order.append(f"double {x}")
        return 2 * x

    @step(outputs=["data/never"], condition=lambda enabled: enabled)
    def gated(enabled: bool) -> int:
        order.append("gated")
        return 1

    @step(inputs=["data/never"], outputs=["data/after"])
    def after(x: int) -> int:  # skipped with ``gated``
        order.append("after")
        return x

    @step(outputs=["data/broken"])
    def broken() -> int:
        order.append("broken")
        raise ValueError("no")

    @step(inputs=["data/doubled"], outputs=["data/total"])
    async def total(xs: list[int]) -> int:
        order.append("total")
        return sum(xs)

    p = Pipeline("debug_mixed", context=context(enabled=False))
    for s in (items, double, gated, after, broken, total):
        p.add_step(s)
    result = p.run(debug=True)
    assert result.status == "failed" and result.outputs["data/total"] == 12
    assert order == ["items", "double 1", "double 2", "double 3", "broken", "total"]
    assert {n: r.status for n, r in result.step_results.items() if "[" not in n} == {
        "items": "succeeded",
        "double": "succeeded",
        "gated": "skipped",
        "after": "skipped",
        "broken": "failed",
        "total": "succeeded",
    }

    # cache_stats counts map elements one by one (the mapped step itself is no lookup);
    # a failed step is a miss.
    order.clear()
    p.run()
    assert order == ["broken"]
    stats = p.cache_stats()
    assert (stats["hits"], stats["misses"]) == (5, 1)  # items, 3 elements, total; broken
