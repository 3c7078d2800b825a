"""Content-addressed artifact store over the local disk or any fsspec filesystem."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import Any, Final, Self

import anyio

from ...errors import ArtifactError, FlowymlError
from .._protocols import BlobInfo
from ._backend import BLOB_DIR, TMP_DIR, Digest, blob_key, is_blob_key, sha256_hex
from ._inline import inline_bytes, is_inline
from ._local import LocalBackend, absolute
from ._urls import make_backend

__all__ = ("FsspecArtifactStore",)

_CLOSE_TIMEOUT: Final = 30.0


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class FsspecArtifactStore:
    """Stores bytes once per content: ``<root>/blobs/<sha256[:2]>/<sha256>``.

    The URL picks the filesystem: a path or ``file:///abs/path`` (local disk, the
    default), ``memory://name`` (this instance only; gone after :meth:`aclose`),
    ``s3://bucket/prefix`` (needs ``flowyml[s3]``; endpoint and keys from the standard
    ``AWS_*`` variables or ``storage_options``), or any other writable fsspec protocol
    whose package is installed (``gs://``, ``az://``, …).  Nothing happens until
    :meth:`open`; use it as ``async with FsspecArtifactStore(url) as store: ...``.

    Writes are atomic: nothing partial is ever visible under a blob's final name, even
    if the process is killed.  Blobs are immutable and assumed never to be deleted
    while a store is open: the store remembers which hashes it has seen stored, so
    storing the same bytes again costs no I/O at all.

    :param url: where the blobs live
    :param filesystem: an fsspec filesystem instance to use instead of building one from
        the URL (async ones must have been created with ``asynchronous=True``; the
        caller keeps ownership and closes it)
    :param storage_options: passed to the fsspec filesystem (e.g. ``key``, ``secret``,
        ``endpoint_url`` for S3)
    :raises UnsupportedURLError: when the URL's scheme is unknown or read-only
    :raises ArtifactError: when the scheme's package is not installed
    """

    def __init__(self, url: str, *, filesystem: Any = None, **storage_options: Any) -> None:
        self.url = url
        self._backend = make_backend(url, dict(storage_options), filesystem)
        self._state = _State.NEW
        self._known: set[str] = set()
        self._pending: dict[str, anyio.Event] = {}

    def __repr__(self) -> str:
        return f"FsspecArtifactStore({self.url!r})"

    @property
    def root_uri(self) -> str:
        """URI of the store's root folder; every blob URI starts with it."""
        return self._backend.base_uri

    def uri_for(self, content_hash: str) -> str:
        """Return the URI the blob with this sha256 hex digest has (or would have)."""
        return f"{self._backend.base_uri}/{blob_key(content_hash)}"

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        """Connect and check the location (an S3 bucket must already exist).

        :raises ArtifactError: when the location cannot be used; the message says why
        """
        if self._state is _State.OPEN:
            return
        if self._state is _State.CLOSED:
            raise ArtifactError(
                f"artifact store {self.url!r} was closed; create a new one with "
                f"open_artifact_store({self.url!r})"
            )
        try:
            await self._backend.open()
        except BaseException as exc:
            with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
                with contextlib.suppress(Exception):
                    await self._backend.aclose()
            if isinstance(exc, FlowymlError) or not isinstance(exc, Exception):
                raise
            raise ArtifactError(f"cannot open artifact store {self.url!r}: {exc}") from exc
        self._state = _State.OPEN

    async def aclose(self) -> None:
        """Release connections (and, for ``memory://``, the blobs).  Idempotent."""
        if self._state is _State.CLOSED:
            return
        was_open = self._state is _State.OPEN
        self._state = _State.CLOSED
        if was_open:
            with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
                await self._backend.aclose()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _check_open(self) -> None:
        if self._state is not _State.OPEN:
            how = "it was closed" if self._state is _State.CLOSED else "`await store.open()` first"
            raise ArtifactError(f"artifact store {self.url!r} is not open; {how}")

    def _key(self, uri: str) -> str:
        if "://" not in uri and isinstance(self._backend, LocalBackend):
            uri = "file://" + absolute(uri)
        base = self._backend.base_uri + "/"
        key = uri[len(base) :] if uri.startswith(base) else ""
        if not key or any(part in ("", ".", "..") for part in key.split("/")):
            raise ArtifactError(
                f"{uri!r} is not a location in artifact store {self.url!r} "
                f"(whose URIs start with {base!r})"
            )
        return key

    # ------------------------------------------------------------------ writes
    async def _publish(self, content_hash: str, write: Callable[[], Awaitable[None]]) -> None:
        # One writer per hash at a time; concurrent puts of the same bytes wait for it.
        while content_hash not in self._known:
            pending = self._pending.get(content_hash)
            if pending is not None:
                await pending.wait()
                continue
            event = self._pending[content_hash] = anyio.Event()
            try:
                await write()
                self._known.add(content_hash)
            finally:
                del self._pending[content_hash]
                event.set()

    async def put(self, data: bytes) -> BlobInfo:
        """Store ``data`` under its sha256 (once) and return where.

        :raises ArtifactError: when the write fails
        """
        self._check_open()
        if not isinstance(data, bytes):
            data = bytes(data)
        content_hash = await sha256_hex(data)
        info = BlobInfo(uri=self.uri_for(content_hash), content_hash=content_hash, size=len(data))
        if content_hash not in self._known:
            key = blob_key(content_hash)
            try:
                await self._publish(content_hash, lambda: self._backend.write(key, data))
            except Exception as exc:
                raise self._io_error("write", info.uri, exc) from exc
        return info

    async def put_stream(self, chunks: AsyncIterator[bytes]) -> BlobInfo:
        """Store a stream of bytes without holding it all in memory.

        The chunks go to a temporary location while being hashed, then move to their
        content address.  If the stream fails or is cancelled, nothing is left behind.

        :raises ArtifactError: when a write fails (errors raised by ``chunks`` propagate)
        """
        self._check_open()
        digest = Digest()
        staged = await self._backend.write_stream(chunks, digest)
        try:
            content_hash = digest.hexdigest()
            uri = self.uri_for(content_hash)
            if content_hash not in self._known:
                key = blob_key(content_hash)
                try:
                    await self._publish(content_hash, lambda: self._backend.commit(staged, key))
                except Exception as exc:
                    raise self._io_error("write", uri, exc) from exc
        finally:
            with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
                await self._backend.discard(staged)
        return BlobInfo(uri=uri, content_hash=content_hash, size=digest.size)

    # ------------------------------------------------------------------ reads
    def _io_error(self, what: str, uri: str, exc: Exception) -> ArtifactError:
        if isinstance(exc, ArtifactError):
            return exc
        if isinstance(exc, FileNotFoundError) and what != "write":
            return ArtifactError(
                f"artifact {uri!r} does not exist in artifact store {self.url!r}; it was "
                f"deleted or written to another store"
            )
        return ArtifactError(f"cannot {what} artifact {uri!r} in store {self.url!r}: {exc}")

    async def get(self, uri: str) -> bytes:
        """Return the bytes stored at ``uri``.

        :raises ArtifactError: when ``uri`` does not exist or cannot be read
        """
        self._check_open()
        if is_inline(uri):
            return inline_bytes(uri)
        key = self._key(uri)
        try:
            return await self._backend.read(key)
        except Exception as exc:
            raise self._io_error("read", uri, exc) from exc

    async def get_many(self, uris: Sequence[str]) -> list[bytes]:
        """Return the bytes of several artifacts, in order (batched where the filesystem
        allows: one worker-thread hop on local disk, bounded concurrency elsewhere).

        :raises ArtifactError: when one of them does not exist or cannot be read
        """
        self._check_open()
        keys = [self._key(u) for u in uris if not is_inline(u)]
        read_many = getattr(self._backend, "read_many", None)
        if read_many is not None and len(keys) == len(uris):
            try:
                data: list[bytes] = await read_many(keys)
                return data
            except Exception as exc:
                raise self._io_error("read", ", ".join(uris[:3]), exc) from exc
        out: list[bytes] = [b""] * len(uris)
        errors: list[ArtifactError] = []
        limiter = anyio.CapacityLimiter(32)

        async def one(i: int) -> None:
            async with limiter:
                try:
                    out[i] = await self.get(uris[i])
                except ArtifactError as exc:
                    errors.append(exc)

        async with anyio.create_task_group() as tg:
            for i in range(len(uris)):
                tg.start_soon(one, i)
        if errors:
            raise errors[0]
        return out

    async def stream(self, uri: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Yield the bytes stored at ``uri`` in chunks of at most ``chunk_size``.

        :raises ArtifactError: when ``uri`` does not exist or cannot be read
        """
        self._check_open()
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        if is_inline(uri):
            data = inline_bytes(uri)
            for start in range(0, len(data), chunk_size):
                yield data[start : start + chunk_size]
            return
        key = self._key(uri)
        try:
            async with aclosing(self._backend.read_chunks(key, chunk_size)) as chunks:
                async for chunk in chunks:
                    yield chunk
        except Exception as exc:
            raise self._io_error("read", uri, exc) from exc

    async def exists(self, uri: str) -> bool:
        """Whether something is stored at ``uri`` (an inline ``data:`` URI always is)."""
        self._check_open()
        if is_inline(uri):
            inline_bytes(uri)  # a corrupt one raises
            return True
        key = self._key(uri)
        content_hash = is_blob_key(key)
        if content_hash is not None and content_hash in self._known:
            return True
        try:
            return await self._backend.exists(key)
        except Exception as exc:
            raise self._io_error("check", uri, exc) from exc

    async def list_blobs(self) -> list[str]:
        """Return the URIs of all stored blobs, sorted (one listing; can be slow)."""
        self._check_open()
        keys = await self._backend.list(BLOB_DIR)
        return [f"{self._backend.base_uri}/{k}" for k in keys if is_blob_key(k)]

    async def list_temporary(self) -> list[str]:
        """Return the URIs of temporary objects (writes in progress or left by a crash)."""
        self._check_open()
        blobs = await self._backend.list(BLOB_DIR)
        tmp = await self._backend.list(TMP_DIR)
        base = self._backend.base_uri
        return [f"{base}/{k}" for k in [*tmp, *blobs] if not is_blob_key(k)]
