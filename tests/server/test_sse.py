"""Live SSE streams against a real uvicorn on 127.0.0.1, read with httpx-sse."""

from __future__ import annotations

import socket
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import httpx
import msgspec
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse

from flowyml import Pipeline, step
from flowyml.events import decode_event
from flowyml.server import FlowymlServer, ServerOptions
from flowyml.server._sse import event_frames

from .conftest import FAST, Gates, api, chain, make_app, serve, wait_for


def flowyml(app: Any) -> FlowymlServer:
    server: FlowymlServer = app.state.flowyml
    return server


async def store_ids(server: FlowymlServer, run_id: str) -> list[int]:
    return [r.id for r in await server.store.events_after(0, run_id=run_id, limit=10_000)]


class Reader:
    """Reads one SSE stream event by event (pings are skipped)."""

    def __init__(self, source: Any) -> None:
        self._it = source.aiter_sse()
        self.seen: list[ServerSentEvent] = []

    async def next(self) -> ServerSentEvent:
        with anyio.fail_after(5):
            while True:
                sse: ServerSentEvent = await self._it.__anext__()
                if sse.event and sse.event != "message":
                    self.seen.append(sse)
                    return sse

    async def until(self, event: str, step: str | None = None) -> ServerSentEvent:
        while True:
            sse = await self.next()
            if sse.event == event and (step is None or sse.json().get("step") == step):
                return sse

    async def rest(self) -> list[ServerSentEvent]:
        """Everything until the server ends the stream."""
        with anyio.fail_after(5):
            async for sse in self._it:
                if sse.event and sse.event != "message":
                    self.seen.append(sse)
        return self.seen


async def trigger(c: httpx.AsyncClient, base: str, name: str) -> str:
    r = await c.post(f"{base}/api/pipelines/{name}/runs", json={})
    assert r.status_code == 202, r.text
    run_id: str = r.json()["run_id"]
    return run_id


async def test_follow_a_run_from_start_to_finish(urls: tuple[str, str]) -> None:
    gates = Gates(3)
    app = make_app(urls, [chain("chain", gates)])
    async with serve(app) as base, httpx.AsyncClient(timeout=10) as c:
        run_id = await trigger(c, base, "chain")
        async with aconnect_sse(c, "GET", f"{base}/api/runs/{run_id}/events") as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            events = Reader(source)
            first = await events.next()
            assert first.event == "run_started"
            assert first.json()["run_id"] == run_id
            for i in range(3):
                # Live: the step is seen running before the test lets it finish.
                await events.until("step_started", f"s{i}")
                gates.open(i)
                done = await events.until("step_succeeded", f"s{i}")
                assert type(decode_event(done.data)).__name__ == "StepSucceeded"
            last = await events.until("run_finished")
            assert last.json()["status"] == "succeeded"
            seen = await events.rest()  # the stream ends after run_finished
        ids = [int(e.id) for e in seen]
        assert ids == await store_ids(flowyml(app), run_id)
        assert [e.event for e in seen][-1] == "run_finished"


async def test_reconnect_with_last_event_id_gets_each_event_once(urls: tuple[str, str]) -> None:
    gates = Gates(3)
    app = make_app(urls, [chain("chain", gates)])
    async with serve(app) as base, httpx.AsyncClient(timeout=10) as c:
        run_id = await trigger(c, base, "chain")
        url = f"{base}/api/runs/{run_id}/events"
        async with aconnect_sse(c, "GET", url) as source:
            first = Reader(source)
            await first.until("step_started", "s0")
        # Disconnected: the server notices and forgets the client; the run goes on.
        await wait_for(lambda: flowyml(app).fanout.client_count == 0)
        gates.open(0)
        gates.open(1)
        with anyio.fail_after(5):
            await gates.entered[2].wait()
        last_id = first.seen[-1].id
        async with aconnect_sse(c, "GET", url, headers={"Last-Event-ID": last_id}) as source:
            second = Reader(source)
            await second.until("step_started", "s2")
            gates.open(2)
            await second.rest()
        ids = [int(e.id) for e in first.seen + second.seen]
        assert ids == await store_ids(flowyml(app), run_id)
        assert len(set(ids)) == len(ids)
        # A reconnect after the end replays nothing more and ends at once.
        async with aconnect_sse(c, "GET", url, headers={"Last-Event-ID": str(ids[-1])}) as source:
            assert await Reader(source).rest() == []
        # Without Last-Event-ID a finished run is replayed from its start.
        async with aconnect_sse(c, "GET", url) as source:
            replay = await Reader(source).rest()
        assert [int(e.id) for e in replay] == ids


async def test_global_stream_starts_live_and_resumes(urls: tuple[str, str]) -> None:
    gates = Gates(1)
    app = make_app(urls, [chain("chain", gates)])
    server = flowyml(app)
    async with serve(app) as base, httpx.AsyncClient(timeout=10) as c:
        gates.open_all()
        earlier = await trigger(c, base, "chain")
        await wait_for(lambda: not server.is_running(earlier))
        async with aconnect_sse(c, "GET", f"{base}/api/events") as source:
            await wait_for(lambda: server.fanout.client_count == 1)
            run_id = await trigger(c, base, "chain")
            events = Reader(source)
            await events.until("step_succeeded")
        assert {e.json()["run_id"] for e in events.seen} == {run_id}
        resume = events.seen[-1].id
        async with aconnect_sse(
            c, "GET", f"{base}/api/events", headers={"Last-Event-ID": resume}
        ) as source:
            rest = Reader(source)
            await rest.until("run_finished")
        ids = [int(e.id) for e in events.seen + rest.seen]
        assert ids == await store_ids(server, run_id)


SCRIPT = """
import pathlib, sys, anyio
from flowyml import Pipeline, step

store, artifacts, run_id, gate = sys.argv[1:5]

@step
async def first() -> int:
    return 1

@step
async def second(first: int) -> int:
    while not pathlib.Path(gate).exists():  # held until the test has seen `first` live
        await anyio.sleep(0.02)
    return first + 1

p = Pipeline("elsewhere", enable_cache=False).add_step(first).add_step(second, inputs=["first"])
result = anyio.run(lambda: p.arun(run_id=run_id, store=store, artifacts=artifacts))
sys.exit(0 if result.status == "succeeded" else 1)
"""


@pytest.mark.slow  # starts a Python process
async def test_run_in_another_process_streams_while_it_runs(
    urls: tuple[str, str], tmp_path: Path
) -> None:
    # Events written by another process never pass this server's hub: the tailer's
    # polling must deliver them, while that run still waits at its gate.
    script = tmp_path / "other.py"
    script.write_text(textwrap.dedent(SCRIPT))
    gate = tmp_path / "gate"
    app = make_app(urls)  # default poll interval (0.25 s)
    server = flowyml(app)
    async with serve(app) as base, httpx.AsyncClient(timeout=10) as c:
        async with aconnect_sse(c, "GET", f"{base}/api/events") as source:
            await wait_for(lambda: server.fanout.client_count == 1)
            events = Reader(source)
            async with await anyio.open_process(
                [sys.executable, str(script), *urls, "remote-run", str(gate)]
            ) as proc:
                with anyio.fail_after(30):
                    while True:
                        sse = await events._it.__anext__()
                        if sse.event and sse.event != "message":
                            events.seen.append(sse)
                            if sse.event == "step_succeeded":
                                break
                assert events.seen[-1].json()["step"] == "first"
                assert proc.returncode is None  # the run is still held at the gate
                gate.touch()
                await events.until("run_finished")
                assert await proc.wait() == 0
        assert {e.json()["run_id"] for e in events.seen} == {"remote-run"}
        assert events.seen[0].event == "run_started"
        assert [int(e.id) for e in events.seen] == await store_ids(server, "remote-run")


async def test_two_hundred_concurrent_clients(urls: tuple[str, str]) -> None:
    gates = Gates(2)
    app = make_app(urls, [chain("chain", gates)])
    server = flowyml(app)
    n = 200
    results: list[list[int]] = []
    async with serve(app) as base:
        limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=20, limits=limits) as c:
            run_id = await trigger(c, base, "chain")
            url = f"{base}/api/runs/{run_id}/events"

            async def follow() -> None:
                async with aconnect_sse(c, "GET", url) as source:
                    ids = [int(e.id) async for e in source.aiter_sse() if e.event != "message"]
                results.append(ids)

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    for _ in range(n):
                        tg.start_soon(follow)
                    await wait_for(lambda: server.fanout.client_count == n, timeout=20)
                    gates.open_all()
            await wait_for(lambda: server.fanout.client_count == 0)
    expected = results[0]
    assert len(results) == n
    assert all(r == expected for r in results)
    assert len(expected) >= 6  # run_started, 2 x (started, succeeded), run_finished


async def test_stalled_client_slows_nobody(urls: tuple[str, str]) -> None:
    @step(outputs=["x"])
    def boom(i: int) -> int:
        raise ValueError("x" * 100_000)

    p = Pipeline("boom", enable_cache=False)
    for i in range(60):
        p.add_step(boom.with_options(name=f"boom{i}", outputs=[f"x{i}"]), inputs={})
    options = ServerOptions(ping_interval=FAST.ping_interval, poll_interval=0.25, client_buffer=16)
    app = make_app(urls, [p], options=options)
    server = flowyml(app)
    async with serve(app) as base, httpx.AsyncClient(timeout=20) as c:
        port = int(base.rsplit(":", 1)[1])

        def connect() -> socket.socket:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
            return s

        stalled = await anyio.to_thread.run_sync(connect)
        try:
            async with aconnect_sse(c, "GET", f"{base}/api/events") as source:
                await wait_for(lambda: server.fanout.client_count == 2)
                r = await c.post(f"{base}/api/pipelines/boom/runs", json={"params": {"i": 1}})
                assert r.status_code == 202, r.text
                run_id = r.json()["run_id"]
                events = Reader(source)
                with anyio.fail_after(20):
                    await events.until("run_finished")
            assert [int(e.id) for e in events.seen] == await store_ids(server, run_id)
            assert msgspec.json.decode(events.seen[-1].data)["status"] == "failed"
            assert server.fanout.overflows >= 1  # the stalled client was dropped, not waited for
        finally:
            stalled.close()


async def test_a_client_that_falls_behind_resyncs_from_the_store(urls: tuple[str, str]) -> None:
    gates = Gates(3)
    options = ServerOptions(ping_interval=1.0, client_buffer=2)
    app = make_app(urls, [chain("chain", gates)], options=options)
    server = flowyml(app)
    async with api(app):
        run_id = await server.trigger("chain")
        await wait_for(lambda: gates.entered[0].is_set())
        frames = event_frames(server, run_id=None, after=0)
        try:
            got = [await frames.__anext__()]  # replayed from the store, then joined live
            gates.open_all()
            # The run goes on while this client reads nothing: its buffer overflows.
            await wait_for(lambda: not server.is_running(run_id))
            await wait_for(lambda: server.fanout.overflows >= 1)
            with anyio.fail_after(5):
                while b"event: run_finished" not in got[-1]:
                    got.append(await frames.__anext__())
        finally:
            await frames.aclose()
        assert server.fanout.client_count == 0
        frames_sent = [f for chunk in got for f in chunk.split(b"\r\n\r\n") if f]
        ids = [int(f.split(b"\r\n", 1)[0].removeprefix(b"id: ")) for f in frames_sent]
        assert ids == await store_ids(server, run_id)


async def test_idle_streams_get_pings(urls: tuple[str, str]) -> None:
    app = make_app(urls, options=ServerOptions(ping_interval=0.1))
    async with (
        serve(app) as base,
        httpx.AsyncClient(timeout=10) as c,
        c.stream("GET", f"{base}/api/events") as r,
    ):
        assert r.status_code == 200
        with anyio.fail_after(5):
            async for line in r.aiter_lines():
                if line.startswith(":"):
                    break


async def test_a_last_event_id_past_the_end_is_clamped(urls: tuple[str, str]) -> None:
    gates = Gates(1)
    app = make_app(urls, [chain("chain", gates)])
    async with serve(app) as base, httpx.AsyncClient(timeout=10) as c:
        run_id = await trigger(c, base, "chain")
        await wait_for(lambda: gates.entered[0].is_set())
        known = await store_ids(flowyml(app), run_id)
        url = f"{base}/api/runs/{run_id}/events"
        async with aconnect_sse(c, "GET", url, headers={"Last-Event-ID": str(10**15)}) as source:
            events = Reader(source)
            await wait_for(lambda: flowyml(app).fanout.client_count == 1)
            gates.open_all()
            seen = await events.rest()
        assert [e.event for e in seen][-1] == "run_finished"
        assert min(int(e.id) for e in seen) > max(known)
        r = await c.get(url, headers={"Last-Event-ID": "soon"})
        assert r.status_code == 422


async def test_a_fresh_ticket_resumes_after_last_event_id_in_the_url(
    urls: tuple[str, str],
) -> None:
    # A dashboard that opens a new EventSource (the old ticket is spent) cannot send the
    # Last-Event-ID header: it names its last id in the URL next to the new ticket.
    gates = Gates(3)
    app = make_app(urls, [chain("chain", gates)], token="s3cret")
    bearer = {"Authorization": "Bearer s3cret"}
    server = flowyml(app)
    async with serve(app) as base, httpx.AsyncClient(timeout=10) as c:

        async def ticket() -> str:
            r = await c.post(f"{base}/api/sse-tickets", headers=bearer)
            assert r.status_code == 200, r.text
            value: str = r.json()["ticket"]
            return value

        r = await c.post(f"{base}/api/pipelines/chain/runs", json={}, headers=bearer)
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        url = f"{base}/api/runs/{run_id}/events"
        async with aconnect_sse(c, "GET", url, params={"ticket": await ticket()}) as source:
            first = Reader(source)
            await first.until("step_started", "s0")
        await wait_for(lambda: server.fanout.client_count == 0)
        gates.open(0)
        gates.open(1)
        with anyio.fail_after(5):
            await gates.entered[2].wait()
        params = {"ticket": await ticket(), "last_event_id": first.seen[-1].id}
        async with aconnect_sse(c, "GET", url, params=params) as source:
            second = Reader(source)
            await second.until("step_started", "s2")
            gates.open(2)
            await second.rest()
        ids = [int(e.id) for e in first.seen + second.seen]
        assert ids == await store_ids(server, run_id)

        # The all-runs stream resumes the same way.
        params = {"ticket": await ticket(), "last_event_id": str(ids[2])}
        async with aconnect_sse(c, "GET", f"{base}/api/events", params=params) as source:
            everything = Reader(source)
            await everything.until("run_finished")
        assert [int(e.id) for e in everything.seen] == ids[3:]

        # A browser's own reconnect sends the header with a newer id: the header wins.
        params = {"ticket": await ticket(), "last_event_id": str(ids[1])}
        headers = {"Last-Event-ID": str(ids[4])}
        async with aconnect_sse(c, "GET", url, params=params, headers=headers) as source:
            assert [int(e.id) for e in await Reader(source).rest()] == ids[5:]

        params = {"ticket": await ticket(), "last_event_id": "soon"}
        r = await c.get(url, params=params)
        assert r.status_code == 422
        assert "last_event_id" in r.json()["detail"]


async def test_a_run_in_this_process_wakes_the_tailer_without_polling(
    urls: tuple[str, str],
) -> None:
    # The tailer polls only once an hour here: a run of this server's own process must
    # still stream live, because each commit it publishes on the hub wakes the tailer.
    gates = Gates(2)
    options = ServerOptions(ping_interval=1.0, poll_interval=3600.0)
    app = make_app(urls, [chain("chain", gates)], options=options)
    server = flowyml(app)
    async with serve(app) as base, httpx.AsyncClient(timeout=10) as c:
        async with aconnect_sse(c, "GET", f"{base}/api/events") as source:
            await wait_for(lambda: server.fanout.client_count == 1)
            run_id = await trigger(c, base, "chain")
            events = Reader(source)
            for i in range(2):
                await events.until("step_started", f"s{i}")
                gates.open(i)
            await events.until("run_finished")
        assert [int(e.id) for e in events.seen] == await store_ids(server, run_id)
