"""The ``@step`` decorator and the :class:`Step` it returns."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, overload

from ..errors import StepDefinitionError
from ._caching import cache_strategy
from ._checks import check_chain, check_name, check_options, check_outputs
from ._limits import check_max_concurrency, parse_rate_limit
from ._params import analyse
from ._resources import ResourceRequirements, resources_of

if TYPE_CHECKING:
    from ._trace import Trace

__all__ = ("Step", "step")

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def _as_list(names: Sequence[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


class Step(Generic[P, R]):
    """A function registered as a pipeline step.

    Calling a step outside a pipeline body calls the plain function, so steps stay
    unit-testable; inside a ``@pipeline`` body the call is recorded and returns handles.
    Build one with :func:`step`.
    """

    # Copied from the function by functools.update_wrapper in __init__.
    __name__: str
    __qualname__: str

    __slots__ = (
        "__dict__",  # functools.update_wrapper copies the function's attributes here
        "__weakref__",  # the engine's per-step memos hold steps weakly
        "allow_partial",
        "asset_params",
        "backoff",
        "cache",
        "cache_by",
        "capture_output",
        "chain",
        "condition",
        "context_params",
        "execution_group",
        "fn",
        "input_map",
        "is_async",
        "map_param",
        "max_concurrency",
        "max_log_lines",
        "name",
        "outputs",
        "parameter_set",
        "parameters",
        "per_second",
        "persist",
        "positional",
        "rate_limit",
        "resources",
        "retries",
        "retry_delay",
        "signature",
        "tags",
        "timeout",
    )

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        inputs: Sequence[str] | Mapping[str, str] | None = None,
        outputs: Sequence[str] | None = None,
        cache: bool | str | Callable[..., Any] = True,
        retries: int = 0,
        retry_delay: float = 0.0,
        backoff: float = 2.0,
        timeout: float | None = None,
        tags: Iterable[str] = (),
        persist: bool = True,
        condition: Callable[..., Any] | None = None,
        map_over: str | None = None,
        allow_partial: bool = False,
        max_log_lines: int = 10_000,
        capture_output: bool = False,
        resources: ResourceRequirements | Mapping[str, Any] | None = None,
        execution_group: str | None = None,
        rate_limit: str | None = None,
        max_concurrency: int | None = None,
        chain: bool | None = None,
    ) -> None:
        if not callable(fn):
            raise StepDefinitionError(f"@step needs a function, got {fn!r}")
        self.fn = fn
        step_name = name if name is not None else getattr(fn, "__name__", None)
        self.name: str = check_name("name", step_name, repr(fn))
        self.is_async: bool = inspect.iscoroutinefunction(fn)
        info = analyse(fn)
        self.signature = info.signature
        self.parameters: tuple[str, ...] = info.parameters
        self.parameter_set: frozenset[str] = info.parameter_set
        self.context_params: frozenset[str] = info.context_params
        self.asset_params: frozenset[str] = info.asset_params
        self.positional: bool = info.positional
        self.outputs: tuple[str, ...] = check_outputs(self.name, outputs)
        self.input_map: dict[str, str] | None = None if inputs is None else self._map_inputs(inputs)
        check_options(
            self.name,
            {
                "retries": retries,
                "retry_delay": retry_delay,
                "backoff": backoff,
                "timeout": timeout,
                "cache": cache,
                "condition": condition,
                "max_log_lines": max_log_lines,
            },
        )
        self.max_log_lines = max_log_lines
        self.capture_output = bool(capture_output)
        strategy = cache_strategy(self.name, cache)
        #: whether the step may come from the cache
        self.cache: bool = strategy is not None
        #: how its cache key is made: ``"code_hash"``, ``"input_hash"`` or a key function
        self.cache_by: str | Callable[..., Any] = strategy or "code_hash"
        self.retries = retries
        self.retry_delay = float(retry_delay)
        self.backoff = float(backoff)
        self.timeout = None if timeout is None else float(timeout)
        self.tags: tuple[str, ...] = tuple(tags)
        self.persist = bool(persist)
        self.condition = condition
        self.allow_partial = bool(allow_partial)
        self.map_param: str | None = None if map_over is None else self._map_param(map_over)
        #: mapped over a mapped step: element-wise when possible (None), always, or never
        self.chain = check_chain(self.name, chain)
        self.resources = resources_of(resources, step=self.name)
        if execution_group is not None and (
            not isinstance(execution_group, str) or not execution_group
        ):
            raise StepDefinitionError(
                f"step {self.name!r}: execution_group must be a non-empty string, got "
                f"{execution_group!r}"
            )
        self.execution_group = execution_group
        self.rate_limit = rate_limit
        self.per_second = parse_rate_limit(self.name, rate_limit)
        self.max_concurrency = check_max_concurrency(self.name, max_concurrency)
        functools.update_wrapper(self, fn)

    def _map_param(self, map_over: str) -> str:
        """The parameter that receives one element: ``map_over`` names it or its input."""
        if len(self.outputs) != 1:
            raise StepDefinitionError(
                f"step {self.name!r}: a mapped step has one output (the list of results), "
                f"not {list(self.outputs)}"
            )
        if map_over in self.parameters and map_over not in self.context_params:
            return map_over
        for param, source in (self.input_map or {}).items():
            if source == map_over:
                return param
        raise StepDefinitionError(
            f"step {self.name!r}: map_over={map_over!r} names neither a parameter nor an "
            f"input of {self.name}{self.signature}"
        )

    def _map_inputs(self, inputs: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
        """Map declared inputs to parameters: by name first, then in signature order."""
        free = [p for p in self.parameters if p not in self.context_params]
        var_kw = any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in self.signature.parameters.values()
        )
        if isinstance(inputs, Mapping):
            unknown = [p for p in inputs if p not in free]
            if unknown and not var_kw:
                raise StepDefinitionError(
                    f"step {self.name!r}: inputs maps parameter {unknown[0]!r}, but the "
                    f"function has no such parameter (it has {free})"
                )
            return {p: check_name("input", src, self.name) for p, src in inputs.items()}
        names = [check_name("input", i, self.name) for i in _as_list(inputs)]
        mapping = {n: n for n in names if n in free}
        rest_params = [p for p in free if p not in mapping]
        rest_inputs = [n for n in names if n not in mapping]
        if var_kw:  # extra inputs arrive through **kwargs, under their own names
            rest_params += rest_inputs[len(rest_params) :]
        elif len(rest_inputs) > len(rest_params):
            raise StepDefinitionError(
                f"step {self.name!r} declares inputs {rest_inputs} that match no parameter of "
                f"{self.name}{self.signature}; name a parameter after each input"
            )
        mapping.update(zip(rest_params, rest_inputs, strict=False))
        return mapping

    def options(self) -> dict[str, Any]:
        """The step's options as plain data (for the DAG view and cache keys)."""
        return {
            "cache": self.cache,
            "cache_by": self.cache_by if isinstance(self.cache_by, str) else "function",
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "backoff": self.backoff,
            "timeout": self.timeout,
            "persist": self.persist,
            "condition": self.condition is not None,
            "map_over": self.map_param,
            "allow_partial": self.allow_partial,
            **self._placement(),
            "rate_limit": self.rate_limit,
            "max_concurrency": self.max_concurrency,
            **({} if self.chain is None else {"chain": self.chain}),
        }

    def _placement(self) -> dict[str, Any]:
        """Where it may run: only what was asked for, so other steps' options stay as
        they were."""
        out: dict[str, Any] = {}
        if self.resources is not None:
            out["resources"] = self.resources.to_dict()
        if self.execution_group is not None:
            out["execution_group"] = self.execution_group
        return out

    def with_options(self, **changes: Any) -> Step[P, R]:
        """Return a copy of this step with some options replaced (e.g. ``name``, ``outputs``)."""
        current: dict[str, Any] = {
            "name": self.name,
            "inputs": self.input_map,
            "outputs": None if self.outputs == (self.name,) else self.outputs,
            "tags": self.tags,
            "cache": self.cache_by if self.cache else False,
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "backoff": self.backoff,
            "timeout": self.timeout,
            "persist": self.persist,
            "condition": self.condition,
            "map_over": self.map_param,
            "allow_partial": self.allow_partial,
            "max_log_lines": self.max_log_lines,
            "capture_output": self.capture_output,
            "resources": self.resources,
            "execution_group": self.execution_group,
            "rate_limit": self.rate_limit,
            "max_concurrency": self.max_concurrency,
            "chain": self.chain,
        }
        if "name" in changes and "outputs" not in changes and current["outputs"] is None:
            changes["outputs"] = None
        current.update(changes)
        return Step(self.fn, **current)

    def map(self, over: Any, /, **fixed: Any) -> Any:
        """Inside a ``@pipeline`` body: run this step once per element of ``over``.

        ``over`` is a handle (or the name of an output or parameter) holding an iterable;
        each element goes to the first parameter not given in ``fixed``.  Returns a handle
        to the list of results, in input order.
        """
        from ._trace import current_trace

        trace = current_trace()
        if trace is None:
            raise StepDefinitionError(
                f"{self.name}.map(...) only works inside a @pipeline body; outside one, call "
                f"the function in a loop"
            )
        return trace.record_map(self, over, fixed)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        from ._trace import current_trace

        trace: Trace | None = current_trace()
        if trace is None:
            return self.fn(*args, **kwargs)
        return trace.record(self, args, kwargs)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        kind = "async " if self.is_async else ""
        return f"<Step {self.name!r} ({kind}def {self.fn.__qualname__}) -> {list(self.outputs)}>"


class _StepDecorator(Protocol):
    """What ``step(...)`` with options returns (typed like bare ``@step``)."""

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, T]], /) -> Step[P, Any]: ...
    @overload
    def __call__(self, fn: Callable[P, R], /) -> Step[P, R]: ...


# An async step's call is typed as returning Any: inside a ``@pipeline`` body it returns a
# handle that stands for the awaited value (``double(load(n))``), outside one a coroutine
# (``await load(n)``); no static type is both.  Sync steps keep their return type.
@overload
def step(fn: Callable[P, Coroutine[Any, Any, T]], /) -> Step[P, Any]: ...


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *,
    name: str | None = None,
    inputs: Sequence[str] | Mapping[str, str] | None = None,
    outputs: Sequence[str] | None = None,
    cache: bool | str | Callable[..., Any] = True,
    retries: int = 0,
    retry_delay: float = 0.0,
    backoff: float = 2.0,
    timeout: float | None = None,
    tags: Iterable[str] = (),
    persist: bool = True,
    condition: Callable[..., Any] | None = None,
    map_over: str | None = None,
    allow_partial: bool = False,
    max_log_lines: int = 10_000,
    capture_output: bool = False,
    resources: ResourceRequirements | Mapping[str, Any] | None = None,
    execution_group: str | None = None,
    rate_limit: str | None = None,
    max_concurrency: int | None = None,
    chain: bool | None = None,
) -> _StepDecorator: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    **options: Any,
) -> Step[P, R] | _StepDecorator:
    """Declare a pipeline step; works bare (``@step``) and with options (``@step(...)``).

    :param name: the step's name (default: the function's name)
    :param inputs: upstream output names feeding parameters (by name, then in order), or a
        ``{parameter: output}`` mapping
    :param outputs: output names; several outputs unpack a returned tuple
    :param cache: how the step is cached (docs/migrating.md, "Cache strategies"):

        * ``True`` or ``"code_hash"`` (the default): reused while its code, parameters
          and inputs are unchanged;
        * ``"input_hash"``: reused while its parameters and inputs are unchanged, even
          after its code changed;
        * a function ``(inputs, params) -> key``: reused while its code and the returned
          key are unchanged (it receives the step's upstream values and its parameters,
          by parameter name, in a worker thread; ``None`` means "do not cache this time");
        * ``False``: always runs.

        Anything else raises :class:`~flowyml.errors.StepDefinitionError` naming the step.
    :param retries: extra attempts after a failure
    :param retry_delay: seconds before the first retry
    :param backoff: factor applied to the delay after each retry (with jitter)
    :param timeout: seconds per attempt before the step fails with ``StepTimeoutError``
    :param tags: free-form labels shown in the DAG
    :param persist: store the outputs as artifacts (``False`` keeps them in memory only)
    :param condition: called with the step's resolved inputs (by parameter name); when it
        returns false the step is skipped, and so are its dependents unless their parameter
        for it defaults to ``None``
    :param map_over: run the step once per element of this parameter's (or input's) value;
        the output is the list of results in input order
    :param allow_partial: when an upstream mapped step had failed elements, run anyway and
        receive a :class:`~flowyml.PartialResults` (the successes, plus ``.failures``)
    :param max_log_lines: log lines kept per attempt (see docs/logs.md); a last line says
        how many more were dropped
    :param capture_output: also keep what the step prints (``sys.stdout``/``sys.stderr``)
        in its log instead of the terminal
    :param resources: what one call needs (a :class:`~flowyml.ResourceRequirements` or a
        dict of its fields); an executor such as Dask places the step on a worker that has it
    :param execution_group: steps sharing this name run together, one after the other in
        one task (one Dask task on the Dask executor); see ``Pipeline.step_groups``
    :param rate_limit: how often the step may start, e.g. ``"50/s"`` or ``"3000/min"``:
        every attempt of every element counts, across the runs on one event loop
    :param max_concurrency: how many attempts of this step (its map elements) may run at
        once in a run, on top of the run's own ``max_concurrency``
    :param chain: for a step mapped over a mapped step's results: element ``i`` starts as
        soon as element ``i`` upstream succeeds (``None``, the default, does so when it can;
        ``True`` makes it a build error when it cannot; ``False`` waits for the whole list)
    """
    if fn is not None:
        if options:
            raise StepDefinitionError("use either @step or @step(...), not both")
        return Step(fn)

    def decorate(f: Callable[P, R]) -> Step[P, R]:
        return Step(f, **options)

    return decorate  # type: ignore[return-value]  # overloads of _StepDecorator
