"""Real GCS and Azure Blob endpoints for tests: emulators in subprocesses on 127.0.0.1.

* GCS: ``gcp-storage-emulator`` (PyPI, in the dev extra), driven through gcsfs.
* Azure Blob: Azurite (npm), installed on first use into ``$FLOWYML_AZURITE_DIR``
  (default ``~/.cache/flowyml/azurite``; ``scripts/test.sh`` installs it up front),
  driven through adlfs.

Import the fixtures into a test module: ``from tests.cloud_servers import gcs_server,
azure_server``.  Each starts once per session, with one bucket/container.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ("AZURITE_KEY", "CloudServer", "azure_server", "gcs_server")

#: Azurite's documented development account key (public; it only opens the emulator)
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_AZURITE_VERSION = "3"
_READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class CloudServer:
    """An emulator: its URL scheme, bucket, and the options a store needs to reach it."""

    scheme: str
    bucket: str
    storage_options: dict[str, Any] = field(default_factory=dict)
    #: environment variables with which a plain ``open_artifact_store(url)`` (e.g. on a
    #: Dask worker) reaches it
    env: dict[str, str] = field(default_factory=dict)

    def url(self, prefix: str | None = None) -> str:
        """A fresh URL in the test bucket (a unique prefix by default)."""
        return f"{self.scheme}://{self.bucket}/{prefix or uuid.uuid4().hex}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not listening on 127.0.0.1:{port} after {_READY_TIMEOUT}s")
        time.sleep(0.05)  # polling another process's readiness: nothing to wait on


def _start(argv: list[str], port: int, what: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_port(port, proc, what)
    except BaseException:
        _stop(proc)
        raise
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[CloudServer]:
    """gcp-storage-emulator with bucket ``flowyml-tests``."""
    # Without this, gcsfs first tries gRPC over TLS on every operation (35-80 s each).
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    gcsfs = pytest.importorskip("gcsfs")
    port = _free_port()
    binary = str(Path(sys.executable).parent / "gcp-storage-emulator")
    argv = [binary, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "-q"]
    proc = _start(argv, port, "gcp-storage-emulator")
    endpoint = f"http://127.0.0.1:{port}"
    options = {"endpoint_url": endpoint, "token": "anon", "project": "test"}
    try:
        gcsfs.GCSFileSystem(skip_instance_cache=True, **options).mkdir("flowyml-tests")
        yield CloudServer("gs", "flowyml-tests", options, env={"STORAGE_EMULATOR_HOST": endpoint})
    finally:
        _stop(proc)


def _azurite() -> Path:
    """The azurite-blob binary, installed with npm on first use."""
    default = Path.home() / ".cache" / "flowyml" / "azurite"
    root = Path(os.environ.get("FLOWYML_AZURITE_DIR", default))
    binary = root / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("Azure Blob tests need npm (to install Azurite)")
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(root), "--no-audit", "--no-fund", "--silent"]
            + [f"azurite@{_AZURITE_VERSION}"],
            check=True,
            timeout=300,
        )
    return binary


@pytest.fixture(scope="session")
def azure_server() -> Iterator[CloudServer]:
    """Azurite's blob service with container ``flowyml-tests``."""
    adlfs = pytest.importorskip("adlfs")
    binary = _azurite()
    port = _free_port()
    argv = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    argv += ["--inMemoryPersistence", "--silent", "--skipApiVersionCheck"]
    proc = _start([*argv, "--disableTelemetry"], port, "azurite")
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    try:
        fs = adlfs.AzureBlobFileSystem(connection_string=connection, skip_instance_cache=True)
        fs.mkdir("flowyml-tests")
        yield CloudServer(
            "az",
            "flowyml-tests",
            {"connection_string": connection},
            env={"AZURE_STORAGE_CONNECTION_STRING": connection},
        )
    finally:
        _stop(proc)
