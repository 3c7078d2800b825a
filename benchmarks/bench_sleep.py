"""(c) Concurrency: 1,000 independent async steps awaiting 0.2 s; 50 sync steps sleeping 0.2 s.

Ideal wall time is 0.2 s for both: the async steps share the event loop, the sync steps
run in worker threads.  ``--quick``: 20 x 0.05 s and 5 x 0.05 s.  flowyml runs with
persistence off and on (scenario (e)).
Run alone: ``python -m benchmarks.bench_sleep [--quick] [--peers]``.
"""

from __future__ import annotations

from ._harness import Case
from ._shapes import Shape
from ._suite import Options, comparison_cases

SCENARIO = "c"
TITLE = "independent sleeping steps (async on the loop, sync in threads)"


def cases(opts: Options) -> list[Case]:
    """The cases of this scenario."""
    if opts.quick:
        shapes = [Shape("sleep_async", 20, 0.05), Shape("sleep_sync", 5, 0.05)]
    else:
        shapes = [Shape("sleep_async", 1000, 0.2), Shape("sleep_sync", 50, 0.2)]
    return comparison_cases(SCENARIO, shapes, opts, reps=opts.verdict_reps)


if __name__ == "__main__":
    from ._cli import main

    raise SystemExit(main(only=SCENARIO))
