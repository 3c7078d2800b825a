"""Store faults: a full disk, a read-only folder, a corrupted or refusing metadata store.

The artifact faults are real: a 1 MiB tmpfs and a read-only bind mount (they need root,
which CI has; elsewhere they are skipped with the reason).  The metadata store's
permanent failure mid-run is injected, since no real store fails on cue.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from flowyml import Client, Pipeline, Runtime, step
from flowyml.errors import StoreError
from flowyml.events import Event
from flowyml.storage.metadata import open_metadata_store


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip()}); CI runs this as root")


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: writing more than that fails with ENOSPC."""
    where = tmp_path / "tiny"
    where.mkdir()
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder bind-mounted read-only: writing fails with EROFS (even as root).  The
    artifact folder exists (as it would once a store turns read-only under a service)."""
    source, where = tmp_path / "src", tmp_path / "ro"
    (source / "artifacts").mkdir(parents=True)
    where.mkdir()
    mount("--bind", "-o", "ro", str(source), str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def etl(calls: list[int]) -> Pipeline:
    @step(retries=1)
    def produce() -> bytes:
        calls.append(1)
        return b"x" * (2 * 1024 * 1024)  # more than the tmpfs holds

    @step(inputs=["produce"])
    def consume(produce: bytes) -> int:
        return len(produce)

    @step
    def small() -> int:
        return 7

    return Pipeline("etl", enable_cache=False).add_step(produce).add_step(consume).add_step(small)


@pytest.mark.parametrize(
    ("fixture", "cause"),
    [("full_disk", "No space left on device"), ("read_only", "Read-only file system")],
)
async def test_an_artifact_store_fault_fails_the_step_with_its_cause(
    tmp_path: Path, request: pytest.FixtureRequest, fixture: str, cause: str
) -> None:
    where: Path = request.getfixturevalue(fixture)
    store = f"sqlite:///{tmp_path / 'meta.db'}"
    calls: list[int] = []
    result = await etl(calls).arun(store=store, artifacts=str(where / "artifacts"))

    assert result.status == "failed"
    assert len(calls) == 2  # retried once, as declared
    produce = result.step_results["produce"]
    assert produce.status == "failed" and cause in str(produce.error)
    assert result.step_results["consume"].status == "skipped"
    async with Client(store=store, artifacts=str(where / "artifacts")) as client:
        record = await client.get_run(result.run_id)
    assert record.status == "failed"
    assert cause in (record.step("produce").error or "")
    assert record.step("consume").status == "skipped"


async def test_an_artifact_fault_keeps_the_artifacts_that_were_written(
    tmp_path: Path, full_disk: Path
) -> None:
    """``small`` and ``produce`` run side by side: ``small``'s artifact stays readable."""
    store, artifacts = f"sqlite:///{tmp_path / 'meta.db'}", str(full_disk / "artifacts")
    result = await etl([]).arun(store=store, artifacts=artifacts)
    assert result.step_results["small"].status == "succeeded"
    async with Client(store=store, artifacts=artifacts) as client:
        aid = (await client.get_run(result.run_id)).step("small").outputs["small"]
        assert await client.load_artifact(aid) == 7


# --------------------------------------------------------------------------- metadata


def test_a_corrupted_metadata_file_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "meta.db"
    db.write_bytes(b"this is not a database" * 100)

    @step
    def one() -> int:
        return 1

    with pytest.raises(StoreError) as caught:
        Pipeline("corrupt").add_step(one).run(store=f"sqlite:///{db}")
    message = str(caught.value)
    assert str(db) in message and "file is not a database" in message
    assert not caught.value.transient


class RefusingStore:
    """Failure injection: a real store whose writes fail with ``error`` from now on."""

    def __init__(self, inner: Any, error: StoreError) -> None:
        self._inner = inner
        self.url = inner.url
        self.error = error
        self.writes = 0

    async def append_events(self, events: Sequence[Event]) -> list[int]:
        self.writes += 1
        raise self.error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_a_permanent_store_error_stops_the_run_without_retrying(tmp_path: Path) -> None:
    inner = open_metadata_store(f"sqlite:///{tmp_path / 'meta.db'}")
    await inner.open()
    refusing = RefusingStore(
        inner, StoreError("metadata store sqlite:///x failed: database disk image is malformed")
    )

    @step
    async def a() -> int:
        return 1

    try:
        async with Runtime(store=refusing, artifacts=str(tmp_path / "art")) as rt:
            with pytest.raises(StoreError, match="malformed"):
                await Pipeline("refused").add_step(a).arun(runtime=rt)
    finally:
        await inner.aclose()
    assert refusing.writes == 1  # given up at once, not retried for a minute


async def test_a_transient_store_error_is_still_ridden_out(tmp_path: Path) -> None:
    inner = open_metadata_store(f"sqlite:///{tmp_path / 'meta.db'}")
    await inner.open()
    error = StoreError("connection lost", transient=True)
    refusing = RefusingStore(inner, error)
    real_append = inner.append_events

    async def flaky(events: Sequence[Event]) -> list[int]:
        refusing.writes += 1
        if refusing.writes <= 2:
            raise error
        result: list[int] = await real_append(events)
        return result

    refusing.append_events = flaky  # type: ignore[method-assign]

    @step
    async def a() -> int:
        return 1

    try:
        async with Runtime(store=refusing, artifacts=str(tmp_path / "art")) as rt:
            result = await Pipeline("ridden").add_step(a).arun(run_id=uuid.uuid4().hex, runtime=rt)
        assert result.success
        run = await inner.get_run(result.run_id)
        assert run is not None and run.status == "succeeded"
    finally:
        await inner.aclose()
