"""The materializer of :class:`~flowyml.Asset` values: a small header, then the wrapped
value's own bytes (stored by whichever materializer handles that value)."""

from __future__ import annotations

import contextlib
import importlib
import struct
from typing import Any

import msgspec

from ...assets import Asset, _qualname
from ._materializers import MaterializerRegistry, materializer_metadata, type_name_of

__all__ = ("AssetMaterializer",)


class _Header(msgspec.Struct, frozen=True):
    asset_class: str
    inner_materializer: str
    inner_type: str
    name: str | None
    metadata: dict[str, Any]


_HEADER = msgspec.json.Encoder()
_DECODE_HEADER = msgspec.json.Decoder(_Header)


class AssetMaterializer:
    """Stores an :class:`Asset` as a small JSON header plus its value's own bytes."""

    name = "asset"
    #: it takes assets only: the registry may remember its choice for a scalar type
    _scalars_by_type = True

    def __init__(self, registry: MaterializerRegistry) -> None:
        self._registry = registry

    def can_handle(self, value: Any) -> bool:
        """Any :class:`Asset`."""
        return isinstance(value, Asset)

    def dumps(self, value: Any) -> bytes:
        """Header length (4 bytes), header, then the wrapped value's bytes."""
        inner = self._registry.for_value(value.value)
        header = _HEADER.encode(
            _Header(
                asset_class=_qualname(type(value)),
                inner_materializer=inner.name,
                inner_type=type_name_of(value.value),
                name=value.name,
                metadata=value.metadata,
            )
        )
        return struct.pack(">I", len(header)) + header + inner.dumps(value.value)

    def loads(self, data: bytes, type_name: str) -> Any:
        """Rebuild the asset (its class is imported; unknown classes fall back to ``Asset``)."""
        (n,) = struct.unpack(">I", data[:4])
        header = _DECODE_HEADER.decode(data[4 : 4 + n])
        inner = self._registry.get(header.inner_materializer).loads(
            data[4 + n :], header.inner_type
        )
        cls: type[Asset[Any]] = Asset
        module, _, qual = header.asset_class.partition(":")
        with contextlib.suppress(Exception):  # unknown class: keep the base Asset
            obj: Any = importlib.import_module(module)
            for part in qual.split("."):
                obj = getattr(obj, part)
            if isinstance(obj, type) and issubclass(obj, Asset):
                cls = obj
        return cls(inner, name=header.name, metadata=header.metadata)

    def metadata(self, value: Any) -> dict[str, Any]:
        """The asset's :meth:`Asset.info`, plus what the wrapped value's materializer says."""
        info: dict[str, Any] = value.info()
        try:
            inner = materializer_metadata(self._registry.for_value(value.value), value.value)
            return {**inner, **info}
        except Exception:
            return info
