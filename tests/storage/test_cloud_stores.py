"""Artifact stores on Google Cloud Storage and Azure Blob, against real emulators on
127.0.0.1: the conformance suite, and a pipeline run through each."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowyml import Pipeline, Runtime, step
from flowyml.storage._protocols import ArtifactStore
from flowyml.storage.artifacts import open_artifact_store
from flowyml.testing.artifact_suite import ArtifactStoreSuite
from tests.cloud_servers import CloudServer, azure_server, gcs_server
from tests.subprocesses import ROOT

__all__ = ("azure_server", "gcs_server")


class TestGcsStore(ArtifactStoreSuite):
    """gs:// through gcsfs, against gcp-storage-emulator."""

    concurrent_puts = 100  # the emulator answers one request at a time (~0.1 s each when busy)

    @pytest.fixture
    async def store(self, gcs_server: CloudServer) -> AsyncIterator[ArtifactStore]:
        async with open_artifact_store(gcs_server.url(), **gcs_server.storage_options) as store:
            yield store


class TestAzureStore(ArtifactStoreSuite):
    """az:// through adlfs, against Azurite."""

    @pytest.fixture
    async def store(self, azure_server: CloudServer) -> AsyncIterator[ArtifactStore]:
        options = {**azure_server.storage_options}
        async with open_artifact_store(azure_server.url(), **options) as store:
            yield store


@step
def numbers(n: int) -> list[int]:
    return list(range(n))


@step
def payload(numbers: list[int]) -> bytes:
    return bytes(numbers) * 50_000  # large enough to be a blob, not an inline value


async def _run_through(server: CloudServer, tmp_path: Path) -> None:
    url = server.url()
    async with open_artifact_store(url, **server.storage_options) as store:
        p = Pipeline(f"through-{server.scheme}", context={"n": 100})
        p.add_step(numbers).add_step(payload)
        async with Runtime(store=f"sqlite:///{tmp_path}/m.db", artifacts=store) as rt:
            first = await p.arun(runtime=rt)
            again = await p.arun(runtime=rt)
        blobs = list(await store.list_blobs())
    assert first.success, first.summary()
    assert first["payload"] == bytes(range(100)) * 50_000
    assert again.step_results["payload"].cached and again["payload"] == first["payload"]
    assert all(b.startswith(f"{server.scheme}://{url.split('://', 1)[1]}/") for b in blobs)
    assert len(blobs) == 1  # the payload; the small list of numbers is stored inline


async def test_pipeline_run_through_gcs(gcs_server: CloudServer, tmp_path: Path) -> None:
    await _run_through(gcs_server, tmp_path)


async def test_pipeline_run_through_azure(azure_server: CloudServer, tmp_path: Path) -> None:
    await _run_through(azure_server, tmp_path)


SCRIPT = """
import os, sys, anyio
from flowyml import Pipeline, Runtime
from tests.storage.test_cloud_stores import numbers, payload

async def main():
    p = Pipeline("exit-clean", context={"n": 10})
    p.add_step(numbers).add_step(payload)
    async with Runtime(store="sqlite:///" + sys.argv[2], artifacts=sys.argv[1]) as rt:
        assert (await p.arun(runtime=rt)).success

anyio.run(main)
print("done")
"""


@pytest.mark.slow
def test_a_cloud_store_leaves_nothing_to_print_at_exit(
    azure_server: CloudServer, gcs_server: CloudServer, tmp_path: Path
) -> None:
    # adlfs and gcsfs register exit-time finalizers that would print "Loop is not running"
    # if the store left their clients for them to close
    for server in (azure_server, gcs_server):
        env = {**os.environ, **server.env}
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, server.url(), str(tmp_path / f"{server.scheme}.db")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0 and out.stdout.strip() == "done", out.stderr
        assert "Traceback" not in out.stderr, out.stderr
