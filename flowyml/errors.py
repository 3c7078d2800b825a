"""The flowyml exception tree.

::

    FlowymlError
    ├── PipelineBuildError          compile-time problems, all listed at once
    │   ├── CycleError
    │   ├── DuplicateOutputError
    │   ├── DuplicateStepError
    │   ├── MissingInputError
    │   ├── ForeignHandleError
    │   ├── StepGroupError          a step cannot run in its execution_group
    │   └── ChainError              @step(chain=True) on a step that cannot chain
    ├── StepDefinitionError (TypeError)   bad @step / add_step usage
    ├── StepError                   a step failed while running (wraps the cause)
    │   ├── StepOutputError         wrong number of outputs returned
    │   ├── MapError                some elements of a mapped step failed
    │   ├── StepCancelledError      a step cancelled itself (a stray CancelledError)
    │   ├── ResourcesUnavailableError  no worker can meet a step's resources=
    │   └── StepTimeoutError (TimeoutError)
    ├── RunFailedError              raise_for_status() on a failed/cancelled run
    ├── StoreError                  metadata store problems (``.transient``: worth a retry)
    │   ├── StoreConnectionError (ConnectionError)
    │   ├── UnsupportedURLError (ValueError)
    │   ├── SchemaVersionError
    │   ├── NotFoundError (LookupError)
    │   └── RunExistsError (ValueError)   a run id given to run() is taken
    ├── ArtifactError               artifact store / materializer problems
    │   └── SerializationError (TypeError)
    └── ConfigError (ValueError)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = (
    "ArtifactError",
    "ChainError",
    "ConfigError",
    "CycleError",
    "DuplicateOutputError",
    "DuplicateStepError",
    "FlowymlError",
    "ForeignHandleError",
    "MapError",
    "MissingInputError",
    "NotFoundError",
    "PipelineBuildError",
    "ResourcesUnavailableError",
    "RunExistsError",
    "RunFailedError",
    "SchemaVersionError",
    "SerializationError",
    "StepCancelledError",
    "StepDefinitionError",
    "StepError",
    "StepGroupError",
    "StepOutputError",
    "StepTimeoutError",
    "StoreConnectionError",
    "StoreError",
    "UnsupportedURLError",
)


class FlowymlError(Exception):
    """Root of every error flowyml raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Most subclasses build their message in __init__ from other arguments, so the
        # default (calling the class with ``args``) cannot rebuild them: restore the
        # message and attributes as they are, and errors raised on a Dask worker arrive
        # in the driver whole.
        return (_restore, (type(self), self.args), self.__dict__)


def _restore(cls: type[FlowymlError], args: tuple[Any, ...]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    return error


# --------------------------------------------------------------------------- build


class PipelineBuildError(FlowymlError):
    """The pipeline cannot be compiled; ``problems`` lists every problem found.

    A single problem is raised as its own subclass; several are raised together
    as a plain :class:`PipelineBuildError` whose message lists them all.
    """

    def __init__(self, message: str, problems: Sequence[PipelineBuildError] = ()) -> None:
        self.problems: list[PipelineBuildError] = list(problems) or [self]
        super().__init__(message)

    @classmethod
    def combine(cls, pipeline: str, problems: Sequence[PipelineBuildError]) -> PipelineBuildError:
        """Return the one error to raise for ``problems`` (itself when there is one)."""
        if len(problems) == 1:
            return problems[0]
        lines = "\n".join(f"  - {p}" for p in problems)
        return cls(f"pipeline {pipeline!r} has {len(problems)} problems:\n{lines}", problems)


class CycleError(PipelineBuildError):
    """Steps depend on each other in a loop."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = list(cycle)
        path = " -> ".join([*self.cycle, self.cycle[0]])
        super().__init__(f"steps form a cycle: {path}; break it by removing one of these inputs")


class DuplicateOutputError(PipelineBuildError):
    """Two steps declare the same output name."""

    def __init__(self, output: str, steps: Sequence[str]) -> None:
        self.output, self.steps = output, list(steps)
        names = " and ".join(repr(s) for s in self.steps)
        super().__init__(
            f"output {output!r} is produced by both {names}; rename one of them "
            f"(outputs=[...] in @step)"
        )


class DuplicateStepError(PipelineBuildError):
    """Two steps share one name."""

    def __init__(self, step: str) -> None:
        self.step = step
        super().__init__(
            f"two steps are named {step!r}; give one a different name with @step(name=...)"
        )


class MissingInputError(PipelineBuildError):
    """A step needs a value that nothing provides."""

    def __init__(self, step: str, name: str, *, hint: str = "") -> None:
        self.step, self.name, self.hint = step, name, hint
        super().__init__(
            f"step {step!r} needs input {name!r}, but no step outputs it and no parameter "
            f"supplies it; {hint + '; or ' if hint else ''}add a step that outputs it "
            f"(or name its source with @step(inputs={{parameter: output}}) or "
            f"add_step(..., inputs=...)), or pass it in context(...) or run(...)"
        )


class ForeignHandleError(PipelineBuildError):
    """A functional-style handle was used outside the pipeline that created it."""

    def __init__(self, step: str, handle: str, owner: str) -> None:
        self.step, self.handle, self.owner = step, handle, owner
        super().__init__(
            f"step {step!r} received the output {handle!r} of pipeline {owner!r}; handles "
            f"can only be passed to steps of the pipeline whose body created them"
        )


class StepGroupError(PipelineBuildError):
    """A step cannot run as part of its ``execution_group``."""

    def __init__(self, group: str, step: str, reason: str) -> None:
        self.group, self.step, self.reason = group, step, reason
        super().__init__(
            f"step {step!r} cannot run in execution_group {group!r}: {reason}; remove "
            f"execution_group= from it or change the group"
        )


class ChainError(PipelineBuildError):
    """A step asked to chain element-wise (``@step(chain=True)``) cannot."""

    def __init__(self, step: str, reason: str) -> None:
        self.step, self.reason = step, reason
        super().__init__(
            f"step {step!r} cannot chain element by element: {reason}; map it over a mapped "
            f"step's output (step.map(other.map(...)) or map_over=), or drop chain=True"
        )


# --------------------------------------------------------------------------- steps


class StepDefinitionError(FlowymlError, TypeError):
    """A step was declared or added incorrectly."""


class StepError(FlowymlError):
    """A step failed while running."""

    def __init__(self, step: str, message: str) -> None:
        self.step = step
        super().__init__(f"step {step!r}: {message}")


class StepOutputError(StepError):
    """A step returned a value that does not match its declared outputs."""


class ResourcesUnavailableError(StepError):
    """No worker of the executor has what a step's ``resources=`` asks for."""

    def __init__(self, step: str, needs: dict[str, float], workers: dict[str, dict[str, float]]):
        self.needs, self.workers = needs, workers
        have = ", ".join(f"{w}: {r or 'none'}" for w, r in sorted(workers.items())) or "no workers"
        super().__init__(
            step,
            f"needs worker resources {needs}, which no Dask worker has ({have}); start "
            f"workers with e.g. dask worker --resources "
            f'"{",".join(f"{k}={v:g}" for k, v in needs.items())}", or lower resources=',
        )


class MapError(StepError):
    """Some elements of a mapped step failed; ``failures`` lists them."""

    def __init__(self, step: str, total: int, failures: list[tuple[str, BaseException]]) -> None:
        self.failures = failures
        shown = "; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in failures[:5])
        more = f"; and {len(failures) - 5} more" if len(failures) > 5 else ""
        super().__init__(step, f"{len(failures)} of {total} elements failed ({shown}{more})")


class StepCancelledError(StepError):
    """A step raised ``CancelledError`` that its run did not ask for.

    Only the run's own cancellation (``cancel()``, a timeout, ``fail_fast``, Ctrl-C) means
    "cancelled"; a ``CancelledError`` that comes out of the step's own code (it cancelled
    its task, or a library it called raised one) is that step's failure.
    """

    def __init__(self, step: str) -> None:
        super().__init__(
            step,
            "was cancelled from inside the step (a CancelledError that the run did not "
            "request: the step cancelled its own task, or a library it called raised one)",
        )


class StepTimeoutError(StepError, TimeoutError):
    """A step ran longer than its ``timeout``."""

    def __init__(self, step: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(step, f"timed out after {timeout:g} s")


class RunFailedError(FlowymlError):
    """Raised by :meth:`PipelineResult.raise_for_status` for a run that did not succeed."""


# --------------------------------------------------------------------------- storage


class StoreError(FlowymlError):
    """The metadata store failed.

    :param transient: whether trying again may succeed (a lost connection, a busy
        server); a corrupted file, a failed login or a missing table are not transient,
        and runs give up on them at once instead of retrying
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class StoreConnectionError(StoreError, ConnectionError):
    """The metadata store could not be reached (transient unless said otherwise)."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message, transient=transient)


class UnsupportedURLError(StoreError, ValueError):
    """A store or artifact URL has a scheme flowyml does not know."""


class SchemaVersionError(StoreError):
    """The database schema is newer than this flowyml understands."""


class NotFoundError(StoreError, LookupError):
    """A run, step run, artifact or pipeline does not exist."""


class RunExistsError(StoreError, ValueError):
    """``run(run_id=...)`` names a run that the metadata store already holds."""

    def __init__(self, run_id: str, url: str) -> None:
        self.run_id, self.url = run_id, url
        super().__init__(
            f"run {run_id!r} already exists in {url}; a run id names one run: pass a new "
            f"run_id (or none, for a fresh one), or use resume({run_id!r}) to re-run the steps "
            f"of that run that did not succeed"
        )


class ArtifactError(FlowymlError):
    """The artifact store failed."""


class SerializationError(ArtifactError, TypeError):
    """A value cannot be serialised (or deserialised) by any materializer."""


class ConfigError(FlowymlError, ValueError):
    """Configuration is invalid."""
