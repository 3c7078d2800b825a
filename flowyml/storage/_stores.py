"""The open stores a run or a reader uses: metadata, artifacts and materializers."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio

from ..config import FlowymlConfig, load_config

if TYPE_CHECKING:
    from ._protocols import ArtifactStore, MetadataStore
    from .artifacts._materializers import MaterializerRegistry

__all__ = ("Stores",)

log = logging.getLogger("flowyml")


class Stores:
    """A metadata store and an artifact store, opened together from URLs.

    ``async with Stores() as stores`` opens both (from URLs, the environment, or the
    defaults in ``FLOWYML_HOME``) and closes what it opened.  An already opened store
    object may be passed instead of a URL: its owner keeps opening and closing it.

    :param store: metadata store URL, or an opened ``MetadataStore``
    :param artifacts: artifact store URL, or an opened ``ArtifactStore``
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
        self._opened: list[Any] = []
        self._metadata: MetadataStore | None = None
        self._artifacts: ArtifactStore | None = None

    @property
    def metadata(self) -> MetadataStore:
        """The open metadata store."""
        if self._metadata is None:
            raise RuntimeError(
                f"the stores are not open; use 'async with {type(self).__name__}(...)'"
            )
        return self._metadata

    @property
    def artifacts(self) -> ArtifactStore:
        """The open artifact store."""
        if self._artifacts is None:
            raise RuntimeError(
                f"the stores are not open; use 'async with {type(self).__name__}(...)'"
            )
        return self._artifacts

    @property
    def materializers(self) -> MaterializerRegistry:
        """The materializer registry values are stored with (assets first)."""
        if self._materializers is None:
            from .artifacts._assets import AssetMaterializer
            from .artifacts._materializers import default_registry

            registry = default_registry()
            registry.register(AssetMaterializer(registry), first=True)
            self._materializers = registry
        return self._materializers

    async def __aenter__(self) -> Self:
        from .artifacts import open_artifact_store
        from .metadata import open_metadata_store

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
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close_opened()

    async def _close_opened(self) -> None:
        with anyio.CancelScope(shield=True):
            for obj in reversed(self._opened):
                try:
                    await obj.aclose()
                except Exception as exc:  # closing must not mask the original error
                    log.warning("closing %s failed: %s", getattr(obj, "url", obj), exc)
        self._opened.clear()
