"""Cost of storing small values on the local disk (the per-step persistence overhead).

Bounds are loose (shared 2-core CI machines); run with ``-s`` to see the numbers.
A new blob costs one worker-thread hop plus creating a file (both depend on the
machine); storing bytes the store has already seen costs no I/O at all.
"""

from __future__ import annotations

import time
from pathlib import Path

from flowyml.storage.artifacts import default_registry, open_artifact_store, save_value

N = 300


async def test_local_put_small_values_is_fast(tmp_path: Path) -> None:
    blobs = [b"small value %d" % i for i in range(N)]
    async with open_artifact_store(str(tmp_path)) as store:
        start = time.perf_counter()
        for blob in blobs:
            await store.put(blob)
        new = (time.perf_counter() - start) / N
        start = time.perf_counter()
        for blob in blobs:
            await store.put(blob)
        dedup = (time.perf_counter() - start) / N
    print(f"\nlocal put: new {new * 1e6:.0f} us, dedup {dedup * 1e6:.1f} us")
    assert dedup < 200e-6
    assert new < 50e-3


async def test_save_value_of_small_values_is_fast(tmp_path: Path) -> None:
    registry = default_registry()
    values = [{"accuracy": 0.9, "epoch": i} for i in range(N)]
    async with open_artifact_store(str(tmp_path)) as store:
        for v in values:  # first time: writes
            await save_value(store, registry, v, artifact_id_seed="r/s/o", name="o")
        start = time.perf_counter()
        for v in values:
            await save_value(store, registry, v, artifact_id_seed="r2/s/o", name="o")
        seen = (time.perf_counter() - start) / N
    print(f"\nsave_value of a small dict already stored: {seen * 1e6:.1f} us")
    assert seen < 500e-6
