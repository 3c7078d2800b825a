"""Step groups as compiled: members in order, cut where an outside step splits them,
largest resources, and the steps that cannot be grouped named in the build error."""

from __future__ import annotations

import pytest

from flowyml import GPUConfig, Pipeline, ResourceRequirements, step
from flowyml.errors import PipelineBuildError, StepGroupError


def _chain(*specs: tuple[str, str | None, str | None, ResourceRequirements | None]) -> Pipeline:
    """A pipeline of steps ``name(input) -> name`` with the given groups and resources."""
    p = Pipeline("groups", persist=False)
    for name, source, group, resources in specs:
        inputs = [source] if source else []

        def fn(**kw: int) -> int:
            return sum(kw.values()) + 1

        p.add_step(
            step(
                name=name, inputs=inputs, outputs=[name], execution_group=group, resources=resources
            )(fn)
        )
    return p


def test_groups_list_steps_in_execution_order_with_largest_resources() -> None:
    p = _chain(
        ("train", "clean", "fit", ResourceRequirements(cpu=2, memory="1GB")),
        ("load", None, None, None),
        ("clean", "load", "fit", ResourceRequirements(cpu=4, memory="512MB", gpu=1)),
    )
    p.build()
    (group,) = p.step_groups
    assert group.name == group.group_name == "fit"
    assert [node.name for node in group.steps] == group.execution_order == ["clean", "train"]
    assert group.steps[0].step.resources == ResourceRequirements(cpu=4, memory="512MB", gpu=1)
    assert repr(group) == "StepGroup(name='fit', steps=['clean', 'train'])"
    assert group.resources == ResourceRequirements(cpu=4, memory=1_000_000_000, gpu=1)
    assert group.aggregated_resources is group.resources
    assert p.run().success


def test_a_group_split_by_an_outside_step_becomes_consecutive_runs() -> None:
    p = _chain(
        ("a", None, "g", None),
        ("b", "a", "g", None),
        ("x", "b", None, None),  # outside the group, between b and c
        ("c", "x", "g", None),
        ("d", "c", "g", None),
    )
    groups = p.step_groups
    assert [(g.name, g.execution_group, g.execution_order) for g in groups] == [
        ("g_0", "g", ["a", "b"]),
        ("g_1", "g", ["c", "d"]),
    ]
    assert groups[0].resources is None
    assert p.run()["d"] == 5


def test_independent_steps_of_one_group_stay_one_group() -> None:
    p = _chain(("a", None, "g", None), ("b", None, "g", None), ("c", "a", None, None))
    assert [g.execution_order for g in p.step_groups] == [["a", "b"]]


def test_mapped_and_conditional_steps_cannot_be_grouped_all_named_at_once() -> None:
    @step(execution_group="g", map_over="n", outputs=["sq"])
    def square(n: int) -> int:
        return n * n

    @step(execution_group="g", condition=lambda n: bool(n), outputs=["maybe"])
    def maybe(n: list[int]) -> int:
        return len(n)

    p = Pipeline("bad", persist=False)
    p.add_step(square)
    p.add_step(maybe)
    with pytest.raises(PipelineBuildError) as info:
        p.build(n=[1, 2])
    problems = info.value.problems
    assert all(isinstance(e, StepGroupError) for e in problems)
    assert [(e.step, e.group) for e in problems] == [("square", "g"), ("maybe", "g")]  # type: ignore[attr-defined]
    assert "mapped" in str(problems[0]) and "condition" in str(problems[1])


def test_different_gpu_types_take_the_most_capable_or_fail_when_unknown() -> None:
    v100 = ResourceRequirements(gpu=GPUConfig(count=2, gpu_type="nvidia-v100"))
    a100 = ResourceRequirements(gpu=GPUConfig(count=1, gpu_type="nvidia-a100"))
    (group,) = _chain(("a", None, "g", v100), ("b", "a", "g", a100)).step_groups
    assert group.resources is not None
    assert group.resources.gpu == GPUConfig(count=2, gpu_type="nvidia-a100")

    one = ResourceRequirements(gpu=GPUConfig(count=1, gpu_type="acme-x1"))
    two = ResourceRequirements(gpu=GPUConfig(count=1, gpu_type="acme-x2"))
    p = _chain(("a", None, "g", one), ("b", "a", "g", two))
    with pytest.raises(StepGroupError, match=r"'b'.*'g'.*acme-x1, acme-x2"):
        p.build()


def test_same_gpu_type_takes_the_largest_count() -> None:
    one = ResourceRequirements(gpu=GPUConfig(count=1, gpu_type="A100"))
    two = ResourceRequirements(cpu=1, gpu=2)
    p = _chain(("a", None, "g", one), ("b", "a", "g", two))
    (group,) = p.step_groups
    assert group.resources is not None
    assert group.resources.gpu == GPUConfig(count=2, gpu_type="A100")
    assert group.to_dict() == {
        "name": "g",
        "steps": ["a", "b"],
        "resources": {"cpu": 1, "gpu": 2, "gpu_type": "A100"},
    }


def test_no_groups_without_execution_group() -> None:
    p = _chain(("a", None, None, None))
    assert p.step_groups == [] and p.build().groups == ()
