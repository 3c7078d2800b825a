"""Safe previews of artifacts: decoded only by code that cannot execute stored data.

JSON and text are decoded and truncated; a pandas DataFrame stored as Parquet shows its
columns and first rows (read with pyarrow, never through the materializer, which may fall
back to pickle).  Anything else (pickle above all) is described as ``binary`` with its
size: a preview never unpickles.
"""

from __future__ import annotations

import codecs
import functools
import importlib.util
import io
import math
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Final

import anyio.to_thread
import msgspec

from ..storage._protocols import ArtifactStore
from ..storage._records import ArtifactRecord

__all__ = ("build_preview",)

TEXT_LIMIT: Final = 64 * 1024
JSON_LIMIT: Final = 1024 * 1024
TABLE_LIMIT: Final = 32 * 1024 * 1024
TABLE_ROWS: Final = 20
MAX_ITEMS: Final = 100
MAX_NODES: Final = 2000
MAX_STRING: Final = 2000
MAX_DEPTH: Final = 20
_PARQUET_MAGIC: Final = b"PAR1"


async def _read_prefix(store: ArtifactStore, uri: str, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the blob, and whether there was more."""
    parts: list[bytes] = []
    total = 0
    chunks: AsyncIterator[bytes] = store.stream(uri, chunk_size=min(limit + 1, 1 << 20))
    async with aclosing(chunks):  # type: ignore[type-var]
        async for chunk in chunks:
            parts.append(chunk)
            total += len(chunk)
            if total > limit:
                break
    data = b"".join(parts)
    return data[:limit], total > limit


def _text(data: bytes) -> str:
    # An incremental decoder drops a multi-byte character cut in half at the end.
    return codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=False)


class _Truncator:
    def __init__(self) -> None:
        self.budget = MAX_NODES
        self.truncated = False

    def __call__(self, value: Any, depth: int = 0) -> Any:
        self.budget -= 1
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                self.truncated = True
                return value[:MAX_STRING] + "…"
            return value
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if not isinstance(value, list | dict):
            return value
        if depth >= MAX_DEPTH or self.budget <= 0:
            self.truncated = True
            return "…"
        if isinstance(value, list):
            out_list = []
            for i, item in enumerate(value):
                if i >= MAX_ITEMS or self.budget <= 0:
                    self.truncated = True
                    break
                out_list.append(self(item, depth + 1))
            return out_list
        out: dict[str, Any] = {}
        for i, (k, item) in enumerate(value.items()):
            if i >= MAX_ITEMS or self.budget <= 0:
                self.truncated = True
                break
            out[str(k)] = self(item, depth + 1)
        return out


def _json_preview(data: bytes) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return {
            "kind": "text",
            "content": _text(data[:TEXT_LIMIT]),
            "truncated": len(data) > TEXT_LIMIT,
        }
    cut = _Truncator()
    content = cut(value)
    return {"kind": "json", "content": content, "truncated": cut.truncated}


def _table_preview(data: bytes) -> dict[str, Any] | None:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(io.BytesIO(data))
        names = [str(n) for n in pf.schema_arrow.names]
        batch = next(pf.iter_batches(batch_size=TABLE_ROWS), None)
        rows = [] if batch is None else batch.to_pylist()
        total = int(pf.metadata.num_rows)
    except Exception:  # not a readable Parquet file after all: describe it as bytes
        return None
    # pandas stores its index as extra columns; they are data too, so they stay visible.
    cut = _Truncator()
    body = [
        [cut(msgspec.to_builtins(row.get(n), enc_hook=repr, str_keys=True)) for n in names]
        for row in rows[:TABLE_ROWS]
    ]
    return {
        "kind": "table",
        "content": {"columns": names, "rows": body, "total_rows": total},
        "truncated": total > len(body) or cut.truncated,
    }


@functools.cache
def _has_pyarrow() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def _binary(record: ArtifactRecord) -> dict[str, Any]:
    return {
        "kind": "binary",
        "content": {"size": record.size, "type_name": record.type_name},
        "truncated": False,
    }


async def build_preview(store: ArtifactStore, record: ArtifactRecord) -> dict[str, Any]:
    """The preview of ``record`` (``kind``, ``content``, ``truncated``).

    :raises ArtifactError: when the artifact store cannot be read
    """
    kind = record.materializer
    if kind == "str":
        data, more = await _read_prefix(store, record.uri, TEXT_LIMIT)
        return {"kind": "text", "content": _text(data), "truncated": more}
    if kind == "json":
        data, more = await _read_prefix(store, record.uri, JSON_LIMIT)
        if more:
            text = _text(data[:TEXT_LIMIT])
            return {"kind": "text", "content": text, "truncated": True}
        if len(data) > TEXT_LIMIT:
            return await anyio.to_thread.run_sync(_json_preview, data)
        return _json_preview(data)
    if kind == "pandas" and record.size <= TABLE_LIMIT and _has_pyarrow():
        head, _ = await _read_prefix(store, record.uri, 4)
        if head == _PARQUET_MAGIC:
            data, more = await _read_prefix(store, record.uri, TABLE_LIMIT)
            if not more:
                table = await anyio.to_thread.run_sync(_table_preview, data)
                if table is not None:
                    return table
    return _binary(record)
