"""``flowyml ui`` as a real process: memory under a huge unauthenticated body, secrets kept
out of its access log, and a prompt stop while a sync step cannot be interrupted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from flowyml.storage.metadata import open_metadata_store

pytestmark = pytest.mark.slow

TOKEN = "process-s3cret"
JOBS = """
import time
from flowyml import Pipeline, step

@step
def stuck() -> int:
    time.sleep(10**6)  # a sync step that nothing can interrupt
    return 1

stuck_job = Pipeline("stuck", enable_cache=False)
stuck_job.add_step(stuck)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@contextmanager
def flowyml_ui(tmp_path: Path, token: str | None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``flowyml ui -p jobs:stuck_job`` on a free port; yields the process and its URL."""
    (tmp_path / "jobs.py").write_text(JOBS)
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("FLOWYML_API_TOKEN", None)
    if token:
        env["FLOWYML_API_TOKEN"] = token
    code = "from flowyml.cli import main; main()"
    store = f"sqlite:///{tmp_path / 'meta.db'}"
    args = ["ui", "--port", str(port), "-p", "jobs:stuck_job", "--store", store]
    args += ["--artifacts", f"file://{tmp_path / 'artifacts'}"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                if httpx.get(f"{base}/api/health", headers=headers).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "flowyml ui did not start"
            time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def big_unauthenticated_post(base: str, total: int) -> tuple[bytes, int]:
    """POST ``total`` bytes without a token: send 1 MiB, wait for the answer, send the rest.

    Returns the answer's first bytes and how much of the body the server let us send.
    """
    host, port = base.removeprefix("http://").split(":")
    chunk = b"x" * (1 << 20)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            f"POST /api/pipelines/stuck/runs HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {total}\r\n\r\n"
        )
        sock.sendall(head.encode() + chunk)
        answer = sock.recv(4096)  # the server answers while most of the body is unsent
        sent = len(chunk)
        try:
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection: the rest is never read
    return answer, sent


def test_unauthenticated_huge_body_costs_no_memory_and_no_secret_is_logged(
    tmp_path: Path,
) -> None:
    with flowyml_ui(tmp_path, TOKEN) as (proc, base):
        before = rss_kib(proc.pid)
        answer, sent = big_unauthenticated_post(base, 200 << 20)
        assert answer.startswith(b"HTTP/1.1 401"), answer
        grown = rss_kib(proc.pid) - before
        assert grown < 30 * 1024, f"RSS grew by {grown} KiB after a {sent >> 20} MiB body"

        bearer = {"Authorization": f"Bearer {TOKEN}"}
        ticket = httpx.post(f"{base}/api/sse-tickets", headers=bearer).json()["ticket"]
        with httpx.stream("GET", f"{base}/api/events", params={"ticket": ticket}) as r:
            assert r.status_code == 200
        with httpx.stream("GET", f"{base}/api/events", params={"token": TOKEN}) as r:
            assert r.status_code == 200
        assert httpx.get(f"{base}/api/health", params={"token": TOKEN}).status_code == 401

        # A stream still open when the server stops ends cleanly (not cut off).
        ended: list[str] = []
        opened = threading.Event()

        def watch() -> None:
            try:
                with httpx.stream("GET", f"{base}/api/events", headers=bearer) as r:
                    opened.set()
                    for _ in r.iter_bytes():
                        pass
                ended.append("clean")
            except httpx.HTTPError as exc:
                ended.append(type(exc).__name__)

        watcher = threading.Thread(target=watch)
        watcher.start()
        assert opened.wait(10)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
        watcher.join(10)
    assert ended == ["clean"]
    assert "GET /api/events?ticket=***" in output, output
    assert "token=***" in output
    assert TOKEN not in output and ticket not in output
    assert "ERROR" not in output, output


def wait_until_running(base: str, run_id: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        steps = httpx.get(f"{base}/api/runs/{run_id}").json()["steps"]
        if steps and steps[0]["status"] == "running":
            return
        assert time.monotonic() < deadline, steps
        time.sleep(0.05)


async def run_status(url: str, run_id: str) -> str | None:
    store: Any = open_metadata_store(url)
    await store.open()
    try:
        run = await store.get_run(run_id)
    finally:
        await store.aclose()
    return None if run is None else str(run.status)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_within_5_s_past_a_stuck_sync_step(tmp_path: Path, signum: int) -> None:
    with flowyml_ui(tmp_path, None) as (proc, base):
        r = httpx.post(f"{base}/api/pipelines/stuck/runs", json={})
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        wait_until_running(base, run_id)
        t0 = time.monotonic()
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=15)
        took = time.monotonic() - t0
    assert took < 5.0, f"flowyml ui took {took:.1f} s to stop:\n{output}"
    status = anyio.run(run_status, f"sqlite:///{tmp_path / 'meta.db'}", run_id)
    assert status == "cancelled", output
