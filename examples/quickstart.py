"""Quickstart: a small ML-flavoured pipeline, run from a plain script.

    python examples/quickstart.py            # run it (persisted to ./.flowyml)
    python examples/quickstart.py --ui       # run it, then open the dashboard on 127.0.0.1:8080

It shows both definition styles, parameters through a context, a sync and an async
step, two outputs from one step, and the result API.  Run it twice: the second run is
served from the cache.
"""

from __future__ import annotations

import random
import sys

import anyio

from flowyml import Pipeline, StepContext, context, pipeline, step


@step(outputs=["dataset"])
async def load_data(n_samples: int, seed: int) -> list[tuple[float, float]]:
    """Pretend to fetch data: y = 3x + 1 with noise."""
    await anyio.sleep(0.05)  # an I/O wait, on the event loop
    rng = random.Random(seed)
    return [
        (x, 3 * x + 1 + rng.gauss(0, 0.1)) for x in (rng.uniform(0, 1) for _ in range(n_samples))
    ]


@step(inputs=["dataset"], outputs=["train", "test"])
def split(dataset: list[tuple[float, float]], test_fraction: float = 0.2):  # type: ignore[no-untyped-def]
    """Split into train and test (a sync step: runs in a worker thread)."""
    cut = int(len(dataset) * (1 - test_fraction))
    return dataset[:cut], dataset[cut:]


@step(inputs=["train"], outputs=["model"], retries=2, retry_delay=0.01)
def train(train: list[tuple[float, float]], ctx: StepContext) -> dict[str, float]:
    """Least squares for y = a*x + b."""
    ctx.logger.info("training on %d samples (attempt %d)", len(train), ctx.attempt)
    n = len(train)
    mx = sum(x for x, _ in train) / n
    my = sum(y for _, y in train) / n
    a = sum((x - mx) * (y - my) for x, y in train) / sum((x - mx) ** 2 for x, _ in train)
    return {"a": a, "b": my - a * mx}


@step(inputs=["model", "test"], outputs=["metrics"])
async def evaluate(model: dict[str, float], test: list[tuple[float, float]]) -> dict[str, float]:
    """Mean squared error on the test split."""
    mse = sum((model["a"] * x + model["b"] - y) ** 2 for x, y in test) / len(test)
    return {"mse": mse, "a": model["a"], "b": model["b"]}


# Explicit style: named inputs and outputs.
training = Pipeline("quickstart-training", context=context(n_samples=500, seed=7))
training.add_step(load_data).add_step(split).add_step(train).add_step(evaluate)


# Functional style: the DAG is traced from the body.
@step
async def numbers(n: int) -> list[int]:
    return list(range(n))


@step
def squares(xs: list[int]) -> list[int]:
    return [x * x for x in xs]


@pipeline
def squares_pipeline(n: int = 10):  # type: ignore[no-untyped-def]
    return squares(numbers(n))


def main() -> None:
    print(training.dag.visualize())
    result = training.run()
    print(result.summary())
    print("metrics:", result["metrics"])
    print("squares:", squares_pipeline.run(n=6)["squares"])
    if "--ui" in sys.argv:
        from flowyml.cli import main as cli

        sys.argv = ["flowyml", "ui"]
        cli()


if __name__ == "__main__":
    main()
