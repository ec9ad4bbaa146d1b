"""Every task and every finished video by name: what `storyreel tasks`, `storyreel outputs`
and the dashboard list. Read-only, from the task folders and their metadata.json (the main
worker is their only writer; reading them from another process is safe).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from storyreel import queues, taskmeta
from storyreel.chapters import ChapterName
from storyreel.history import History, Outcome, to_epoch
from storyreel.layout import FAILURE_REASON_NAME, FINAL_NAME, METADATA_NAME, Layout, TaskState

# A task keeps its id and its chapter through every move, so a name once read stays
# right; this many are remembered, enough for every task a dashboard shows.
NAME_CACHE_SIZE = 4096

_names: dict[str, ChapterName] = {}
# When each task was planned (metadata.json's created_at, which no move changes), for the
# rows the farm state lists every two seconds; as many are remembered as names.
_planned: dict[str, float] = {}
# A queued task's row is its metadata's alone (no node, no reason, queued since it was
# planned), so each row the state lists every two seconds is made once.
_queued: dict[str, TaskRow] = {}


class TaskRow(BaseModel):
    """One task as `storyreel tasks` lists it."""

    task_id: str
    state: TaskState
    name: ChapterName
    node: str = ""  # the node holding it (processing) or that finished or failed it
    created: float | None = None  # when it was planned
    since: float | None = None  # when it entered its state, as well as the folders tell
    reason: str = ""  # why it failed (trash/failed/)
    folder: str  # its folder, relative to the project root


class OutputRow(BaseModel):
    """One finished video as `storyreel outputs` lists it."""

    task_id: str
    name: ChapterName
    path: str  # output/<id>/final.mp4, relative to the project root
    duration: float | None = None  # seconds: the voice it was rendered to (render/verify checks it)
    size_bytes: int
    finished: float  # when final.mp4 was published


def name_of(layout: Layout, task_id: str, folder: Path | None = None) -> ChapterName:
    """The chapter a task renders, from its metadata.json wherever the task is now."""
    known = _names.get(task_id)
    if known is not None:
        return known
    if folder is None:
        found = layout.find_task(task_id)
        folder = found[1] if found else None
    data = taskmeta.read_raw(folder) if folder is not None else None
    if data is None:
        return ChapterName()  # not (or no longer) a task folder here: not remembered
    if len(_names) >= NAME_CACHE_SIZE:
        _names.clear()
    name = _names[task_id] = ChapterName.of_metadata(data)
    return name


def names_of(layout: Layout, task_ids: Iterable[str]) -> dict[str, ChapterName]:
    return {task_id: name_of(layout, task_id) for task_id in dict.fromkeys(task_ids) if task_id}


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _created(folder: Path) -> float | None:
    known = _planned.get(folder.name)
    if known is not None:
        return known
    data = taskmeta.read_raw(folder) or {}
    planned = to_epoch(data.get("created_at"))
    if planned is None:
        return _mtime(folder / METADATA_NAME)
    if len(_planned) >= NAME_CACHE_SIZE:
        _planned.clear()
    _planned[folder.name] = planned
    return planned


def _held_by(h: History | None, task_id: str) -> tuple[str, float | None]:
    """The node holding a task in processing/ and when it claimed it, as the event log says."""
    for info in (h.nodes.values() if h is not None else ()):
        if task_id in info.holding:
            return info.node, info.holding[task_id]
    return "", None


def _last_node(outcomes: list[Outcome], task_id: str) -> str:
    return next((o.node for o in reversed(outcomes) if o.task_id == task_id), "")


def _row(layout: Layout, state: TaskState, folder: Path, h: History | None,
         failed: dict[str, queues.Failure]) -> TaskRow:
    """The row of the task in `folder`, a folder of `state`."""
    task_id = folder.name
    if state == TaskState.QUEUED and task_id in _queued:
        return _queued[task_id]
    created = _created(folder)
    since, node, reason = created, "", ""
    if state == TaskState.PROCESSING:
        node, claimed = _held_by(h, task_id)
        since = claimed or since
    elif state == TaskState.DONE:
        since = _mtime(folder / FINAL_NAME)
        node = _last_node(h.completed if h else [], task_id)
    elif state == TaskState.FAILED:
        failure = failed.get(task_id)
        reason, since = (failure.reason, failure.when) if failure else ("", _mtime(folder / FAILURE_REASON_NAME))
        node = _last_node(h.failed if h else [], task_id)
    row = TaskRow(task_id=task_id, state=state, name=name_of(layout, task_id, folder), node=node,
                  created=created, since=since, reason=reason, folder=layout.relative(folder))
    if state == TaskState.QUEUED and task_id in _planned and task_id in _names:  # read from its metadata
        if len(_queued) >= NAME_CACHE_SIZE:
            _queued.clear()
        _queued[task_id] = row
    return row


def task_rows(layout: Layout, states: Iterable[TaskState] = tuple(TaskState), h: History | None = None,
              limit: int | None = None, chosen: dict[TaskState, list[str]] | None = None) -> list[TaskRow]:
    """Tasks in `states`, in lifecycle order, oldest first within a state; `h`, the event log
    read, names the node of each held, finished or failed task. `limit` caps each state.
    `chosen` names the tasks of a state to list instead of its folder's oldest (the
    coordinator's queue knows the first tasks of tasks/ without listing it)."""
    wanted = set(states)
    failed = {f.task_id: f for f in queues.failures(layout)} if TaskState.FAILED in wanted else {}
    rows: list[TaskRow] = []
    for state in TaskState:
        if state not in wanted:
            continue
        ids = chosen[state] if chosen and state in chosen else _oldest(layout, state, limit)
        base = layout.state_dir(state)
        found = [_row(layout, state, base / task_id, h, failed) for task_id in ids]
        found.sort(key=lambda r: (r.since or 0.0, r.task_id))
        rows += found[:limit] if limit is not None else found
    return rows


def _oldest(layout: Layout, state: TaskState, limit: int | None) -> list[str]:
    """The task ids of a state; with `limit`, about the oldest that many, chosen by one stat
    each, so a queue of thousands costs the farm state no metadata reads beyond `limit`."""
    ids = layout.task_ids(state)
    if limit is None or len(ids) <= limit:
        return ids
    return sorted(ids, key=lambda t: _mtime(layout.task_dir(t, state) / METADATA_NAME) or 0.0)[:limit]


def output_rows(layout: Layout) -> list[OutputRow]:
    """Every finished video (output/<id>/final.mp4), newest first."""
    rows = []
    for task_id in layout.task_ids(TaskState.DONE):
        video = layout.output_file(task_id)
        try:
            stat = video.stat()
        except OSError:
            continue  # an output folder without its video is not a finished video
        data = taskmeta.read_raw(video.parent) or {}
        duration = data.get("voice_duration")
        rows.append(OutputRow(
            task_id=task_id, name=name_of(layout, task_id, video.parent), path=layout.relative(video),
            duration=float(duration) if isinstance(duration, int | float) else None,
            size_bytes=stat.st_size, finished=stat.st_mtime,
        ))
    rows.sort(key=lambda r: (r.finished, r.task_id), reverse=True)
    return rows


def output_size(layout: Layout, task_id: str) -> int | None:
    """The size of a finished video, None when it is not (or no longer) there."""
    try:
        return os.stat(layout.output_file(task_id)).st_size
    except OSError:
        return None
