"""Which task an operator means: a task id, an unambiguous id prefix, or the chapter's names
`category/story/chapter_NNNN` (as `storyreel tasks` and the dashboard show them).

A task's names never change (its metadata.json is written once), so they are read once
per task id and kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from storyreel import taskmeta
from storyreel.errors import SteerRefused, UnknownTask
from storyreel.layout import TASK_ID_RE, Layout, TaskState

# A prefix shorter than this names too many tasks to be meant.
MIN_PREFIX = 4
_PREFIX_RE = re.compile(r"^[0-9a-f-]+$")
# Candidates named in an "ambiguous" refusal.
SHOWN_CANDIDATES = 5


@dataclass(frozen=True)
class Names:
    """The chapter a task renders, by name."""

    category: str = ""
    story: str = ""
    chapter: str = ""  # chapter_NNNN

    @property
    def path(self) -> str:
        return "/".join(p for p in (self.category, self.story, self.chapter) if p)


@dataclass(frozen=True)
class TaskRef:
    task_id: str
    state: TaskState
    names: Names

    def label(self) -> str:
        return f"{self.task_id} ({self.names.path or 'no chapter'})"


class TaskNames:
    """Task ids to their names, read from metadata.json once per task."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._names: dict[str, Names] = {}

    def names(self, task_id: str, state: TaskState) -> Names:
        known = self._names.get(task_id)
        if known is None:
            meta = taskmeta.read_raw(self.layout.task_dir(task_id, state)) or {}
            chapter = meta.get("chapter")
            stem = PurePosixPath(chapter).stem if isinstance(chapter, str) and chapter else ""
            known = Names(str(meta.get("category") or ""), str(meta.get("story_name") or ""), stem)
            if known.path:  # a folder being moved reads as empty: look again next time
                self._names[task_id] = known
        return known

    def every(self, states: tuple[TaskState, ...] = tuple(TaskState)) -> list[TaskRef]:
        return [TaskRef(task_id, state, self.names(task_id, state))
                for state in states for task_id in self.layout.task_ids(state)]

    def resolve(self, ref: str, states: tuple[TaskState, ...], what: str) -> TaskRef:
        """The one task `ref` names among those in `states`; UnknownTask (404) when it names
        none, SteerRefused (409) when it names several or one `what` does not apply to."""
        ref = ref.strip().strip("/")
        found = self._matches(ref)
        if not found:
            raise UnknownTask(f"no task {ref!r}: give a task id, an id prefix of {MIN_PREFIX}+ "
                              "characters, or category/story/chapter_NNNN")
        fitting = [t for t in found if t.state in states]
        if not fitting:
            shown = ", ".join(f"{t.label()} is {t.state}" for t in found[:SHOWN_CANDIDATES])
            raise SteerRefused(f"cannot {what} {ref!r}: {shown}")
        if len(fitting) > 1 and all(t.state == TaskState.FAILED for t in fitting):
            return max(fitting, key=self._failed_at)  # a chapter's failed history: the newest
        if len(fitting) > 1:
            shown = ", ".join(f"{t.label()} ({t.state})" for t in fitting[:SHOWN_CANDIDATES])
            raise SteerRefused(f"{ref!r} names {len(fitting)} tasks: {shown}; give the task id")
        return fitting[0]

    def _matches(self, ref: str) -> list[TaskRef]:
        if TASK_ID_RE.match(ref):
            found = self.layout.find_task(ref)
            return [TaskRef(ref, found[0], self.names(ref, found[0]))] if found else []
        if "/" in ref:
            wanted = ref.removesuffix(".mp3")
            return [t for t in self.every() if t.names.path == wanted]
        lowered = ref.lower()
        if len(lowered) < MIN_PREFIX or not _PREFIX_RE.match(lowered):
            return []
        return [TaskRef(task_id, state, self.names(task_id, state))
                for state in TaskState for task_id in self.layout.task_ids(state) if task_id.startswith(lowered)]

    def _failed_at(self, task: TaskRef) -> float:
        try:
            return self.layout.task_dir(task.task_id, task.state).stat().st_mtime
        except OSError:
            return 0.0
