"""Checks of ``@step`` options: each bad value raises an error naming the step."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import StepDefinitionError
from ._caching import cache_strategy

__all__ = ("check_chain", "check_name", "check_options", "check_outputs")

_NAME = re.compile(r"^[A-Za-z_][\w\-.\[\]]*$")
#: output and input names may be namespaced with ``/`` (``data/raw``): one or more valid
#: names joined by single slashes
_PATH = re.compile(r"^[A-Za-z_][\w\-.\[\]]*(/[A-Za-z_][\w\-.\[\]]*)*$")


def check_name(kind: str, value: object, step: str) -> str:
    """``value`` if it is a valid name (outputs and inputs may contain ``/``)."""
    pattern = _NAME if kind == "name" else _PATH
    if not isinstance(value, str) or not pattern.match(value):
        slash = "" if kind == "name" else "; '/' joins such names, as in 'data/raw'"
        raise StepDefinitionError(
            f"step {step!r}: {kind} {value!r} is not a valid name (letters, digits, '_', "
            f"'-', '.'{slash})"
        )
    return value


def check_outputs(step: str, outputs: Sequence[str] | None) -> tuple[str, ...]:
    """The declared output names (default: one, named like the step)."""
    if outputs is None:
        return (step,)
    if isinstance(outputs, str):
        outputs = [outputs]
    names = tuple(check_name("output", o, step) for o in outputs)
    if not names:
        raise StepDefinitionError(f"step {step!r}: outputs=[] declares no output")
    dupes = {o for o in names if names.count(o) > 1}
    if dupes:
        raise StepDefinitionError(f"step {step!r}: output {min(dupes)!r} twice")
    return names


def check_options(step: str, options: Mapping[str, Any]) -> None:
    """Raise a clear error naming the step for an option out of its range."""
    retries = options["retries"]
    if not isinstance(retries, int) or retries < 0:
        raise StepDefinitionError(f"step {step!r}: retries must be an int >= 0")
    if options["retry_delay"] < 0 or options["backoff"] < 1:
        raise StepDefinitionError(f"step {step!r}: retry_delay must be >= 0 and backoff >= 1")
    timeout = options["timeout"]
    if timeout is not None and timeout <= 0:
        raise StepDefinitionError(f"step {step!r}: timeout must be > 0 seconds")
    cache_strategy(step, options["cache"])
    condition = options["condition"]
    if condition is not None and not callable(condition):
        raise StepDefinitionError(f"step {step!r}: condition must be callable")
    lines = options["max_log_lines"]
    if type(lines) is not int or lines < 0:
        raise StepDefinitionError(
            f"step {step!r}: max_log_lines must be an int >= 0, got {lines!r}"
        )


def check_chain(step: str, chain: object) -> bool | None:
    """``chain`` if it is ``None`` (chain when possible), ``True`` or ``False``."""
    if chain is not None and type(chain) is not bool:
        raise StepDefinitionError(
            f"step {step!r}: chain must be True, False or None, got {chain!r}"
        )
    return chain
