"""The user's ``Pipeline`` and ``@pipeline``: a definition that can be built and run.

The facade above the layers: :class:`~flowyml.definition._pipeline.PipelineSpec` holds
what the user wrote (steps, options), :mod:`flowyml.compile` turns it into a DAG, and
:mod:`flowyml.execution` runs it.  Nothing below this module knows about it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from ._options import RUN_OPTIONS, accepted_names, check_options, check_params
from .definition._context import Context
from .definition._pipeline import PipelineSpec
from .errors import StepDefinitionError

if TYPE_CHECKING:
    from .compile import StepGroup
    from .compile._dag import Dag
    from .events import Event
    from .execution._protocol import Executor
    from .execution._runtime import Runtime
    from .execution._stream import RunStream
    from .results import PipelineResult

__all__ = ("Pipeline", "pipeline")


class Pipeline(PipelineSpec):
    """A named set of steps, compiled to a :class:`~flowyml.compile.Dag` and run on anyio.

    :param name: the pipeline's name (runs are grouped by it)
    :param context: default run parameters, injected into steps by parameter name
    :param enable_cache: let unchanged steps be skipped (needs persistence)
    :param max_concurrency: at most this many steps of one run execute at once
    :param max_threads: threads for sync steps of one run (default: the process-wide
        bound of 64, shared by concurrent runs)
    :param fail_fast: on the first failed step, cancel everything else
    :param store: metadata store URL (default: ``FLOWYML_STORE`` or the SQLite file in
        ``FLOWYML_HOME``)
    :param artifacts: artifact store URL (default: ``FLOWYML_ARTIFACTS`` or
        ``FLOWYML_HOME/artifacts``)
    :param persist: ``False`` keeps everything in memory: no metadata, no artifacts, no cache
    :param cache_expiry: seconds after which a cache entry is no longer used
    :param executor: where step functions run (default: async steps on the event loop,
        sync steps in threads); e.g. :class:`~flowyml.execution.DaskExecutor`
    :param tags: labels every run of the pipeline carries (``run(tags=[...])`` adds more)
    """

    #: (hits, misses, run id) of the last finished run; see :meth:`cache_stats`
    _last_cache: tuple[int, int, str | None] = (0, 0, None)

    def _takes(self) -> dict[str, str]:
        """Every name a run parameter can have (traced once per definition)."""
        if self._names is None:
            nodes, _ = self._trace()
            names = accepted_names(nodes, self.context)
            if self._body is not None:
                for p in inspect.signature(self._body).parameters:
                    names.setdefault(p, "the pipeline's body")
            self._names = names
        return self._names

    def _check_call(self, options: dict[str, Any], params: dict[str, Any]) -> None:
        """Refuse run options of a wrong type and parameters no step can take."""
        check_options(options, self._takes)
        given = {**(options.get("params") or {}), **params}
        check_params((p for p in given if p not in self.context), self._takes)

    # ------------------------------------------------------------------ compilation
    def build(self, **params: Any) -> Dag:
        """Compile to a :class:`Dag`, given the run parameters that will be supplied.

        :raises ~flowyml.errors.PipelineBuildError: listing every problem found
        """
        from .compile._compiler import build_dag

        return build_dag(self, params)

    @property
    def dag(self) -> Dag:
        """The DAG compiled with the pipeline's own context."""
        return self.build()

    @property
    def step_groups(self) -> list[StepGroup]:
        """The groups of steps that run together (``@step(execution_group=...)``), each
        with its steps in the order they run and their largest resource requirements.

        From the DAG built last (:meth:`build`), else from one built with the pipeline's
        own context.  See docs/executors.md ("Execution groups").
        """
        built = list(self._dags.values())
        return list((built[-1] if built else self.build()).groups)

    # ------------------------------------------------------------------ running
    def run(self, **params: Any) -> Any:
        """Run the pipeline: blocking in plain code, awaitable inside an event loop.

        With no event loop running in this thread, runs to completion (``anyio.run``) and
        returns the :class:`~flowyml.PipelineResult`.  Inside a running loop, returns the
        :meth:`arun` coroutine, so ``await pipeline.run()`` works.  Keyword arguments are
        run parameters, except the run options listed in :meth:`arun`.
        """
        from .execution._sync import dispatch

        return dispatch(self.arun, params)

    async def arun(
        self,
        *,
        run_id: str | None = None,
        store: str | None = None,
        artifacts: str | None = None,
        persist: bool | None = None,
        enable_cache: bool | None = None,
        on_event: Callable[[Event], Awaitable[None] | None] | None = None,
        runtime: Runtime | None = None,
        params: Mapping[str, Any] | None = None,
        executor: Executor | None = None,
        debug: bool = False,
        tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> PipelineResult:
        """Run the pipeline and return its result (always a coroutine).

        :param run_id: use this id for the run (default: a new UUIDv7, 32 hex digits)
        :param store: metadata store URL for this run (overrides the pipeline's)
        :param artifacts: artifact store URL for this run (overrides the pipeline's)
        :param persist: ``False`` for a run kept entirely in memory
        :param enable_cache: override the pipeline's ``enable_cache`` for this run
        :param on_event: called with every event of the run, in order
        :param runtime: an open :class:`~flowyml.Runtime` to use (shares connections)
        :param executor: run step functions there instead (e.g. a ``DaskExecutor``)
        :param params: run parameters as a mapping (for names that clash with these options)
        :param debug: a debugging aid: run one step at a time in the DAG's order (its
            definition order where dependencies allow), sync steps on the event loop's
            thread (so ``breakpoint()`` works), and log every call and event to
            ``flowyml.debug`` (shown on stderr unless logging is set up); see docs/migrating.md
        :param tags: labels of this run, added to the pipeline's ``tags``
        :param kwargs: run parameters; they win over the pipeline's context
        """
        from .execution._launch import launch

        options: dict[str, Any] = {
            "run_id": run_id,
            "store": store,
            "artifacts": artifacts,
            "persist": persist,
            "enable_cache": enable_cache,
            "on_event": on_event,
            "runtime": runtime,
            "params": params,
            "executor": executor,
            "debug": debug,
            "tags": tags,
        }
        self._check_call(options, kwargs)
        result = await launch(
            self,
            {**(params or {}), **kwargs},
            run_id=run_id,
            store=store,
            artifacts=artifacts,
            persist=persist,
            enable_cache=enable_cache,
            on_event=on_event,
            runtime=runtime,
            executor=executor,
            debug=debug,
            tags=tags,
        )
        cache_on = self.enable_cache if enable_cache is None else enable_cache
        persists = self.persist if persist is None else persist
        self._last_cache = _cache_counts(self, result, cache_on and persists)
        return result

    def cache_stats(self) -> dict[str, Any]:
        """Cache hits and misses of this pipeline's last finished run (in this process).

        ``hits`` counts the steps (and map elements) taken from the cache, ``misses``
        those that could have been and ran instead; ``hit_rate`` is hits / (hits +
        misses), 0.0 when nothing was looked up.  Steps with ``cache=False`` count as
        neither, as do all steps of a run with caching off or ``persist=False``.
        """
        hits, misses, run_id = self._last_cache
        looked_up = hits + misses
        return {
            "hits": hits,
            "misses": misses,
            "hit_rate": hits / looked_up if looked_up else 0.0,
            "run_id": run_id,
        }

    def resume(self, run_id: str, **params: Any) -> Any:
        """Re-run only the steps of ``run_id`` that did not succeed (dispatches like ``run``)."""
        from .execution._sync import dispatch

        return dispatch(self.aresume, {"resume_run_id": run_id, **params})

    async def aresume(self, resume_run_id: str, **kwargs: Any) -> PipelineResult:
        """Async form of :meth:`resume`; accepts the same options as :meth:`arun`."""
        from .execution._launch import launch

        options = {k: kwargs.pop(k) for k in list(kwargs) if k in RUN_OPTIONS}
        self._check_call(options, kwargs)
        params = {**(options.pop("params", None) or {}), **kwargs}
        return await launch(self, params, resume_from=resume_run_id, **options)

    def stream(self, **kwargs: Any) -> RunStream:
        """Run in the background and iterate its events.

        ::

            async with pipeline.stream(n=3) as events:
                async for event in events:
                    print(event)
            print(events.result)
        """
        from .execution._stream import RunStream

        options = {k: v for k, v in kwargs.items() if k in RUN_OPTIONS}
        given = {k: v for k, v in kwargs.items() if k not in RUN_OPTIONS}
        self._check_call(options, given)
        return RunStream(self.arun, kwargs)


def _cache_counts(
    pipeline: Pipeline, result: PipelineResult, cache_on: bool
) -> tuple[int, int, str | None]:
    """(hits, misses, run id) of ``result``: see :meth:`Pipeline.cache_stats`."""
    if not cache_on:
        return 0, 0, result.run_id
    whole: set[str] = set()
    mapped: set[str] = set()  # their elements are looked up one by one
    for node in pipeline.steps:
        if node.step.cache and node.step.persist:
            (whole if node.map_param is None else mapped).add(node.name)
    hits = misses = 0
    for name, r in result.step_results.items():
        base, element, _ = name.partition("[")
        if name not in whole and not (element and base in mapped):
            continue
        if r.status == "cached" and result.resumed_from is None:
            hits += 1
        elif r.attempts:
            misses += 1
    return hits, misses, result.run_id


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...


@overload
def pipeline(
    *,
    name: str | None = None,
    context: Context | Mapping[str, Any] | None = None,
    enable_cache: bool = True,
    max_concurrency: int | None = None,
    max_threads: int | None = None,
    fail_fast: bool = False,
    store: str | None = None,
    artifacts: str | None = None,
    persist: bool = True,
    cache_expiry: float | None = None,
    executor: Executor | None = None,
    tags: Sequence[str] = (),
) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None, /, **options: Any
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Define a pipeline by writing its body: step calls inside return handles.

    The body runs once, at build time, with placeholders for its parameters; its
    parameters' defaults become the pipeline's context.  Accepts the keyword options
    of :class:`Pipeline` (``name`` defaults to the function's name).
    """

    def make(body: Callable[..., Any]) -> Pipeline:
        defaults = {
            p.name: p.default
            for p in inspect.signature(body).parameters.values()
            if p.default is not inspect.Parameter.empty
        }
        rest = dict(options)  # ``options`` serves every use of the decorator: never mutated
        ctx = rest.pop("context", None)
        merged = {**defaults, **(dict(ctx) if ctx is not None else {})}
        p = Pipeline(rest.pop("name", None) or body.__name__, context=merged, **rest)
        p._body = body
        p.__doc__ = body.__doc__
        return p

    if fn is not None:
        if options:
            raise StepDefinitionError("use either @pipeline or @pipeline(...), not both")
        return make(fn)
    return make
