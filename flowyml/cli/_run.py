"""``flowyml run module:attr``: run a pipeline with a live display; ``flowyml logs``.

Exit status: 0 when the run succeeded, 1 when it failed (or its store failed), 2 for a
usage error (an unknown pipeline or a parameter that does not parse), 130 after Ctrl-C
(the run is recorded ``cancelled`` first).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Annotated, Any, Final

import anyio
import typer

from ._display import RunView, dashboard_url, render, summary_lines

if TYPE_CHECKING:
    from rich.console import Console

    from .._api import Pipeline
    from ..results import PipelineResult

__all__ = ("logs_command", "run_command")

#: where ``flowyml run`` finds the dashboard to link the run to
SERVER_URL_ENV: Final = "FLOWYML_SERVER_URL"
_REFRESH: Final = 0.1


async def _execute(
    pipeline: Pipeline,
    params: dict[str, Any],
    view: RunView,
    *,
    store: str | None,
    no_cache: bool,
    resume: str | None,
) -> PipelineResult:
    """Run (or resume) while redrawing the display; the display lives as long as the run."""
    options: dict[str, Any] = {"store": store, "on_event": view.on_event, "params": params}
    if no_cache:
        options["enable_cache"] = False
    console = view.console
    if console is None or not console.is_terminal:
        if resume is not None:
            return await pipeline.aresume(resume, **options)
        return await pipeline.arun(**options)
    from rich.live import Live

    with Live(render(view), console=console, auto_refresh=False, transient=False) as live:
        async with anyio.create_task_group() as tg:

            async def redraw() -> None:
                while True:
                    live.update(render(view), refresh=True)
                    await anyio.sleep(_REFRESH)

            tg.start_soon(redraw)
            try:
                if resume is not None:
                    result = await pipeline.aresume(resume, **options)
                else:
                    result = await pipeline.arun(**options)
            finally:
                tg.cancel_scope.cancel()
                live.update(render(view), refresh=True)
    return result


def _failures(console: Console, result: PipelineResult) -> None:
    from .._traceback import format_step_traceback

    for name, r in result.step_results.items():
        if r.status != "failed":
            continue
        console.print(f"\nstep {name} failed:", style="bold red", markup=False, highlight=False)
        if r.error is not None:
            text = format_step_traceback(r.error)
        else:
            text = r.traceback or "(no traceback)"
        console.print(text.rstrip(), markup=False, highlight=False)


def run_command(
    target: Annotated[
        str, typer.Argument(help="The pipeline, as module:attribute", metavar="MODULE:ATTR")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="A run parameter as name=value (repeatable)", metavar="NAME=VALUE"
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step, ignoring cached results")
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option(help="Resume this run: only its unfinished steps run", metavar="RUN_ID"),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            help="Metadata store URL (default: FLOWYML_STORE or .flowyml/)", metavar="URL"
        ),
    ] = None,
) -> None:
    """Run a pipeline, showing its steps live.

    Exits with 0 when the run succeeded, 1 when it failed, 2 for a bad argument and 130
    after Ctrl-C (the run is recorded cancelled).  With FLOWYML_SERVER_URL set (e.g.
    http://127.0.0.1:8080), the summary links the run's dashboard page.
    """
    from rich.console import Console

    from ..errors import FlowymlError, StoreError
    from ._main import load_pipeline
    from ._params import ParamError, parse_params

    pipeline = load_pipeline(target)
    try:
        params = parse_params(pipeline, param or ())
    except ParamError as exc:
        raise typer.BadParameter(str(exc), param_hint="-p") from None
    console = Console(highlight=False)
    view = RunView(console)
    t0 = time.perf_counter()
    # flowyml's own warnings ("step x failed") repeat what the display shows: this
    # process is the command's, so they are kept out of the terminal while it runs.
    quiet = logging.NullHandler()
    logging.getLogger("flowyml").addHandler(quiet)
    try:
        result = anyio.run(
            lambda: _execute(pipeline, params, view, store=store, no_cache=no_cache, resume=resume)
        )
    except KeyboardInterrupt:
        view.status = "cancelled"
        _summary(console, view, time.perf_counter() - t0)
        raise typer.Exit(130) from None
    except (StoreError, FlowymlError) as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        raise typer.Exit(1) from None
    finally:
        logging.getLogger("flowyml").removeHandler(quiet)
    view.status = result.status
    _failures(console, result)
    _summary(console, view, result.duration_seconds)
    raise typer.Exit(0 if result.status == "succeeded" else 1)


def _summary(console: Console, view: RunView, duration: float) -> None:
    url = dashboard_url(os.environ.get(SERVER_URL_ENV), view.run_id)
    style = "green" if view.status == "succeeded" else "red"
    for i, line in enumerate(summary_lines(view, duration, url)):
        console.print(line, style=style if i == 0 else None, markup=False)


async def _follow(url: str, run_id: str, step: str | None, follow: bool, console: Console) -> int:
    from ..client import Client

    async with Client(store=url) as client:
        await client.get_run(run_id)  # NotFoundError for an unknown run
        since: int | None = None
        while True:
            batch = await client.logs(run_id, step, since=since, limit=1000)
            for rec in batch:
                when = time.strftime("%H:%M:%S", time.localtime(rec.created_at))
                console.print(
                    f"{when} {rec.step} {rec.level:<7} {rec.logger}: {rec.message}",
                    markup=False,
                    highlight=False,
                )
            if batch:
                since = batch[-1].seq
                continue
            if not follow:
                return 0
            run = (await client.get_run(run_id)).run
            if run.status != "running":
                # One last read: lines stored with the run's end.
                rest = await client.logs(run_id, step, since=since, limit=1000)
                if not rest:
                    return 0
                continue
            await anyio.sleep(0.5)


def logs_command(
    run_id: Annotated[
        str, typer.Argument(help="The run's id (see flowyml runs)", metavar="RUN_ID")
    ],
    step: Annotated[
        str | None, typer.Argument(help="Only this step's lines", metavar="[STEP]")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until the run ends")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            help="Metadata store URL (default: FLOWYML_STORE or .flowyml/)", metavar="URL"
        ),
    ] = None,
) -> None:
    """Print the lines a run's steps logged (with --follow, live until the run ends)."""
    from rich.console import Console

    from ..config import load_config
    from ..errors import NotFoundError, StoreError

    url = store or load_config().store
    console = Console(highlight=False, soft_wrap=True)
    try:
        code = anyio.run(_follow, url, run_id, step, follow, console)
    except (NotFoundError, StoreError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(code)
