"""Properties of the readiness state machine (``flowyml.execution._scheduler``), and of
real runs driven by it.

Random DAGs (edges only from lower to higher positions, as the compiler orders them) and
random outcomes, settled in a random order:

* a step starts at most once, and only when each of its upstream steps succeeded or ended
  in a way it tolerates (a failure or a false condition of a direct upstream step, for
  the dependents the runner names as tolerant);
* the skipped set is exactly the closure of the failures: a step is skipped iff one of its
  upstream steps failed (or was skipped for its condition) and it does not tolerate
  that, or one of its upstream steps was itself skipped by the scheduler;
* the scheduler says "finished" exactly when every step is terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowyml import Pipeline, Step
from flowyml.execution._scheduler import Scheduler

PROPS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

OK, FAIL, COND = "succeeded", "failed", "condition-false"


@dataclass
class Case:
    n: int
    parents: list[set[int]]
    outcome: list[str]
    tolerant: list[set[int]]  # children that tolerate this step's failure / false condition

    @property
    def children(self) -> list[list[int]]:
        kids: list[list[int]] = [[] for _ in range(self.n)]
        for child, ps in enumerate(self.parents):
            for p in sorted(ps):
                kids[p].append(child)
        return kids


@st.composite
def cases(draw: st.DrawFn, max_steps: int = 12) -> Case:
    n = draw(st.integers(1, max_steps))
    parents = [draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set() for i in range(n)]
    outcome = [draw(st.sampled_from([OK, OK, FAIL, COND])) for _ in range(n)]
    case = Case(n, parents, outcome, [set() for _ in range(n)])
    for i, kids in enumerate(case.children):
        if kids:
            case.tolerant[i] = draw(st.sets(st.sampled_from(kids)))
    return case


def expected_states(case: Case) -> list[str]:
    """Each step's terminal state, computed from the definition of the closure."""
    state: list[str] = []
    for i in range(case.n):
        blocked = any(
            state[p] == "skipped" or (state[p] in (FAIL, COND) and i not in case.tolerant[p])
            for p in case.parents[i]
        )
        state.append("skipped" if blocked else case.outcome[i])
    return state


@PROPS
@given(case=cases(), data=st.data())
def test_scheduler_follows_the_closure_of_failures(case: Case, data: st.DataObject) -> None:
    kids = case.children
    sched = Scheduler([len(ps) for ps in case.parents], kids)
    state: dict[int, str] = {}  # terminal steps
    running: list[int] = []
    started: set[int] = set()

    def began(ready: list[int]) -> None:
        for i in ready:
            assert i not in started, f"step {i} started twice"
            assert i not in state, f"step {i} started after it was settled"
            for p in case.parents[i]:
                assert p in state, f"step {i} started before its upstream step {p} ended"
                assert state[p] == OK or (state[p] in (FAIL, COND) and i in case.tolerant[p]), (
                    f"step {i} started although upstream step {p} ended {state[p]}"
                )
            started.add(i)
            running.append(i)

    def skip(skipped: list[int]) -> None:
        for i in skipped:
            assert i not in started and i not in state, f"step {i} skipped after it started"
            state[i] = "skipped"

    began(sched.start())
    assert sched.finished == (len(state) == case.n)
    while running:
        i = running.pop(data.draw(st.integers(0, len(running) - 1), label="settle"))
        outcome = case.outcome[i]
        state[i] = outcome
        if outcome == OK:
            began(sched.succeeded(i))
        else:
            tolerant = [d for d in kids[i] if d in case.tolerant[i]]
            settle = sched.failed if outcome == FAIL else sched.skipped
            ready, skipped = settle(i, tolerant)
            skip(skipped)
            began(ready)
        assert sched.finished == (len(state) == case.n), (state, running)
    assert len(state) == case.n, "the run ended with steps neither run nor skipped"
    assert [state[i] for i in range(case.n)] == expected_states(case)


@PROPS
@given(case=cases())
def test_a_step_cannot_end_twice_or_before_it_started(case: Case) -> None:
    sched = Scheduler([len(ps) for ps in case.parents], case.children)
    ready = sched.start()
    waiting = [i for i in range(case.n) if i not in ready]
    if waiting:
        with pytest.raises(RuntimeError, match="not started"):
            sched.succeeded(waiting[0])
    sched.succeeded(ready[0])
    with pytest.raises(RuntimeError, match="not started"):
        sched.failed(ready[0])


def _noop(**inputs: Any) -> int:
    return 1


def _boom(**inputs: Any) -> int:
    raise ValueError("this step fails")


@settings(PROPS, max_examples=25)
@given(case=cases(max_steps=8))
def test_real_runs_skip_exactly_the_dependents_of_failed_steps(case: Case) -> None:
    p = Pipeline("props", persist=False)
    for i in range(case.n):
        fn = _boom if case.outcome[i] == FAIL else _noop
        ups = [f"s{u}" for u in sorted(case.parents[i])]
        p.add_step(Step(fn, name=f"s{i}", inputs=ups))
    plain = Case(case.n, case.parents, [FAIL if o == FAIL else OK for o in case.outcome], [])
    plain.tolerant = [set() for _ in range(case.n)]
    want = expected_states(plain)
    result = p.run()
    got = {name: r.status for name, r in result.step_results.items()}
    assert got == {f"s{i}": s for i, s in enumerate(want)}
    assert result.status == ("failed" if FAIL in want else "succeeded")
