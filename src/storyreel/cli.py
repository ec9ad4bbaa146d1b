"""The storyreel commands. Each sets up logging and hands over; no logic lives here."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from storyreel import __version__
from storyreel.errors import StoryreelError
from storyreel.logs import setup_logging

app = typer.Typer(
    help=(
        "storyreel: a render farm for story videos.\n\n"
        "Drop narration, background clips, music and story links into ROOT/raw/; storyreel "
        "files them into ROOT/scanned/, builds render tasks in ROOT/tasks/ and renders "
        "finished videos to ROOT/output/<task>/final.mp4."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RootArg = Annotated[Path, typer.Argument(help="The project root (the folder holding raw/, scanned/, tasks/ …).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"storyreel {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


def _fail(exc: StoryreelError) -> None:
    typer.secho(f"storyreel: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def stop_on_signals() -> threading.Event:
    """First SIGINT/SIGTERM sets the returned event (finish or release current work);
    the second ends the process at once."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            os._exit(130 if signum == signal.SIGINT else 143)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _open(root: Path):
    from storyreel.project import Project

    project = Project.open(root)
    setup_logging(project.layout.log_file, project.settings.log_level)
    return project


@app.command()
def init(root: RootArg) -> None:
    """Create a project: the SPEC folders, a commented storyreel.toml with every default,
    and the access token render nodes use. Existing files are kept."""
    from storyreel.project import Project

    try:
        project = Project.init(root)
    except StoryreelError as exc:
        _fail(exc)
    layout = project.layout
    typer.echo(f"Project ready at {layout.root}")
    typer.echo(f"  drop assets into  {layout.raw}/{{video,frame,music,story}}/…")
    typer.echo(f"  settings          {layout.config_file}")
    typer.echo(f"  node token        {layout.token_file}")


@app.command()
def main(
    root: RootArg,
    once: Annotated[bool, typer.Option("--once", help="Process what is in raw/ now, then exit.")] = False,
) -> None:
    """Run the main worker: watch raw/, validate and file assets into scanned/, plan tasks.

    Runs until Ctrl-C or SIGTERM (the first finishes the current file, a second stops at once)."""
    from storyreel.mainworker import MainWorker

    try:
        project = _open(root)
        worker = MainWorker(project)
        if once:
            worker.run_once()
        else:
            worker.run_forever(stop_on_signals())
    except StoryreelError as exc:
        _fail(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
