"""(b) Fan-out 1 -> N -> 1 of no-op async steps: N = 200 and 10,000 (``--quick``: 20).

One source, N steps each taking the source's output, one sink taking all N outputs.
flowyml runs with persistence off and on (scenario (e)).
Run alone: ``python -m benchmarks.bench_fanout [--quick] [--peers]``.
"""

from __future__ import annotations

from ._harness import Case
from ._shapes import Shape
from ._suite import Options, comparison_cases

SCENARIO = "b"
TITLE = "fan-out 1 -> N -> 1 of no-op async steps"


def cases(opts: Options) -> list[Case]:
    """The cases of this scenario."""
    sizes = [20] if opts.quick else [200, 10_000]
    return comparison_cases(SCENARIO, [Shape("fanout", n) for n in sizes], opts)


if __name__ == "__main__":
    from ._cli import main

    raise SystemExit(main(only=SCENARIO))
