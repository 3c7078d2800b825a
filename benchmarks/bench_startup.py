"""(g) ``import flowyml`` time, and a cold first run on an empty ``FLOWYML_HOME``.

Each repetition is a fresh interpreter.  ``import``: ``time.perf_counter()`` around
``import flowyml`` (interpreter start-up itself excluded).  ``cold``: ``import flowyml``
plus building and running a 10-step chain with the default persistence, on a
``FLOWYML_HOME`` that does not exist yet (the SQLite file, its schema and the artifact
folder are created by that run).  Peers: their package import and first 10-step run
(Prefect's includes starting its ephemeral API server).
Run alone: ``python -m benchmarks.bench_startup [--peers]``.
"""

from __future__ import annotations

from ._harness import Case
from ._suite import Options, peer_cases

SCENARIO = "g"
TITLE = "import time and cold first run"


def cases(opts: Options) -> list[Case]:
    """The cases of this scenario."""
    own = [Case(SCENARIO, "flowyml", "import"), Case(SCENARIO, "flowyml", "cold")]
    return (
        own
        + peer_cases(SCENARIO, "import", [None], opts)
        + peer_cases(SCENARIO, "cold", [None], opts)
    )


if __name__ == "__main__":
    from ._cli import main

    raise SystemExit(main(only=SCENARIO))
