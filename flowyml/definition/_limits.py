"""A step's limits on how it runs: ``rate_limit="50/s"`` and ``max_concurrency=n``."""

from __future__ import annotations

import re
from typing import Final

from ..errors import StepDefinitionError

__all__ = ("check_max_concurrency", "parse_rate_limit")

_UNITS: Final = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}
_RATE: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*")


def parse_rate_limit(step: str, rate_limit: str | None) -> float | None:
    """Starts per second allowed by ``rate_limit`` (``"50/s"``, ``"3000/min"``, ``"10/h"``).

    :raises StepDefinitionError: naming the step, when the text is not such a rate
    """
    if rate_limit is None:
        return None
    match = _RATE.fullmatch(rate_limit) if isinstance(rate_limit, str) else None
    unit = _UNITS.get(match.group(2)) if match else None
    if match is None or unit is None or float(match.group(1)) <= 0:
        raise StepDefinitionError(
            f"step {step!r}: rate_limit must be a positive count per unit of time such as "
            f"'50/s', '3000/min' or '10/h', got {rate_limit!r}"
        )
    return float(match.group(1)) / unit


def check_max_concurrency(step: str, max_concurrency: int | None) -> int | None:
    """``max_concurrency`` if it is ``None`` or an int >= 1.

    :raises StepDefinitionError: naming the step otherwise
    """
    if max_concurrency is None:
        return None
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
        raise StepDefinitionError(
            f"step {step!r}: max_concurrency must be an int >= 1 or None, got {max_concurrency!r}"
        )
    if max_concurrency < 1:
        raise StepDefinitionError(
            f"step {step!r}: max_concurrency must be >= 1, got {max_concurrency}"
        )
    return max_concurrency
