"""Tasks, finished videos and waiting chapters printed by name (category, story, chapter;
the task id short and last): the tables of `storyreel tasks`, `storyreel outputs` and the
matching parts of `storyreel status`."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from storyreel.chapters import MAIN_PROFILE
from storyreel.farmstate import FarmState
from storyreel.farmstate.tasks import OutputRow, TaskRow
from storyreel.units import human_size
from storyreel.waitlist import WaitingChapter

# Enough of a uuid to tell tasks apart and to type as a prefix.
SHORT_ID = 8

_STATE_STYLE = {"queued": "cyan", "processing": "yellow", "done": "green", "failed": "red"}


# How long ago, by size: below the limit, in this unit, to this precision.
_AGO_UNITS = ((60, 1, "s", ".0f"), (3600, 60, "m", ".0f"), (86400, 3600, "h", ".1f"),
              (float("inf"), 86400, "d", ".1f"))


def ago(ts: float | None, now: float) -> str:
    """`4s ago`, `3m ago`, `2.0h ago`, `1.5d ago`."""
    if ts is None:
        return "—"
    delta = max(0.0, now - ts)
    _limit, size, unit, precision = next(row for row in _AGO_UNITS if delta < row[0])
    return f"{delta / size:{precision}}{unit} ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{(seconds % 3600) // 60:02.0f}m"


def _chapter(value: int | None) -> str:
    return "—" if value is None else str(value)


def tasks_table(rows: list[TaskRow], now: float, title: str = "Tasks") -> Table:
    """One line per task; why the failed ones failed is told below it (`failure_lines`)."""
    table = Table(title=title, title_justify="left")
    for col in ("category", "story", "chapter", "state", "node", "age", "task"):
        table.add_column(col, justify="right" if col in ("chapter", "age") else "left", no_wrap=col != "story")
    for row in rows:
        name = row.name
        story = name.story + (f" ({name.profile})" if name.profile and name.profile != MAIN_PROFILE else "")
        table.add_row(name.category, story, _chapter(name.chapter),
                      Text(row.state, style=_STATE_STYLE.get(row.state, "")), row.node or "—",
                      ago(row.since, now).removesuffix(" ago"), row.task_id[:SHORT_ID])
    return table


def failure_lines(rows: list[TaskRow]) -> list[str]:
    """`failed 5fc42b0b tales/story4 chapter 1: ffmpeg exited with status 1`, one per failed task."""
    return [f"failed {row.task_id[:SHORT_ID]} {row.name.label}: {row.reason or 'no reason given'}"
            for row in rows if row.state == "failed"]


def outputs_table(rows: list[OutputRow], now: float, title: str = "Finished videos") -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("category", "story", "chapter", "duration", "size", "finished", "path"):
        table.add_column(col, justify="right" if col in ("chapter", "duration", "size") else "left",
                         no_wrap=col != "story")
    for row in rows:
        table.add_row(row.name.category, row.name.story, _chapter(row.name.chapter), duration(row.duration),
                      human_size(row.size_bytes), ago(row.finished, now), row.path)
    return table


def waiting_table(chapters: list[WaitingChapter]) -> Table:
    """`fantasy/dragon_flight chapter 3   waiting: no music in category fantasy`."""
    table = Table(title="Waiting chapters (no task yet)", title_justify="left")
    table.add_column("chapter")
    table.add_column("why")
    for chapter in chapters:
        table.add_row(chapter.name.label, Text(f"waiting: {chapter.detail}", style="yellow"))
    return table


def finished_table(state: FarmState) -> Table:
    """The recent finished tasks of the farm state, by name, with the video's path."""
    table = Table(title="Recently finished", title_justify="left")
    for col in ("chapter", "node", "video", "when", "path"):
        table.add_column(col, justify="right" if col == "video" else "left")
    for done in state.recent_completed:
        path = f"output/{done.task_id}/final.mp4" if done.video_bytes is not None else "(moved away)"
        table.add_row(state.name(done.task_id), done.node, duration(done.media_seconds), ago(done.when, state.now),
                      path)
    return table


def failures_table(state: FarmState) -> Table:
    table = Table(title="Recent failures", title_justify="left")
    for col in ("chapter", "task", "when", "reason"):
        table.add_column(col, no_wrap=col != "reason")
    for failure in state.recent_failures:
        table.add_row(state.name(failure.task_id), failure.task_id[:SHORT_ID], ago(failure.when, state.now),
                      failure.reason)
    return table
