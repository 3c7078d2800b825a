"""What a pipeline is, as written: its steps and options (inert: nothing here runs it).

:class:`PipelineSpec` holds a pipeline's definition, in either style: steps added with
:meth:`~PipelineSpec.add_step` (explicit) or traced from a ``@pipeline`` body
(functional).  The public :class:`flowyml.Pipeline` (``flowyml/_api.py``) adds building
and running on top of it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

from ..errors import StepDefinitionError
from ._context import Context
from ._params import Binding, FromInput
from ._step import Step
from ._subpipeline import SubPipeline, normalize_io
from ._tags import check_tags
from ._trace import ParamHandle, StepNode, Trace

__all__ = ("PipelineSpec",)


class PipelineSpec:
    """A named set of steps and the options its runs use.

    :param name: the pipeline's name (runs are grouped by it)
    :param context: default run parameters, injected into steps by parameter name
    :param enable_cache: let unchanged steps be skipped (needs persistence)
    :param max_concurrency: at most this many steps of one run execute at once
    :param max_threads: worker threads for sync steps of one run (default 64)
    :param fail_fast: on the first failed step, cancel everything else
    :param store: metadata store URL (default: ``FLOWYML_STORE`` or the SQLite file in
        ``FLOWYML_HOME``)
    :param artifacts: artifact store URL (default: ``FLOWYML_ARTIFACTS`` or
        ``FLOWYML_HOME/artifacts``)
    :param persist: ``False`` keeps everything in memory: no metadata, no artifacts, no cache
    :param cache_expiry: seconds after which a cache entry is no longer used
    :param executor: where step functions run (default: async steps on the event loop,
        sync steps in threads); e.g. :class:`~flowyml.execution.DaskExecutor`
    :param tags: labels every run of the pipeline carries (``run(tags=[...])`` adds more);
        runs are filtered by tag in the dashboard, the API and ``flowyml runs --tag``
    """

    def __init__(
        self,
        name: str,
        *,
        context: Context | Mapping[str, Any] | None = None,
        enable_cache: bool = True,
        max_concurrency: int | None = None,
        max_threads: int | None = None,
        fail_fast: bool = False,
        store: str | None = None,
        artifacts: str | None = None,
        persist: bool = True,
        cache_expiry: float | None = None,
        executor: Any = None,
        tags: Sequence[str] = (),
    ) -> None:
        if not isinstance(name, str) or not name:
            raise StepDefinitionError(f"a pipeline needs a non-empty name, got {name!r}")
        if max_concurrency is not None and max_concurrency < 1:
            raise StepDefinitionError(f"pipeline {name!r}: max_concurrency must be >= 1")
        if max_threads is not None and max_threads < 1:
            raise StepDefinitionError(f"pipeline {name!r}: max_threads must be >= 1")
        self.name = name
        self.context = context if isinstance(context, Context) else Context(context)
        self.enable_cache = enable_cache
        self.max_concurrency = max_concurrency
        self.max_threads = max_threads
        self.fail_fast = fail_fast
        self.store = store
        self.artifacts = artifacts
        self.persist = persist
        self.cache_expiry = cache_expiry
        self.executor = executor
        self.tags = check_tags(tags, f"pipeline {name!r}: tags=")
        self._added: list[StepNode | SubPipeline] = []
        self._body: Callable[..., Any] | None = None
        #: compiled DAGs by the set of parameter names available (filled by
        #: :func:`flowyml.compile.build_dag`; cleared whenever a step is added)
        self._dags: dict[frozenset[str], Any] = {}
        self._names: dict[str, str] | None = None  # parameter name -> who takes it

    # ------------------------------------------------------------------ definition
    def add_step(
        self,
        step: Step[..., Any] | SubPipeline | PipelineSpec | Callable[..., Any],
        *,
        name: str | None = None,
        inputs: Sequence[str] | Mapping[str, str] | None = None,
        outputs: Sequence[str] | None = None,
    ) -> Self:
        """Add a step (a ``@step``, a plain function, or a sub-pipeline from
        :meth:`as_step`); returns the pipeline for chaining."""
        if isinstance(step, PipelineSpec):
            step = step.as_step(name=name, inputs=inputs, outputs=outputs)
        if isinstance(step, SubPipeline):
            self._added.append(step)
            self._changed()
            return self
        s = step if isinstance(step, Step) else Step(step)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if inputs is not None:
            changes["inputs"] = inputs
        if outputs is not None:
            changes["outputs"] = outputs
        if changes:
            s = s.with_options(**changes)
        bindings: dict[str, Binding] = {p: FromInput(src) for p, src in (s.input_map or {}).items()}
        self._added.append(
            StepNode(
                name=s.name, step=s, outputs=s.outputs, bindings=bindings, map_param=s.map_param
            )
        )
        self._changed()
        return self

    def _changed(self) -> None:
        self._dags.clear()
        self._names = None

    @property
    def steps(self) -> list[StepNode]:
        """The placed steps (traced from the body, then those added with ``add_step``)."""
        nodes, _ = self._trace()
        return nodes

    def _trace(self) -> tuple[list[StepNode], list[Any]]:
        nodes, problems, _ = self._trace_body()
        return nodes, problems

    def _trace_body(self) -> tuple[list[StepNode], list[Any], Any]:
        """Trace the body (if any) and expand added sub-pipelines; also return what the
        body returned (handles)."""
        nodes: list[StepNode] = []
        problems: list[Any] = []
        returned: Any = None
        if self._body is not None:
            sig = inspect.signature(self._body)
            with Trace(self.name) as trace:
                returned = self._body(**{p: ParamHandle(p) for p in sig.parameters})
            nodes.extend(trace.nodes)
            problems.extend(trace.problems)
        for item in self._added:
            if isinstance(item, SubPipeline):
                sub_nodes, sub_problems = item.nodes()
                nodes.extend(sub_nodes)
                problems.extend(sub_problems)
            else:
                nodes.append(item)
        return nodes, problems, returned

    def as_step(
        self,
        *,
        name: str | None = None,
        inputs: Sequence[str] | Mapping[str, str] | None = None,
        outputs: Sequence[str] | Mapping[str, str] | None = None,
    ) -> SubPipeline:
        """Use this pipeline as a step of another: ``parent.add_step(child.as_step(...))``.

        :param name: prefix of the inlined steps (default: this pipeline's name)
        :param inputs: child input/parameter names fed by parent outputs or parameters
            (a list when the names are the same, or ``{child_name: parent_name}``)
        :param outputs: child outputs published to the parent unqualified (a list, or
            ``{parent_name: child_output}``); all others stay reachable as ``name.output``
        """
        ins, outs = normalize_io(inputs, outputs)
        return SubPipeline(pipeline=self, name=name or self.name, inputs=ins, outputs=outs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside another ``@pipeline`` body: inline this pipeline; returns its handles."""
        from ._trace import current_trace

        trace = current_trace()
        if trace is None:
            raise StepDefinitionError(
                f"pipeline {self.name!r} is not callable outside a @pipeline body; use "
                f"{self.name}.run(...) to run it"
            )
        return trace.record_pipeline(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({len(self.steps)} steps)>"
