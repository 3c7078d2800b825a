"""What the server needs to know about a registered pipeline: its DAG and its parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from ..errors import MissingInputError, PipelineBuildError
from ..execution._launch import code_version
from ._params import ParamSpec, param_specs, params_schema, validate_values

if TYPE_CHECKING:
    from .._api import Pipeline
    from ..compile._dag import Dag

__all__ = ("PipelineInfo", "jsonable", "validate_params")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (unknown objects become their ``repr``)."""
    try:
        return msgspec.to_builtins(value, enc_hook=repr, str_keys=True)
    except Exception:  # a value msgspec cannot walk at all (e.g. a recursive container)
        return repr(value)


@dataclass(slots=True, frozen=True)
class PipelineInfo:
    """A registered pipeline, compiled once.

    ``params`` maps every run parameter the pipeline reads to its default (``None`` when
    it has none and must be given); ``required`` lists the ones without a default.
    """

    pipeline: Pipeline
    dag: Dag
    params: dict[str, Any]
    required: frozenset[str]
    #: the DAG's code version (``code_version(dag)``), computed once (it reads the steps' source code).
    code_version: str
    #: The DAG as JSON data (``Dag.to_dict()``).
    dag_dict: dict[str, Any]
    #: Each parameter's type, from the annotations of the steps that read it.
    specs: dict[str, ParamSpec]

    @property
    def schema(self) -> dict[str, Any]:
        """JSON Schema (draft 2020-12) of the run parameters."""
        return params_schema(self.pipeline.name, self.specs, self.params, self.required)

    @classmethod
    def of(cls, pipeline: Pipeline) -> PipelineInfo:
        """Compile ``pipeline``; parameters it needs but has no default for are required.

        :raises PipelineBuildError: when the pipeline is broken for another reason
        """
        try:
            dag = pipeline.build()
            missing: frozenset[str] = frozenset()
        except PipelineBuildError as exc:
            missing = frozenset(p.name for p in exc.problems if isinstance(p, MissingInputError))
            if len(missing) == 0 or any(not isinstance(p, MissingInputError) for p in exc.problems):
                raise
            # Only values are missing: compile as if they were given, to learn the graph.
            dag = pipeline.build(**dict.fromkeys(missing))
        params: dict[str, Any] = {k: jsonable(v) for k, v in pipeline.context.items()}
        for node in dag.nodes.values():
            for name in node.param_names():
                params.setdefault(name, None)
        for name in missing:
            params.setdefault(name, None)
        return cls(
            pipeline=pipeline,
            dag=dag,
            params=params,
            required=missing,
            code_version=code_version(dag),
            dag_dict=jsonable(dag.to_dict()),
            specs=param_specs(dag, params),
        )


def validate_params(info: PipelineInfo, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check run parameters before a run starts; return them converted to their types.

    :raises PipelineBuildError: naming unknown or missing parameters, or listing the
        compiler's problems with these parameters
    :raises InvalidRequestError: naming a parameter whose value does not fit its annotation
    """
    name = info.pipeline.name
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        known = ", ".join(sorted(info.params)) or "none"
        raise PipelineBuildError(
            f"pipeline {name!r} has no parameter {', '.join(repr(u) for u in unknown)}; "
            f"its parameters are: {known}"
        )
    absent = sorted(info.required - set(params))
    if absent:
        raise PipelineBuildError(
            f"pipeline {name!r} needs a value for {', '.join(repr(a) for a in absent)}; "
            f'pass it in the request body: {{"params": {{"{absent[0]}": ...}}}}'
        )
    values = validate_values(info.specs, params)
    info.pipeline.build(**values)
    return values
