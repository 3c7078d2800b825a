"""Values <-> stored artifacts: pick a materializer, serialise off the loop, store the bytes."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from typing import Any, Final

import anyio.to_thread

from ...errors import SerializationError
from ...events import ArtifactRef
from .._protocols import ArtifactStore, Materializer
from .._records import ArtifactRecord
from ._inline import INLINE_MAX, inline_bytes, inline_uri, is_inline
from ._materializers import (
    SCALAR_TYPES,
    BytesMaterializer,
    JsonMaterializer,
    MaterializerRegistry,
    StrMaterializer,
    materializer_metadata,
    serialization_error,
    type_name_of,
)

__all__ = ("artifact_id", "load_value", "load_values", "save_value")

#: Materializers cheap enough to run on the event loop for small values.
_INLINE_TYPES: Final = (BytesMaterializer, StrMaterializer, JsonMaterializer)
#: ``type_name_of`` of the common output types, formatted once
_TYPE_NAMES: Final = {type(v): type_name_of(v) for v in (None, False, 0, 0.0, "", b"")}
#: "Small": at most this many bytes of strings and this many container items, so that
#: serialising on the loop costs a few microseconds (a thread hop costs ~100-300 us).
_SMALL_BYTES: Final = 64 * 1024
_SMALL_ITEMS: Final = 256


def _is_small(value: Any) -> bool:
    items, size = _SMALL_ITEMS, _SMALL_BYTES
    stack = [value]
    while stack:
        item = stack.pop()
        items -= 1
        if items < 0:
            return False
        cls = type(item)
        if cls is str or cls is bytes or cls is bytearray:
            size -= len(item)
            if size < 0:
                return False
        elif cls is memoryview:
            size -= item.nbytes
            if size < 0:
                return False
        elif cls is list or cls is tuple:
            stack.extend(item)
        elif cls is dict:
            stack.extend(item)
            stack.extend(item.values())
        elif not (cls is int or cls is float or cls is bool or item is None):
            return False
    return True


def artifact_id(content_hash: str, seed: str, stamp: str = "") -> str:
    """Return the artifact id for bytes with ``content_hash`` produced at ``seed``.

    ``seed`` is ``"run_id/step/output"``: equal bytes from two steps share one blob but
    get distinct ids.  32 hex digits: ``stamp`` (a run passes the 12 hex digits of
    :func:`flowyml._ids.time_stamp` of the moment it stores the value) followed by sha256
    digits.  With the stamp, ids sort by the time they were made, so the metadata store
    inserts them at the end of its index instead of all over it (see docs/storage.md, "Ids").
    """
    digest = hashlib.sha256(f"{content_hash}\0{seed}".encode()).hexdigest()
    return stamp + digest[: 32 - len(stamp)]


def _dump(
    materializer: Materializer, value: Any, type_name: str, step: str | None, name: str
) -> tuple[bytes, dict[str, Any]]:
    try:
        data = materializer.dumps(value)
    except SerializationError:
        raise
    except Exception as exc:
        raise serialization_error(type_name, exc, step=step, name=name) from exc
    if not isinstance(data, bytes | bytearray | memoryview):
        raise serialization_error(
            type_name,
            f"materializer {materializer.name!r} returned {type(data).__name__}, not bytes",
            step=step,
            name=name,
        )
    metadata: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # metadata is a nicety: never fail a step over it
        metadata = materializer_metadata(materializer, value)
    return (data if type(data) is bytes else bytes(data)), metadata


def _select_and_dump(
    registry: MaterializerRegistry, value: Any, type_name: str, step: str | None, name: str
) -> tuple[Materializer, bytes, dict[str, Any]]:
    materializer = registry.for_value(value, step=step, name=name)
    return (materializer, *_dump(materializer, value, type_name, step, name))


async def save_value(
    store: ArtifactStore,
    registry: MaterializerRegistry,
    value: Any,
    *,
    artifact_id_seed: str,
    name: str,
    step: str | None = None,
    id_stamp: str = "",
) -> ArtifactRef:
    """Serialise ``value`` and store it; return the reference to record.

    Small ``bytes``/``str``/JSON values are serialised on the event loop; anything else
    (including choosing the materializer, which may walk a big structure) runs in a
    worker thread.

    :param store: an opened artifact store
    :param registry: materializers to choose from
    :param artifact_id_seed: ``"run_id/step/output"``, mixed into the artifact id
    :param id_stamp: the first digits of the id (see :func:`artifact_id`)
    :param name: the output's name (recorded, and used in error messages)
    :param step: the producing step's name, for error messages
    :raises SerializationError: when no materializer can serialise ``value`` (naming
        its type, the step and the output)
    :raises ArtifactError: when the store fails
    """
    return await _save(store, registry, value, artifact_id_seed, name, step, id_stamp)


async def _save(
    store: ArtifactStore,
    registry: MaterializerRegistry,
    value: Any,
    artifact_id_seed: str,
    name: str,
    step: str | None,
    id_stamp: str,
) -> ArtifactRef:
    cls = type(value)
    type_name = _TYPE_NAMES.get(cls) or type_name_of(value)
    # A scalar is small without walking it (a str up to _SMALL_BYTES characters; bytes of
    # any size, which the bytes materializer does not copy).
    if cls in SCALAR_TYPES and (cls is not str or len(value) <= _SMALL_BYTES) or _is_small(value):
        materializer = registry.for_value(value, step=step, name=name)
        if isinstance(materializer, _INLINE_TYPES):
            data, metadata = _dump(materializer, value, type_name, step, name)
        else:
            data, metadata = await anyio.to_thread.run_sync(
                _dump, materializer, value, type_name, step, name
            )
    else:
        materializer, data, metadata = await anyio.to_thread.run_sync(
            _select_and_dump, registry, value, type_name, step, name
        )
    if len(data) <= INLINE_MAX:  # kept in the metadata row (see _inline)
        content_hash, uri = hashlib.sha256(data).hexdigest(), inline_uri(data)
    else:
        info = await store.put(data)
        content_hash, uri = info.content_hash, info.uri
    return ArtifactRef(
        id=artifact_id(content_hash, artifact_id_seed, id_stamp),
        name=name,
        uri=uri,
        type_name=type_name,
        materializer=materializer.name,
        size=len(data),
        content_hash=content_hash,
        metadata=metadata,
    )


async def _read_all(store: ArtifactStore, uris: list[str]) -> list[bytes]:
    """The bytes of ``uris``: inline ones decoded, the others read from ``store``."""
    blobs = [inline_bytes(u) if is_inline(u) else b"" for u in uris]
    stored = [i for i, u in enumerate(uris) if not is_inline(u)]
    if not stored:
        return blobs
    get_many = getattr(store, "get_many", None)
    if get_many is not None:
        read: list[bytes] = await get_many([uris[i] for i in stored])
    else:
        read = [await store.get(uris[i]) for i in stored]
    for i, data in zip(stored, read, strict=True):
        blobs[i] = data
    return blobs


def _load(materializer: Materializer, data: bytes, ref: ArtifactRef | ArtifactRecord) -> Any:
    try:
        return materializer.loads(data, ref.type_name)
    except Exception as exc:
        raise SerializationError(
            f"cannot load artifact {ref.id!r} ({ref.type_name!r}, materializer "
            f"{ref.materializer!r}) from {ref.uri!r}: {exc}; was it written by another "
            f"version of its materializer or library?"
        ) from exc


async def load_value(
    store: ArtifactStore,
    registry: MaterializerRegistry,
    ref: ArtifactRef | ArtifactRecord,
) -> Any:
    """Read an artifact's bytes and turn them back into the value that was saved.

    :raises SerializationError: when its materializer is not registered or fails
    :raises ArtifactError: when the bytes cannot be read
    """
    materializer = registry.get(ref.materializer)
    data = inline_bytes(ref.uri) if is_inline(ref.uri) else await store.get(ref.uri)
    if isinstance(materializer, _INLINE_TYPES) and len(data) <= _SMALL_BYTES:
        return _load(materializer, data, ref)
    return await anyio.to_thread.run_sync(_load, materializer, data, ref)


async def load_values(
    store: ArtifactStore,
    registry: MaterializerRegistry,
    refs: Sequence[ArtifactRef | ArtifactRecord],
) -> list[Any]:
    """Load several artifacts, in order, with as few worker-thread hops as possible.

    Uses the store's ``get_many`` when it has one; small bytes/str/JSON values are decoded
    on the loop, everything else in one worker-thread call.
    """
    blobs = await _read_all(store, [r.uri for r in refs])
    values: list[Any] = [None] * len(refs)
    heavy: list[int] = []
    for i, (ref, data) in enumerate(zip(refs, blobs, strict=True)):
        materializer = registry.get(ref.materializer)
        if isinstance(materializer, _INLINE_TYPES) and len(data) <= _SMALL_BYTES:
            values[i] = _load(materializer, data, ref)
        else:
            heavy.append(i)
    if heavy:

        def decode() -> None:
            for i in heavy:
                values[i] = _load(registry.get(refs[i].materializer), blobs[i], refs[i])

        await anyio.to_thread.run_sync(decode)
    return values
