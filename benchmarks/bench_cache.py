"""(d) The chain re-run with every step a cache hit: 200 and 10,000 steps (``--quick``: 20).

In one process: a first run of the chain populates the cache (default persistence), then
a freshly built pipeline of the same steps is run and timed, as a re-run of the same script
would; the child checks that every step of the timed run was a cache hit.
Run alone: ``python -m benchmarks.bench_cache [--quick] [--peers]``.
"""

from __future__ import annotations

from ._harness import Case
from ._shapes import Shape
from ._suite import Options, peer_cases

SCENARIO = "d"
TITLE = "chain re-run, every step a cache hit"


def cases(opts: Options) -> list[Case]:
    """The cases of this scenario."""
    sizes = [20] if opts.quick else [200, 10_000]
    shapes: list[Shape | None] = [Shape("chain", n) for n in sizes]
    own = [Case(SCENARIO, "flowyml", "cache", s, persist=True) for s in shapes]
    return own + peer_cases(SCENARIO, "cache", shapes, opts)


if __name__ == "__main__":
    from ._cli import main

    raise SystemExit(main(only=SCENARIO))
