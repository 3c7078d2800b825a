"""(f) Scaling: wall time and memory for 1k, 10k and 100k steps (``--quick``: 100, 1,000).

Chain and fan-out, persistence off, flowyml against the anyio baseline.  Two kinds of
child per point: ``run`` (timed, reports the child's peak RSS from ``ru_maxrss``) and
``memory`` (one untimed run under ``tracemalloc``: the peak of Python memory allocated
*during* ``arun()``, i.e. the executor's own memory, excluding the already-built
pipeline definition; divided by the number of steps it gives KB/step).
Run alone: ``python -m benchmarks.bench_scaling [--quick]``.
"""

from __future__ import annotations

from ._harness import Case
from ._shapes import Shape
from ._suite import Options

SCENARIO = "f"
TITLE = "scaling with the number of steps (persistence off)"


def interleave_group(case: Case) -> str:
    """Cases run round-robin within a group: here all sizes of one kind and mode, so
    the 10k -> 100k ratio compares repetitions made under the same machine load."""
    assert case.shape is not None
    return f"{case.shape.kind}/{case.mode}"


def cases(opts: Options) -> list[Case]:
    """The cases of this scenario."""
    sizes = [100, 1000] if opts.quick else [1000, 10_000, 100_000]
    kinds = ["chain"] if opts.quick else ["chain", "fanout"]
    timeout = 120.0 if opts.quick else 1200.0
    out: list[Case] = []
    for kind in kinds:
        for n in sizes:
            shape = Shape(kind, n)
            for system, persist in (("baseline", None), ("flowyml", False)):
                out.append(
                    Case(
                        SCENARIO,
                        system,
                        "run",
                        shape,
                        persist=persist,
                        reps=opts.verdict_reps,
                        timeout_s=timeout,
                    )
                )
                out.append(
                    Case(
                        SCENARIO,
                        system,
                        "memory",
                        shape,
                        persist=persist,
                        reps=1,
                        timeout_s=timeout,
                    )
                )
    return out


if __name__ == "__main__":
    from ._cli import main

    raise SystemExit(main(only=SCENARIO))
