"""Metadata stores: runs, step runs, artifacts, lineage, cache entries and the event log.

Pick one by URL with :func:`open_metadata_store`; every implementation satisfies the
:class:`~flowyml.storage.MetadataStore` protocol and passes
:mod:`flowyml.testing.metadata_suite`.
"""

from __future__ import annotations

from ._memory import MemoryMetadataStore as MemoryMetadataStore
from ._migrations import LATEST_VERSION as LATEST_VERSION
from ._mysql import MySQLMetadataStore as MySQLMetadataStore
from ._open import open_metadata_store as open_metadata_store
from ._postgres import PostgresMetadataStore as PostgresMetadataStore
from ._sqlite import SqliteMetadataStore as SqliteMetadataStore

__all__ = (
    "LATEST_VERSION",
    "MemoryMetadataStore",
    "MySQLMetadataStore",
    "PostgresMetadataStore",
    "SqliteMetadataStore",
    "open_metadata_store",
)
