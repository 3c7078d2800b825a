"""What a step is called with: its arguments, its condition, who tolerates its absence."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..assets import Asset
from ..definition._params import Const, FromContext, FromOutput, FromParam
from ..errors import StepError
from ..events import StepSkipped

if TYPE_CHECKING:
    from ..compile._dag import Dag, DagNode
    from ._attempts import StepCalls
    from ._core import RunState
    from ._events import RunEvents

__all__ = ("check_condition", "condition_args", "condition_holds", "optional_consumers", "resolve")


def resolve(
    node: DagNode, values: Mapping[str, Any], params: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The step's keyword arguments, and the parameters that get its ``StepContext``.

    An upstream :class:`~flowyml.Asset` is unwrapped to its value unless the parameter is
    annotated as an asset.
    """
    kwargs: dict[str, Any] = {}
    ctx_params: list[str] = []
    for param, b in node.bindings:
        match b:
            case FromOutput(output=output):
                try:
                    v = values[output]
                except KeyError:
                    if node.chain is None:
                        raise
                    continue  # a chained map's list: its elements come one by one
                if isinstance(v, Asset) and param not in node.step.asset_params:
                    v = v.value
                kwargs[param] = v
            case FromParam(name=name):
                kwargs[param] = params[name]
            case Const(value=value):
                kwargs[param] = value
            case FromContext():
                ctx_params.append(param)
    return kwargs, ctx_params


def condition_holds(node: DagNode, kwargs: Mapping[str, Any]) -> bool:
    """Call the step's condition with the arguments it names (all of them if it takes
    ``**kwargs``).

    :raises StepError: when the condition itself raises (naming the step)
    """
    cond = node.step.condition
    assert cond is not None
    try:
        return bool(cond(**condition_args(cond, kwargs)))
    except Exception as exc:
        err = StepError(node.name, f"its condition raised {type(exc).__name__}: {exc}")
        raise err from exc


async def check_condition(
    run_id: str,
    state: RunState,
    events: RunEvents,
    calls: StepCalls,
    node: DagNode,
    kwargs: dict[str, Any],
) -> bool:
    """Whether a conditional step runs; a false condition skips it, a raising one fails it
    (either is recorded).  The condition runs where its inputs are (see
    :meth:`StepCalls.condition_holds`)."""
    try:
        holds = await calls.condition_holds(node, kwargs)
    except StepError as err:
        events.fail(node, 0, err, time.perf_counter())
        return False
    if not holds:
        ev = StepSkipped(run_id=run_id, ts=time.time(), step=node.name, reason="condition is false")
        events.emit(ev)
        state.values.update(dict.fromkeys(node.outputs))
    return holds


def condition_args(cond: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments ``cond`` names (all of them if it takes ``**kwargs``).

    :raises ValueError: when its signature cannot be read
    """
    sig = inspect.signature(cond)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in sig.parameters}


def optional_consumers(dag: Dag, node: DagNode) -> tuple[int, ...]:
    """Dependents of ``node`` whose every parameter it feeds defaults to ``None``: they
    still run when ``node`` is skipped, and get ``None``."""
    outs = set(node.outputs)
    tolerant = []
    for d in dag.children[node.index]:
        dn = dag.order[d]
        params = dn.step.signature.parameters
        fed = [p for p, b in dn.bindings if isinstance(b, FromOutput) and b.output in outs]
        if fed and all(p in params and params[p].default is None for p in fed):
            tolerant.append(d)
    return tuple(tolerant)
