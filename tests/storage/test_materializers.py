"""Materializers, the registry, and save_value/load_value (on a memory store)."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flowyml.errors import ArtifactError, SerializationError
from flowyml.events import ArtifactRef
from flowyml.storage._protocols import Materializer
from flowyml.storage._records import ArtifactRecord
from flowyml.storage.artifacts import (
    FsspecArtifactStore,
    JsonMaterializer,
    MaterializerRegistry,
    PandasMaterializer,
    PickleMaterializer,
    default_registry,
    load_value,
    open_artifact_store,
    save_value,
)
from flowyml.storage.artifacts._values import artifact_id


class Temperature:
    """A user type with its own materializer."""

    def __init__(self, celsius: float) -> None:
        self.celsius = celsius


class TemperatureMaterializer:
    name = "temperature"

    def can_handle(self, value: Any) -> bool:
        return isinstance(value, Temperature)

    def dumps(self, value: Any) -> bytes:
        return f"{value.celsius}C".encode()

    def loads(self, data: bytes, type_name: str) -> Any:
        return Temperature(float(data.decode().removesuffix("C")))

    def metadata(self, value: Any) -> dict[str, Any]:
        return {"unit": "C"}


class Shouting:
    """Claims every str (registered first, it wins over the built-in)."""

    name = "shouting"

    def can_handle(self, value: Any) -> bool:
        return type(value) is str

    def dumps(self, value: Any) -> bytes:
        return str(value).upper().encode()

    def loads(self, data: bytes, type_name: str) -> Any:
        return data.decode()


@pytest.fixture
async def store() -> AsyncIterator[FsspecArtifactStore]:
    async with open_artifact_store("memory://materializers") as store:
        yield store


# --------------------------------------------------------------------------- registry


def test_default_order_and_fresh_registries() -> None:
    a, b = default_registry(), default_registry()
    assert a.names == ("bytes", "str", "json", "numpy", "pandas", "pickle")
    a.register(TemperatureMaterializer())
    assert "temperature" in a.names and "temperature" not in b.names


def test_register_first_wins_and_last_goes_before_pickle() -> None:
    registry = default_registry()
    registry.register(Shouting())
    assert registry.for_value("hi").name == "shouting"
    registry.register(TemperatureMaterializer(), first=False)
    assert registry.names[-2:] == ("temperature", "pickle")
    assert registry.for_value(Temperature(3.0)).name == "temperature"


class EvenInts:
    """Claims even ints only: its choice depends on the value, not just the type."""

    name = "even"

    def can_handle(self, value: Any) -> bool:
        return type(value) is int and value % 2 == 0

    def dumps(self, value: Any) -> bytes:
        return str(value).encode()

    def loads(self, data: bytes, type_name: str) -> Any:
        return int(data)


def test_a_materializer_registered_after_values_were_stored_wins() -> None:
    """The registry remembers its choice per scalar type; registering forgets it."""
    registry = default_registry()
    assert registry.for_value("hi").name == "str"
    assert registry.for_value(None).name == "json"
    registry.register(Shouting())
    assert registry.for_value("hi").name == "shouting"
    registry.register(EvenInts())
    assert [registry.for_value(v).name for v in (2, 3, 4)] == ["even", "json", "even"]


def test_register_replaces_same_name() -> None:
    registry = default_registry()
    replacement = JsonMaterializer()
    registry.register(replacement, first=False)
    assert registry.names.count("json") == 1
    assert registry.get("json") is replacement


def test_register_rejects_non_materializer() -> None:
    with pytest.raises(SerializationError, match="is not a Materializer"):
        MaterializerRegistry().register(object())  # type: ignore[arg-type]


def test_empty_registry_names_type_step_and_output() -> None:
    with pytest.raises(SerializationError) as info:
        MaterializerRegistry().for_value(Temperature(1.0), step="measure", name="temp")
    message = str(info.value)
    assert "Temperature" in message and "'measure'" in message and "'temp'" in message


def test_can_handle_failure_is_reported() -> None:
    class Broken:
        name = "broken"

        def can_handle(self, value: Any) -> bool:
            raise RuntimeError("boom")

        def dumps(self, value: Any) -> bytes:
            return b""

        def loads(self, data: bytes, type_name: str) -> Any:
            return None

    registry = MaterializerRegistry([Broken()])
    with pytest.raises(SerializationError, match="'broken' failed in can_handle"):
        registry.for_value(1)


def test_get_unknown_name() -> None:
    with pytest.raises(SerializationError, match="no materializer named 'nope'"):
        default_registry().get("nope")


def test_user_materializer_is_a_protocol_instance() -> None:
    assert isinstance(TemperatureMaterializer(), Materializer)


# --------------------------------------------------------------------------- built-ins


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        [1.0, float("-inf")],
        [(1, 2)],
        {1: "a"},
        OrderedDict(a=1),
        {"a": {1, 2}},
        np.float64(1.5),
    ],
    ids=["nan", "inf", "nested-tuple", "int-key", "dict-subclass", "set", "numpy-scalar"],
)
def test_json_declines_what_it_cannot_round_trip(value: Any) -> None:
    assert not JsonMaterializer().can_handle(value)
    assert default_registry().for_value(value).name == "pickle"


def test_json_depth_limit() -> None:
    deep: list[Any] = []
    for _ in range(300):
        deep = [deep]
    assert not JsonMaterializer().can_handle(deep)


def test_json_keeps_exact_types() -> None:
    m = JsonMaterializer()
    value = {"b": True, "i": 1, "f": 1.0, "n": None, "l": [2**70, -0.5]}
    back = m.loads(m.dumps(value), "builtins.dict")
    assert back == value
    assert type(back["b"]) is bool and type(back["i"]) is int and type(back["f"]) is float
    assert m.loads(m.dumps((1, [2])), "builtins.tuple") == (1, [2])


def test_pandas_without_parquet_pickles() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    m = PandasMaterializer(parquet=False)
    data = m.dumps(frame)
    assert not data.startswith(b"PAR1")
    pd.testing.assert_frame_equal(m.loads(data, "pandas.DataFrame"), frame)
    assert PandasMaterializer().dumps(frame).startswith(b"PAR1")


def test_pandas_object_columns_are_pickled_exactly() -> None:
    frame = pd.DataFrame({"o": pd.Series(["a", None], dtype=object)})
    m = PandasMaterializer()
    data = m.dumps(frame)
    assert not data.startswith(b"PAR1")
    back = m.loads(data, "pandas.DataFrame")
    assert back.dtypes["o"] == object
    pd.testing.assert_frame_equal(back, frame)


def test_numpy_object_arrays_go_to_pickle() -> None:
    registry = default_registry()
    assert registry.for_value(np.array([1, None], dtype=object)).name == "pickle"
    assert registry.for_value(np.zeros(3)).name == "numpy"


def test_numpy_and_pandas_are_imported_lazily() -> None:
    code = textwrap.dedent(
        """
        import sys
        from flowyml.storage.artifacts import default_registry
        r = default_registry()
        assert [r.for_value(v).name for v in (b"x", "s", [1], object())] == [
            "bytes", "str", "json", "pickle"]
        heavy = {"numpy", "pandas", "pyarrow"} & set(sys.modules)
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------- values


async def test_save_records_type_metadata_and_id(store: FsspecArtifactStore) -> None:
    registry = default_registry()
    ref = await save_value(
        store, registry, np.zeros((2, 3), dtype=np.int16), artifact_id_seed="r/s/a", name="a"
    )
    assert (ref.type_name, ref.materializer) == ("numpy.ndarray", "numpy")
    assert ref.metadata == {"shape": [2, 3], "dtype": "int16"}
    assert ref.id == artifact_id(ref.content_hash, "r/s/a") and len(ref.id) == 32
    stamped = await save_value(
        store, registry, np.zeros(1), artifact_id_seed="r/s/a", name="a", id_stamp="0123456789ab"
    )
    assert stamped.id == artifact_id(stamped.content_hash, "r/s/a", "0123456789ab")
    assert stamped.id.startswith("0123456789ab") and len(stamped.id) == 32
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0.1, 0.2, 0.3]})
    ref = await save_value(store, registry, frame, artifact_id_seed="r/s/f", name="f")
    assert ref.metadata == {"rows": 3, "columns": ["x", "y"], "n_columns": 2}
    ref = await save_value(store, registry, {"k": 1}, artifact_id_seed="r/s/d", name="d")
    assert (ref.type_name, ref.materializer, ref.metadata) == ("builtins.dict", "json", {})


async def test_load_accepts_artifact_records(store: FsspecArtifactStore) -> None:
    registry = default_registry()
    ref = await save_value(store, registry, (1, 2), artifact_id_seed="r/s/t", name="t")
    record = ArtifactRecord(
        id=ref.id,
        name=ref.name,
        run_id="r",
        step="s",
        uri=ref.uri,
        type_name=ref.type_name,
        materializer=ref.materializer,
        size=ref.size,
        content_hash=ref.content_hash,
        created_at=time.time(),
    )
    assert await load_value(store, registry, record) == (1, 2)


async def test_user_materializer_round_trip(store: FsspecArtifactStore) -> None:
    registry = default_registry()
    registry.register(TemperatureMaterializer())
    ref = await save_value(store, registry, Temperature(21.5), artifact_id_seed="r/s/t", name="t")
    assert ref.materializer == "temperature" and ref.metadata == {"unit": "C"}
    assert await store.get(ref.uri) == b"21.5C"
    back = await load_value(store, registry, ref)
    assert isinstance(back, Temperature) and back.celsius == 21.5
    with pytest.raises(SerializationError, match="no materializer named 'temperature'"):
        await load_value(store, default_registry(), ref)


async def test_bad_materializer_output(store: FsspecArtifactStore) -> None:
    class NotBytes(TemperatureMaterializer):
        name = "not-bytes"

        def dumps(self, value: Any) -> bytes:
            return "text"  # type: ignore[return-value]

    registry = MaterializerRegistry([NotBytes()])
    with pytest.raises(SerializationError, match="returned str, not bytes"):
        await save_value(
            store, registry, Temperature(1), artifact_id_seed="r/s/t", name="t", step="s"
        )


async def test_load_corrupt_bytes(store: FsspecArtifactStore) -> None:
    registry = default_registry()
    info = await store.put(b"\x00not a pickle")
    ref = ArtifactRef(
        id="x",
        name="out",
        uri=info.uri,
        type_name="builtins.object",
        materializer="pickle",
        size=info.size,
        content_hash=info.content_hash,
    )
    with pytest.raises(SerializationError, match="cannot load artifact 'x'"):
        await load_value(store, registry, ref)


async def test_load_missing_blob(store: FsspecArtifactStore) -> None:
    ref = ArtifactRef(
        id="x",
        name="out",
        uri=store.uri_for("a" * 64),
        type_name="builtins.int",
        materializer="json",
        size=1,
        content_hash="a" * 64,
    )
    with pytest.raises(ArtifactError, match="does not exist"):
        await load_value(store, default_registry(), ref)


async def test_pickle_materializer_keeps_functions(store: FsspecArtifactStore) -> None:
    registry = MaterializerRegistry([PickleMaterializer()])
    ref = await save_value(store, registry, math.hypot, artifact_id_seed="r/s/f", name="f")
    assert (await load_value(store, registry, ref))(3, 4) == 5.0


class _Blob(bytes):
    """A bytes subclass, as some libraries return."""


@pytest.mark.parametrize("made", [bytearray, memoryview, _Blob])
async def test_bytes_like_materializer_output_is_stored_as_bytes(
    store: FsspecArtifactStore, made: type
) -> None:
    class BytesLike(TemperatureMaterializer):
        name = "bytes-like"

        def dumps(self, value: Any) -> bytes:
            return made(f"{value.celsius}C".encode())  # type: ignore[no-any-return]

    registry = MaterializerRegistry([BytesLike()])
    ref = await save_value(store, registry, Temperature(2.5), artifact_id_seed="r/s/t", name="t")
    assert await store.get(ref.uri) == b"2.5C" and ref.size == 4


@pytest.mark.parametrize(
    "array",
    [
        np.arange(10),
        np.zeros((3, 4)),
        np.array(5.0),
        np.zeros((0, 3)),
        np.array([True, False]),
        np.arange(6, dtype=">i4"),
        np.array(["ab", "c"]),
        np.zeros((2, 3))[:, ::2],
        np.asfortranarray(np.zeros((3, 2))),
        np.zeros((1,) * 40),
    ],
    ids=["ints", "2d", "0d", "empty", "bool", "big-endian", "str", "strided", "fortran", "40d"],
)
def test_numpy_bytes_are_what_np_save_writes(array: Any) -> None:
    """The same bytes (so the same content hash) as np.save, whatever path makes them."""
    registry = default_registry()
    m = registry.for_value(array)
    expected = io.BytesIO()
    np.save(expected, array, allow_pickle=False)
    data = m.dumps(array)
    assert data == expected.getvalue()
    back = m.loads(data, "numpy.ndarray")
    assert back.dtype == array.dtype and back.shape == array.shape and (back == array).all()


def test_the_runtime_registry_picks_a_scalars_materializer_once_per_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The asset materializer, first in a runtime's registry, takes assets only: asking it
    # about every int of a 100,000-element map would cost each element a walk of the list.
    from flowyml.assets import Asset
    from flowyml.storage._stores import Stores
    from flowyml.storage.artifacts._assets import AssetMaterializer

    registry = Stores(store="memory://", artifacts="memory://").materializers
    asked: list[object] = []
    can_handle = AssetMaterializer.can_handle

    def spy(self: AssetMaterializer, value: Any) -> bool:
        asked.append(value)
        return can_handle(self, value)

    monkeypatch.setattr(AssetMaterializer, "can_handle", spy)
    assert [registry.for_value(v).name for v in (1, 2, "a", "b")] == ["json", "json", "str", "str"]
    assert asked == [1, "a"]
    assert registry.for_value(Asset(value=3, name="n")).name == "asset"

    class Evens:  # a user's materializer that takes some ints only
        name = "evens"

        def can_handle(self, value: Any) -> bool:
            return type(value) is int and value % 2 == 0

        def dumps(self, value: Any) -> bytes:
            return str(value).encode()

        def loads(self, data: bytes, type_name: str) -> Any:
            return int(data)

    registry.register(Evens())
    assert [registry.for_value(v).name for v in (2, 3, 4, 5)] == ["evens", "json", "evens", "json"]
