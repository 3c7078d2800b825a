# mypy: ignore-errors
# (runs inside the peer's virtualenv; the peer's package is not installed here)
"""The published ``flowyml==2.2.1`` as a peer, through its public ``Pipeline``/``step`` API.

flowyml 2.2.1 is synchronous: steps are plain functions run one after another (it cannot
await coroutines), so the no-op shapes use plain functions and ``sleep_async`` is
skipped.  Each step names its inputs and outputs (``@step(inputs=["s2"],
outputs=["s3"])``) and its parameters carry the input names.  Runs use its defaults
(SQLite metadata, local artifacts, run records and experiment tracking under ``HOME``,
which the harness points at a fresh temporary folder), except ``auto_start_ui=False`` so
no UI server starts; its console display goes to a buffer.  The ``cache`` scenario runs the
same chain twice; every step of the second run must report ``cached``.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

from _common import exec_functions, peer_main, protocol, shapes


def _source(shape: Any, prefix: str = "") -> tuple[str, list[str]]:
    names = [prefix + shapes.node_name(i) for i in range(shape.steps)]
    lines: list[str] = []
    for i, name in enumerate(names):
        deps = [names[d] for d in shapes.dependencies(shape, i)]
        if shape.kind == "sleep_sync":
            body = f"    time.sleep({shape.sleep!r})\n    return 1\n"
        elif not deps:
            body = "    return 1\n"
        elif len(deps) == 1:
            body = f"    return {deps[0]} + 1\n"
        else:
            body = f"    return {len(deps)}\n"
        lines.append(f"def {name}({', '.join(deps)}):\n{body}")
    return "import time\n" + "\n".join(lines), names


class Flowyml221Adapter:
    """The flowyml 2.2.1 side of the benchmark protocol."""

    def __init__(self) -> None:
        self._pipelines = 0

    def import_all(self) -> str:
        import flowyml

        logging.getLogger("flowyml").setLevel(logging.WARNING)
        return str(flowyml.__version__)

    def supports(self, shape: Any, mode: str) -> str | None:
        if shape.kind == "sleep_async":
            return "flowyml 2.2.1 cannot run coroutine steps"
        if mode == "cache" and shape.kind != "chain":
            return "the cache scenario is a chain"
        return None

    def _pipeline(self, shape: Any, name: str | None = None, prefix: str = "") -> Any:
        from flowyml import Pipeline, step

        source, names = _source(shape, prefix)
        fns = exec_functions(source, names)
        self._pipelines += 1
        p = Pipeline(name or f"{shape.kind}{self._pipelines}")
        for i, fn in enumerate(fns):
            deps = [names[d] for d in shapes.dependencies(shape, i)]
            p.add_step(step(name=names[i], inputs=deps, outputs=[names[i]], register=False)(fn))
        return p

    def _run(self, p: Any) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            result = p.run(auto_start_ui=False)
        if not result.success:
            raise RuntimeError(f"flowyml 2.2.1 run failed: {result.summary()[:300]}")
        return result

    def run(self, shape: Any, prefix: str = "") -> tuple[float, float]:
        t0 = protocol.now()
        p = self._pipeline(shape, prefix=prefix)
        build = protocol.now() - t0
        t1 = protocol.now()
        self._run(p)
        return build, protocol.now() - t1

    def cache(self, shape: Any) -> tuple[float, str | None]:
        name = f"cached-{shape.kind}-{shape.n}"
        self._run(self._pipeline(shape, name))
        t0 = protocol.now()
        result = self._run(self._pipeline(shape, name))
        wall = protocol.now() - t0
        fresh = [n for n, r in result.step_results.items() if not r.cached]
        if fresh:
            return wall, f"{len(fresh)} of {len(result.step_results)} steps were not cache hits"
        return wall, None


if __name__ == "__main__":
    peer_main(Flowyml221Adapter())
