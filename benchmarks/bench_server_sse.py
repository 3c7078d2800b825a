"""SSE fan-out: a burst of events to many watchers, idle watchers' memory, a stalled one.

Two servers run as subprocesses on 127.0.0.1, measured in the same run:

- ``flowyml``: ``create_app`` on a SQLite store; the burst is ``N`` events appended to
  the store by this process in one transaction (as a run in another process would), so it
  reaches watchers through the server's tailer;
- ``baseline``: a minimal Starlette app; each watcher has an unbounded queue and a
  ``StreamingResponse``; ``POST /burst`` puts the same pre-encoded frames in every queue.

Watchers are raw sockets (``GET /api/events``) read by this process.  A frame's latency is
its arrival minus the moment the burst was committed (flowyml) or posted (baseline).  One
more watcher never reads: it must not slow the others.  Then ``IDLE`` watchers connect
and wait, and the server's resident memory growth is read from ``/proc``.
Targets (flowyml): p99 latency under 1.5 s for 1,000 events to 300 watchers; under 50 MB for
1,000 idle watchers.  Ratios are flowyml / baseline.
Run: ``python -m benchmarks.bench_server_sse [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FRAME_MARK = b"event: "


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------- servers
def _serve_flowyml(port: int, db: str) -> None:
    import uvicorn

    from flowyml.server import ServerOptions, create_app

    app = create_app(
        store=f"sqlite:///{db}",
        artifacts=f"file://{db}.artifacts",
        token="",
        dashboard=False,
        options=ServerOptions(interrupt_interval=3600.0, ping_interval=60.0),
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=2048)


def _serve_baseline(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    queues: set[asyncio.Queue[bytes]] = set()

    async def events(request: Request) -> StreamingResponse:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        queues.add(queue)

        async def frames() -> Any:
            try:
                while True:
                    yield await queue.get()
            finally:
                queues.discard(queue)

        return StreamingResponse(frames(), media_type="text/event-stream")

    async def burst(request: Request) -> Response:
        frames = json.loads(await request.body())
        encoded = [f.encode() for f in frames]
        for queue in list(queues):
            for frame in encoded:
                queue.put_nowait(frame)
        return Response(status_code=204)

    app = Starlette(routes=[Route("/api/events", events), Route("/burst", burst, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=2048)


def _start(kind: str, port: int, db: str) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "benchmarks.bench_server_sse",
        "--serve",
        kind,
        "--port",
        str(port),
    ]
    args += ["--db", db]
    return subprocess.Popen(args, start_new_session=True)


async def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


# ---------------------------------------------------------------------------- watchers
class Watcher:
    """A raw-socket SSE client that notes when each event frame arrives."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.ready = asyncio.Event()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int, *, read: bool = True) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        self.writer.write(
            b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
        )
        await self.writer.drain()
        if read:
            await self.reader.readuntil(b"\r\n\r\n")  # the response head
        self.ready.set()

    async def read(self, expected: int) -> None:
        assert self.reader is not None
        tail = b""
        while len(self.arrivals) < expected:
            data = await self.reader.read(1 << 16)
            if not data:
                return
            now = time.perf_counter()
            seen = (tail + data).count(FRAME_MARK) - tail.count(FRAME_MARK)
            self.arrivals.extend([now] * seen)
            tail = (tail + data)[-len(FRAME_MARK) :]

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _frames(n: int) -> list[str]:
    return [
        f'id: {i}\r\nevent: step_started\r\ndata: {{"type":"step_started","run_id":"burst",'
        f'"ts":0.0,"step":"s{i}","attempt":1,"inputs":{{}}}}\r\n\r\n'
        for i in range(1, n + 1)
    ]


async def _burst_flowyml(db: str, n: int) -> float:
    from flowyml.events import Event, RunStarted, StepStarted
    from flowyml.storage.metadata import open_metadata_store

    store = open_metadata_store(f"sqlite:///{db}")
    await store.open()
    try:
        now = time.time()
        events: list[Event] = [RunStarted(run_id=f"burst{now}", ts=now, pipeline="burst")]
        events += [StepStarted(run_id=f"burst{now}", ts=now, step=f"s{i}") for i in range(n - 1)]
        await store.append_events(events)
        return time.perf_counter()
    finally:
        await store.aclose()


async def _burst_baseline(port: int, n: int) -> float:
    body = json.dumps(_frames(n)).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    t = time.perf_counter()
    writer.write(
        b"POST /burst HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return t


async def burst(kind: str, port: int, db: str, watchers: int, n: int) -> dict[str, float]:
    """Latencies of an ``n``-event burst to ``watchers`` readers (plus one stalled)."""
    clients = [Watcher() for _ in range(watchers)]
    for start in range(0, watchers, 50):
        await asyncio.gather(*(c.connect(port) for c in clients[start : start + 50]))
    stalled = Watcher()
    await stalled.connect(port, read=False)
    await asyncio.sleep(1.0)  # every stream joined the fan-out
    readers = [asyncio.ensure_future(c.read(n)) for c in clients]
    if kind == "flowyml":
        t0 = await _burst_flowyml(db, n)
    else:
        t0 = await _burst_baseline(port, n)
    _done, pending = await asyncio.wait(readers, timeout=60)
    for task in pending:
        task.cancel()
    latencies = sorted(a - t0 for c in clients for a in c.arrivals)
    complete = sum(len(c.arrivals) >= n for c in clients)
    for c in [*clients, stalled]:
        c.close()
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99)],
        "max": latencies[-1],
        "complete": complete,
    }


async def idle(port: int, pid: int, watchers: int) -> float:
    """Resident memory growth (MiB) of the server while ``watchers`` streams stay open."""
    before = _rss_kib(pid)
    clients = [Watcher() for _ in range(watchers)]
    for start in range(0, watchers, 100):
        await asyncio.gather(*(c.connect(port) for c in clients[start : start + 100]))
    await asyncio.sleep(2.0)
    grown = (_rss_kib(pid) - before) / 1024
    for c in clients:
        c.close()
    return grown


async def scenario(kind: str, watchers: int, events: int, idle_watchers: int) -> dict[str, float]:
    """Start one server, measure the burst and the idle watchers, stop it."""
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "meta.db")
        if kind == "flowyml":
            await _create(db)
        port = _free_port()
        proc = _start(kind, port, db)
        try:
            await _wait_ready(port)
            result = await burst(kind, port, db, watchers, events)
            await asyncio.sleep(1.0)
            result["idle_mib"] = await idle(port, proc.pid, idle_watchers)
            return result
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _create(db: str) -> None:
    from flowyml.storage.metadata import open_metadata_store

    store = open_metadata_store(f"sqlite:///{db}")
    await store.open()
    await store.aclose()


def main(argv: list[str] | None = None) -> int:
    """Measure both servers; print a table with ratios; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_server_sse")
    parser.add_argument("--quick", action="store_true", help="100 events, 50 watchers")
    parser.add_argument("--serve", choices=["flowyml", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "flowyml":
        _serve_flowyml(args.port, args.db)
        return 0
    if args.serve == "baseline":
        _serve_baseline(args.port)
        return 0
    watchers, events, idle_watchers = (50, 100, 100) if args.quick else (300, 1000, 1000)
    results = {
        kind: asyncio.run(scenario(kind, watchers, events, idle_watchers))
        for kind in ("baseline", "flowyml")
    }
    print(f"{events} events to {watchers} watchers (+1 stalled); {idle_watchers} idle watchers")
    print(f"{'':10} {'p50 s':>8} {'p99 s':>8} {'max s':>8} {'complete':>9} {'idle MiB':>9}")
    for kind, r in results.items():
        print(
            f"{kind:10} {r['p50']:8.3f} {r['p99']:8.3f} {r['max']:8.3f} "
            f"{int(r['complete']):9d} {r['idle_mib']:9.1f}"
        )
    f, b = results["flowyml"], results["baseline"]
    print(
        f"ratio flowyml/baseline: p99 x{f['p99'] / b['p99']:.2f}, "
        f"idle memory x{f['idle_mib'] / max(b['idle_mib'], 0.1):.2f}"
    )
    ok = f["p99"] < 1.5 and f["idle_mib"] < 50 and f["complete"] == watchers
    print("targets (p99 < 1.5 s, idle < 50 MB, every watcher complete):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
