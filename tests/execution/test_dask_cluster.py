"""DaskExecutor on real clusters: shared by concurrent runs, outputs kept on the workers,
resources and groups honoured, a worker killed mid-step survived."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from flowyml import Pipeline, ResourceRequirements, step
from flowyml.errors import ConfigError, ResourcesUnavailableError
from flowyml.execution import DaskExecutor
from flowyml.results import StoredValue
from tests.cloud_servers import CloudServer, azure_server, gcs_server
from tests.dask_cluster import cluster, peak_rss
from tests.s3_server import S3Server, s3_server

__all__ = ("azure_server", "cluster", "gcs_server", "s3_server")

distributed = pytest.importorskip("distributed")
np = pytest.importorskip("numpy")

pytestmark = pytest.mark.slow


@step
def worker_pid() -> int:
    return os.getpid()


@step
def plus_one(worker_pid: int) -> tuple[int, int]:
    return worker_pid, os.getpid()


async def test_concurrent_runs_share_one_executor(cluster: str) -> None:
    p = Pipeline("shared", persist=False).add_step(worker_pid).add_step(plus_one)
    executor = DaskExecutor(cluster, n_workers=2)
    with anyio.fail_after(60):
        async with executor:
            results: list[Any] = []
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(lambda: _append(results, p.arun(executor=executor)))
            assert executor.client is not None  # the runs did not close it
            again = await p.arun(executor=executor)
        assert executor.client is None  # closed by its holder, once
    assert all(r.success for r in [*results, again])
    assert all(r["plus_one"][0] != os.getpid() for r in results)


async def _append(results: list[Any], run: Any) -> None:
    results.append(await run)


async def test_local_cluster_opened_once_for_overlapping_runs() -> None:
    p = Pipeline("local-cluster", persist=False).add_step(worker_pid)
    executor = DaskExecutor(n_workers=2)
    with anyio.fail_after(90):
        async with executor:
            cluster = None
            async with anyio.create_task_group() as tg:
                for _ in range(2):
                    tg.start_soon(lambda: _append([], p.arun(executor=executor)))
            cluster = executor._cluster
            assert cluster is not None
            await p.arun(executor=executor)
            assert executor._cluster is cluster  # the same cluster served every run
    assert executor._cluster is None


async def test_too_few_workers_is_a_clear_error(cluster: str) -> None:
    executor = DaskExecutor(cluster, n_workers=3, worker_timeout=1)
    with pytest.raises(ConfigError, match="only 2 of the 3 expected Dask workers"):
        async with executor:
            pass
    assert executor.client is None


@step
def big() -> Any:
    return np.ones(500 * 2**20 // 8)  # 500 MiB


@step
def total(big: Any) -> float:
    return float(big.sum())


async def test_large_output_stays_on_the_workers(cluster: str, tmp_path: Path) -> None:
    p = Pipeline("locality", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a")
    p.add_step(big).add_step(total)
    executor = DaskExecutor(cluster)
    async with executor:
        await Pipeline("warm", persist=False).add_step(worker_pid).arun(executor=executor)
        before = peak_rss(reset=True)
        with anyio.fail_after(120):
            result = await p.arun(executor=executor)
        grown = peak_rss() - before
    assert result.success, result.summary()
    assert result["total"] == 500 * 2**20 // 8
    assert grown < 50 * 2**20, f"the driver's peak RSS grew by {grown / 2**20:.0f} MiB"
    stored = result.outputs["big"]
    assert isinstance(stored, StoredValue) and stored.ref.size >= 500 * 2**20
    # the worker wrote the artifact straight to the store
    assert any(f.stat().st_size >= 500 * 2**20 for f in (tmp_path / "a").rglob("*") if f.is_file())


async def test_resources_honoured_and_unmeetable_rejected(cluster: str) -> None:
    @step(resources=ResourceRequirements(cpu=2))
    def fits() -> int:
        return os.getpid()

    @step(resources={"cpu": 2, "gpu": 1, "gpu_type": "A100"})
    def needs_gpu() -> int:
        return 1

    p = Pipeline("resources", persist=False).add_step(fits).add_step(needs_gpu)
    with anyio.fail_after(30):  # fails at once instead of waiting for a GPU worker
        result = await p.arun(executor=DaskExecutor(cluster))
    assert result.step_results["fits"].success
    error = result.step_results["needs_gpu"].error
    assert isinstance(error, ResourcesUnavailableError)
    assert "GPU" in str(error) and "--resources" in str(error)
    node = p.build().to_dict()["nodes"]
    assert {n["name"]: n["options"].get("resources") for n in node}["fits"] == {"cpu": 2}


async def test_execution_group_keeps_steps_on_one_worker(cluster: str) -> None:
    def pid() -> int:
        return os.getpid()

    p = Pipeline("group", persist=False)
    for i in range(4):
        p.add_step(step(name=f"g{i}", execution_group="train")(pid))
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(cluster))
    assert result.success
    assert len({result[f"g{i}"] for i in range(4)}) == 1


async def test_worker_killed_mid_step_costs_one_attempt(cluster: str, tmp_path: Path) -> None:
    marker = tmp_path / "first-pid"

    @step
    def fragile() -> int:
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(60)  # killed here
        return os.getpid()

    p = Pipeline("killed", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a")
    p.add_step(fragile)
    events: list[Any] = []

    async def kill_when_started() -> None:
        while not marker.exists() or not marker.read_text():
            await anyio.sleep(0.05)
        os.kill(int(marker.read_text()), signal.SIGKILL)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_when_started)
            result = await p.arun(executor=DaskExecutor(cluster), on_event=events.append)
    assert result.success, result.summary()
    r = result.step_results["fragile"]
    assert r.attempts == 2 and result["fragile"] != int(marker.read_text())
    retrying = [e for e in events if type(e).__name__ == "StepRetrying"]
    assert len(retrying) == 1 and "WorkerLost" in retrying[0].error


@step
def blob() -> bytes:
    return os.urandom(1 << 20)  # above the inline limit: only its metadata reaches the driver


@step
def blob_size(blob: bytes) -> int:
    return len(blob)


async def test_workers_write_to_s3(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3_server.key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    await _through_dask(s3_server.url(), env, monkeypatch, tmp_path)


async def test_workers_write_to_gcs(
    gcs_server: CloudServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await _through_dask(gcs_server.url(), gcs_server.env, monkeypatch, tmp_path)


async def test_workers_write_to_azure(
    azure_server: CloudServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await _through_dask(azure_server.url(), azure_server.env, monkeypatch, tmp_path)


async def _through_dask(
    url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A run on a LocalCluster whose workers reach the store through their environment,
    as workers on other machines would."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    p = Pipeline("dask-cloud", store=f"sqlite:///{tmp_path}/m.db", artifacts=url)
    p.add_step(blob).add_step(blob_size)
    with anyio.fail_after(120):
        async with DaskExecutor(n_workers=1) as executor:
            assert executor.shares_store(url)
            result = await p.arun(executor=executor)
    assert result.success, result.summary()
    assert result["blob_size"] == 1 << 20
    stored = result.outputs["blob"]
    assert isinstance(stored, StoredValue)  # written by the worker, read here on demand
    assert stored.ref.uri.startswith(url) and len(result["blob"]) == 1 << 20


async def test_mapped_step_and_its_fan_in_on_dask(cluster: str, tmp_path: Path) -> None:
    @step
    def items() -> list[int]:
        return list(range(6))

    @step(inputs={"item": "items"}, outputs=["squares"], map_over="item")
    def square(item: int) -> int:
        return item * item

    @step
    def sum_squares(squares: list[int]) -> int:
        return sum(squares)

    p = Pipeline("dask-map", store=f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{tmp_path}/a")
    p.add_step(items).add_step(square).add_step(sum_squares)
    with anyio.fail_after(60):
        result = await p.arun(executor=DaskExecutor(cluster))
    assert result.success, result.summary()
    assert result["squares"] == [0, 1, 4, 9, 16, 25] and result["sum_squares"] == 55
