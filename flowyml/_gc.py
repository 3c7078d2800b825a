"""Pause the cycle collector around bulk, synchronous construction of acyclic objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ("PROMOTE_AT", "collector_paused")

#: containers made under a pause from which they are moved to the oldest generation
PROMOTE_AT = 10_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cycle collector paused (reference counting still frees).

    Compiling a 100,000-step DAG creates hundreds of thousands of small containers that
    all survive; every few thousand of them trigger a collection, and the full ones walk
    the whole heap (the user's pipeline definition included), which made compile time
    grow faster than the DAG.  Used only around synchronous code (no ``await`` inside), so
    no other task runs meanwhile; the collector is re-enabled only if it was enabled.

    When the body made many containers (:data:`PROMOTE_AT` or more), everything the
    collector tracks moves to its oldest generation on the way out (``gc.freeze()`` then
    ``gc.unfreeze()``: two list splices, whatever the heap size).  Otherwise the first
    young collection after the pause walks every container the body made (40 ms after
    compiling a 100,000-step fan-out), only to find them all alive.  The cost: cyclic
    garbage that was young at that moment waits for a full collection, and promotion
    does not count towards triggering one; hence the threshold, so that a service
    running small pipelines per request keeps collecting its young garbage as usual.
    Skipped too when something else holds frozen objects (e.g. an application that
    froze its heap before forking): ``unfreeze`` would release them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_count()[0] >= PROMOTE_AT and gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
