"""Conformance tests every :class:`~flowyml.storage.ArtifactStore` must pass.

Subclass :class:`ArtifactStoreSuite` in a test module and provide an async ``store``
fixture that yields an *opened*, empty store::

    class TestMyStore(ArtifactStoreSuite):
        @pytest.fixture
        async def store(self) -> AsyncIterator[ArtifactStore]:
            async with MyStore(...) as s:
                yield s

Stores other than :class:`~flowyml.storage.artifacts.FsspecArtifactStore` override
:meth:`~ArtifactStoreSuite.list_blobs` and :meth:`~ArtifactStoreSuite.list_temporary`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import socket
import threading
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from typing import Any, ClassVar

import anyio
import pytest

from ..errors import ArtifactError, SerializationError
from ..storage._protocols import ArtifactStore
from ..storage.artifacts import default_registry, load_value, save_value

__all__ = ("ROUND_TRIPS", "ArtifactStoreSuite", "RoundTrip", "unserialisable_values")

MiB = 1 << 20


async def _random_chunks(total: int, chunk: int, digest: Any) -> AsyncIterator[bytes]:
    """Yield ``total`` random bytes, feeding them to ``digest`` (nothing is kept)."""
    sent = 0
    while sent < total:
        piece = os.urandom(min(chunk, total - sent))
        digest.update(piece)
        sent += len(piece)
        yield piece


# --------------------------------------------------------------------------- values


@dataclasses.dataclass(frozen=True)
class Point:
    """A user type with no materializer of its own (pickled)."""

    x: int
    y: int


def _equal(a: Any, b: Any) -> None:
    assert a == b


def _same_bytes(a: Any, b: Any) -> None:
    assert bytes(a) == bytes(b)


def _negative_zero(a: Any, b: Any) -> None:
    assert b == 0.0 and math.copysign(1.0, b) == -1.0


def _nan(a: Any, b: Any) -> None:
    assert math.isnan(b)


def _same_function(a: Any, b: Any) -> None:
    assert b(21) == a(21)


def _arrays(a: Any, b: Any) -> None:
    import numpy as np

    assert (a.dtype, a.shape) == (b.dtype, b.shape)
    np.testing.assert_array_equal(a, b)


def _frames(a: Any, b: Any) -> None:
    import pandas as pd

    pd.testing.assert_frame_equal(a, b)


def _numpy(kind: str) -> Any:
    import numpy as np

    if kind == "2d":
        return np.arange(12, dtype=np.float32).reshape(3, 4)
    if kind == "0d":
        return np.array(3.5)
    if kind == "structured":
        return np.array([(1, 2.0), (3, 4.5)], dtype=[("a", "i4"), ("b", "f8")])
    return np.array([{"a": 1}, None], dtype=object)


def _frame(kind: str) -> Any:
    import pandas as pd

    if kind == "mixed":
        return pd.DataFrame(
            {
                "i": [1, 2, 3],
                "f": [0.5, None, 2.0],
                "t": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
                "c": pd.Categorical(["a", "b", "a"]),
            },
            index=[10, 20, 30],
        )
    return pd.DataFrame({"o": [{"a": 1}, [1, 2]]})  # object column: pickled


@dataclasses.dataclass(frozen=True)
class RoundTrip:
    """A value, the materializer expected to store it, and how to compare it."""

    id: str
    make: Callable[[], Any]
    materializer: str
    check: Callable[[Any, Any], None] = _equal


ROUND_TRIPS: tuple[RoundTrip, ...] = (
    RoundTrip("bytes", lambda: b"\x00\xffraw", "bytes"),
    RoundTrip("empty-bytes", lambda: b"", "bytes"),
    RoundTrip("bytearray", lambda: bytearray(b"ba"), "bytes"),
    RoundTrip("memoryview", lambda: memoryview(b"mv"), "bytes", _same_bytes),
    RoundTrip("str", lambda: "h\u00e9llo \u2713 \ud800", "str"),
    RoundTrip("large-str", lambda: "x" * 300_000, "str"),
    RoundTrip("int", lambda: 42, "json"),
    RoundTrip("big-int", lambda: -(2**100), "json"),
    RoundTrip("float", lambda: 0.1, "json"),
    RoundTrip("negative-zero", lambda: -0.0, "json", _negative_zero),
    RoundTrip("bool", lambda: True, "json"),
    RoundTrip("none", lambda: None, "json"),
    RoundTrip("nested", lambda: {"a": [1, 2.5, None, {"b": "c"}], "t": True}, "json"),
    RoundTrip("tuple", lambda: (1, "a", [2.0]), "json"),
    RoundTrip("large-list", lambda: list(range(100_000)), "json"),
    RoundTrip("nan", lambda: float("nan"), "pickle", _nan),
    RoundTrip("inf-in-list", lambda: [1.0, float("inf")], "pickle"),
    RoundTrip("nested-tuple", lambda: [(1, 2)], "pickle"),
    RoundTrip("int-keys", lambda: {1: "a"}, "pickle"),
    RoundTrip("set", lambda: {1, 2, 3}, "pickle"),
    RoundTrip("dataclass", lambda: Point(1, 2), "pickle"),
    RoundTrip("lambda", lambda: lambda x: x * 2, "pickle", _same_function),
    RoundTrip("numpy-2d", lambda: _numpy("2d"), "numpy", _arrays),
    RoundTrip("numpy-0d", lambda: _numpy("0d"), "numpy", _arrays),
    RoundTrip("numpy-structured", lambda: _numpy("structured"), "numpy", _arrays),
    RoundTrip("numpy-object", lambda: _numpy("object"), "pickle", _arrays),
    RoundTrip("dataframe", lambda: _frame("mixed"), "pandas", _frames),
    RoundTrip("dataframe-objects", lambda: _frame("objects"), "pandas", _frames),
)


def _generator() -> Iterator[int]:
    yield 1


def lock() -> Any:
    """A lock: cannot be pickled."""
    return threading.Lock()


def generator() -> Any:
    """A running generator: cannot be pickled."""
    return _generator()


def open_socket() -> Any:
    """A socket: cannot be pickled (closed by the test)."""
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def unserialisable_values() -> list[Callable[[], Any]]:
    """Factories of values that no built-in materializer can store."""
    return [lock, generator, open_socket]


class ArtifactStoreSuite:
    """The behaviour the runner relies on: content addressing, dedupe, atomicity."""

    #: Size of the streamed round trip (S3 runs use > 64 MiB to exercise multipart).
    stream_size: ClassVar[int] = 4 * MiB + 1
    #: Peak Python memory allowed while streaming ``stream_size`` (``None``: unchecked,
    #: e.g. for an in-memory store, which holds the data by design).
    stream_memory_limit: ClassVar[int | None] = 32 * MiB
    #: Data sent before a stream fails: above one S3 multipart part, so a part is uploaded.
    failing_stream_size: ClassVar[int] = 9 * MiB
    #: Small artifacts stored concurrently (lower for emulators that serve one request at
    #: a time).
    concurrent_puts: ClassVar[int] = 500

    async def list_blobs(self, store: Any) -> list[str]:
        """URIs of all committed blobs."""
        return list(await store.list_blobs())

    async def list_temporary(self, store: Any) -> list[str]:
        """URIs of temporary objects (there must be none after a failed write)."""
        return list(await store.list_temporary())

    # ----------------------------------------------------------------- put/get
    async def test_put_get_round_trip(self, store: ArtifactStore) -> None:
        data = b"hello, artifacts"
        info = await store.put(data)
        assert info.content_hash == hashlib.sha256(data).hexdigest()
        assert info.size == len(data)
        assert info.uri.endswith(f"/blobs/{info.content_hash[:2]}/{info.content_hash}")
        assert await store.get(info.uri) == data
        assert await store.exists(info.uri)

    async def test_put_empty_and_bytearray(self, store: ArtifactStore) -> None:
        empty = await store.put(b"")
        assert await store.get(empty.uri) == b""
        info = await store.put(bytearray(b"abc"))  # type: ignore[arg-type]
        assert await store.get(info.uri) == b"abc"

    async def test_dedupe_same_bytes_stored_once(self, store: ArtifactStore) -> None:
        first = await store.put(b"same bytes")
        second = await store.put(b"same bytes")
        other = await store.put(b"other bytes")
        assert first == second
        assert other.uri != first.uri
        assert sorted(await self.list_blobs(store)) == sorted([first.uri, other.uri])

    async def test_concurrent_puts_of_same_bytes(self, store: ArtifactStore) -> None:
        data = os.urandom(2048)
        infos = []

        async def put() -> None:
            infos.append(await store.put(data))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(put)
        assert len({i.uri for i in infos}) == 1
        assert await self.list_blobs(store) == [infos[0].uri]
        assert await self.list_temporary(store) == []

    async def test_many_small_artifacts_concurrently(self, store: ArtifactStore) -> None:
        limiter = anyio.CapacityLimiter(32)
        n = self.concurrent_puts
        blobs = [f"artifact {i}".encode() for i in range(n)]
        uris: dict[int, str] = {}

        async def put(i: int) -> None:
            async with limiter:
                uris[i] = (await store.put(blobs[i])).uri

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i in range(len(blobs)):
                    tg.start_soon(put, i)
        assert len(await self.list_blobs(store)) == n
        for i in (0, n // 3, n - 1):
            assert await store.get(uris[i]) == blobs[i]

    async def test_missing_blob(self, store: ArtifactStore) -> None:
        info = await store.put(b"present")
        prefix = info.uri[: -len(f"{info.content_hash[:2]}/{info.content_hash}")]
        missing = f"{prefix}00/{'0' * 64}"
        assert not await store.exists(missing)
        with pytest.raises(ArtifactError, match="does not exist"):
            await store.get(missing)
        with pytest.raises(ArtifactError, match="does not exist"):
            async with aclosing(store.stream(missing)) as chunks:  # type: ignore[type-var]
                async for _ in chunks:
                    pass

    async def test_foreign_uri_rejected(self, store: ArtifactStore) -> None:
        info = await store.put(b"x")
        for bad in ("nowhere://a/b", info.uri.rsplit("/blobs/", 1)[0] + "/../etc/passwd"):
            with pytest.raises(ArtifactError, match="is not a location"):
                await store.get(bad)

    # ----------------------------------------------------------------- streams
    async def test_stream_chunks(self, store: ArtifactStore) -> None:
        data = os.urandom(300_000)
        info = await store.put(data)
        got = [c async for c in store.stream(info.uri, chunk_size=65_536)]
        assert b"".join(got) == data
        assert all(0 < len(c) <= 65_536 for c in got)

    async def test_put_stream_small_and_dedupe_with_put(self, store: ArtifactStore) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for piece in (b"ab", b"", b"cd", bytearray(b"ef")):
                yield bytes(piece)

        streamed = await store.put_stream(chunks())
        assert streamed == await store.put(b"abcdef")
        assert await store.get(streamed.uri) == b"abcdef"
        assert await self.list_blobs(store) == [streamed.uri]
        assert await self.list_temporary(store) == []

    async def test_put_stream_large_round_trip(self, store: ArtifactStore) -> None:
        sent = hashlib.sha256()
        limit = self.stream_memory_limit
        if limit is not None:
            tracemalloc.start()
        try:
            with anyio.fail_after(120):
                info = await store.put_stream(_random_chunks(self.stream_size, MiB, sent))
                assert info.size == self.stream_size
                assert info.content_hash == sent.hexdigest()
                back, size = hashlib.sha256(), 0
                async with aclosing(store.stream(info.uri)) as chunks:  # type: ignore[type-var]
                    async for chunk in chunks:
                        back.update(chunk)
                        size += len(chunk)
            peak = tracemalloc.get_traced_memory()[1] if limit is not None else 0
        finally:
            if limit is not None:
                tracemalloc.stop()
        assert (size, back.hexdigest()) == (self.stream_size, sent.hexdigest())
        if limit is not None:
            assert peak < limit, f"streaming {self.stream_size} bytes peaked at {peak} bytes"
        assert await self.list_temporary(store) == []

    async def test_failed_put_stream_leaves_nothing(self, store: ArtifactStore) -> None:
        before = await self.list_blobs(store)

        async def failing() -> AsyncIterator[bytes]:
            async for chunk in _random_chunks(self.failing_stream_size, MiB, hashlib.sha256()):
                yield chunk
            raise RuntimeError("producer failed")

        with anyio.fail_after(60), pytest.raises(RuntimeError, match="producer failed"):
            await store.put_stream(failing())
        assert await self.list_blobs(store) == before
        assert await self.list_temporary(store) == []

    async def test_cancelled_put_stream_leaves_nothing(self, store: ArtifactStore) -> None:
        before = await self.list_blobs(store)
        blocked, never = anyio.Event(), anyio.Event()

        async def stalling() -> AsyncIterator[bytes]:
            async for chunk in _random_chunks(self.failing_stream_size, MiB, hashlib.sha256()):
                yield chunk
            blocked.set()
            await never.wait()
            yield b"never sent"

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(store.put_stream, stalling())
                await blocked.wait()
                tg.cancel_scope.cancel()
        assert await self.list_blobs(store) == before
        assert await self.list_temporary(store) == []

    # ----------------------------------------------------------------- values
    @pytest.mark.parametrize("case", ROUND_TRIPS, ids=lambda c: c.id)
    async def test_value_round_trip(self, store: ArtifactStore, case: RoundTrip) -> None:
        # Building the value may import numpy/pandas: not on the event loop.
        value = await anyio.to_thread.run_sync(case.make)
        registry = default_registry()
        ref = await save_value(store, registry, value, artifact_id_seed="run/step/out", name="out")
        assert ref.materializer == case.materializer
        assert (ref.name, ref.type_name) == (
            "out",
            f"{type(value).__module__}.{type(value).__qualname__}",
        )
        back = await load_value(store, registry, ref)
        assert type(back) is type(value)
        await anyio.to_thread.run_sync(case.check, value, back)

    async def test_equal_values_share_a_blob_not_an_id(self, store: ArtifactStore) -> None:
        registry = default_registry()
        a = await save_value(store, registry, [1, 2], artifact_id_seed="r/a/x", name="x")
        b = await save_value(store, registry, [1, 2], artifact_id_seed="r/b/x", name="x")
        assert a.uri == b.uri and a.content_hash == b.content_hash
        assert a.id != b.id

    @pytest.mark.parametrize("factory", unserialisable_values(), ids=lambda f: f.__name__)
    async def test_unserialisable_value(
        self, store: ArtifactStore, factory: Callable[[], Any]
    ) -> None:
        value = factory()
        try:
            with pytest.raises(SerializationError) as info:
                await save_value(
                    store,
                    default_registry(),
                    value,
                    artifact_id_seed="r/train/model",
                    name="model",
                    step="train",
                )
        finally:
            close = getattr(value, "close", None)
            if close is not None:
                close()
        message = str(info.value)
        assert type(value).__qualname__ in message
        assert "'train'" in message and "'model'" in message
        assert await self.list_blobs(store) == []
