"""Shared fixtures.

* every test gets its own ``FLOWYML_HOME``, so default persistence is isolated;
* database servers for the store tests: a fresh database (or schema) per test.  The
  servers come from ``.ci/services.sh start``, which prints the two URLs below.  Without
  them the PostgreSQL/MySQL tests are skipped, except under ``CI``, where a missing URL
  fails the test so that CI never passes by silently skipping a backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest


@pytest.fixture(autouse=True)
def flowyml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the zero-config defaults at a fresh folder for each test."""
    home = tmp_path / "flowyml-home"
    monkeypatch.setenv("FLOWYML_HOME", str(home))
    monkeypatch.delenv("FLOWYML_STORE", raising=False)
    monkeypatch.delenv("FLOWYML_ARTIFACTS", raising=False)
    monkeypatch.delenv("FLOWYML_API_TOKEN", raising=False)
    yield home


POSTGRES_ENV = "FLOWYML_TEST_POSTGRES_URL"
MYSQL_ENV = "FLOWYML_TEST_MYSQL_URL"


def server_url(var: str) -> str:
    """The server URL in ``var``; skip (or, under CI, fail) when it is not set."""
    url = os.environ.get(var, "")
    if url:
        return url
    hint = 'start the servers with: eval "$(bash .ci/services.sh start)"'
    if os.environ.get("CI"):
        pytest.fail(f"{var} is not set, and CI must test every backend; {hint}")
    pytest.skip(f"{var} is not set; {hint}")


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def with_query(url: str, query: str) -> str:
    """``url`` with ``query`` added to its query string."""
    parts = urlsplit(url)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))


def _unique_name() -> str:
    return f"flowyml_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def postgres_server() -> str:
    """URL of the test PostgreSQL server's own database (do not write to it)."""
    return server_url(POSTGRES_ENV)


@pytest.fixture
def mysql_server() -> str:
    """URL of the test MySQL/MariaDB server's own database (do not write to it)."""
    return server_url(MYSQL_ENV)


@pytest.fixture
async def postgres_url(postgres_server: str) -> AsyncIterator[str]:
    """URL of a new, empty PostgreSQL schema (``?search_path=``), dropped after the test.

    A schema is much cheaper to create than a database and isolates tests as well.
    """
    asyncpg = pytest.importorskip("asyncpg")
    name = _unique_name()
    admin = await asyncpg.connect(postgres_server, timeout=5)
    try:
        await admin.execute(f'CREATE SCHEMA "{name}"')
        yield with_query(postgres_server, f"search_path={name}")
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await admin.close()


async def _mysql_admin(base: str, sql: str) -> None:
    aiomysql = pytest.importorskip("aiomysql")
    parts = urlsplit(base)
    conn = await aiomysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        connect_timeout=5,
        autocommit=True,
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture
async def mysql_url(mysql_server: str) -> AsyncIterator[str]:
    """URL of a new, empty MySQL/MariaDB database, dropped after the test."""
    base = mysql_server
    name = _unique_name()
    await _mysql_admin(base, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield with_database(base, name)
    finally:
        await _mysql_admin(base, f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(params=["sqlite", "postgres", "mysql", "memory"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh metadata store URL of each backend (a real server for PostgreSQL/MySQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.db'}"
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``s3`` start a moto server process: they are ``slow`` too."""
    for item in items:
        if item.get_closest_marker("s3") is not None:
            item.add_marker(pytest.mark.slow)
