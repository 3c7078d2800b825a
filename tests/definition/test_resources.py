"""@step(resources=...) and execution_group=: accepted shapes, errors naming the field."""

from __future__ import annotations

import pytest

from flowyml import GPUConfig, ResourceRequirements, step
from flowyml.errors import StepDefinitionError


def test_requirements_in_both_shapes_are_equal() -> None:
    a = ResourceRequirements(cpu=2, memory="4GiB", gpu=GPUConfig(count=2, gpu_type="A100"))
    b = step(name="b", resources={"cpu": 2, "memory": "4GiB", "gpu": 2, "gpu_type": "A100"})(
        lambda: 1
    )
    assert b.resources == a
    assert a.memory == 4 * 2**30 and a.gpu_count == 2
    assert a.to_dict() == {"cpu": 2, "memory": 4 * 2**30, "gpu": 2, "gpu_type": "A100"}


@pytest.mark.parametrize(
    ("memory", "size"), [("512MB", 512 * 10**6), ("1.5 GiB", int(1.5 * 2**30)), (1024, 1024)]
)
def test_memory_sizes(memory: str | int, size: int) -> None:
    assert ResourceRequirements(memory=memory).memory == size


@pytest.mark.parametrize(
    ("resources", "match"),
    [
        ({"cpu": 0}, "cpu=0 must be > 0"),
        ({"cpu": "two"}, "cpu='two' must be a number"),
        ({"memory": "4 parsecs"}, "memory='4 parsecs' is not a size"),
        ({"gpu": -1}, "gpu=-1 must be an int >= 0"),
        ({"gpus": 1}, "unknown resources field 'gpus'"),
        (["cpu"], "resources must be a ResourceRequirements or a dict"),
    ],
)
def test_bad_requirements_name_the_step_and_field(resources: object, match: str) -> None:
    with pytest.raises(StepDefinitionError, match=match) as info:
        step(name="train", resources=resources)(lambda: 1)  # type: ignore[call-overload]
    assert "train" in str(info.value) or "resources" in str(info.value)


def test_options_show_placement_only_when_asked() -> None:
    plain = step(name="plain")(lambda: 1)
    placed = step(name="placed", resources={"gpu": 1}, execution_group="train")(lambda: 1)
    assert "resources" not in plain.options() and "execution_group" not in plain.options()
    assert placed.options()["resources"] == {"gpu": 1}
    assert placed.options()["execution_group"] == "train"
    assert placed.with_options(name="again").execution_group == "train"


def test_empty_execution_group_is_refused() -> None:
    with pytest.raises(StepDefinitionError, match="execution_group must be a non-empty string"):
        step(name="s", execution_group="")(lambda: 1)
