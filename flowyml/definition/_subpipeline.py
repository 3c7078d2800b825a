"""Pipelines used as steps of other pipelines: their steps are inlined, qualified by name.

Inlining at definition time means a child's steps run inside the parent's run like any
other step: they share its concurrency limits, failure rules and cancellation, and their
events and metadata carry qualified names (``child.step``), which groups them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import StepDefinitionError
from ._params import Binding, Const, FromInput, FromOutput, FromParam
from ._trace import StepNode

if TYPE_CHECKING:
    from ._pipeline import PipelineSpec

__all__ = ("SubPipeline", "inline")


@dataclass(frozen=True, slots=True)
class SubPipeline:
    """A pipeline placed in another, from :meth:`PipelineSpec.as_step`.

    ``inputs`` maps the child's input or parameter names to the parent's output or
    parameter names; ``outputs`` maps parent output names to child output names (those
    are exposed unqualified; every other child output stays reachable as ``name.output``).
    """

    pipeline: PipelineSpec
    name: str
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]

    def nodes(self) -> tuple[list[StepNode], list[Any]]:
        """The child's nodes, inlined under :attr:`name`."""
        child_nodes, problems, _ = self.pipeline._trace_body()
        exposed = {child: parent for parent, child in self.outputs.items()}
        bindings: dict[str, Binding] = {k: FromInput(v) for k, v in self.inputs.items()}
        known = {o for n in child_nodes for o in n.outputs}
        missing = [c for c in exposed if c not in known]
        if missing:
            raise StepDefinitionError(
                f"sub-pipeline {self.name!r} exposes outputs {missing} that pipeline "
                f"{self.pipeline.name!r} does not produce (it produces {sorted(known)})"
            )
        nodes = inline(
            child_nodes,
            prefix=self.name,
            context=dict(self.pipeline.context),
            inputs=bindings,
            exposed=exposed,
        )
        return nodes, problems


def normalize_io(
    inputs: Sequence[str] | Mapping[str, str] | None,
    outputs: Sequence[str] | Mapping[str, str] | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """``as_step`` accepts lists (same names) or mappings; return mappings."""
    ins = dict(inputs) if isinstance(inputs, Mapping) else {n: n for n in (inputs or ())}
    outs = dict(outputs) if isinstance(outputs, Mapping) else {n: n for n in (outputs or ())}
    return ins, outs


def inline(
    nodes: Sequence[StepNode],
    *,
    prefix: str,
    context: Mapping[str, Any],
    inputs: Mapping[str, Binding],
    exposed: Mapping[str, str],
) -> list[StepNode]:
    """Rename ``nodes`` under ``prefix`` and rewire what they read from outside.

    :param context: the child's own context: its values travel with it as constants
    :param inputs: child input/parameter name -> binding in the parent
    :param exposed: child output name -> the parent-level name it is published under
    """
    produced = {o for n in nodes for o in n.outputs}

    def q(output: str) -> str:
        return exposed.get(output, f"{prefix}.{output}")

    def outside(name: str, fallback: Binding) -> Binding:
        if name in inputs:
            return inputs[name]
        if name in context:
            return Const(context[name])
        return fallback

    result = []
    for node in nodes:
        bindings: dict[str, Binding] = {}
        for param, b in node.bindings.items():
            if isinstance(b, FromOutput):
                bindings[param] = FromOutput(q(b.output))
            elif isinstance(b, FromInput):
                if b.source in produced:
                    bindings[param] = FromOutput(q(b.source))
                else:
                    bindings[param] = outside(b.source, b)
            elif isinstance(b, FromParam):
                bindings[param] = outside(b.name, b)
            else:
                bindings[param] = b
        for param in node.step.parameters:
            free = param not in bindings and param not in node.step.context_params
            if free and (param in inputs or param in context):
                bindings[param] = outside(param, FromParam(param))
        result.append(
            StepNode(
                name=f"{prefix}.{node.name}",
                step=node.step,
                outputs=tuple(q(o) for o in node.outputs),
                bindings=bindings,
                map_param=node.map_param,
            )
        )
    return result
