"""Pick a metadata store implementation from its URL."""

from __future__ import annotations

from typing import Final

from ...errors import UnsupportedURLError
from .._protocols import MetadataStore
from ._base import mask_url

__all__ = ("SCHEMES", "open_metadata_store")

#: URL schemes :func:`open_metadata_store` understands.
SCHEMES: Final = ("sqlite", "postgresql", "postgres", "mysql", "memory")


def open_metadata_store(url: str) -> MetadataStore:
    """Create the metadata store for ``url``; the caller then does ``await store.open()``.

    ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite://:memory:``,
    ``postgresql://user:password@host:port/db`` (or ``postgres://``),
    ``mysql://user:password@host:port/db`` and ``memory://`` (in this object only).

    :raises UnsupportedURLError: when the scheme is not one of the above
    :raises StoreError: when the scheme's optional driver is not installed (the message
        gives the ``pip install`` command)
    """
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise UnsupportedURLError(
            f"unsupported metadata store URL {mask_url(url)!r}; use one of {known} "
            f"(e.g. sqlite:///.flowyml/metadata.db)"
        )
    if scheme == "sqlite":
        from ._sqlite import SqliteMetadataStore

        return SqliteMetadataStore(url)
    if scheme in ("postgresql", "postgres"):
        from ._postgres import PostgresMetadataStore

        return PostgresMetadataStore(url)
    if scheme == "mysql":
        from ._mysql import MySQLMetadataStore

        return MySQLMetadataStore(url)
    from ._memory import MemoryMetadataStore

    return MemoryMetadataStore(url)
