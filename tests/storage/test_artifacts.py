"""The artifact store conformance suite on every backend, plus backend-specific checks.

Backends: the local disk (default), fsspec memory, a real moto S3 server, and a plain
(sync) fsspec filesystem driven through fsspec's async wrapper.  Every test runs with
blockbuster watching, so any blocking call on the event loop fails it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fsspec.implementations.local import LocalFileSystem

from flowyml.errors import ArtifactError, UnsupportedURLError
from flowyml.storage._protocols import ArtifactStore
from flowyml.storage.artifacts import FsspecArtifactStore, open_artifact_store
from flowyml.testing.artifact_suite import ArtifactStoreSuite
from tests.s3_server import S3Server, s3_server, s3_session

__all__ = ("s3_server", "s3_session")

MiB = 1 << 20


def _blockbuster() -> Any:
    try:
        import blockbuster
    except ImportError:  # pragma: no cover - blockbuster is a dev dependency
        return None
    return blockbuster


@pytest.fixture(autouse=True)
def no_blocking_calls() -> Iterator[None]:
    """Fail any test whose code makes a blocking call on the event loop."""
    blockbuster = _blockbuster()
    if blockbuster is None:  # pragma: no cover
        yield
        return
    with blockbuster.blockbuster_ctx() as bb:
        # prepare_session runs in a worker thread, in a throwaway event loop of its own
        # (to read botocore's files off the caller's loop): blocking there is the point.
        for function in bb.functions.values():
            function.can_block_in("flowyml/storage/artifacts/_s3.py", "prepare_session")
        yield


class TestLocalStore(ArtifactStoreSuite):
    """Plain local folder: the zero-config default."""

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[ArtifactStore]:
        async with FsspecArtifactStore(str(tmp_path / "artifacts")) as store:
            yield store


class TestMemoryStore(ArtifactStoreSuite):
    """fsspec's memory filesystem, one private root per store."""

    stream_memory_limit = None  # keeps the data in memory by design

    @pytest.fixture
    async def store(self) -> AsyncIterator[ArtifactStore]:
        async with open_artifact_store("memory://suite") as store:
            yield store


class TestWrappedSyncFilesystem(ArtifactStoreSuite):
    """A synchronous fsspec filesystem, driven through fsspec's AsyncFileSystemWrapper."""

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[ArtifactStore]:
        url = f"file://{tmp_path / 'wrapped'}"
        async with FsspecArtifactStore(url, filesystem=LocalFileSystem()) as store:
            yield store


@pytest.mark.s3
class TestS3Store(ArtifactStoreSuite):
    """A real S3 API (moto) on 127.0.0.1: streams above 64 MiB use multipart uploads."""

    stream_size = 65 * MiB + 1

    @pytest.fixture
    async def store(self, s3_server: S3Server, s3_session: Any) -> AsyncIterator[ArtifactStore]:
        options = {**s3_server.storage_options, "session": s3_session}
        async with open_artifact_store(s3_server.url(), **options) as store:
            yield store


# --------------------------------------------------------------------------- URLs


async def test_file_url_and_plain_path_are_the_same_store(tmp_path: Path) -> None:
    async with open_artifact_store(f"file://{tmp_path}") as a:
        info = await a.put(b"shared")
    async with open_artifact_store(str(tmp_path)) as b:
        assert await b.get(info.uri) == b"shared"
        assert await b.get(str(tmp_path / "blobs" / info.content_hash[:2] / info.content_hash))
        assert await anyio.Path(
            tmp_path, "blobs", info.content_hash[:2], info.content_hash
        ).is_file()


async def test_memory_stores_are_private() -> None:
    async with open_artifact_store("memory://same") as a, open_artifact_store("memory://same") as b:
        info = await a.put(b"only in a")
        assert a.root_uri != b.root_uri
        assert await b.list_blobs() == []
        assert not await b.exists(info.uri.replace(a.root_uri, b.root_uri))


def test_unknown_scheme() -> None:
    with pytest.raises(UnsupportedURLError, match="unknown scheme 'nosuch'"):
        open_artifact_store("nosuch://bucket/x")


def test_read_only_scheme() -> None:
    with pytest.raises(UnsupportedURLError, match="cannot store"):
        open_artifact_store("https://example.com/artifacts")


@pytest.mark.parametrize(
    ("url", "module", "hint"),
    [
        ("gs://bucket/x", "gcsfs", "pip install 'flowyml[gcs]'"),
        ("az://container/x", "adlfs", "pip install 'flowyml[azure]'"),
    ],
)
def test_missing_package_names_the_extra(
    url: str, module: str, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = sys.modules["fsspec.registry"]._registry  # classes fsspec already imported
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.delitem(registry, url.split(":", 1)[0], raising=False)
    with pytest.raises(ArtifactError, match=f"`{hint}`".replace("[", r"\[").replace("]", r"\]")):
        open_artifact_store(url)


def test_s3_without_s3fs_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = sys.modules["fsspec.registry"]._registry  # classes fsspec already imported
    monkeypatch.setitem(sys.modules, "s3fs", None)
    monkeypatch.delitem(registry, "s3", raising=False)
    with pytest.raises(ArtifactError, match=r"pip install 'flowyml\[s3\]'"):
        open_artifact_store("s3://bucket/prefix")


def test_url_without_bucket() -> None:
    with pytest.raises(ArtifactError, match="names no bucket"):
        open_artifact_store("s3://")


def test_exports() -> None:
    from flowyml.storage import artifacts

    assert sorted(artifacts.__all__) == list(artifacts.__all__)
    for name in artifacts.__all__:
        assert getattr(artifacts, name) is not None


def test_sync_mode_async_filesystem_is_refused(s3_server: S3Server) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3_server.storage_options)
    with pytest.raises(ArtifactError, match="asynchronous=True"):
        FsspecArtifactStore(s3_server.url(), filesystem=fs)


# --------------------------------------------------------------------------- lifecycle


async def test_lifecycle(tmp_path: Path) -> None:
    store = open_artifact_store(str(tmp_path))
    assert isinstance(store, ArtifactStore)
    with pytest.raises(ArtifactError, match="not open"):
        await store.put(b"x")
    await store.open()
    await store.open()  # idempotent
    assert repr(store) == f"FsspecArtifactStore({str(tmp_path)!r})"
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(ArtifactError, match="it was closed"):
        await store.get(store.uri_for("0" * 64))
    with pytest.raises(ArtifactError, match="was closed"):
        await store.open()


async def test_known_blobs_skip_io(tmp_path: Path) -> None:
    async with open_artifact_store(str(tmp_path)) as store:
        info = await store.put(b"seen")
        blobs = anyio.Path(tmp_path, "blobs")
        await blobs.chmod(0o500)  # a second write would now fail...
        try:
            assert await store.put(b"seen") == info  # ...but none is attempted
            assert await store.exists(info.uri)
        finally:
            await blobs.chmod(0o700)


async def test_second_store_finds_existing_blob(tmp_path: Path) -> None:
    async with open_artifact_store(str(tmp_path)) as a:
        info = await a.put(b"persisted")
    async with open_artifact_store(str(tmp_path)) as b:
        assert await b.exists(info.uri)
        assert await b.put(b"persisted") == info
        assert len(await b.list_blobs()) == 1


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, anyio
    from flowyml.storage.artifacts import open_artifact_store

    async def main():
        async def chunks():
            yield b"x" * (3 << 20)
            yield b"y" * (3 << 20)
            print("streaming", flush=True)
            await anyio.sleep_forever()

        async with open_artifact_store(sys.argv[1]) as store:
            await store.put_stream(chunks())

    anyio.run(main)
    """
)


async def test_killed_writer_leaves_no_blob(tmp_path: Path) -> None:
    """A process killed mid-stream leaves only a temporary file, never a blob."""
    proc = await anyio.open_process(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE
    )
    async with proc:
        assert proc.stdout is not None
        with anyio.fail_after(30):
            line = await proc.stdout.receive()
        assert line.startswith(b"streaming")
        proc.kill()
        await proc.wait()
    async with open_artifact_store(str(tmp_path)) as store:
        assert await store.list_blobs() == []
        assert len(await store.list_temporary()) == 1  # left by the crash, under tmp/


# --------------------------------------------------------------------------- S3


@pytest.mark.s3
async def test_s3_bucket_does_not_exist(s3_server: S3Server) -> None:
    store = open_artifact_store("s3://no-such-bucket/runs", **s3_server.storage_options)
    with pytest.raises(ArtifactError, match="'no-such-bucket'.*does not exist"):
        await store.open()
    with pytest.raises(ArtifactError, match="not open"):
        await store.put(b"x")


@pytest.mark.s3
async def test_s3_unreachable_endpoint() -> None:
    with anyio.fail_after(30):
        store = open_artifact_store(
            "s3://bucket/x",
            key="k",
            secret="s",
            endpoint_url="http://127.0.0.1:9",
            retries=1,
            config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 2},
        )
        with pytest.raises(ArtifactError, match="cannot reach S3 bucket 'bucket'"):
            await store.open()


@pytest.mark.s3
async def test_s3_from_standard_environment(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret)
    async with open_artifact_store(s3_server.url()) as store:
        info = await store.put(b"configured by env")
        assert await store.get(info.uri) == b"configured by env"


@pytest.mark.s3
async def test_s3_failed_stream_aborts_multipart_upload(s3_server: S3Server) -> None:
    async def failing() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield os.urandom(MiB)
        raise RuntimeError("producer failed")

    url = s3_server.url()
    async with open_artifact_store(url, **s3_server.storage_options) as store:
        with pytest.raises(RuntimeError, match="producer failed"):
            await store.put_stream(failing())
    fs = await s3_server.s3fs()
    try:
        uploads = await fs._call_s3("list_multipart_uploads", Bucket=s3_server.bucket)
        prefix = url.removeprefix(f"s3://{s3_server.bucket}/")
        assert [u for u in uploads.get("Uploads", []) if u["Key"].startswith(prefix)] == []
    finally:
        await fs._s3.close()


@pytest.mark.s3
async def test_s3_stream_dedupes_with_existing_blob(s3_server: S3Server) -> None:
    data = os.urandom(9 * MiB)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), MiB):
            yield data[i : i + MiB]

    async with open_artifact_store(s3_server.url(), **s3_server.storage_options) as a:
        first = await a.put(data)
        async with open_artifact_store(a.url, **s3_server.storage_options) as b:
            assert await b.put_stream(chunks()) == first
            assert await b.list_blobs() == [first.uri]
            assert await b.list_temporary() == []
            assert hashlib.sha256(await b.get(first.uri)).hexdigest() == first.content_hash


@pytest.mark.s3
async def test_s3_second_store_does_not_rewrite_small_blob(s3_server: S3Server) -> None:
    url = s3_server.url()
    async with open_artifact_store(url, **s3_server.storage_options) as a:
        first = await a.put(b"small and shared")
    async with open_artifact_store(url, **s3_server.storage_options) as b:
        # One conditional PUT, refused by S3 because the blob exists.
        assert await b.put(b"small and shared") == first
        assert await b.list_blobs() == [first.uri]
