"""Materializers turn values into bytes and back; a registry picks one per value.

Built-ins, tried in this order: ``bytes`` (bytes/bytearray/memoryview), ``str``
(UTF-8), ``json`` (msgspec, for plain JSON-able builtins that round-trip exactly),
``numpy`` (``np.save``), ``pandas`` (DataFrame as Parquet when pyarrow is installed,
else pickle) and ``pickle`` (cloudpickle, the fallback).  numpy, pandas and pyarrow are
imported only when a value of theirs shows up, never at import time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import sys
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from ...errors import SerializationError
from .._protocols import Materializer

__all__ = (
    "SCALAR_TYPES",
    "BytesMaterializer",
    "JsonMaterializer",
    "MaterializerRegistry",
    "NumpyMaterializer",
    "PandasMaterializer",
    "PickleMaterializer",
    "StrMaterializer",
    "default_registry",
    "materializer_metadata",
    "serialization_error",
    "type_name_of",
)

#: Deeper JSON nesting goes to pickle (msgspec's encoder has a recursion limit).
_MAX_JSON_DEPTH: Final = 200
_PARQUET_MAGIC: Final = b"PAR1"


def type_name_of(value: object) -> str:
    """Return the qualified name of ``value``'s type, e.g. ``numpy.ndarray``."""
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def serialization_error(
    type_name: str, cause: object, *, step: str | None = None, name: str | None = None
) -> SerializationError:
    """Build the error for a value of ``type_name`` that could not be serialised."""
    if name is not None and step is not None:
        what = f"output {name!r} of step {step!r}"
    elif name is not None:
        what = f"output {name!r}"
    else:
        what = "a value"
    return SerializationError(
        f"cannot serialise {what} of type {type_name!r}: {cause}; return a value that "
        f"cloudpickle can pickle, or register a Materializer for {type_name!r} with "
        f"registry.register(...)"
    )


def materializer_metadata(materializer: Materializer, value: Any) -> dict[str, Any]:
    """Return what ``materializer.metadata(value)`` says (``{}`` if it has no such method)."""
    describe = getattr(materializer, "metadata", None)
    return dict(describe(value)) if describe is not None else {}


class BytesMaterializer:
    """``bytes``, ``bytearray`` and ``memoryview`` as raw bytes."""

    name = "bytes"

    def can_handle(self, value: Any) -> bool:
        """Exact ``bytes``/``bytearray``/``memoryview`` (subclasses go to pickle)."""
        return type(value) in (bytes, bytearray, memoryview)

    def dumps(self, value: Any) -> bytes:
        """Return the raw bytes (no copy for ``bytes``)."""
        return value if type(value) is bytes else bytes(value)

    def loads(self, data: bytes, type_name: str) -> Any:
        """Return the bytes as the recorded type."""
        if type_name == "builtins.bytearray":
            return bytearray(data)
        if type_name == "builtins.memoryview":
            return memoryview(data)
        return bytes(data)


class StrMaterializer:
    """``str`` as UTF-8 (lone surrogates survive)."""

    name = "str"

    def can_handle(self, value: Any) -> bool:
        """Exact ``str``."""
        return type(value) is str

    def dumps(self, value: Any) -> bytes:
        """Encode as UTF-8."""
        return str(value).encode("utf-8", "surrogatepass")

    def loads(self, data: bytes, type_name: str) -> Any:
        """Decode UTF-8."""
        return data.decode("utf-8", "surrogatepass")


def _is_plain_json(value: Any) -> bool:
    # Exact types only, so that decoding gives back equal values of the same types:
    # a nested tuple would come back as a list and nan/inf would become null.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        cls = type(item)
        if cls is list or (cls is tuple and depth == 0):
            members: Any = item
        elif cls is dict:
            if any(type(k) is not str for k in item):
                return False
            members = item.values()
        else:
            if not _is_plain_scalar(item):
                return False
            continue
        if depth >= _MAX_JSON_DEPTH:
            return False
        # Scalars are checked here, containers later: a list of 100,000 numbers costs
        # no entry on the stack per number.
        for x in members:
            kind = type(x)
            if kind is list or kind is dict or kind is tuple:
                stack.append((x, depth + 1))
            elif not _is_plain_scalar(x):
                return False
    return True


def _is_plain_scalar(x: Any) -> bool:
    cls = type(x)
    if cls is str or cls is int or cls is bool or x is None:
        return True
    return cls is float and math.isfinite(x)


class JsonMaterializer:
    """Plain JSON-able builtins via msgspec, restored to the same types.

    Handles ``None``, ``bool``, ``int``, finite ``float``, ``str``, and ``list``/``dict``
    (with ``str`` keys) of those, nested; a top-level ``tuple`` comes back as a tuple.
    Anything else (nan, a nested tuple, a dict subclass, ...) is left to later
    materializers.
    """

    name = "json"

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def can_handle(self, value: Any) -> bool:
        """Whether ``value`` round-trips exactly through JSON (walks it: O(size))."""
        return _is_plain_json(value)

    def dumps(self, value: Any) -> bytes:
        """Encode as JSON."""
        return self._encoder.encode(value)

    def loads(self, data: bytes, type_name: str) -> Any:
        """Decode JSON; a top-level tuple is restored."""
        value = self._decoder.decode(data)
        return tuple(value) if type_name == "builtins.tuple" else value


class NumpyMaterializer:
    """``numpy.ndarray`` (not object arrays, not subclasses) in ``.npy`` format."""

    name = "numpy"

    def can_handle(self, value: Any) -> bool:
        """Exact ndarray without Python objects inside (those go to pickle)."""
        np = sys.modules.get("numpy")
        return np is not None and type(value) is np.ndarray and not value.dtype.hasobject

    def dumps(self, value: Any) -> bytes:
        """The bytes ``np.save`` writes (``allow_pickle=False``)."""
        import numpy as np

        if value.flags.c_contiguous and value.dtype.isbuiltin == 1:
            # The header, then the data in one copy.  np.save into a buffer copies the data
            # out 16 MiB at a time; where malloc hands freed memory straight back to the
            # OS (Dask workers set MALLOC_TRIM_THRESHOLD_), every chunk is fresh memory to
            # fault in: saving 1 GiB took twice as long there.
            fmt = np.lib.format
            head = io.BytesIO()
            try:
                fmt.write_array_header_1_0(head, fmt.header_data_from_array_1_0(value))
            except ValueError:  # a header too long for format 1.0: np.save picks another
                pass
            else:
                return b"".join((head.getvalue(), memoryview(value.reshape(-1).view(np.uint8))))
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        return buf.getvalue()

    def loads(self, data: bytes, type_name: str) -> Any:
        """``np.load`` with ``allow_pickle=False``."""
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)

    def metadata(self, value: Any) -> dict[str, Any]:
        """Shape and dtype."""
        return {"shape": list(value.shape), "dtype": str(value.dtype)}


def _fits_parquet(frame: Any) -> bool:
    # Parquet changes Python objects in object columns (a dict gains keys, a list
    # becomes an ndarray, str objects come back as a string dtype): pickle those.
    return not any(dtype == object for dtype in frame.dtypes)


class PandasMaterializer:
    """``pandas.DataFrame`` as Parquet (pyarrow), or pickle when that is impossible.

    Pickle is used when pyarrow is missing or the frame would not survive Parquet
    unchanged (object-dtype columns, duplicate column names, ...); :meth:`loads` tells
    the two formats apart by Parquet's magic bytes.
    """

    name = "pandas"

    def __init__(self, *, parquet: bool | None = None) -> None:
        """:param parquet: use Parquet (``None``: when pyarrow is installed)."""
        self._parquet = parquet

    def can_handle(self, value: Any) -> bool:
        """Exact ``DataFrame`` (subclasses go to pickle)."""
        pd = sys.modules.get("pandas")
        return pd is not None and type(value) is pd.DataFrame

    def dumps(self, value: Any) -> bytes:
        """Parquet when possible, else pickle."""
        if self._parquet is None:
            self._parquet = importlib.util.find_spec("pyarrow") is not None
        if self._parquet and _fits_parquet(value):
            buf = io.BytesIO()
            # A frame that does not fit Parquet falls back to pickle.
            with contextlib.suppress(Exception):
                value.to_parquet(buf, engine="pyarrow")
                return buf.getvalue()
        import cloudpickle

        return bytes(cloudpickle.dumps(value))

    def loads(self, data: bytes, type_name: str) -> Any:
        """Read Parquet or unpickle, by the data's first bytes."""
        if data[:4] == _PARQUET_MAGIC:
            import pandas as pd

            return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        import cloudpickle

        return cloudpickle.loads(data)

    def metadata(self, value: Any) -> dict[str, Any]:
        """Row count and column names (the first 100)."""
        columns = [str(c) for c in value.columns[:100]]
        return {"rows": len(value), "columns": columns, "n_columns": len(value.columns)}


class PickleMaterializer:
    """Anything cloudpickle can pickle (the fallback: it accepts every value)."""

    name = "pickle"

    def can_handle(self, value: Any) -> bool:
        """Always; :meth:`dumps` fails for what cannot be pickled."""
        return True

    def dumps(self, value: Any) -> bytes:
        """``cloudpickle.dumps``."""
        import cloudpickle

        return bytes(cloudpickle.dumps(value))

    def loads(self, data: bytes, type_name: str) -> Any:
        """``pickle.loads`` (cloudpickle must be importable for pickled functions)."""
        import cloudpickle

        return cloudpickle.loads(data)


class MaterializerRegistry:
    """An ordered set of materializers; the first that can handle a value wins.

    :param materializers: initial materializers, in priority order
    """

    def __init__(self, materializers: Iterable[Materializer] = ()) -> None:
        self._items: list[Materializer] = []
        #: the choice for a scalar type, remembered while only built-ins are registered
        #: (whose ``can_handle`` of a None, bool, int, str or bytes looks at its type only;
        #: so does the asset materializer's, see :func:`_by_type_only`)
        self._by_type: dict[type, Materializer] | None = {}
        for materializer in materializers:
            self.register(materializer, first=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the registered materializers, in the order they are tried."""
        return tuple(m.name for m in self._items)

    def register(self, materializer: Materializer, *, first: bool = True) -> None:
        """Add ``materializer`` (replacing one of the same name).

        :param first: try it before all others (the default, so a user's materializer
            wins over the built-ins); with ``False`` it goes last, but still before the
            catch-all ``pickle`` fallback
        :raises SerializationError: when it does not have ``name``, ``can_handle``,
            ``dumps`` and ``loads``
        """
        if not isinstance(materializer, Materializer) or not isinstance(materializer.name, str):
            raise SerializationError(
                f"{materializer!r} is not a Materializer: it needs a str `name` and "
                f"`can_handle`, `dumps` and `loads` methods"
            )
        self._items = [m for m in self._items if m.name != materializer.name]
        by_type = all(_by_type_only(m) for m in (*self._items, materializer))
        self._by_type = {} if by_type else None
        if first:
            self._items.insert(0, materializer)
        elif self._items and self._items[-1].name == "pickle":
            self._items.insert(len(self._items) - 1, materializer)
        else:
            self._items.append(materializer)

    def for_value(
        self, value: Any, *, step: str | None = None, name: str | None = None
    ) -> Materializer:
        """Return the first materializer that can handle ``value``.

        :raises SerializationError: when none can (naming the type, and ``step`` and
            output ``name`` when given)
        """
        by_type = self._by_type
        cls = type(value)
        if by_type is not None:
            known = by_type.get(cls)
            if known is not None:
                return known
        for materializer in self._items:
            try:
                if materializer.can_handle(value):
                    if by_type is not None and cls in SCALAR_TYPES:
                        by_type[cls] = materializer
                    return materializer
            except Exception as exc:
                raise serialization_error(
                    type_name_of(value),
                    f"materializer {materializer.name!r} failed in can_handle: {exc!r}",
                    step=step,
                    name=name,
                ) from exc
        raise serialization_error(
            type_name_of(value),
            f"no registered materializer handles it (tried {', '.join(self.names) or 'none'})",
            step=step,
            name=name,
        )

    def get(self, name: str) -> Materializer:
        """Return the materializer called ``name``.

        :raises SerializationError: when none is registered under that name
        """
        for materializer in self._items:
            if materializer.name == name:
                return materializer
        raise SerializationError(
            f"no materializer named {name!r} is registered (known: {', '.join(self.names)}); "
            f"register the one that stored this artifact with registry.register(...)"
        )


#: the built-in materializers, in their default order; their choice for a scalar depends
#: on its type alone
_BUILTIN_ORDER: Final = (
    BytesMaterializer,
    StrMaterializer,
    JsonMaterializer,
    NumpyMaterializer,
    PandasMaterializer,
    PickleMaterializer,
)
_BUILTINS: Final = frozenset(_BUILTIN_ORDER)
#: exact types whose materializer the registry remembers
SCALAR_TYPES: Final = frozenset({type(None), bool, int, str, bytes})


def _by_type_only(materializer: Materializer) -> bool:
    """Whether ``materializer`` takes a scalar or not by its type alone: the built-ins,
    and flowyml's own that say so (the asset materializer, which takes assets only)."""
    cls = type(materializer)
    return cls in _BUILTINS or getattr(cls, "_scalars_by_type", False) is True


def default_registry() -> MaterializerRegistry:
    """Return a new registry holding the built-in materializers."""
    return MaterializerRegistry([cls() for cls in _BUILTIN_ORDER])
