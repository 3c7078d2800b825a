"""The ``flowyml`` command: ``run``, ``logs``, ``ui`` (the server), ``runs``, ``cache clear``.

A thin layer over the public API; store URLs default to the configuration
(``FLOWYML_HOME``, ``FLOWYML_STORE``, ``FLOWYML_ARTIFACTS``).
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import anyio
import typer

from ._run import logs_command, run_command

if TYPE_CHECKING:
    from .._api import Pipeline
    from ..storage._records import RunRecord

__all__ = ("app", "load_pipeline", "main")

app = typer.Typer(
    name="flowyml",
    help="flowyml: async-first pipelines. Run one with `flowyml run`, watch runs with `flowyml ui`.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: rich panels print a "<bool>" type beside every flag.
    rich_markup_mode=None,
)
cache_app = typer.Typer(help="Manage the step cache.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(cache_app, name="cache")
app.command("run")(run_command)
app.command("logs")(logs_command)


def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        typer.echo(f"flowyml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Options for every command."""


StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", help="Metadata store URL (default: FLOWYML_STORE or .flowyml/)", metavar="URL"
    ),
]


class Status(enum.StrEnum):
    """Run statuses accepted by ``--status``."""

    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"


def load_pipeline(spec: str) -> Pipeline:
    """Import ``module:attr`` (``attr`` may be dotted) and check it is a pipeline.

    The current directory is importable, as with ``python -m``.

    :raises typer.BadParameter: naming what is wrong with ``spec``
    """
    from .._api import Pipeline

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise typer.BadParameter(f"{spec!r} is not of the form module:attribute (e.g. app:train)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import module {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise typer.BadParameter(f"module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(obj, Pipeline):
        raise typer.BadParameter(
            f"{spec!r} is a {type(obj).__name__}, not a flowyml Pipeline "
            f"(define it with @pipeline or Pipeline(...))"
        )
    return obj


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", min=0, max=65535)] = 8080,
    store: StoreOpt = None,
    artifacts: Annotated[
        str | None,
        typer.Option(help="Artifact store URL (default: FLOWYML_ARTIFACTS)", metavar="URL"),
    ] = None,
    pipeline: Annotated[
        list[str] | None,
        typer.Option(
            "--pipeline", "-p", help="module:attr of a pipeline the UI may run (repeatable)"
        ),
    ] = None,
) -> None:
    """Serve the dashboard and the API (uvicorn)."""
    import uvicorn

    from ..server import create_app
    from ..server._auth import TOKEN_ENV
    from ..server._logs import redact_access_log

    pipelines = [load_pipeline(spec) for spec in pipeline or ()]
    if not is_loopback(host) and not os.environ.get(TOKEN_ENV):
        typer.secho(
            f"WARNING: flowyml ui binds to {host}, reachable from other machines, and "
            f"{TOKEN_ENV} is not set: ANYONE who can reach this port can read every run "
            f"and artifact and start runs. Set {TOKEN_ENV}=<secret> or bind to 127.0.0.1.",
            fg=typer.colors.RED,
            bold=True,
            err=True,
        )
    server_app = create_app(store=store, artifacts=artifacts, pipelines=pipelines)
    # Open SSE streams never end by themselves: bound the wait for them on shutdown.
    config = uvicorn.Config(server_app, host=host, port=port, timeout_graceful_shutdown=2)
    redact_access_log()  # after Config, which (re)configures uvicorn's loggers
    status = 0
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        status = 130
    # Sync steps left running by cancelled runs are daemon threads: they do not hold the
    # interpreter at exit (see flowyml/execution/_threads.py).
    if status:
        raise typer.Exit(status)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}s"


def _steps(r: RunRecord) -> str:
    """Steps done (mapped elements count as steps) and failed."""
    failed = f" {r.steps_failed}✗" if r.steps_failed else ""
    return f"{r.steps_done}✓{failed}"


#: below this width the pipeline goes on a line of its own, under the run id
_WIDE: Final = 110


def _print_runs(items: Sequence[RunRecord]) -> None:
    """A table that fits the terminal and never cuts a run id (they are copied from it)."""
    from rich import box
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    console = Console()
    wide = console.width >= _WIDE
    head = ["run id", "pipeline"] if wide else ["run id / pipeline"]
    columns = [
        Column(h, no_wrap=True, min_width=32 if i == 0 else None) for i, h in enumerate(head)
    ]
    table = Table(
        *columns,
        Column("status", no_wrap=True),
        Column("started", no_wrap=True),
        Column("time", no_wrap=True, justify="right"),
        Column("steps", no_wrap=True),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for r in items:
        tags = (f" [{', '.join(r.tags)}]", "dim") if r.tags else ""
        ids: list[Text | str] = [r.run_id, Text.assemble(r.pipeline, tags)]
        if not wide:
            ids = [Text.assemble(r.run_id, "\n", (r.pipeline, "dim"), tags)]
        started = _when(r.started_at) if wide else _when(r.started_at)[:-3]
        table.add_row(*ids, r.status, started, _duration(r.duration), _steps(r))
    console.print(table)


async def _list_runs(
    url: str, pipeline: str | None, status: str | None, limit: int, tag: str | None = None
) -> tuple[list[RunRecord], bool]:
    """The runs to show, and whether the store holds no run at all.

    Runs whose process died are marked ``interrupted`` first, as :class:`~flowyml.Client`
    does, so that a killed run is not listed as ``running`` forever.
    """
    from ..storage.metadata import open_metadata_store

    store = open_metadata_store(url)
    await store.open()
    try:
        await store.mark_interrupted()
        page = await store.list_runs(pipeline=pipeline, status=status, limit=limit, tag=tag)  # type: ignore[arg-type]
        unfiltered = pipeline is None and status is None and tag is None
        empty = not page.items and (unfiltered or not (await store.list_runs(limit=1)).items)
    finally:
        await store.aclose()
    return page.items, empty


def _local_folder(url: str) -> Path | None:
    """The folder of a local artifact store URL (``file://`` or a plain path)."""
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    return None if "://" in url else Path(url)


def _warn_if_orphaned(store: str, artifacts: str) -> None:
    """Warn when the store holds no run but the artifact folder holds artifacts: the
    metadata was most likely lost, or the store URL points elsewhere."""
    folder = _local_folder(artifacts)
    if folder is None or not folder.is_dir() or next(folder.iterdir(), None) is None:
        return
    typer.secho(
        f"warning: the metadata store {store} holds no runs, but the artifact folder "
        f"{folder} is not empty: the metadata may have been deleted or reset, or --store "
        f"(FLOWYML_STORE, FLOWYML_HOME) points at another store than the runs used",
        fg=typer.colors.YELLOW,
        err=True,
    )


def _store_url(store: str | None) -> str:
    from ..config import load_config

    return store or load_config().store


@app.command()
def runs(
    pipeline: Annotated[
        str | None, typer.Option(help="Only runs of this pipeline", metavar="NAME")
    ] = None,
    status: Annotated[Status | None, typer.Option(help="Only runs with this status")] = None,
    tag: Annotated[str | None, typer.Option(help="Only runs with this tag", metavar="TAG")] = None,
    limit: Annotated[
        int, typer.Option(help="How many runs (newest first)", min=1, metavar="N")
    ] = 20,
    store: StoreOpt = None,
    artifacts: Annotated[
        str | None,
        typer.Option(help="Artifact store URL (default: FLOWYML_ARTIFACTS)", metavar="URL"),
    ] = None,
) -> None:
    """List recent runs, newest first (runs whose process died are marked interrupted)."""
    from ..config import load_config
    from ..errors import StoreError

    url = _store_url(store)
    try:
        items, empty = anyio.run(
            _list_runs, url, pipeline, status.value if status else None, limit, tag
        )
    except StoreError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    if empty:
        _warn_if_orphaned(url, artifacts or load_config().artifacts)
    if not items:
        typer.echo("no runs")
        return
    _print_runs(items)


async def _clear(url: str, pipeline: str | None, step: str | None) -> int:
    from ..storage.metadata import open_metadata_store

    store = open_metadata_store(url)
    await store.open()
    try:
        return await store.clear_cache(pipeline=pipeline, step=step)
    finally:
        await store.aclose()


@cache_app.command("clear")
def cache_clear(
    pipeline: Annotated[
        str | None, typer.Option(help="Only this pipeline's entries", metavar="NAME")
    ] = None,
    step: Annotated[
        str | None, typer.Option(help="Only this step's entries", metavar="NAME")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Forget cached step results, so the next runs execute the steps again."""
    from ..errors import StoreError

    url = _store_url(store)
    try:
        count = anyio.run(_clear, url, pipeline, step)
    except StoreError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"cleared {count} cache entr{'y' if count == 1 else 'ies'}")


def main() -> None:
    """Entry point of the ``flowyml`` console script."""
    app()
