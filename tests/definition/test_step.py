from __future__ import annotations

import pytest

from flowyml import Step, StepContext, step
from flowyml.errors import StepDefinitionError


def test_bare_decorator_keeps_function_callable() -> None:
    @step
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert isinstance(add, Step)
    assert add(1) == 3
    assert add.name == "add"
    assert add.outputs == ("add",)
    assert add.__name__ == "add"
    assert not add.is_async


async def test_async_step_called_outside_pipeline_returns_awaitable() -> None:
    @step(outputs=["raw"], retries=2, timeout=3, tags=["io"])
    async def fetch(url: str) -> bytes:
        return url.encode()

    assert await fetch("x") == b"x"
    assert fetch.is_async
    assert fetch.outputs == ("raw",)
    assert fetch.retries == 2 and fetch.timeout == 3.0 and fetch.tags == ("io",)


def test_inputs_map_by_name_then_in_order() -> None:
    @step(inputs=["raw", "extra"], outputs=["rows", "errors"])
    def parse(raw: bytes, other: int, ctx: StepContext) -> tuple[int, int]:
        return 1, 2

    assert parse.input_map == {"raw": "raw", "other": "extra"}
    assert parse.context_params == frozenset({"ctx"})


def test_inputs_as_mapping() -> None:
    @step(inputs={"data": "raw"})
    def f(data: bytes) -> int:
        return 0

    assert f.input_map == {"data": "raw"}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"retries": -1}, "retries"),
        ({"timeout": 0}, "timeout"),
        ({"backoff": 0.5}, "backoff"),
        ({"outputs": []}, "no output"),
        ({"outputs": ["a", "a"]}, "twice"),
        ({"outputs": ["bad name"]}, "not a valid name"),
        ({"inputs": {"nope": "x"}}, "no such parameter"),
        ({"inputs": ["a", "b"]}, "match no parameter"),
    ],
)
def test_bad_options_name_the_step(options: dict[str, object], match: str) -> None:
    def my_step(x: int) -> int:
        return x

    with pytest.raises(StepDefinitionError, match=match) as info:
        step(**options)(my_step)  # type: ignore[call-overload]
    assert "my_step" in str(info.value)


def test_with_options_copies() -> None:
    @step(retries=1)
    def f(x: int) -> int:
        return x

    g = f.with_options(name="g")
    assert g.name == "g" and g.outputs == ("g",) and g.retries == 1
    assert f.name == "f"
