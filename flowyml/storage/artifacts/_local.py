"""Local-filesystem backend: plain ``os`` calls, one worker-thread hop per operation.

Why not fsspec here: ``fsspec.filesystem("file", asynchronous=True)`` is silently
synchronous, and the async wrappers (``AsyncFileSystemWrapper``, morefs) hop to a thread
once per *call*, so an atomic write (exists + write temp + rename) costs three hops.
Doing the whole operation in one hop is 2-3x faster for small blobs (thread hops cost
~0.3 ms on a small VM) and keeps ``os.replace`` semantics explicit.

Durability: blobs are written to a temporary name in the final folder and renamed with
:func:`os.replace`, so a reader (or a crash of this process) never sees a partial blob
under its final name.  There is no ``fsync``: data survives a killed process, not a
power cut that strikes before the kernel writes it back.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import BinaryIO

import anyio
import anyio.to_thread

from ._backend import TMP_DIR, Digest, Staged, spool

__all__ = ("LocalBackend", "absolute")

#: Streams are written in pieces of at least this size (one thread hop each).
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _tmp_name(folder: str) -> str:
    return os.path.join(folder, f".tmp-{uuid.uuid4().hex}")


def _write_atomic(path: str, data: bytes) -> None:
    if os.path.exists(path):
        return
    folder = os.path.dirname(path)
    tmp = _tmp_name(folder)
    try:
        fd = os.open(tmp, _CREATE, 0o666)
    except FileNotFoundError:  # first blob of this prefix: make its folder
        os.makedirs(folder, exist_ok=True)
        fd = os.open(tmp, _CREATE, 0o666)
    try:
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def absolute(path: str) -> str:
    """``os.path.abspath`` without asking for the working folder when ``path`` is absolute."""
    path = os.path.expanduser(path)
    return os.path.normpath(path) if os.path.isabs(path) else os.path.abspath(path)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _open_tmp(folder: str) -> tuple[str, BinaryIO]:
    os.makedirs(folder, exist_ok=True)
    path = _tmp_name(folder)
    return path, open(path, "xb")


def _commit(tmp: str, path: str) -> None:
    if os.path.exists(path):
        _unlink_quietly(tmp)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.replace(tmp, path)


def _list(folder: str, root: str) -> list[str]:
    keys: list[str] = []
    for dirpath, _dirs, files in os.walk(folder):
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        keys.extend(f"{rel}/{name}" for name in files)
    return sorted(keys)


class LocalBackend:
    """Blobs in a local folder (created on :meth:`open`)."""

    def __init__(self, root: str) -> None:
        self.root = absolute(root)
        self.base_uri = "file://" + self.root.replace(os.sep, "/")

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/"))

    async def open(self) -> None:
        await anyio.to_thread.run_sync(lambda: os.makedirs(self.root, exist_ok=True))

    async def aclose(self) -> None:
        return None

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(os.path.exists, self._path(key))

    async def write(self, key: str, data: bytes) -> None:
        await anyio.to_thread.run_sync(_write_atomic, self._path(key), data)

    async def read(self, key: str) -> bytes:
        return await anyio.to_thread.run_sync(_read, self._path(key))

    async def read_many(self, keys: list[str]) -> list[bytes]:
        """Read several blobs in one worker-thread hop (cache hits load many small values)."""
        paths = [self._path(k) for k in keys]
        return await anyio.to_thread.run_sync(lambda: [_read(p) for p in paths])

    async def read_chunks(self, key: str, chunk_size: int) -> AsyncGenerator[bytes, None]:
        f = await anyio.to_thread.run_sync(open, self._path(key), "rb")
        try:
            while chunk := await anyio.to_thread.run_sync(f.read, chunk_size):
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(f.close)

    async def write_stream(self, chunks: AsyncIterator[bytes], digest: Digest) -> Staged:
        path, f = await anyio.to_thread.run_sync(_open_tmp, self._path(TMP_DIR))
        return await spool(chunks, digest, path, f, self.discard)

    async def commit(self, staged: Staged, key: str) -> None:
        if staged.path is None:
            raise ValueError("nothing staged")  # pragma: no cover - internal misuse
        await anyio.to_thread.run_sync(_commit, staged.path, self._path(key))
        staged.path = None

    async def discard(self, staged: Staged) -> None:
        if staged.path is not None:
            await anyio.to_thread.run_sync(_unlink_quietly, staged.path)

    async def list(self, prefix: str) -> list[str]:
        return await anyio.to_thread.run_sync(_list, self._path(prefix), self.root)
