"""Shared by the peer scripts, which run inside a peer's virtualenv (stdlib only).

A peer script is started by path (``<venv>/bin/python benchmarks/peers/run_x.py '<spec>'``)
so the repository root is *not* on ``sys.path`` (it would shadow the published ``flowyml``
with the one in this repository).  The harness's shape and protocol modules are loaded
here by file path instead.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

__all__ = ("Adapter", "exec_functions", "peer_main", "shapes")

_HERE = Path(__file__).resolve().parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", _HERE.parent / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


shapes = _load("_shapes")
protocol = _load("_protocol")

COLD_STEPS = 10


class Adapter(Protocol):
    """What a peer script implements; every method runs in the peer's own process."""

    def import_all(self) -> str:
        """Import the peer's package; return its version."""

    def run(self, shape: Any, prefix: str = "") -> tuple[float, float]:
        """Build and run ``shape`` once; return ``(build seconds, run seconds)``.

        ``prefix`` goes before step names (the warm-up run's must not hit a cache).
        """

    def cache(self, shape: Any) -> tuple[float, str | None]:
        """Run ``shape`` twice; return the second run's seconds and why not all hit, if not."""

    def supports(self, shape: Any, mode: str) -> str | None:
        """``None`` if the peer can run ``shape`` in ``mode``, else why it cannot."""


def exec_functions(source: str, names: list[str]) -> list[Callable[..., Any]]:
    """Define functions from generated ``source`` (steps named by their upstream inputs)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<generated steps>", "exec"), namespace)  # noqa: S102
    return [namespace[n] for n in names]


def _measure(adapter: Adapter, spec: dict[str, Any]) -> dict[str, Any]:
    mode = spec["mode"]
    now = protocol.now
    if mode in ("import", "cold"):
        t0 = now()
        version = adapter.import_all()
        t1 = now()
        if mode == "import":
            return {"import_s": t1 - t0, "maxrss_kb": protocol.maxrss_kb(), "version": version}
        adapter.run(shapes.Shape("chain", COLD_STEPS))
        t2 = now()
        return {"cold_total_s": t2 - t0, "import_s": t1 - t0, "first_run_s": t2 - t1}
    shape = shapes.Shape.from_dict(spec["shape"])
    why = adapter.supports(shape, mode)
    if why:
        return {"error": f"skipped: {why}"}
    version = adapter.import_all()
    warm = shapes.Shape(shape.kind, min(shape.n, 5), min(shape.sleep, 0.001))
    adapter.run(warm, prefix="warmup_")
    protocol.settle()
    rss0 = protocol.maxrss_kb()
    if mode == "cache":
        wall, problem = adapter.cache(shape)
        if problem:
            return {"error": problem}
        build = 0.0
    else:
        build, wall = adapter.run(shape)
    rss1 = protocol.maxrss_kb()
    return {
        "wall_s": wall,
        "build_s": build,
        "steps": shape.steps,
        "maxrss_kb": rss1,
        "rss_growth_kb": rss1 - rss0,
        "version": version,
    }


def peer_main(adapter: Adapter) -> None:
    """Entry point of a peer script."""
    protocol.child_main(lambda spec: _measure(adapter, spec))
