"""A real S3 endpoint for tests: moto's server in a subprocess on 127.0.0.1.

Import the fixture into a test module: ``from tests.s3_server import S3Server, s3_server``.
The server starts once per session (< 1 s with compiled bytecode) with one bucket,
:data:`BUCKET`; give each test its own prefix with :meth:`S3Server.url`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

__all__ = ("BUCKET", "S3Server", "s3_server", "s3_session", "start_moto")

BUCKET = "flowyml-tests"
_READY_TIMEOUT = 60.0
# moto's server (werkzeug) writes a response's headers and body separately; with Nagle's
# algorithm on, the body then waits for the client's delayed ACK: ~40 ms per PUT.
_MOTO_MAIN = """
import socketserver, sys
socketserver.StreamRequestHandler.disable_nagle_algorithm = True
from moto.server import main
main(sys.argv[1:])
"""


@dataclass(frozen=True)
class S3Server:
    """Where the moto server listens and the credentials to use (moto accepts any)."""

    endpoint_url: str
    key: str = "testing"
    secret: str = "testing"
    bucket: str = BUCKET

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for ``FsspecArtifactStore``/``s3fs`` (explicit, no global env)."""
        return {"key": self.key, "secret": self.secret, "endpoint_url": self.endpoint_url}

    def url(self, prefix: str | None = None) -> str:
        """A fresh ``s3://`` URL in the test bucket (a unique prefix by default)."""
        return f"s3://{self.bucket}/{prefix or uuid.uuid4().hex}"

    async def s3fs(self) -> Any:
        """A new async ``s3fs.S3FileSystem`` for this server, session set (close ``fs._s3``)."""
        import s3fs

        from flowyml.storage.artifacts._s3 import prepare_session

        session = await anyio.to_thread.run_sync(prepare_session, self.storage_options)
        fs = s3fs.S3FileSystem(
            asynchronous=True, skip_instance_cache=True, session=session, **self.storage_options
        )
        await fs.set_session()
        return fs


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"moto server not ready after {_READY_TIMEOUT} s: {log.read_text()}")
        time.sleep(0.05)  # polling another process's readiness: nothing to wait on


async def _create_bucket(server: S3Server) -> None:
    fs = await server.s3fs()
    try:
        await fs._mkdir(server.bucket)
    finally:
        await fs._s3.close()


def start_moto(log: Path) -> tuple[subprocess.Popen[bytes], S3Server]:
    """Start moto on a free port, wait for it and create :data:`BUCKET`."""
    port = _free_port()
    # Let moto write its bytecode once: with PYTHONDONTWRITEBYTECODE it starts in ~5 s.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _MOTO_MAIN, "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        server = S3Server(endpoint_url=f"http://127.0.0.1:{port}")
        _wait_ready(server.endpoint_url, proc, log)
        anyio.run(_create_bucket, server)
    except BaseException:
        _stop(proc)
        raise
    return proc, server


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_session(s3_server: S3Server) -> Any:
    """An aiobotocore session with botocore's files already loaded, shared by tests.

    Pass it as ``session=`` to skip the ~0.1-0.5 s of session set-up per store.
    """
    from flowyml.storage.artifacts._s3 import prepare_session

    return prepare_session(s3_server.storage_options)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A moto S3 server for the whole session, stopped at the end."""
    proc, server = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server
    finally:
        _stop(proc)
