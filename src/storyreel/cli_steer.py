"""`storyreel cancel`, `retry`, `replan` and `node pause|resume|drain`: steering the farm.

Each asks the project's running main worker (the only writer of the project root) to act;
with none running it says so and exits 2. cli.py registers these with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from storyreel.errors import StoryreelError

RootArg = Annotated[Path, typer.Argument(help="The project root (the folder holding raw/, scanned/, tasks/ …).")]
TaskArg = Annotated[str | None, typer.Argument(
    metavar="TASK", help="A task id, an unambiguous id prefix, or category/story/chapter_NNNN.",
    show_default=False)]
NodeArg = Annotated[str, typer.Argument(metavar="NAME", help="The render node's id (as `storyreel status` shows it).")]
CaFile = Annotated[Path | None, typer.Option(help=(
    "Trust an https main worker whose certificate chains to this CA file; default: the "
    "certificate the main worker on this machine serves, then the system's CAs."))]
_NEEDS_WORKER = "Needs the project's running main worker ('storyreel main' or 'run'), which does the move."


def _steer(root: Path, action: str, target: str, ca_file: Path | None) -> None:
    """Ask the main worker for `action` (a protocol.SteerAction value: the wire models load
    only here, so every other command starts without them)."""
    from storyreel.project import Project
    from storyreel.protocol import SteerAction
    from storyreel.steerclient import Steerer

    try:
        reply = Steerer(Project.open(root), ca_file=ca_file).act(SteerAction(action), target)
    except StoryreelError as exc:
        _usage(str(exc))
    typer.echo(reply.message)


def register(app: typer.Typer) -> None:
    """Add the steering commands to `app` (the storyreel command)."""

    @app.command()
    def cancel(root: RootArg, task: TaskArg = None, ca_file: CaFile = None) -> None:
        """Cancel a task: a queued one goes to trash/failed/ as cancelled; a rendering one
        too, its node told at its next heartbeat to stop (its upload is refused).
        Needs the project's running main worker ('storyreel main' or 'run'), which does the move."""
        _steer(root, "cancel", _required(task, "cancel"), ca_file)

    @app.command()
    def retry(
        root: RootArg, task: TaskArg = None,
        failed: Annotated[bool, typer.Option("--failed", help="Retry every failed task.")] = False,
        ca_file: CaFile = None,
    ) -> None:
        """Plan a failed (or cancelled) task's chapter again with today's settings; the failed
        folder stays in trash/failed/ as history.
        Needs the project's running main worker ('storyreel main' or 'run'), which does the move."""
        if failed == (task is not None):
            _usage("give either TASK or --failed")
        if failed:
            _steer(root, "retry-failed", "", ca_file)
        else:
            _steer(root, "retry", _required(task, "retry"), ca_file)

    @app.command()
    def replan(root: RootArg, task: TaskArg = None, ca_file: CaFile = None) -> None:
        """Build a queued task again with today's settings (the old one is kept in
        trash/failed/); a task being rendered is refused: cancel it first.
        Needs the project's running main worker ('storyreel main' or 'run'), which does the move."""
        _steer(root, "replan", _required(task, "replan"), ca_file)

    node_app = typer.Typer(help=(
        "Pause, resume or drain a render node. A paused node claims nothing and hands back "
        "what it holds; a draining one finishes what it holds and claims nothing new. "
        + _NEEDS_WORKER), no_args_is_help=True)
    app.add_typer(node_app, name="node")

    def node_command(action: str, doc: str) -> None:
        def command(root: RootArg, name: NodeArg, ca_file: CaFile = None) -> None:
            _steer(root, action, name, ca_file)

        command.__doc__ = doc
        node_app.command(action)(command)

    node_command("pause", "Stop a node claiming tasks; the tasks it holds go back to the queue.")
    node_command("resume", "Let a paused or draining node claim tasks again.")
    node_command("drain", "Let a node finish the tasks it holds, and claim no new ones.")


def _required(task: str | None, verb: str) -> str:
    if not task:
        _usage(f"say which task to {verb}: TASK")
    return task or ""


def _usage(message: str) -> None:
    typer.secho(f"storyreel: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)
