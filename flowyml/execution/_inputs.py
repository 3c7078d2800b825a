"""What a step is called with: its arguments, its condition, who tolerates its absence."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..assets import Asset
from ..definition._params import Const, FromContext, FromOutput, FromParam
from ..errors import StepError

if TYPE_CHECKING:
    from ..compile._dag import Dag, DagNode

__all__ = ("condition_args", "condition_holds", "optional_consumers", "resolve")


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
                v = values[output]
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
