"""Open stores shared by runs in one event loop: metadata, artifacts, materializers, hub."""

from __future__ import annotations

import logging
import weakref
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from anyio.lowlevel import RunVar

from ..config import FlowymlConfig, load_config
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


class Runtime:
    """The stores a run persists to, opened once and shared.

    ``async with Runtime() as rt`` opens the metadata store and the artifact store (from
    URLs, the environment, or the defaults in ``FLOWYML_HOME``) and makes them the ones that
    runs in this event loop with the same URLs use; ``pipeline.arun(runtime=rt)`` uses it
    explicitly.  Runs outside any runtime open a temporary one for their duration.

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
        self.config = config or load_config()
        self._store_arg: Any = store if store is not None else self.config.store
        self._artifacts_arg: Any = artifacts if artifacts is not None else self.config.artifacts
        self.store_url: str = (
            self._store_arg if isinstance(self._store_arg, str) else self._store_arg.url
        )
        self.artifacts_url: str = (
            self._artifacts_arg if isinstance(self._artifacts_arg, str) else self._artifacts_arg.url
        )
        self._materializers = materializers
        self.hub = EventHub()
        self.registered: dict[str, str] = {}
        #: dag -> code version: fingerprints are computed once per DAG (weakly held, so
        #: a long-lived runtime does not keep every DAG it ever ran)
        self.versions: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self._opened: list[Any] = []
        self._metadata: MetadataStore | None = None
        self._artifacts: ArtifactStore | None = None

    @property
    def metadata(self) -> MetadataStore:
        """The open metadata store."""
        if self._metadata is None:
            raise RuntimeError("the runtime is not open; use 'async with Runtime(...)'")
        return self._metadata

    @property
    def artifacts(self) -> ArtifactStore:
        """The open artifact store."""
        if self._artifacts is None:
            raise RuntimeError("the runtime is not open; use 'async with Runtime(...)'")
        return self._artifacts

    @property
    def materializers(self) -> MaterializerRegistry:
        """The materializer registry values are stored with."""
        if self._materializers is None:
            from ..assets import AssetMaterializer
            from ..storage.artifacts._materializers import default_registry

            registry = default_registry()
            registry.register(AssetMaterializer(registry), first=True)
            self._materializers = registry
        return self._materializers

    async def __aenter__(self) -> Self:
        from ..storage.artifacts import open_artifact_store
        from ..storage.metadata import open_metadata_store

        try:
            if isinstance(self._store_arg, str):
                self._metadata = open_metadata_store(self._store_arg)
                await self._metadata.open()
                self._opened.append(self._metadata)
            else:
                self._metadata = self._store_arg
            if isinstance(self._artifacts_arg, str):
                self._artifacts = open_artifact_store(self._artifacts_arg)
                await self._artifacts.open()
                self._opened.append(self._artifacts)
            else:
                self._artifacts = self._artifacts_arg
        except BaseException:
            await self._close_opened()
            raise
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
        await self._close_opened()

    async def _close_opened(self) -> None:
        import anyio

        with anyio.CancelScope(shield=True):
            for obj in reversed(self._opened):
                try:
                    await obj.aclose()
                except Exception as exc:  # closing must not mask the original error
                    log.warning("closing %s failed: %s", getattr(obj, "url", obj), exc)
        self._opened.clear()
