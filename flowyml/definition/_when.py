"""``when(condition)``: the functional-style way to make a step conditional."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from ._step import Step

__all__ = ("when",)

P = ParamSpec("P")
R = TypeVar("R")


def when(condition: Callable[..., Any]) -> Callable[[Step[P, R]], Step[P, R]]:
    """Return a copy-maker that gives a step a ``condition``.

    ::

        @pipeline
        def train_and_maybe_deploy():
            model, report = train(load())
            when(lambda report: report["quality"] > 0.9)(deploy)(model, report)

    The condition receives the step's resolved inputs by parameter name.  When it is
    false the step is skipped, and so are its dependents unless their parameter fed by
    it defaults to ``None``.
    """

    def apply(step: Step[P, R]) -> Step[P, R]:
        return step.with_options(condition=condition)

    return apply
