"""The metadata store conformance suite, run against every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowyml.storage.metadata import (
    MemoryMetadataStore,
    MySQLMetadataStore,
    PostgresMetadataStore,
    SqliteMetadataStore,
    open_metadata_store,
)
from flowyml.testing.metadata_suite import MetadataStoreSuite, StoreFactory


class TestSqliteFile(MetadataStoreSuite):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> StoreFactory:
        url = f"sqlite:///{tmp_path / 'sub' / 'metadata.db'}"
        return lambda: open_metadata_store(url)

    def test_class(self, tmp_path: Path) -> None:
        assert isinstance(open_metadata_store(f"sqlite:///{tmp_path}/m.db"), SqliteMetadataStore)


class TestSqliteInMemory(MetadataStoreSuite):
    persistent = False

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        return lambda: open_metadata_store("sqlite://:memory:")


class TestMemory(MetadataStoreSuite):
    persistent = False

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        return lambda: open_metadata_store("memory://")

    def test_class(self) -> None:
        assert isinstance(open_metadata_store("memory://"), MemoryMetadataStore)


@pytest.mark.postgres
class TestPostgres(MetadataStoreSuite):
    @pytest.fixture
    def make_store(self, postgres_url: str) -> StoreFactory:
        return lambda: open_metadata_store(postgres_url)

    def test_class(self, postgres_url: str) -> None:
        assert isinstance(open_metadata_store(postgres_url), PostgresMetadataStore)
        alias = postgres_url.replace("postgresql://", "postgres://", 1)
        assert isinstance(open_metadata_store(alias), PostgresMetadataStore)


@pytest.mark.mysql
class TestMySQL(MetadataStoreSuite):
    @pytest.fixture
    def make_store(self, mysql_url: str) -> StoreFactory:
        return lambda: open_metadata_store(mysql_url)

    def test_class(self, mysql_url: str) -> None:
        assert isinstance(open_metadata_store(mysql_url), MySQLMetadataStore)
