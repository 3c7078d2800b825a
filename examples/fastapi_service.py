"""A FastAPI service that runs a pipeline per request and lets clients follow it live.

    python examples/fastapi_service.py

The service mounts flowyml under ``/flowyml`` with one line::

    app.include_router(flowyml, prefix="/flowyml")

and has its own ``POST /jobs`` endpoint: it starts a run of the ``score`` pipeline in the
flowyml server's task group (``flowyml.server.trigger(...)``) and answers at once with the
run id and where to follow it::

    $ curl -s -X POST localhost:8000/jobs -H 'content-type: application/json' \\
          -d '{"text": "flowyml streams every step"}'
    {"run_id": "9f1c...", "events": "/flowyml/api/runs/9f1c.../events",
     "dashboard": "/flowyml/runs/9f1c..."}

    $ curl -N localhost:8000/flowyml/api/runs/9f1c.../events
    id: 1
    event: run_started
    data: {"type":"run_started","run_id":"9f1c...",...}
    ...
    event: run_finished

The events stream replays the run from its start, follows it live, and ends after
``run_finished``; a client that reconnects with ``Last-Event-ID`` gets exactly the events it
missed.  The dashboard (``/flowyml/``) shows the same run; the whole flowyml API lives under
``/flowyml/api``.  Runs, steps and artifacts are stored in ``.flowyml/`` (SQLite and a local
folder) unless ``FLOWYML_STORE`` / ``FLOWYML_ARTIFACTS`` say otherwise.
"""

from __future__ import annotations

import anyio
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from flowyml import Pipeline, step
from flowyml.server import flowyml_router


@step
async def tokenize(text: str) -> list[str]:
    await anyio.sleep(0.5)  # stands in for a call to a slow service
    return text.lower().split()


@step
def count(words: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts


@step
async def summarize(counts: dict[str, int]) -> str:
    await anyio.sleep(0.5)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return ", ".join(f"{word} x{n}" for word, n in top)


#: Count the words of a text and summarise the most frequent ones.
score = (
    Pipeline("score", context={"text": "hello world"})
    .add_step(tokenize)
    .add_step(count, inputs={"words": "tokenize"})
    .add_step(summarize, inputs={"counts": "count"})
)


class Job(BaseModel):
    """What a client sends to ``POST /jobs``."""

    text: str


class JobStarted(BaseModel):
    """The started run and where to follow it."""

    run_id: str
    events: str
    dashboard: str


flowyml = flowyml_router(pipelines=[score])
app = FastAPI(title="word scores")
app.include_router(flowyml, prefix="/flowyml")


@app.post("/jobs", status_code=202, response_model=JobStarted)
async def start_job(job: Job) -> JobStarted:
    """Start a ``score`` run for ``job.text``; answer as soon as the run is recorded."""
    run_id = await flowyml.server.trigger("score", {"text": job.text})
    return JobStarted(
        run_id=run_id,
        events=f"/flowyml/api/runs/{run_id}/events",
        dashboard=f"/flowyml/runs/{run_id}",
    )


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)
