"""Step tracebacks: the user's frames first, flowyml's and anyio's folded."""

from __future__ import annotations

import anyio

from flowyml import Pipeline, step
from flowyml._traceback import format_step_traceback, is_internal_frame


def _helper(key: str) -> int:
    return {"a": 1}[key]


@step
def chained() -> int:
    try:
        _helper("b")
    except KeyError as exc:
        raise ValueError("bad value") from exc
    return 1


@step
async def on_the_loop() -> float:
    await anyio.lowlevel.checkpoint()
    return 1 / 0


async def test_user_frames_first_internals_folded() -> None:
    p = Pipeline("tb", persist=False).add_step(chained).add_step(on_the_loop)
    result = await p.arun()
    text = format_step_traceback(result.step_results["chained"].error)  # type: ignore[arg-type]
    lines = text.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].startswith('  File "') and lines[1].endswith("in chained")
    assert "in _helper" in text and "KeyError: 'b'" in text
    assert "direct cause" in text and "ValueError: bad value" in text
    assert "flowyml/execution" not in text and "anyio/" not in text
    assert "frames of flowyml/anyio internals, hidden" in lines[-1]
    text = format_step_traceback(result.step_results["on_the_loop"].error)  # type: ignore[arg-type]
    assert "in on_the_loop" in text and "ZeroDivisionError" in text
    # An engine fallback caught before the step ran is no context of the user's error.
    assert "During handling" not in text


def test_an_error_of_flowyml_itself_is_shown_whole() -> None:
    from flowyml.execution._core import record_to_ref

    try:
        record_to_ref(None)  # type: ignore[arg-type]
    except AttributeError as exc:
        assert exc.__traceback__ is not None
        error = exc.with_traceback(exc.__traceback__.tb_next)  # only flowyml's frame left
    text = format_step_traceback(error)
    assert "_core.py" in text and "hidden" not in text


def test_internal_frames() -> None:
    assert is_internal_frame(anyio.__file__)
    assert not is_internal_frame(__file__)
