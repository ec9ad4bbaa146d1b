"""The render task folders of one planning pass, published together (plan.py builds them).

A pass publishes its folders in batches of PUBLISH_BATCH: every file and temp folder of
the batch made durable side by side, every rename into tasks/, one fsync of tasks/
(`fsops.FolderBatch`), then the chapter index told and the batch's `task_created` events
written in one write and one fsync (`EventLog.emit_all`). A kill at any moment leaves each
task folder whole under its final name or only a temp folder the recovery stage sweeps
(its chapter is planned again), and the event log names only tasks that exist: a kill
between the renames and the events leaves those tasks without their event (counted once
by nobody, never twice).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from storyreel import fsops
from storyreel.errors import ConfigError
from storyreel.lifecycle import ChapterIndex
from storyreel.logs import MAIN_WORKER, Event, EventLog, get_logger
from storyreel.waiting import Waiting, WaitReason

log = get_logger(MAIN_WORKER)

# Tasks published at once: enough that the fsyncs of tasks/ and of the event log are
# shared by many, few enough that a large backlog shows tasks (and a progress line) soon
# and a kill throws away little work.
PUBLISH_BATCH = 100

# Test and drill switch (never set on a working farm): the main worker kills itself with
# SIGKILL the first time a batch's publishing reaches this step.
PLAN_KILL_ENV = "STORYREEL_FAULT_PLAN_KILL"
# synced: the batch's files and temp folders durable, none renamed; renamed: the first
# folder renamed into tasks/, the others not yet; published: all renamed and tasks/
# durable, the events not yet written.
KILL_STEPS = ("synced", "renamed", "published")


def kill_switch() -> Callable[[str], None]:
    """The step hook of `PLAN_KILL_ENV`: kills this process at that step, else does nothing."""
    wanted = os.environ.get(PLAN_KILL_ENV, "")
    if not wanted:
        return lambda _step: None
    if wanted not in KILL_STEPS:
        raise ConfigError(f"{PLAN_KILL_ENV}={wanted!r}: expected one of {', '.join(KILL_STEPS)}")

    def at(step: str) -> None:
        if step == wanted:
            log.warning("Fault injection (%s): killing the main worker at %s", PLAN_KILL_ENV, step)
            os.kill(os.getpid(), signal.SIGKILL)

    return at


@dataclass(frozen=True)
class BuiltTask:
    """A render task folder built under its temp name, waiting to be published."""

    task_id: str
    chapter: str
    profile: str
    voice_seconds: float
    folder: fsops.NewFolder
    summary: str  # the "Created task" line's account of its inputs: voice, music, clips


class TaskBatch:
    """Collects a pass's built task folders and publishes them PUBLISH_BATCH at a time."""

    def __init__(self, index: ChapterIndex, events: EventLog, *, size: int = PUBLISH_BATCH,
                 on_step: Callable[[str], None] | None = None) -> None:
        self.index = index
        self.events = events
        self.size = size
        self._on_step = on_step or kill_switch()
        self._built: list[BuiltTask] = []

    def __len__(self) -> int:
        return len(self._built)

    @property
    def full(self) -> bool:
        return len(self._built) >= self.size

    def add(self, task: BuiltTask) -> None:
        self._built.append(task)

    def discard(self) -> None:
        """Drop the tasks added and not published (their temp folders removed)."""
        built, self._built = self._built, []
        for task in built:
            task.folder.discard()

    def publish(self) -> tuple[list[str], list[Waiting]]:
        """Publish every task added since the last call: the ids now in tasks/, and a
        Waiting for each chapter whose folder could not be published."""
        built, self._built = self._built, []
        folders = fsops.FolderBatch(self._on_step)
        for task in built:
            folders.add(task.folder)
        done = folders.publish()
        failed = {id(folder): error for folder, error in done.failed}
        created, waiting, events = [], [], []
        for task in built:
            error = failed.get(id(task.folder))
            if error is not None:
                log.error("Cannot create the %s task for %s: %s", task.profile, task.chapter, error)
                waiting.append(Waiting(task.chapter, WaitReason.CANNOT_BUILD,
                                       f"its {task.profile} task folder cannot be written: {error}"))
                continue
            self.index.note(task.task_id, task.chapter, task.profile)
            log.info("Created task %s for %s, profile %s: %s", task.task_id, task.chapter, task.profile,
                     task.summary)
            created.append(task.task_id)
            events.append((Event.TASK_CREATED, {"task_id": task.task_id, "chapter": task.chapter,
                                                "profile": task.profile, "voice_duration": task.voice_seconds}))
        self.events.emit_all(events)
        return created, waiting
