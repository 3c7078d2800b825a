"""The executor plug point: where a step's function actually runs.

An executor's lifetime is its own, not a run's: a run enters it (``async with``) for its
duration, and several runs may be inside it at once; an executor that holds resources
(a cluster, a client) opens them on the first entry and releases them when the last
holder leaves, so a user who wants it open across runs enters it once around them.

An executor may also keep outputs where they were made (:class:`KeepsOutputs`): the run
then receives an :class:`OutputHandle` per output instead of the value, and hands it,
unchanged, to the steps that read it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..definition._resources import ResourceRequirements
    from ..events import ArtifactRef

__all__ = (
    "NOT_INLINE",
    "Executor",
    "KeepsOutputs",
    "OutputHandle",
    "ReadsOnWorkers",
    "SaveTo",
    "StepCall",
)

#: an :class:`OutputHandle` whose value did not come with its metadata
NOT_INLINE: Final[Any] = object()


@runtime_checkable
class Executor(Protocol):
    """Runs step functions for a run; orchestration, events and stores stay in the driver.

    The default (no executor) runs async steps on the event loop and sync steps in worker
    threads.  Each run enters the executor (``async with``) for its duration; runs may
    overlap, so entering and leaving must count holders (see the module docstring).
    """

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool | None: ...

    async def run_step(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], *, is_async: bool, name: str
    ) -> Any:
        """Call ``fn(**kwargs)`` (awaiting it when ``is_async``) and return its value.

        Cancellation of the calling task must stop waiting promptly.
        """


@dataclass(frozen=True, slots=True)
class SaveTo:
    """The run's artifact store, for a worker that reads and writes it itself.

    ``persist``: whether the step's outputs are stored there (its cached inputs are read
    from there either way).  Workers use the built-in materializers.
    """

    artifacts_url: str
    run_id: str
    step: str
    id_stamp: str
    persist: bool = True


@dataclass(slots=True, eq=False)
class StepCall:
    """One attempt of a step, for an executor that keeps outputs where they are made.

    ``kwargs`` may hold :class:`OutputHandle` values (outputs of earlier steps) and
    ``Lazy`` cached outputs (read by the worker when ``save`` names a store it shares).
    ``on_lost(cause)`` is called when the machine running the attempt was lost and the
    executor started the call again elsewhere (the run records it as a new attempt).
    """

    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    is_async: bool
    name: str
    outputs: tuple[str, ...]
    resources: ResourceRequirements | None
    group: str | None
    save: SaveTo | None
    asset_params: frozenset[str] = frozenset()
    on_lost: Callable[[str], None] = field(default=lambda cause: None)
    #: the step's ``max_log_lines`` and ``capture_output`` (for logs captured remotely)
    max_log_lines: int = 10_000
    capture_output: bool = False


@dataclass(slots=True, eq=False)
class OutputHandle:
    """An output that stays where it was made.

    :ivar ref: its stored artifact, when the worker stored it
    :ivar type_name: the value's type
    :ivar inline: the value itself when small enough to travel with the metadata
    :ivar fetch: copies the value to the driver (the executor must still be open)
    :ivar source: the executor's own reference (e.g. a Dask future and output name)
    :ivar digest: the value's ``hash_value``, when the executor computed it where the
        value is (a mapped step's element is cached by it)
    """

    ref: ArtifactRef | None
    type_name: str
    fetch: Callable[[], Awaitable[Any]]
    source: Any = None
    inline: Any = NOT_INLINE
    digest: str | None = None

    @property
    def has_inline(self) -> bool:
        """Whether the value came with the metadata."""
        return self.inline is not NOT_INLINE

    async def load(self) -> Any:
        """The value, from the metadata when it came with it, else from where it is."""
        if self.inline is not NOT_INLINE:
            return self.inline
        return await self.fetch()


@runtime_checkable
class KeepsOutputs(Protocol):
    """An executor whose outputs stay on the machines that made them."""

    def shares_store(self, artifacts_url: str) -> bool:
        """Whether every worker can write and read this artifact store directly."""

    async def call_step(self, call: StepCall) -> dict[str, OutputHandle]:
        """Run one attempt; return a handle per output (in ``call.outputs``)."""


@runtime_checkable
class ReadsOnWorkers(Protocol):
    """An executor that also reads outputs where they are, so a step's condition, the
    list a step maps over and a mapped step's results need not travel to the driver."""

    async def elements(self, handle: OutputHandle, *, unwrap: bool, hashed: bool) -> list[Any]:
        """The elements of the list ``handle`` holds: small ones as values, the others as
        handles of their own (with their ``digest`` when ``hashed``).  ``unwrap``: take
        an :class:`~flowyml.Asset`'s value.

        :raises TypeError: when the value is not iterable
        """

    async def holds(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], *, asset_params: frozenset[str]
    ) -> bool:
        """Whether ``fn(**kwargs)`` is true, called where the handles in ``kwargs`` are
        (an :class:`~flowyml.Asset` is given as its value unless its parameter is in
        ``asset_params``); only the answer comes back."""

    async def store_list(self, value: list[Any], save: SaveTo, out: str) -> ArtifactRef | None:
        """Store a mapped step's list of results (output ``out``) in the shared store
        ``save`` names, from where its elements are; ``None`` when none of them stayed
        there (the driver then stores the list)."""

    async def digest(self, handle: OutputHandle) -> str | None:
        """The ``hash_value`` of the value ``handle`` holds, computed where it is
        (``None`` when it cannot be hashed)."""

    async def stored(self, record: Any, artifacts_url: str) -> OutputHandle:
        """A handle to a stored output (an earlier run's), read from the shared store
        ``artifacts_url`` where the steps run, so the driver need not read it."""
