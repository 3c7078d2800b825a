"""What :class:`FsspecArtifactStore` needs from a filesystem, and helpers shared by backends.

A backend works with *keys*: ``/``-separated paths relative to the store's root
(``blobs/ab/ab12…``, ``tmp/<uuid>``).  Every method is a coroutine that never blocks
the event loop; each backend decides how (native async I/O or one worker-thread hop
per operation).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import BinaryIO, Final, Protocol

import anyio
import anyio.to_thread

__all__ = (
    "BLOB_DIR",
    "HASH_INLINE_LIMIT",
    "TMP_DIR",
    "Backend",
    "Digest",
    "Staged",
    "blob_key",
    "is_blob_key",
    "rechunk",
    "sha256_hex",
)

BLOB_DIR: Final = "blobs"
TMP_DIR: Final = "tmp"
#: Hash on the event loop up to this size; larger data is hashed in a worker thread.
#: sha256 runs at ~1.5 GB/s here, so 256 KiB costs ~0.2 ms, about half a thread hop.
HASH_INLINE_LIMIT: Final = 256 * 1024

_BLOB_KEY = re.compile(r"^blobs/([0-9a-f]{2})/([0-9a-f]{64})$")


def blob_key(content_hash: str) -> str:
    """Return the key of the blob with this sha256 hex digest."""
    return f"{BLOB_DIR}/{content_hash[:2]}/{content_hash}"


def is_blob_key(key: str) -> str | None:
    """Return the content hash if ``key`` names a committed blob, else ``None``."""
    m = _BLOB_KEY.match(key)
    if m is None or not m.group(2).startswith(m.group(1)):
        return None
    return m.group(2)


async def sha256_hex(data: bytes) -> str:
    """Hash ``data``; in a worker thread when it is large (hashlib releases the GIL)."""
    if len(data) <= HASH_INLINE_LIMIT:
        return hashlib.sha256(data).hexdigest()
    return await anyio.to_thread.run_sync(_hexdigest, data)


def _hexdigest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(slots=True, eq=False)
class Digest:
    """A running sha256 and byte count over a stream."""

    _hash: hashlib._Hash = field(default_factory=hashlib.sha256)
    size: int = 0

    def update(self, chunk: bytes) -> None:
        """Add ``chunk`` (call from one thread at a time)."""
        self._hash.update(chunk)
        self.size += len(chunk)

    async def aupdate(self, chunk: bytes) -> None:
        """Add ``chunk``, hashing it in a worker thread when it is large."""
        if len(chunk) <= HASH_INLINE_LIMIT:
            self.update(chunk)
        else:
            await anyio.to_thread.run_sync(self.update, chunk)

    def hexdigest(self) -> str:
        """Return the sha256 hex digest of everything added so far."""
        return self._hash.hexdigest()


@dataclass(slots=True, eq=False)
class Staged:
    """Data written by :meth:`Backend.write_stream` but not yet published.

    Exactly one of ``key`` (a temporary object), ``path`` (a local spool file) or
    ``data`` (small enough to keep in memory) is set.
    """

    key: str | None = None
    path: str | None = None
    data: bytes | None = None


async def rechunk(chunks: AsyncIterator[bytes], min_size: int) -> AsyncGenerator[bytes, None]:
    """Coalesce ``chunks`` into pieces of at least ``min_size`` bytes (the last may be smaller).

    Large chunks pass through uncopied; small ones are joined so that a backend does
    one write (one thread hop, one request) per piece rather than per tiny chunk.
    """
    buf = bytearray()
    async for chunk in chunks:
        if not buf and len(chunk) >= min_size:
            yield bytes(chunk)
            continue
        buf += chunk
        if len(buf) >= min_size:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


class Backend(Protocol):
    """Filesystem operations the store needs, on keys relative to the root."""

    #: URL of the root; a key's URI is ``f"{base_uri}/{key}"``.
    base_uri: str

    async def open(self) -> None:
        """Connect and check the root is usable.  Raises ArtifactError."""

    async def aclose(self) -> None:
        """Release connections."""

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    async def write(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically, unless ``key`` already exists."""

    async def read(self, key: str) -> bytes:
        """Return the object's bytes.  Raises FileNotFoundError."""

    def read_chunks(self, key: str, chunk_size: int) -> AsyncGenerator[bytes, None]:
        """Yield the object's bytes in pieces of at most ``chunk_size``."""
        ...

    async def write_stream(self, chunks: AsyncIterator[bytes], digest: Digest) -> Staged:
        """Write ``chunks`` somewhere temporary while feeding them to ``digest``.

        Cleans up after itself if it fails or is cancelled.
        """
        ...

    async def commit(self, staged: Staged, key: str) -> None:
        """Publish staged data under ``key`` atomically (or drop it if ``key`` exists)."""

    async def discard(self, staged: Staged) -> None:
        """Delete staged data.  Idempotent and safe to call after a failed commit."""

    async def list(self, prefix: str) -> list[str]:
        """Return the keys of all objects under ``prefix`` (recursively)."""
        ...


#: Bytes written per worker-thread hop when spooling a stream to a file.
SPOOL_PIECE: Final = 1 << 20


def _write_and_hash(f: BinaryIO, digest: Digest, chunk: bytes) -> None:
    digest.update(chunk)
    f.write(chunk)


async def spool(
    chunks: AsyncIterator[bytes],
    digest: Digest,
    path: str,
    f: BinaryIO,
    discard: Callable[[Staged], Awaitable[None]],
) -> Staged:
    """Write ``chunks`` to the open temporary file ``f`` (at ``path``) while hashing them.

    The file is always closed; on any error or cancellation the staged file is discarded
    (shielded) before the exception propagates.
    """
    staged = Staged(path=path)
    try:
        try:
            async with aclosing(rechunk(chunks, SPOOL_PIECE)) as pieces:
                async for piece in pieces:
                    await anyio.to_thread.run_sync(_write_and_hash, f, digest, piece)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(f.close)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await discard(staged)
        raise
    return staged
