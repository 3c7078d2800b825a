# mypy: ignore-errors
# (runs inside the peer's virtualenv; the peer's package is not installed here)
"""Apache Hamilton peer (``sf-hamilton``): the shapes as generated modules of functions.

Hamilton wires a DAG from function and parameter names, so each shape is generated as
source (``def s3(s2): return s2``) and turned into a module with
``hamilton.ad_hoc_utils.create_temporary_module``.  Hamilton keeps results in memory (no
run metadata), so its figures compare with flowyml's *persistence off*.

- async shapes: ``async def`` functions run by ``hamilton.async_driver``;
- ``sleep_sync``: plain functions on the default driver, which runs nodes one at a time;
- ``cache``: the sync driver with ``.with_cache(path=...)``; the chain runs twice with
  fresh drivers and the second must load every node from the cache.

Deep chains recurse once per node in Hamilton's graph walk, so the recursion limit is raised.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from _common import exec_functions, peer_main, protocol, shapes

sys.setrecursionlimit(1_000_000)


def _source(shape: Any, *, use_async: bool, prefix: str = "") -> tuple[str, list[str]]:
    kw = "async def" if use_async else "def"
    lines: list[str] = []
    names = [prefix + shapes.node_name(i) for i in range(shape.steps)]
    for i, name in enumerate(names):
        deps = [names[d] for d in shapes.dependencies(shape, i)]
        if shape.kind == "sleep_async":
            body = f"    await asyncio.sleep({shape.sleep!r})\n    return 1\n"
        elif shape.kind == "sleep_sync":
            body = f"    time.sleep({shape.sleep!r})\n    return 1\n"
        elif not deps:
            body = "    return 0\n"
        elif len(deps) == 1:
            body = f"    return {deps[0]}\n"
        else:
            body = f"    return {len(deps)}\n"
        params = ", ".join(f"{d}: int" for d in deps)
        lines.append(f"{kw} {name}({params}) -> int:\n{body}")
    return "import asyncio, time\n" + "\n".join(lines), names


class HamiltonAdapter:
    """The Hamilton side of the benchmark protocol."""

    def __init__(self) -> None:
        self._modules = 0

    def import_all(self) -> str:
        from hamilton import async_driver, driver, version  # noqa: F401  (the whole public API)

        return ".".join(str(v) for v in version.VERSION)

    def supports(self, shape: Any, mode: str) -> str | None:
        if mode == "cache" and shape.kind != "chain":
            return "the cache scenario is a chain"
        return None

    def _module(self, shape: Any, *, use_async: bool, prefix: str = "") -> tuple[Any, list[str]]:
        from hamilton import ad_hoc_utils

        source, names = _source(shape, use_async=use_async, prefix=prefix)
        fns = exec_functions(source, names)
        self._modules += 1
        module = ad_hoc_utils.create_temporary_module(*fns, module_name=f"shape{self._modules}")
        return module, names

    def run(self, shape: Any, prefix: str = "") -> tuple[float, float]:
        t0 = protocol.now()
        use_async = shape.is_async
        module, names = self._module(shape, use_async=use_async, prefix=prefix)
        # Request every node, as the other systems run every step.
        if use_async:
            from hamilton import async_driver

            async def go() -> float:
                dr = await async_driver.Builder().with_modules(module).build()
                t1 = protocol.now()
                await dr.execute(names)
                return protocol.now() - t1

            build = protocol.now() - t0
            return build, asyncio.run(go())
        from hamilton import driver

        dr = driver.Builder().with_modules(module).build()
        build = protocol.now() - t0
        t1 = protocol.now()
        dr.execute(names)
        return build, protocol.now() - t1

    def cache(self, shape: Any) -> tuple[float, str | None]:
        from hamilton import driver

        module, names = self._module(shape, use_async=False)
        path = os.path.join(os.environ.get("BENCH_TMP", "."), "hamilton-cache")
        driver.Builder().with_modules(module).with_cache(path=path).build().execute(names)
        t0 = protocol.now()
        dr = driver.Builder().with_modules(module).with_cache(path=path).build()
        dr.execute(names)
        wall = protocol.now() - t0
        logs = dr.cache.logs(run_id=dr.cache.last_run_id, level="info")
        fresh = [
            n for n in names if not any(e.event_type.value == "get_result" for e in logs.get(n, []))
        ]
        if fresh:
            return wall, f"{len(fresh)} of {len(names)} nodes were not loaded from the cache"
        return wall, None


if __name__ == "__main__":
    peer_main(HamiltonAdapter())
