from __future__ import annotations

import json

import pytest

from flowyml import Pipeline, context, pipeline, step
from flowyml.errors import (
    CycleError,
    DuplicateOutputError,
    DuplicateStepError,
    FlowymlError,
    ForeignHandleError,
    MissingInputError,
    PipelineBuildError,
)


@step
async def load(n: int) -> list[int]:
    return list(range(n))


@step
def double(load: list[int]) -> list[int]:
    return [2 * x for x in load]


def test_both_styles_build_the_same_dag() -> None:
    @pipeline
    def numbers(n: int = 3):  # type: ignore[no-untyped-def]
        return double(load(n))

    explicit = Pipeline("numbers", context=context(n=3))
    explicit.add_step(load).add_step(double, inputs=["load"])

    a, b = numbers.build(), explicit.build()
    assert type(a) is type(b)
    assert a.topological_order() == b.topological_order() == ["load", "double"]
    assert [(e.source, e.target, e.name) for e in a.edges] == [("load", "double", "load")]
    assert [(e.source, e.target, e.name) for e in b.edges] == [("load", "double", "load")]
    da, db = a.to_dict(), b.to_dict()
    assert [n["inputs"] for n in da["nodes"]] == [n["inputs"] for n in db["nodes"]]
    json.dumps(da)


def test_dag_views() -> None:
    p = Pipeline("v", context=context(n=1))
    p.add_step(load).add_step(double, inputs=["load"])
    dag = p.dag
    assert len(dag) == 2 and "load" in dag
    text = dag.visualize()
    assert "load [async] <- -" in text
    assert "double [sync] <- load" in text
    d = dag.to_dict()
    assert d["pipeline"] == "v"
    assert {n["id"] for n in d["nodes"]} == {"load", "double"}
    assert d["edges"] == [{"source": "load", "target": "double", "name": "load"}]


def test_compiled_nodes_are_immutable_and_compared_by_identity() -> None:
    # A compiled DAG is cached on its pipeline and shared by every run: no run may change it.
    p = Pipeline("frozen", context=context(n=1))
    p.add_step(load).add_step(double, inputs=["load"])
    node = p.dag.nodes["double"]
    with pytest.raises(AttributeError):
        node.upstream = ()  # type: ignore[misc]
    assert node.upstream == ("load",) and node.bindings[0][0] == "load"
    again = (
        Pipeline("frozen", context=context(n=1)).add_step(load).add_step(double, inputs=["load"])
    )
    twin = again.dag.nodes["double"]
    assert twin.upstream == node.upstream and twin != node
    assert {node: 1}[node] == 1


def test_steps_added_before_their_producers_compile_and_run() -> None:
    # Placement order is free: the DAG orders the steps by their data, not by add_step.
    @step(inputs=["total"], outputs=["report"])
    def report(total: int) -> str:
        return f"total={total}"

    @step(inputs=["a", "b"], outputs=["total"])
    def add(a: int, b: int) -> int:
        return a + b

    @step(outputs=["a"])
    def one() -> int:
        return 1

    @step(outputs=["b"])
    def two() -> int:
        return 2

    p = Pipeline("backwards").add_step(report).add_step(add).add_step(one).add_step(two)
    dag = p.build()
    assert [n.name for n in dag.order] == ["report", "add", "one", "two"]
    assert [n.index for n in dag.order] == [0, 1, 2, 3]
    assert dag.parents == (1, 2, 0, 0)
    assert dag.children == ((), (0,), (1,), (1,))
    assert dag.downstream == {"report": (), "add": ("report",), "one": ("add",), "two": ("add",)}
    assert dag.producers == {"report": "report", "total": "add", "a": "one", "b": "two"}
    assert dag.topological_order() == ["one", "two", "add", "report"]
    assert dag.nodes["add"].upstream == ("one", "two")
    assert p.run(persist=False)["report"] == "total=3"


def test_an_output_placed_later_wins_over_a_run_parameter_of_its_name() -> None:
    # "n" is both a run parameter and the output of a step placed after its consumers:
    # as when the producer comes first, the consumers read the output.
    @step(inputs=["n"], outputs=["first"])
    def first(n: int) -> int:
        return n + 1

    @step(outputs=["n"])
    def make() -> int:
        return 10

    @step(inputs=["n"], outputs=["second"])
    def second(n: int, scale: int) -> int:
        return n * scale

    p = Pipeline("later", context=context(n=1, scale=3))
    dag = p.add_step(first).add_step(make).add_step(second).build()
    assert dag.children == ((), (0, 2), ())  # in step order, though recorded out of it
    assert dag.nodes["first"].upstream == ("make",) and dag.parents == (1, 0, 1)
    assert dag.params == frozenset({"scale"})
    result = p.run(persist=False)
    assert (result["first"], result["second"]) == (11, 30)


def test_missing_inputs_are_reported_in_step_order() -> None:
    @step(inputs=["absent"])
    def a(absent: int) -> int:
        return absent

    @step
    def b(url: str) -> str:
        return url

    with pytest.raises(PipelineBuildError) as info:
        Pipeline("order").add_step(a).add_step(b).build()
    assert [(e.step, e.name) for e in info.value.problems] == [  # type: ignore[attr-defined]
        ("a", "absent"),
        ("b", "url"),
    ]


def test_an_input_read_twice_is_one_dependency() -> None:
    @step(outputs=["n"])
    def source() -> int:
        return 4

    @step(inputs={"x": "n", "y": "n"})
    def both(x: int, y: int) -> int:
        return x * y

    dag = Pipeline("twice").add_step(source).add_step(both).build()
    assert dag.nodes["both"].upstream == ("source",)
    assert dag.parents == (0, 1) and dag.children == ((1,), ())
    assert [(e.source, e.target, e.name) for e in dag.edges] == [
        ("source", "both", "n"),
        ("source", "both", "n"),
    ]


def test_an_input_read_again_after_another_is_still_one_dependency() -> None:
    @step(outputs=["n"])
    def source() -> int:
        return 4

    @step(outputs=["m"])
    def other() -> int:
        return 5

    @step(inputs={"x": "n", "z": "m", "y": "n"})
    def three(x: int, z: int, y: int) -> int:
        return x * y + z

    p = Pipeline("again").add_step(source).add_step(other).add_step(three)
    dag = p.build()
    assert dag.nodes["three"].upstream == ("source", "other")
    assert dag.parents == (0, 0, 2) and dag.children == ((2,), (2,), ())
    assert p.run(persist=False)["three"] == 21


def test_a_fan_out_and_fan_in_compile_to_their_edges() -> None:
    @step(outputs=["n"])
    def source() -> int:
        return 2

    @step(inputs=["w0", "w1", "w2"])
    def total(w0: int, w1: int, w2: int) -> int:
        return w0 + w1 + w2

    p = Pipeline("fan").add_step(source)
    for i in range(3):
        p.add_step(step(name=f"w{i}", inputs={"x": "n"})(_times_ten))
    dag = p.add_step(total).build()
    assert dag.children == ((1, 2, 3), (4,), (4,), (4,), ())
    assert dag.parents == (0, 1, 1, 1, 3)
    assert p.run(persist=False)["total"] == 60


def test_steps_bound_alike_each_get_the_value() -> None:
    # A 1 -> N fan-out: each of the N consumers of one output gets the value; a step
    # bound differently gets its own.
    @step(outputs=["n"])
    def source() -> int:
        return 3

    p = Pipeline("wide").add_step(source)
    for i in range(3):
        p.add_step(step(name=f"w{i}", inputs={"x": "n"})(_times_ten))
    p.add_step(step(name="other", inputs={"x": "w0"})(_times_ten))
    dag = p.build()
    w0, w1, w2, other = (dag.nodes[n] for n in ("w0", "w1", "w2", "other"))
    assert w0.bindings == w1.bindings == w2.bindings
    assert w0.upstream == w1.upstream == ("source",)
    assert other.bindings != w0.bindings and other.upstream == ("w0",)
    result = p.run(persist=False)
    assert [result[f"w{i}"] for i in range(3)] == [30, 30, 30] and result["other"] == 300


class _Incomparable:
    """A user's value whose ``==`` cannot answer (like a NumPy array's)."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("the truth value is ambiguous")

    __hash__ = object.__hash__


def test_steps_given_values_that_cannot_be_compared_compile() -> None:
    @step
    def take(v: _Incomparable) -> str:
        return type(v).__name__

    @pipeline
    def literals():  # type: ignore[no-untyped-def]
        take(_Incomparable())
        take(_Incomparable())

    dag = literals.build()
    second = dag.order[1]
    assert literals.run(persist=False).step_results[second.name].success


def _times_ten(x: int) -> int:
    return 10 * x


def test_a_step_reading_its_own_output_is_a_cycle() -> None:
    @step(inputs=["x"], outputs=["x"])
    def loop(x: int) -> int:
        return x

    with pytest.raises(CycleError) as info:
        Pipeline("self").add_step(loop).build()
    assert info.value.cycle == ["loop"]


def test_a_cycle_among_steps_placed_out_of_order_is_found() -> None:
    @step(outputs=["seed"])
    def seed() -> int:
        return 0

    @step(inputs={"s": "seed", "b": "b"}, outputs=["a"])
    def sa(s: int, b: int) -> int:
        return s + b

    @step(inputs=["a"], outputs=["b"])
    def sb(a: int) -> int:
        return a

    p = Pipeline("late").add_step(sa).add_step(sb).add_step(seed)
    with pytest.raises(CycleError) as info:
        p.build()
    assert set(info.value.cycle) == {"sa", "sb"}


def test_cycle_lists_its_steps() -> None:
    @step(inputs=["c"], outputs=["a"])
    def sa(c: int) -> int:
        return c

    @step(inputs=["a"], outputs=["b"])
    def sb(a: int) -> int:
        return a

    @step(inputs=["b"], outputs=["c"])
    def sc(b: int) -> int:
        return b

    p = Pipeline("cyc").add_step(sa).add_step(sb).add_step(sc)
    with pytest.raises(CycleError) as info:
        p.build()
    assert set(info.value.cycle) == {"sa", "sb", "sc"}
    assert "sa" in str(info.value) and "cycle" in str(info.value)


def test_duplicate_output_names_both_steps() -> None:
    @step(outputs=["x"])
    def one() -> int:
        return 1

    @step(outputs=["x"])
    def two() -> int:
        return 2

    with pytest.raises(DuplicateOutputError, match="'one' and 'two'"):
        Pipeline("d").add_step(one).add_step(two).build()


def test_missing_input_names_step_and_input() -> None:
    @step(inputs=["raw"])
    def parse(raw: bytes) -> int:
        return 0

    with pytest.raises(MissingInputError) as info:
        Pipeline("m").add_step(parse).build()
    assert info.value.step == "parse" and info.value.name == "raw"
    assert "context(" in str(info.value)


def test_missing_input_can_be_supplied_by_a_parameter() -> None:
    @step(inputs=["raw"])
    def parse(raw: bytes) -> int:
        return len(raw)

    p = Pipeline("m").add_step(parse)
    assert p.build(raw=b"xx").nodes["parse"].upstream == ()
    assert p.run(raw=b"xyz", persist=False)["parse"] == 3


def test_missing_plain_parameter() -> None:
    @step
    def needs(url: str) -> str:
        return url

    with pytest.raises(MissingInputError, match="'needs' needs input 'url'"):
        Pipeline("m").add_step(needs).build()


def test_duplicate_step_names() -> None:
    @step
    def a() -> int:
        return 1

    with pytest.raises(DuplicateStepError, match="'a'"):
        Pipeline("d").add_step(a).add_step(a, outputs=["other"]).build()


def test_all_problems_are_reported_at_once() -> None:
    @step(inputs=["nothing"])
    def x(nothing: int) -> int:
        return nothing

    @step(outputs=["x"])
    def y() -> int:
        return 1

    p = Pipeline("many").add_step(x).add_step(y)
    with pytest.raises(PipelineBuildError) as info:
        p.build()
    err = info.value
    assert isinstance(err, FlowymlError)
    kinds = {type(e) for e in err.problems}
    assert kinds == {MissingInputError, DuplicateOutputError}
    assert "2 problems" in str(err)


def test_handle_from_another_pipeline_is_rejected() -> None:
    stash = []

    @pipeline
    def first(n: int = 1):  # type: ignore[no-untyped-def]
        h = load(n)
        stash.append(h)
        return h

    first.build()

    @pipeline
    def second():  # type: ignore[no-untyped-def]
        return double(stash[0])

    with pytest.raises(ForeignHandleError, match="pipeline 'first'"):
        second.build()


def test_functional_multi_output_and_repeated_steps() -> None:
    @step(outputs=["train", "test"])
    def split(xs: list[int]) -> tuple[list[int], list[int]]:
        return xs[:2], xs[2:]

    @step
    def total(xs: list[int]) -> int:
        return sum(xs)

    @pipeline
    def ml(n: int = 5):  # type: ignore[no-untyped-def]
        train, test = split(load(n))
        return total(train), total(test)

    dag = ml.build()
    assert dag.topological_order()[:2] == ["load", "split"]
    assert set(dag.nodes) == {"load", "split", "total", "total_2"}
    result = ml.run(persist=False)
    assert result["total"] == 1 and result["total_2"] == 2 + 3 + 4
