"""Checks of the keywords given to ``run()``/``arun()``/``resume()``/``stream()``.

A keyword is either a run option (:data:`RUN_OPTIONS`) or a run parameter.  A run option of
the wrong type, or a parameter that no step, no context value and no pipeline parameter can
take (a typo such as ``enable_cahce=False``), raises at once instead of being run with.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .definition._params import FromInput, FromParam
from .definition._tags import check_tags

if TYPE_CHECKING:
    from .definition._trace import StepNode

__all__ = ("RUN_OPTIONS", "accepted_names", "check_options", "check_params")

#: Keyword names ``run()`` keeps for itself; pass a parameter with one of these names via
#: ``params={...}``.
RUN_OPTIONS = frozenset(
    {
        "run_id",
        "store",
        "artifacts",
        "persist",
        "on_event",
        "runtime",
        "params",
        "enable_cache",
        "executor",
        "debug",
        "tags",
    }
)

_STRINGS = {
    "run_id": "a non-empty string",
    "store": "a metadata store URL such as 'sqlite:///runs.db'",
    "artifacts": "an artifact store URL such as 'file:///data/artifacts'",
}


def accepted_names(nodes: Iterable[StepNode], context: Iterable[str]) -> dict[str, str]:
    """Every name a run parameter can have, with who takes it (for messages)."""
    names = dict.fromkeys(context, "the pipeline's context")
    for node in nodes:
        step = node.step
        for binding in node.bindings.values():
            if isinstance(binding, FromParam):
                names.setdefault(binding.name, "the pipeline's body")
            elif isinstance(binding, FromInput):
                names.setdefault(binding.source, f"step {node.name!r}")
        for param in step.parameters:
            if param not in step.context_params and param not in node.bindings:
                names.setdefault(param, f"step {node.name!r}")
    return names


def check_options(options: Mapping[str, Any], takes: Callable[[], Mapping[str, str]]) -> None:
    """Raise ``TypeError``/``ValueError`` naming the first run option of a wrong type.

    ``takes`` gives the accepted parameter names: when a step also has a parameter of
    the option's name, the message points at ``params={...}``.
    """
    for name, value in options.items():
        problem = _option_problem(name, value)
        if problem is None:
            continue
        kind, message = problem
        taker = takes().get(name)
        if taker is not None:
            message += (
                f"; {taker} has a parameter {name!r}: to pass it, use params={{{name!r}: ...}}"
            )
        raise kind(message)


def _option_problem(name: str, value: Any) -> tuple[type[Exception], str] | None:
    if value is None:
        return None
    got = type(value).__name__
    if name in _STRINGS:
        if not isinstance(value, str):
            return TypeError, f"run option {name}= must be {_STRINGS[name]}, got {got}"
        if not value:
            return ValueError, f"run option {name}= must be {_STRINGS[name]}, got ''"
    elif name in ("persist", "enable_cache", "debug"):
        if not isinstance(value, bool):
            return TypeError, f"run option {name}= must be True or False, got {value!r}"
    elif name == "on_event":
        if not callable(value):
            return TypeError, f"run option on_event= must be a callable, got {got}"
    elif name == "params":
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            return TypeError, f"run option params= must be a dict of name -> value, got {got}"
    elif name == "tags":
        try:
            check_tags(value, "run option tags=")
        except (TypeError, ValueError) as exc:
            return type(exc), str(exc)
    elif name == "runtime":
        from .execution._runtime import Runtime

        if not isinstance(value, Runtime):
            return TypeError, f"run option runtime= must be a flowyml.Runtime, got {got}"
    elif name == "executor":
        from .execution._protocol import Executor

        if not isinstance(value, Executor):
            return TypeError, (
                f"run option executor= must be an executor (e.g. flowyml.DaskExecutor), got {got}"
            )
    return None


def check_params(params: Iterable[str], takes: Callable[[], Mapping[str, str]]) -> None:
    """Raise ``TypeError`` for a parameter nothing can take, with a did-you-mean."""
    params = list(params)
    if not params:
        return
    names = takes()
    unknown = [p for p in params if p not in names]
    if not unknown:
        return
    name = unknown[0]
    candidates = [*RUN_OPTIONS, *names]
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = ", ".join(sorted(names)) or "none"
    raise TypeError(
        f"unexpected keyword {name!r}: it is neither a run option nor a parameter of any step "
        f"or of the context{hint} (parameters: {known}; run options: "
        f"{', '.join(sorted(RUN_OPTIONS))})"
    )
