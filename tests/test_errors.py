"""flowyml's errors cross process boundaries (a Dask worker to the driver) whole."""

from __future__ import annotations

import pickle

import cloudpickle
import pytest

from flowyml.errors import (
    FlowymlError,
    MissingInputError,
    PipelineBuildError,
    ResourcesUnavailableError,
    StepGroupError,
    StepOutputError,
    StepTimeoutError,
)

ERRORS = [
    StepTimeoutError("train", 1.5),
    StepOutputError("split", "declares 2 outputs but returned 3 values"),
    ResourcesUnavailableError("fit", {"GPU": 1.0}, {"tcp://w:1": {}}),
    StepGroupError("fit", "square", "it is mapped"),
    MissingInputError("train", "data", hint="did you mean 'dataset'?"),
]


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_survive_pickling_with_message_and_fields(
    error: FlowymlError, dumps: object
) -> None:
    back = pickle.loads(dumps(error))  # type: ignore[operator]
    assert type(back) is type(error) and str(back) == str(error)
    assert {k: v for k, v in vars(back).items() if k != "problems"} == {
        k: v for k, v in vars(error).items() if k != "problems"
    }


def test_a_combined_build_error_keeps_its_problems() -> None:
    combined = PipelineBuildError.combine("p", [MissingInputError("a", "x"), ERRORS[3]])  # type: ignore[list-item]
    back = pickle.loads(pickle.dumps(combined))
    assert [type(p).__name__ for p in back.problems] == ["MissingInputError", "StepGroupError"]
    single = pickle.loads(pickle.dumps(ERRORS[4]))
    assert single.problems == [single]
