"""Backend over any fsspec filesystem, driven through its async (``_``-prefixed) API.

Async filesystems (s3fs, gcsfs, adlfs, …) are used natively.  Synchronous ones are
wrapped in fsspec's ``AsyncFileSystemWrapper`` (one worker-thread hop per call), except
the in-memory one, which does no I/O and is called inline (:class:`InlineAsync`).

Atomicity: on object stores (and memory) one PUT is atomic, so small blobs are written
straight to their content key; elsewhere they are written to a temporary key and moved.
Streams go to a temporary location first because their hash is known only at the end:
S3 uses a multipart upload (see :mod:`._s3`), memory collects the bytes, and other
filesystems spool to a local temporary file while hashing and then upload it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, BinaryIO, Final

import anyio
import anyio.to_thread

from ...errors import ArtifactError
from . import _s3
from ._backend import TMP_DIR, Digest, Staged, spool

__all__ = ("OBJECT_STORES", "FsspecBackend", "InlineAsync")

#: Protocols whose single PUT (and completed multipart upload) is atomic, with buckets.
OBJECT_STORES: Final = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "oci", "oss"})
_CLEANUP_TIMEOUT: Final = 30.0
#: Spooled streams are written in pieces of at least this size (one thread hop each).


class InlineAsync:
    """Async face of a synchronous filesystem that does no I/O (fsspec's memory one).

    ``await fs._name(...)`` calls ``fs.name(...)`` directly: a dict lookup does not
    need a worker thread.
    """

    def __init__(self, fs: Any) -> None:
        self.sync_fs = fs

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") or name.startswith("__"):
            raise AttributeError(name)
        method = getattr(self.sync_fs, name[1:])

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


def _spool_open() -> tuple[str, BinaryIO]:
    fd, path = tempfile.mkstemp(prefix="flowyml-spool-")
    return path, os.fdopen(fd, "wb")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


async def _close_clients(fs: Any) -> None:
    """Close the HTTP clients of a filesystem this backend made (adlfs, gcsfs), so none is
    left for a finalizer to close after the event loop is gone."""
    service = getattr(fs, "service_client", None)  # adlfs
    if service is not None and hasattr(service, "close"):
        await service.close()
    session = getattr(fs, "_session", None)  # gcsfs
    if session is not None and not getattr(session, "closed", True):
        await session.close()
    if type(fs).__module__.startswith("adlfs"):
        _detach_finalizers(fs)


def _detach_finalizers(fs: Any) -> None:
    """Drop the exit-time finalizers adlfs registers on ``fs``.

    adlfs closes its clients from ``weakref.finalize`` callbacks that call
    ``fsspec.asyn.sync`` on the filesystem's loop; an ``asynchronous=True`` filesystem has
    none, so at interpreter exit each one prints ``RuntimeError: Loop is not running``
    (fsspec/adlfs#495).  The clients are closed above, so the callbacks have nothing left
    to do.
    """
    registry: dict[Any, Any] = getattr(weakref.finalize, "_registry", {})
    for finalizer, info in list(registry.items()):
        if info.weakref() is fs:
            finalizer.detach()


class FsspecBackend:
    """Blobs under ``root`` (a path as the filesystem spells it, e.g. ``bucket/prefix``).

    :param make_fs: builds the async filesystem in :meth:`open` (owned: its session is
        opened and closed here); or pass ``fs`` for a ready filesystem owned by the caller.
    """

    def __init__(
        self,
        *,
        url: str,
        protocol: str,
        root: str,
        base_uri: str,
        make_fs: Callable[[], Awaitable[Any]] | None = None,
        fs: Any = None,
    ) -> None:
        self.url, self.protocol, self.root, self.base_uri = url, protocol, root, base_uri
        self._make_fs, self.fs = make_fs, fs
        self._atomic_put = protocol in OBJECT_STORES or protocol == "memory"
        self._object_store = protocol in OBJECT_STORES
        self._is_s3 = False

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if self.root else key

    async def open(self) -> None:
        if self._make_fs is not None:
            self.fs = await self._make_fs()
            if hasattr(self.fs, "set_session"):
                await self.fs.set_session()
        self._is_s3 = hasattr(self.fs, "_call_s3")
        if self._object_store:
            bucket = self.root.split("/", 1)[0]
            if self._is_s3:
                await _s3.check_bucket(self.fs, bucket, self.url)
            elif not await self.fs._exists(bucket):
                raise ArtifactError(
                    f"bucket {bucket!r} (artifact store {self.url!r}) does not exist; create "
                    f"it first or fix the URL; flowyml never creates buckets"
                )

    async def aclose(self) -> None:
        if self.fs is None:
            return
        if self.protocol == "memory":
            try:
                await self.fs._rm(self.root, recursive=True)
            except FileNotFoundError:
                pass
        elif self._make_fs is not None and self._is_s3:
            await _s3.close(self.fs)
        elif self._make_fs is not None:
            await _close_clients(self.fs)

    async def exists(self, key: str) -> bool:
        return bool(await self.fs._exists(self._path(key)))

    async def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if self._is_s3 and len(data) <= _s3.CONDITIONAL_PUT_LIMIT:
            # One request instead of HEAD + PUT: S3 itself refuses to overwrite.
            await _s3.put_if_absent(self.fs, path, data)
            return
        if await self.fs._exists(path):
            return
        if self._atomic_put:
            await self.fs._pipe_file(path, data)
            return
        await self.fs._makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        try:
            await self.fs._pipe_file(tmp, data)
            await self.fs._mv(tmp, path)
        except BaseException:
            with anyio.move_on_after(_CLEANUP_TIMEOUT, shield=True):
                await self._rm_quietly(tmp)
            raise

    async def _rm_quietly(self, path: str) -> None:
        try:
            await self.fs._rm_file(path)
        except FileNotFoundError:
            pass

    async def read(self, key: str) -> bytes:
        data = await self.fs._cat_file(self._path(key))
        return bytes(data)

    async def read_chunks(self, key: str, chunk_size: int) -> AsyncGenerator[bytes, None]:
        path = self._path(key)
        if self._is_s3:
            async for chunk in _s3.stream_object(self.fs, path, chunk_size):
                yield chunk
            return
        size = (await self.fs._info(path))["size"]
        for start in range(0, size, chunk_size):
            end = min(start + chunk_size, size)
            yield bytes(await self.fs._cat_file(path, start=start, end=end))

    async def write_stream(self, chunks: AsyncIterator[bytes], digest: Digest) -> Staged:
        if self._is_s3:
            return await _s3.stage_stream(self.fs, self.root, chunks, digest)
        if self.protocol == "memory":  # the data ends up in memory anyway
            buf = bytearray()
            async for chunk in chunks:
                await digest.aupdate(chunk)
                buf += chunk
            return Staged(data=bytes(buf))
        path, f = await anyio.to_thread.run_sync(_spool_open)
        return await spool(chunks, digest, path, f, self.discard)

    async def commit(self, staged: Staged, key: str) -> None:
        dest = self._path(key)
        if staged.data is not None:
            await self.write(key, staged.data)
        elif staged.key is not None:
            src = self._path(staged.key)
            if not await self.fs._exists(dest):
                await self.fs._cp_file(src, dest)
            await self._rm_quietly(src)
            staged.key = None
        elif staged.path is not None and not await self.fs._exists(dest):
            if self._atomic_put:
                await self.fs._put_file(staged.path, dest)
            else:
                await self.fs._makedirs(self._path(TMP_DIR), exist_ok=True)
                tmp_key = f"{TMP_DIR}/{uuid.uuid4().hex}"
                staged.key = tmp_key
                await self.fs._put_file(staged.path, self._path(tmp_key))
                await self.fs._makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
                await self.fs._mv(self._path(tmp_key), dest)
                staged.key = None
        await self.discard(staged)

    async def discard(self, staged: Staged) -> None:
        if staged.path is not None:
            await anyio.to_thread.run_sync(_remove, staged.path)
            staged.path = None
        if staged.key is not None:
            await self._rm_quietly(self._path(staged.key))
            staged.key = None
        staged.data = None

    async def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        try:
            found = await self.fs._find(base)
        except FileNotFoundError:
            return []
        root = self.root.strip("/")
        cut = len(root) + 1 if root else 0
        return sorted(str(p).strip("/")[cut:] for p in found)
