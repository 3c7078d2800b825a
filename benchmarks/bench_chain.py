"""(a) Linear chain of no-op async steps: 200 and 10,000 (``--quick``: 20).

Each step returns its input.  flowyml runs with persistence off and with the default
persistence (scenario (e)); the anyio baseline with and without a SQLite row per step.
Run alone: ``python -m benchmarks.bench_chain [--quick] [--peers]``.
"""

from __future__ import annotations

from ._harness import Case
from ._shapes import Shape
from ._suite import Options, comparison_cases

SCENARIO = "a"
TITLE = "linear chain of no-op async steps"


def cases(opts: Options) -> list[Case]:
    """The cases of this scenario."""
    sizes = [20] if opts.quick else [200, 10_000]
    return comparison_cases(SCENARIO, [Shape("chain", n) for n in sizes], opts)


if __name__ == "__main__":
    from ._cli import main

    raise SystemExit(main(only=SCENARIO))
