"""Retry delays: exponential backoff with jitter (pure)."""

from __future__ import annotations

import random

__all__ = ("retry_delay",)


def retry_delay(
    attempt: int,
    base: float,
    backoff: float,
    *,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed ``attempt`` (1-based) before the next one.

    ``base * backoff ** (attempt - 1)``, spread by up to ``±jitter`` (a fraction) so that
    many steps failing together do not retry in lockstep.
    """
    if base <= 0:
        return 0.0
    delay = base * backoff ** (attempt - 1)
    spread = (rng or random).uniform(-jitter, jitter) if jitter else 0.0
    return max(0.0, delay * (1.0 + spread))
