"""Stores shared by the runs of one event loop, with what those runs share (the hub)."""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from anyio.lowlevel import RunVar

from ..config import FlowymlConfig
from ..storage._stores import Stores
from ._bus import EventHub

if TYPE_CHECKING:
    from ..storage._protocols import ArtifactStore, MetadataStore
    from ..storage.artifacts._materializers import MaterializerRegistry

__all__ = ("Runtime", "active_runtime")

log = logging.getLogger("flowyml")

_ACTIVE: RunVar[dict[tuple[str, str], Runtime]] = RunVar("flowyml_runtimes")


def active_runtime(store: str, artifacts: str) -> Runtime | None:
    """The open runtime of this event loop for these URLs, if any."""
    try:
        return _ACTIVE.get().get((store, artifacts))
    except LookupError:
        return None


class Runtime(Stores):
    """The stores runs persist to, opened once and shared by the runs of an event loop.

    ``async with Runtime() as rt`` opens the metadata store and the artifact store (from
    URLs, the environment, or the defaults in ``FLOWYML_HOME``) and makes them the ones that
    runs in this event loop with the same URLs use; ``pipeline.arun(runtime=rt)`` uses it
    explicitly.  Runs outside any runtime open a temporary one, which the runs of the
    event loop started while it is open share; the last of them to end closes it.

    On top of :class:`~flowyml.storage.Stores`, a runtime holds what its runs share: the
    in-process event hub (live watchers of runs in this process), the pipelines already
    registered, and the code version of each DAG run so far.

    :param store: metadata store URL, or an already opened ``MetadataStore`` (its owner
        keeps opening and closing it)
    :param artifacts: artifact store URL, or an already opened ``ArtifactStore``
    :param config: defaults (default: :func:`~flowyml.config.load_config`)
    :param materializers: registry to (de)serialise values (default: the built-ins)
    """

    def __init__(
        self,
        *,
        store: str | MetadataStore | None = None,
        artifacts: str | ArtifactStore | None = None,
        config: FlowymlConfig | None = None,
        materializers: MaterializerRegistry | None = None,
    ) -> None:
        super().__init__(
            store=store, artifacts=artifacts, config=config, materializers=materializers
        )
        self.hub = EventHub()
        self.registered: dict[str, str] = {}
        #: dag -> code version: fingerprints are computed once per DAG (weakly held, so
        #: a long-lived runtime does not keep every DAG it ever ran)
        self.versions: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        #: runs using this runtime when runs opened it (not its owner); 0 for a runtime
        #: opened with ``async with``
        self.runs = 0

    @asynccontextmanager
    async def opened_for_runs(self) -> AsyncIterator[Self]:
        """Open this runtime for a run that found none open; it stays open while any
        run of this event loop uses it, and the last of them closes it."""
        await self.__aenter__()
        self.runs += 1
        try:
            yield self
        finally:
            await self.release()

    def join(self) -> bool:
        """Count one more run using a runtime that runs opened (see
        :meth:`opened_for_runs`); return whether it is one, i.e. whether the joining run
        must call :meth:`release` when it ends."""
        if self.runs == 0:
            return False
        self.runs += 1
        return True

    async def release(self) -> None:
        """A run using this runtime ended: close it if that run was the last."""
        self.runs -= 1
        if self.runs == 0:
            await self.__aexit__(None, None, None)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        try:
            active = _ACTIVE.get()
        except LookupError:
            active = {}
            _ACTIVE.set(active)
        active.setdefault((self.store_url, self.artifacts_url), self)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            active = _ACTIVE.get()
            if active.get((self.store_url, self.artifacts_url)) is self:
                del active[(self.store_url, self.artifacts_url)]
        except LookupError:
            pass
        await super().__aexit__(et, e, tb)
