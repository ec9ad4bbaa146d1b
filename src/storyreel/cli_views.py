"""`storyreel tasks` and `storyreel outputs`: every task and every finished video by name
(category, story, chapter), read from the project's folders. Read-only: they run beside a
main worker, the only writer, and move nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from storyreel.cli import RootArg, _fail, app
from storyreel.errors import StoryreelError
from storyreel.layout import TaskState

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON list for scripts.")]
CategoryOpt = Annotated[str | None, typer.Option(metavar="NAME", help="Only this category.")]
StoryOpt = Annotated[str | None, typer.Option(metavar="NAME", help="Only this story.")]


def _print_json(rows: list) -> None:
    typer.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2, ensure_ascii=False))


def _print_table(table, empty: str) -> None:
    from rich.console import Console

    if not table.row_count:
        typer.echo(empty)
        return
    Console().print(table)


def _matches(name, category: str | None, story: str | None) -> bool:
    return (category is None or name.category == category) and (story is None or name.story == story)


@app.command()
def tasks(
    root: RootArg,
    state: Annotated[list[TaskState] | None, typer.Option(
        "--state", help="Only tasks in this state (queued, processing, done, failed); repeat for several.")] = None,
    category: CategoryOpt = None,
    story: StoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List tasks by category, story and chapter: state (queued, processing, done, failed),
    the node that holds, finished or failed it, and how long it has been in that state."""
    from storyreel.farmstate.tasks import task_rows
    from storyreel.history import history
    from storyreel.logs import read_events
    from storyreel.project import Project
    from storyreel.taskview import failure_lines, tasks_table

    try:
        layout = Project.open(root).layout
        now = time.time()
        h = history(read_events(layout.events_file), now)
        rows = [r for r in task_rows(layout, state or tuple(TaskState), h) if _matches(r.name, category, story)]
    except StoryreelError as exc:
        _fail(exc)
    if as_json:
        _print_json(rows)
    else:
        _print_table(tasks_table(rows, now), "no task matches" if state or category or story else "no task yet")
        for line in failure_lines(rows):
            typer.echo(line)


@app.command()
def outputs(
    root: RootArg,
    category: CategoryOpt = None,
    story: StoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List finished videos, newest first: story, chapter, duration, size and the path of
    output/<task>/final.mp4."""
    from storyreel.farmstate.tasks import output_rows
    from storyreel.project import Project
    from storyreel.taskview import outputs_table

    try:
        layout = Project.open(Path(root)).layout
        rows = [r for r in output_rows(layout) if _matches(r.name, category, story)]
    except StoryreelError as exc:
        _fail(exc)
    if as_json:
        _print_json(rows)
    else:
        _print_table(outputs_table(rows, time.time()), "no finished video" + (" matches" if category or story else " yet"))
