"""Task state moves: tasks/ → processing/ → output/ or trash/failed/ (SPEC §2, §8).

A task's folder *is* its state (layout.TaskState). Every move is one atomic
rename done by the main worker, the single writer of the project root. Symlinks
inside a task folder are relative; a move to a folder of another depth
(trash/failed/<id>) re-points them so they keep naming the scanned assets.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from storyreel import fsops, taskmeta
from storyreel.config import MAIN_PROFILE
from storyreel.errors import FilesystemError
from storyreel.layout import (
    FAILURE_REASON_NAME,
    FINAL_NAME,
    METADATA_NAME,
    STDERR_NAME,
    Layout,
    TaskState,
    list_task_ids,
)
from storyreel.logs import iso_utc
from storyreel.protocol import WORDS_NAME
from storyreel.rescans import Rescan
from storyreel.taskmeta import TaskKind

# reason.json of a failed task whose chapter may be planned again (its bad clip is gone,
# the operator retried it, or replanned it while it was queued).
REPLAN_KEY = "replan"
# reason.json of a task the operator cancelled (queued or held).
CANCELLED_KEY = "cancelled"
CANCELLED_REASON = "cancelled by the operator"
REPLANNED_REASON = "replanned by the operator: planned again with today's settings"
# A task of a chapter whose synthesized voice an operator's voice replaced.
SUPERSEDED_REASON = "superseded: an operator's voice replaced the synthesized narration"
# output/<id>/metadata.json of a video made from a voice that was replaced since: it stays
# published, and its chapter is rendered again from the new voice.
SUPERSEDED_KEY = "superseded_at"


def _shift(layout: Layout, task_id: str, verb: str, src_state: TaskState, dst_state: TaskState) -> Path:
    """Rename a task folder from one state folder to another; FilesystemError when absent."""
    src = layout.task_dir(task_id, src_state)
    dst = layout.task_dir(task_id, dst_state)
    if not src.is_dir():
        raise FilesystemError(verb, src, dst, f"no such task in {src.parent.name}/")
    return fsops.move(src, dst)


def claim(layout: Layout, task_id: str) -> Path:
    """Move tasks/<id> to processing/<id>; FilesystemError when it is not queued."""
    return _shift(layout, task_id, "claim", TaskState.QUEUED, TaskState.PROCESSING)


def release(layout: Layout, task_id: str) -> Path:
    """Put a claimed task back: processing/<id> → tasks/<id>."""
    return _shift(layout, task_id, "release", TaskState.PROCESSING, TaskState.QUEUED)


def complete(layout: Layout, task_id: str, rendered: Path, sidecars: dict[str, Path] | None = None,
             facts: dict[str, Any] | None = None) -> Path:
    """Publish a verified render as output/<id>/final.mp4 (with the task's metadata.json,
    and the checked `sidecars` by name: captions.srt, captions.vtt, words.json, whose
    quality report joins the published metadata.json as `captions_quality`; `facts` found
    checking the upload, such as its `loudness`, join it too).

    output/<id>/ appears whole (built under a temp name, then renamed). The processing
    folder, which holds only symlinks and files the planner generated, is then removed.
    Returns the final.mp4 path.
    """
    processing = layout.task_dir(task_id, TaskState.PROCESSING)
    dst_dir = layout.task_dir(task_id, TaskState.DONE)
    if dst_dir.exists():
        raise FilesystemError("complete", rendered, dst_dir, "the task already has an output folder")
    if not Path(rendered).is_file():
        raise FilesystemError("complete", rendered, dst_dir, "the rendered file does not exist")
    tmp = fsops.temp_path(layout.output, task_id)
    try:
        tmp.mkdir(parents=True)
        meta = processing / METADATA_NAME
        if meta.is_file():
            fsops.copy_into_place(meta, tmp / METADATA_NAME)
        for name, path in (sidecars or {}).items():
            fsops.copy_into_place(path, tmp / name)
        _add_facts(tmp, facts or {})
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise FilesystemError("complete", processing, dst_dir, exc.strerror or str(exc)) from exc
    try:
        fsops.move(rendered, tmp / FINAL_NAME)
        fsops.move(tmp, dst_dir)
    except FilesystemError:
        leftover = tmp / FINAL_NAME
        if leftover.exists() and not Path(rendered).exists():
            os.replace(leftover, rendered)  # give the render back to its owner
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if processing.is_dir():
        shutil.rmtree(processing)
    return dst_dir / FINAL_NAME


def _add_facts(folder: Path, facts: dict[str, Any]) -> None:
    """Add what is known of the published video to the metadata.json beside it: `facts`, and
    words.json's quality report (words aligned, flagged unspoken, confidence) as
    `captions_quality`."""
    words, meta = folder / WORDS_NAME, folder / METADATA_NAME
    facts = dict(facts)
    if words.is_file():
        facts["captions_quality"] = json.loads(words.read_text(encoding="utf-8")).get("quality")
    if not facts or not meta.is_file():
        return
    data = json.loads(meta.read_text(encoding="utf-8"))
    data.update(facts)
    fsops.write_atomic(meta, json.dumps(data, indent=2) + "\n")


def fail(
    layout: Layout, task_id: str, reason: str, stderr: str = "", *, replan: bool = False, **details: Any
) -> Path:
    """Move a task (from processing/ or tasks/) to trash/failed/<id>/ with stderr.log and
    reason.json (SPEC §8). `details` (node, attempt, …) go into reason.json. `replan`: the
    task failed on a clip that has left scanned/, so its chapter may get a new task (its
    reason.json says so, and ChapterIndex no longer counts it)."""
    found = layout.find_task(task_id)
    if found is None or found[0] not in (TaskState.PROCESSING, TaskState.QUEUED):
        raise FilesystemError("fail", layout.task_dir(task_id, TaskState.PROCESSING),
                              layout.task_dir(task_id, TaskState.FAILED),
                              "no such task in processing/ or tasks/")
    state, src = found
    dst = layout.task_dir(task_id, TaskState.FAILED)
    fsops.write_atomic(src / STDERR_NAME, stderr)
    record = {"task_id": task_id, "reason": reason, "failed_at": iso_utc(),
              "from": str(state), **details}
    if replan:
        record[REPLAN_KEY] = True
    fsops.write_json(src / FAILURE_REASON_NAME, record)
    fsops.move(src, dst)
    repoint_links(dst, src)
    if replan:
        _replanning(layout, task_id)
    return dst


def cancel(layout: Layout, task_id: str, **details: Any) -> Path:
    """The operator cancelled a queued or held task: trash/failed/<id>/ with a reason.json
    saying so (it may be retried like any failed task)."""
    return fail(layout, task_id, CANCELLED_REASON, **{CANCELLED_KEY: True, **details})


def replan(layout: Layout, task_id: str) -> Path:
    """The operator asked for a queued task to be built again with today's settings: it goes
    to trash/failed/<id>/ as history, with `"replan": true`, so its chapter is planned again."""
    return fail(layout, task_id, REPLANNED_REASON, replan=True, replanned=True)


def mark_retried(layout: Layout, task_id: str) -> dict[str, Any]:
    """A failed task's chapter is to be planned again: its folder stays in trash/failed/ as
    history and its reason.json gets `"replan": true` and `retried_at`. Returns the record;
    FilesystemError when the task is not in trash/failed/ or its record cannot be written."""
    folder = layout.task_dir(task_id, TaskState.FAILED)
    if not folder.is_dir():
        raise FilesystemError("retry", folder, None, "no such task in trash/failed/")
    record = failure_reason(layout, task_id) or {"task_id": task_id, "reason": "unknown"}
    record |= {REPLAN_KEY: True, "retried_at": iso_utc()}
    fsops.write_json(folder / FAILURE_REASON_NAME, record)
    return record


def repoint_links(folder: Path, old_folder: Path) -> None:
    """Keep relative symlinks pointing at the same files after `old_folder` moved to `folder`."""
    for entry in folder.iterdir():
        if not entry.is_symlink():
            continue
        target = os.readlink(entry)
        if os.path.isabs(target):
            continue
        absolute = os.path.normpath(os.path.join(old_folder, target))
        new_target = os.path.relpath(absolute, folder)
        if new_target == target:
            continue
        tmp = fsops.temp_path(folder, entry.name)
        os.symlink(new_target, tmp)
        os.replace(tmp, entry)


def failure_reason(layout: Layout, task_id: str) -> dict[str, Any] | None:
    """reason.json of a failed task, if any."""
    path = layout.task_dir(task_id, TaskState.FAILED) / FAILURE_REASON_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class TaskKey(NamedTuple):
    """What a task is made of: a voice chapter (relative to the root) rendered in a profile,
    or (kind narrate, no profile) the voice chapter a chunk is spoken into."""

    chapter: str
    profile: str = MAIN_PROFILE
    kind: TaskKind = TaskKind.RENDER


def narrate_key(chapter: str) -> TaskKey:
    """The key of the narrate task that makes `chapter`'s voice."""
    return TaskKey(chapter, "", TaskKind.NARRATE)


def key_of(task_dir: Path) -> TaskKey | None:
    """A task's chapter and profile from its metadata.json; a task made before profiles
    existed has none and is the chapter's main rendering."""
    meta = taskmeta.read_raw(task_dir) or {}
    chapter, profile = meta.get("chapter"), meta.get("profile")
    if not (isinstance(chapter, str) and chapter):
        return None
    if taskmeta.kind_of(meta) == TaskKind.NARRATE:
        return narrate_key(chapter)
    if taskmeta.kind_of(meta) == TaskKind.SEGMENT:
        return None  # a part of its render task's picture, which is the chapter's task
    return TaskKey(chapter, profile if isinstance(profile, str) and profile else MAIN_PROFILE)


# A ChapterIndex lists the four state folders again this often by default, for task
# folders moved or deleted by hand (the planner passes `[plan] rescan_seconds`).
INDEX_RESCAN_SECONDS = 30.0

# The live chapter indexes of each project root in this process, told about every move
# here that changes what counts (a failure that lets its chapter be planned again).
_INDEXES: dict[Path, weakref.WeakSet[ChapterIndex]] = {}


class ChapterIndex:
    """Which voice chapters already have a task in which profile, in any state: never a
    second task for the same chapter and profile. A failed task whose bad clip was set
    aside (reason.json `"replan": true`) does not count: its chapter is planned again.

    Kept incrementally: the planner notes each task it creates, and this module's moves
    tell every index of the root about a failure that frees its chapter. The four state
    folders are listed in full only every `rescan_seconds` (and at the first look-up; less
    often when one listing costs more than rescans.LISTING_SHARE of a core), for folders an
    operator moved or deleted by hand. A task keeps its id, chapter and
    profile through every move, so each metadata.json is read once.
    """

    def __init__(self, layout: Layout, *, rescan_seconds: float = INDEX_RESCAN_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.layout = layout
        self.rescan = Rescan(rescan_seconds, monotonic=monotonic)
        self._by_id: dict[str, TaskKey | None] = {}
        self._seen: set[str] = set()
        self._replanned: dict[str, bool] = {}  # failed task → its chapter may be planned again
        self._tasks: dict[TaskKey, str] = {}
        self.generation = 0  # counts changes of tasks(), so a caller can tell nothing changed
        _INDEXES.setdefault(layout.root, weakref.WeakSet()).add(self)

    def tasks(self) -> dict[TaskKey, str]:
        """(chapter, profile) → task id, over tasks/, processing/, output/, trash/failed/."""
        if self.rescan.due():
            self.relist()
        return dict(self._tasks)

    def chapters(self) -> dict[str, str]:
        """chapter → the id of a task made from it (its main one when it has one)."""
        found = sorted(self.tasks().items(), key=lambda item: item[0].profile != MAIN_PROFILE)
        result: dict[str, str] = {}
        for key, task_id in found:
            result.setdefault(key.chapter, task_id)
        return result

    def relist(self) -> None:
        """List the four state folders now. A task that moves while they are listed can be
        missed by one listing; when a task seen last time is missing, they are listed again."""
        self.rescan.begin()
        ids = self._list()
        if self._seen - ids.keys():
            ids.update(self._list())
        self._seen = set(ids)
        result: dict[TaskKey, str] = {}
        for task_id, key in ids.items():
            if key:
                result.setdefault(key, task_id)
        self.rescan.done()
        if result != self._tasks:
            self._tasks = result
            self.generation += 1

    def _list(self) -> dict[str, TaskKey | None]:
        """task id → its key; a failed task that let its chapter be planned again has none."""
        found: dict[str, TaskKey | None] = {}
        for state in TaskState:
            for task_id in list_task_ids(self.layout.state_dir(state)):
                if self._by_id.get(task_id) is None:
                    self._by_id[task_id] = key_of(self.layout.task_dir(task_id, state))
                replanned = state in (TaskState.FAILED, TaskState.DONE) and self._replanned_task(task_id, state)
                found[task_id] = None if replanned else self._by_id[task_id]
        return found

    def _replanned_task(self, task_id: str, state: TaskState) -> bool:
        """True for a failed task whose reason.json lets its chapter be planned again (read once:
        reason.json is written before the folder enters trash/failed/ and changes only when the
        operator retries the task, which calls `forget_reason`), and for a finished one whose
        voice was superseded since (its metadata.json says so)."""
        if task_id not in self._replanned:
            if state == TaskState.FAILED:
                record = failure_reason(self.layout, task_id) or {}
                self._replanned[task_id] = record.get(REPLAN_KEY) is True
            else:
                meta = taskmeta.read_raw(self.layout.task_dir(task_id, state)) or {}
                self._replanned[task_id] = SUPERSEDED_KEY in meta
        return self._replanned[task_id]

    def forget_reason(self, task_id: str) -> None:
        """A failed task's reason.json changed (the operator retried it): read it again."""
        self._replanned.pop(task_id, None)

    def note(self, task_id: str, chapter: str, profile: str = MAIN_PROFILE) -> None:
        """Record a render task just created (saves reading its metadata back)."""
        self.note_key(task_id, TaskKey(chapter, profile))

    def note_key(self, task_id: str, key: TaskKey) -> None:
        """Record a task just created under `key`."""
        self._by_id[task_id] = key
        self._seen.add(task_id)
        if self._tasks.get(key) != task_id:
            self._tasks.setdefault(key, task_id)
            self.generation += 1

    def _replanning(self, task_id: str) -> None:
        """A task just failed in a way that lets its chapter be planned again."""
        self._replanned[task_id] = True
        key = self._by_id.get(task_id)
        if key is not None and self._tasks.get(key) == task_id:
            del self._tasks[key]
            self.generation += 1


def _replanning(layout: Layout, task_id: str) -> None:
    for index in list(_INDEXES.get(layout.root, ())):
        index._replanning(task_id)


def supersede(layout: Layout, task_id: str, state: TaskState, **details: Any) -> None:
    """A task of a chapter whose voice an operator's replaced: a queued or held one goes to
    trash/failed/ (planned again), a failed one is marked to be planned again, a finished
    one stays in output/ with `superseded_at` in its metadata.json; in each case its chapter
    is planned again from the new voice. The caller ends a hold first."""
    if state in (TaskState.QUEUED, TaskState.PROCESSING):
        fail(layout, task_id, SUPERSEDED_REASON, replan=True, superseded=True, **details)
        return
    if state == TaskState.FAILED:
        mark_retried(layout, task_id)
    else:
        folder = layout.task_dir(task_id, TaskState.DONE)
        data = taskmeta.read_raw(folder) or {}
        data[SUPERSEDED_KEY] = iso_utc()
        fsops.write_atomic(folder / METADATA_NAME, json.dumps(data, indent=2) + "\n")
    _replanning(layout, task_id)


def render_tasks_of(layout: Layout, chapter: str) -> list[tuple[str, TaskState]]:
    """Every render task made from `chapter`, in any state, with the state it is in now."""
    found = []
    for key, task_id in ChapterIndex(layout).tasks().items():
        where = layout.find_task(task_id) if key.chapter == chapter and key.kind == TaskKind.RENDER else None
        if where is not None:
            found.append((task_id, where[0]))
    return found


def supersede_chapter(layout: Layout, chapter: str) -> list[str]:
    """Every render task of `chapter` gives way (see `supersede`) when no coordinator holds
    any; returns their ids."""
    found = render_tasks_of(layout, chapter)
    for task_id, state in found:
        supersede(layout, task_id, state)
    return [task_id for task_id, _ in found]


def finish_narration(layout: Layout, task_id: str) -> None:
    """A narrate task whose voice is filed in scanned/ ends: its processing folder (the
    text it spoke and its metadata) is removed; the voice's record names the task."""
    folder = layout.task_dir(task_id, TaskState.PROCESSING)
    if folder.is_dir():
        shutil.rmtree(folder)
    _replanning(layout, task_id)


def has_task_for(layout: Layout, chapter: str, profile: str = MAIN_PROFILE) -> str | None:
    """The id of the task made from `chapter` (relative to the root) in `profile`, in any
    state, or None."""
    return ChapterIndex(layout).tasks().get(TaskKey(chapter, profile))


def tidy(layout: Layout) -> list[str]:
    """Finish completions a kill interrupted: a task in output/ with final.mp4 and still in
    processing/ loses its processing folder. Returns the task ids tidied."""
    tidied = []
    for task_id in layout.task_ids(TaskState.PROCESSING):
        if layout.output_file(task_id).is_file():
            shutil.rmtree(layout.task_dir(task_id, TaskState.PROCESSING))
            tidied.append(task_id)
    return tidied
