"""Choosing a metadata store by URL, and the errors for bad URLs, drivers and servers."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import pytest

from flowyml.errors import StoreConnectionError, StoreError, UnsupportedURLError
from flowyml.storage.metadata import SqliteMetadataStore, open_metadata_store
from flowyml.storage.metadata._base import mask_url
from flowyml.storage.metadata._sqlite import sqlite_path


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("url", ["redis://localhost/0", "metadata.db", "file:///tmp/m.db"])
def test_unknown_scheme_lists_known_ones(url: str) -> None:
    with pytest.raises(UnsupportedURLError) as info:
        open_metadata_store(url)
    for scheme in ("sqlite://", "postgresql://", "postgres://", "mysql://", "memory://"):
        assert scheme in str(info.value)


def test_unknown_scheme_masks_password() -> None:
    with pytest.raises(UnsupportedURLError) as info:
        open_metadata_store("oracle://scott:tiger@db:1521/x")
    assert "tiger" not in str(info.value) and "scott:***@db:1521" in str(info.value)


def test_mask_url() -> None:
    assert mask_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("mysql://u:secret@h/db?x=1") == "mysql://u:***@h/db?x=1"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert mask_url("sqlite:///a.db") == "sqlite:///a.db"


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [
        ("asyncpg", "postgresql://u:p@127.0.0.1/db", "postgres"),
        ("asyncpg", "postgres://u:p@127.0.0.1/db", "postgres"),
        ("aiomysql", "mysql://u:p@127.0.0.1/db", "mysql"),
    ],
)
def test_missing_driver_gives_install_command(
    monkeypatch: pytest.MonkeyPatch, module: str, url: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(StoreError, match=rf"pip install 'flowyml\[{extra}\]'"):
        open_metadata_store(url)


def test_sqlite_paths() -> None:
    assert sqlite_path("sqlite:///rel/m.db") == "rel/m.db"
    assert sqlite_path("sqlite:////abs/m.db") == "/abs/m.db"
    for memory in ("sqlite://:memory:", "sqlite:///:memory:", "sqlite://"):
        assert sqlite_path(memory) == ":memory:"
    with pytest.raises(UnsupportedURLError, match="sqlite:////absolute"):
        sqlite_path("sqlite://host/m.db")


@pytest.fixture
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_sqlite_relative_url_creates_folders(in_tmp_path: Path) -> None:
    tmp_path = in_tmp_path
    async with SqliteMetadataStore("sqlite:///deep/er/m.db") as store:
        assert await store.last_event_id() == 0
        assert store.path == str(tmp_path / "deep" / "er" / "m.db")
    assert await anyio.Path(tmp_path / "deep" / "er" / "m.db").is_file()


async def test_sqlite_unusable_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    await anyio.Path(junk).write_bytes(b"this is not a database at all" * 100)
    for path in (tmp_path, junk):
        store = open_metadata_store(f"sqlite:///{path}")
        with pytest.raises(StoreConnectionError, match=str(path)):
            await store.open()
        await store.aclose()


def test_mysql_url_needs_database() -> None:
    with pytest.raises(UnsupportedURLError, match="names no database"):
        open_metadata_store("mysql://u:secret@127.0.0.1:3306")


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
async def test_unreachable_server(scheme: str) -> None:
    port = free_port()
    store = open_metadata_store(f"{scheme}://user:secret@127.0.0.1:{port}/db")
    with anyio.fail_after(15), pytest.raises(StoreConnectionError) as info:
        await store.open()
    message = str(info.value)
    assert f"user:***@127.0.0.1:{port}/db" in message and "secret" not in message
    assert isinstance(info.value, ConnectionError)


@pytest.mark.postgres
async def test_postgres_missing_database(postgres_server: str) -> None:
    url = with_database(postgres_server, "flowyml_no_such_db")
    store = open_metadata_store(url)
    with anyio.fail_after(15), pytest.raises(StoreConnectionError, match="flowyml_no_such_db"):
        await store.open()


@pytest.mark.mysql
async def test_mysql_bad_credentials(mysql_server: str) -> None:
    host = mysql_server.split("@", 1)[1]
    store = open_metadata_store(f"mysql://flowyml:wrong-password@{host}")
    with anyio.fail_after(15), pytest.raises(StoreConnectionError) as info:
        await store.open()
    assert "wrong-password" not in str(info.value) and "flowyml:***@" in str(info.value)
