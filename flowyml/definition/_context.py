"""Run parameters (``Context``) and the per-step handle a step can ask for (``StepContext``)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .._steplog import StepLogger

__all__ = ("PROGRESS_INTERVAL", "Context", "StepContext", "context")

#: the least time, in seconds, between two progress reports of one step attempt
PROGRESS_INTERVAL: Final = 0.25


class Context(Mapping[str, Any]):
    """Read-only named values injected into steps by parameter name.

    Build one with :func:`context`.  ``ctx.override(**values)`` returns a new context in
    which ``values`` win; the pipeline does that with run-time parameters.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = dict(values or {})

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise KeyError(f"context has no value {key!r}; known: {sorted(self._values)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"context has no value {name!r}") from None

    def override(self, **values: Any) -> Context:
        """Return a copy of this context where ``values`` replace existing ones."""
        return Context({**self._values, **values})

    def to_dict(self) -> dict[str, Any]:
        """Return the values as a plain dict."""
        return dict(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"context({inner})"


def context(**values: Any) -> Context:
    """Build a :class:`Context` from keyword arguments: ``context(lr=0.01, epochs=5)``."""
    return Context(values)


@dataclass(slots=True, eq=False)
class StepContext:
    """What a step learns about its own execution.

    Declare a parameter annotated ``StepContext`` (any name) to receive it.

    :ivar run_id: id of the run this attempt belongs to
    :ivar step: the step's name in the pipeline
    :ivar attempt: 1 for the first attempt, 2 for the first retry, ...
    :ivar pipeline: the pipeline's name
    :ivar params: the run's resolved parameters (context merged with overrides)
    :ivar logger: a logger named ``flowyml.step.<step>`` that tags records with the run id
    """

    run_id: str
    step: str
    attempt: int
    pipeline: str
    params: Mapping[str, Any] = field(default_factory=dict)
    logger: logging.LoggerAdapter[logging.Logger] = field(init=False)
    #: where :meth:`progress` reports go (the engine records a ``step_progress`` event)
    report: Callable[[float, float | None], None] | None = field(
        default=None, repr=False, compare=False
    )
    _last_report: float = field(default=-math.inf, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.logger = StepLogger(
            logging.getLogger(f"flowyml.step.{self.step}"),
            {"run_id": self.run_id, "step": self.step, "attempt": self.attempt},
        )

    def progress(self, done: float, total: float | None = None) -> None:
        """Report that ``done`` units of ``total`` are done (for live displays).

        Reports closer together than :data:`PROGRESS_INTERVAL` seconds are dropped, except
        the first and the one where ``done`` reaches ``total``, so a loop may report every
        item.

        :raises ValueError: when ``done`` is negative or ``total`` is not positive
        :raises TypeError: when either is not a number
        """
        for name, value in (("done", done), ("total", total)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise TypeError(f"progress({name}=...) must be a number, got {value!r}")
        if done < 0 or (total is not None and total <= 0):
            raise ValueError(
                f"progress(done={done!r}, total={total!r}): done must be >= 0 and total > 0"
            )
        if self.report is None:
            return
        now = time.monotonic()
        if now - self._last_report < PROGRESS_INTERVAL and done != total:
            return
        self._last_report = now
        self.report(done, total)
