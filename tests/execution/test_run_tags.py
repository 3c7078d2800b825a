"""Run tags: given to the pipeline and to one run, merged, recorded with the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowyml import Client, Pipeline, pipeline, step
from flowyml.events import Event, RunStarted


@step
def one() -> int:
    return 1


def tagged(tmp_path: Path, tags: list[str]) -> Pipeline:
    return Pipeline(
        "tagged",
        tags=tags,
        store=f"sqlite:///{tmp_path / 'meta.db'}",
        artifacts=f"file://{tmp_path / 'artifacts'}",
    ).add_step(one)


async def test_pipeline_and_run_tags_are_merged_and_stored(tmp_path: Path) -> None:
    p = tagged(tmp_path, ["nightly", "team:ml"])
    seen: list[Event] = []
    first = await p.arun(tags=["team:ml", "candidate"], on_event=seen.append)
    second = await p.arun()
    started = [e for e in seen if isinstance(e, RunStarted)]
    assert started[0].tags == ["nightly", "team:ml", "candidate"]
    async with Client(store=p.store, artifacts=p.artifacts) as client:
        assert (await client.get_run(first.run_id)).run.tags == ["nightly", "team:ml", "candidate"]
        assert (await client.get_run(second.run_id)).run.tags == ["nightly", "team:ml"]
        found = await client.list_runs(tag="candidate")
        assert [r.run_id for r in found] == [first.run_id]
        assert {r.run_id for r in await client.list_runs(tag="nightly")} == {
            first.run_id,
            second.run_id,
        }
        # a resumed run carries on the run it resumes: its tags, plus the ones given
        resumed = await p.aresume(first.run_id, tags=["retry"])
        assert (await client.get_run(resumed.run_id)).run.tags == [
            "nightly",
            "team:ml",
            "candidate",
            "retry",
        ]


def test_run_tags_from_sync_code_and_decorated_pipelines(tmp_path: Path) -> None:
    @pipeline(tags=["functional"], store=f"sqlite:///{tmp_path / 'f.db'}")
    def flow() -> None:
        one()

    assert flow.tags == ("functional",)
    seen: list[Event] = []
    flow.run(tags=("sync",), on_event=seen.append)
    assert next(e for e in seen if isinstance(e, RunStarted)).tags == ["functional", "sync"]


@pytest.mark.parametrize(
    ("tags", "error", "message"),
    [
        ("nightly", TypeError, "must be a list of strings, got str"),
        ([1], TypeError, "must be a list of strings, got 1 in it"),
        ([""], ValueError, "tag '' is empty"),
        ([" padded"], ValueError, "starts or ends with a space"),
        (["a,b"], ValueError, "holds a comma"),
        (["x" * 101], ValueError, "longer than 100 characters"),
    ],
)
def test_bad_tags_name_the_option_and_the_tag(
    tmp_path: Path, tags: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"run option tags=.*{message}"):
        tagged(tmp_path, []).run(tags=tags)
    with pytest.raises(error, match=f"pipeline 'p': tags=.*{message}"):
        Pipeline("p", tags=tags)  # type: ignore[arg-type]
