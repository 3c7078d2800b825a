"""``shared(factory)``: a resource that the steps of a run share (an HTTP client, a pool).

Wrapped in ``shared``, a context value is not passed as is: the run calls ``factory`` the
first time a step needs the value, gives the same object to every step that has a
parameter of that name (map elements and sync steps included), and closes it when the run
ends, however it ends.  It never enters a cache key and is never stored as an artifact.

``factory`` may return the value itself, a context manager or an async context manager
(entered: the value is what ``__enter__``/``__aenter__`` returns; ``httpx.AsyncClient``
is one), an awaitable of any of those, or be a generator / async generator function that
yields the value once (the code after ``yield`` runs at close).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from ..errors import StepDefinitionError

__all__ = ("Scope", "Shared", "shared")

#: ``"run"``: one value per run, closed when the run ends.  ``"process"``: one value for
#: every run of the event loop, closed by ``flowyml.close_shared()``.
Scope = Literal["run", "process"]


class Shared:
    """A shared resource in a pipeline's context (see :func:`shared`)."""

    __slots__ = ("factory", "scope")

    def __init__(self, factory: Callable[[], Any], scope: Scope = "run") -> None:
        if not callable(factory):
            raise StepDefinitionError(
                f"shared() needs a callable that makes the value, got {factory!r}"
            )
        if scope not in ("run", "process"):
            raise StepDefinitionError(f"shared(scope=...) is 'run' or 'process', got {scope!r}")
        self.factory = factory
        self.scope: Scope = scope

    def __repr__(self) -> str:
        name = getattr(self.factory, "__qualname__", None) or repr(self.factory)
        return f"shared({name}, scope={self.scope!r})"


def shared(factory: Callable[[], Any], *, scope: Scope = "run") -> Shared:
    """Share one value, made by ``factory`` when first needed, among the steps of a run.

    ::

        p = Pipeline("crawl", context=context(http=shared(httpx.AsyncClient)))

    Every step with a parameter ``http`` gets the same client; it is closed when the run
    ends.  With ``scope="process"`` it stays open for later runs of the same event loop
    until ``await flowyml.close_shared()``.
    """
    return Shared(factory, scope)
