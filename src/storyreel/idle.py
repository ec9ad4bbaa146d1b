"""`storyreel run --until-idle`: when nothing can move any more without new input, and
what is left then — chapters that wait (the planner's reasons), files held in raw/,
tasks that failed during the run.

The farm is idle when raw/ holds nothing that will still be handled (a file settling
or being checked will; one in its pause after an error, or a story link the crawler
left, will not without a change), no task is queued or held, and the planner made no
task in its pass. Deciding costs next to nothing per cycle: the ingestor, the planner
and the coordinator already know what they hold. Only when all of them are quiet is
raw/ walked on the next pass and tasks/ and processing/ listed; quiet after that too,
the farm is idle.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from storyreel import lifecycle, taskmeta
from storyreel.ingest.filing import rel
from storyreel.ingest.holds import HeldFile
from storyreel.layout import TaskState
from storyreel.mainworker import MainWorker
from storyreel.project import Project
from storyreel.units import plural
from storyreel.waiting import Waiting, chapter_label, disk_low_text

# After a look at the folders found work the running stages did not report (a task in
# processing/ no node holds yet, left by a killed main worker or moved in by hand), the
# folders are looked at again no sooner than this (s): idle is noticed within it.
RECHECK_SECONDS = 2.0
# A failure's reason is shown up to this many characters; reason.json has all of it.
REASON_CHARS = 300


@dataclass(frozen=True)
class FailedTask:
    task_id: str
    chapter: str  # as people name it: fantasy/dragon chapter 1
    folder: str  # trash/failed/<id>/
    reason: str


@dataclass(frozen=True)
class Leftovers:
    """What an idle farm leaves behind; `clean` when every chapter became a video."""

    outputs: int  # videos finished during the run
    failed: list[FailedTask]  # tasks that went to trash/failed/ during the run
    waiting: list[Waiting]  # chapters the planner cannot plan
    held: list[HeldFile]  # files that stay in raw/ without new input
    queued: int = 0  # tasks in tasks/ that no node may claim (disk below the floor)
    queued_reason: str = ""

    @property
    def clean(self) -> bool:
        return not (self.failed or self.waiting or self.held or self.queued)

    def summary(self) -> str:
        parts = [plural(self.outputs, "video") + " in output/"]
        if self.failed:
            parts.append(plural(len(self.failed), "task") + " failed")
        if self.waiting or self.queued:
            parts.append(plural(len(self.waiting), "chapter") + " waiting"
                         + (f", {plural(self.queued, 'task')} queued" if self.queued else ""))
        if self.held:
            parts.append(plural(len(self.held), "file") + " held in raw/")
        return ", ".join(parts)

    def lines(self, project: Project) -> list[str]:
        """The report: the summary, then one line per failed task, waiting chapter and held file."""
        layout = project.layout
        lines = ["idle: " + self.summary()]
        lines += [f"failed: {t.chapter}: {t.folder}: {t.reason}" for t in self.failed]
        lines += [f"waiting: {chapter_label(layout, w.chapter)}: {w.detail}" for w in self.waiting]
        if self.queued:
            lines.append(f"waiting: {plural(self.queued, 'task')} in tasks/: {self.queued_reason}")
        for held in self.held:
            when = f"retried in {_in(held.retry_in)} after: " if held.retry_in is not None else ""
            lines.append(f"held in raw/: {rel(project, held.path)}: {when}{held.reason}")
        return lines


class IdleCheck:
    """Called once per main worker cycle with whether the cycle moved anything; True once
    the farm is idle."""

    def __init__(self, worker: MainWorker, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.worker = worker
        self.layout = worker.project.layout
        self.clock = clock
        self._failed_before = set(self.layout.task_ids(TaskState.FAILED))
        self._done_before = set(self.layout.task_ids(TaskState.DONE))
        self._armed = False  # quiet last cycle, and this cycle's pass walked raw/
        self._look_after = 0.0

    def __call__(self, changed: bool) -> bool:
        if changed or not self._quiet():
            self._armed = False
            return False
        if not self._armed:
            if self.clock() >= self._look_after:
                self._armed = True
                self.worker.ingestor.walk_next_pass()
            return False
        self._armed = False
        if self._folders_busy():
            self._look_after = self.clock() + RECHECK_SECONDS
            return False
        return True

    def _quiet(self) -> bool:
        """What the stages know without a listing: nothing settling or being checked in
        raw/, no task held by a node, none queued that a node may claim."""
        if self.worker.ingestor.pending():
            return False
        coordinator = self.worker.coordinator
        if coordinator is None:
            return True
        if any(node["current_tasks"] for node in coordinator.nodes_snapshot()):
            return False
        return not len(coordinator.queue) or self._claims_paused()

    def _folders_busy(self) -> bool:
        if self.layout.task_ids(TaskState.PROCESSING):
            return True
        return bool(self.layout.task_ids(TaskState.QUEUED)) and not self._claims_paused()

    def _claims_paused(self) -> bool:
        return self.worker.disk.check().paused

    def leftovers(self) -> Leftovers:
        layout, worker = self.layout, self.worker
        failed = [f for t in layout.task_ids(TaskState.FAILED) if t not in self._failed_before
                  and (f := self._failed(t)) is not None]
        outputs = len(set(layout.task_ids(TaskState.DONE)) - self._done_before)
        queued, why = 0, ""
        if worker.coordinator is not None and (queued := len(layout.task_ids(TaskState.QUEUED))):
            disk = worker.disk.check()
            why = (disk_low_text(disk.free_bytes, worker.project.settings.disk.floor_gb)
                   + "; no task is handed out until space returns")
        waiting = [*worker.planner.waiting, *worker.narrations.waiting]
        return Leftovers(outputs, failed, waiting, worker.ingestor.held(), queued, why)

    def _failed(self, task_id: str) -> FailedTask | None:
        """The failed task as the report shows it; None for an attempt set aside because one
        of its clips did not decode (its chapter is planned again with other clips)."""
        record = lifecycle.failure_reason(self.layout, task_id) or {}
        if record.get(lifecycle.REPLAN_KEY) is True:
            return None
        folder = self.layout.task_dir(task_id, TaskState.FAILED)
        meta = taskmeta.read_raw(folder) or {}
        chapter, category, story = meta.get("chapter"), meta.get("category"), meta.get("story_name")
        if isinstance(chapter, str) and chapter:
            chapter = chapter_label(self.layout, chapter)
            if taskmeta.kind_of(meta) == taskmeta.TaskKind.NARRATE:
                chapter += " (narration)"
        elif category or story:
            chapter = f"{category}/{story}"
        else:
            chapter = f"task {task_id}"
        reason = " ".join(str(record.get("reason") or "no reason.json").split())
        if len(reason) > REASON_CHARS:
            reason = reason[:REASON_CHARS - 1] + "…"
        return FailedTask(task_id, chapter, self.layout.relative(folder) + "/", reason)


def _in(seconds: float) -> str:
    """`30 s`, `4 min`, `2 h`: how long until a held file is tried again."""
    if seconds < 45:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 90 * 60:
        return f"{max(1, round(seconds / 60))} min"
    return f"{seconds / 3600:.0f} h"
