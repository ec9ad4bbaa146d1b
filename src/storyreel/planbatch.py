"""The render task folders of one planning pass, published together (plan.py plans them).

A pass publishes its folders in batches of PUBLISH_BATCH, each while the next is planned:
every folder of the batch written under its temp name and made durable, side by side,
then every rename into tasks/ and one fsync of tasks/ (`fsops.FolderBatch`); only then is
the chapter index told and are the batch's `task_created` events written, in one write
and one fsync (`EventLog.emit_all`). A kill at any moment leaves each task folder whole
under its final name or only a temp folder the recovery stage sweeps (its chapter is
planned again), and the event log names only tasks that exist: a kill between the
renames and the events leaves those tasks without their event (never counted twice).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from storyreel import fsops
from storyreel.errors import ConfigError
from storyreel.lifecycle import ChapterIndex
from storyreel.logs import MAIN_WORKER, Event, EventLog, get_logger
from storyreel.units import plural
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
    folder: fsops.FolderPlan  # written when the batch is published
    summary: str  # the "Created task" line's account of its inputs: voice, music, clips


class TaskBatch:
    """The task folders of one planning pass, published `size` at a time while the pass
    plans on: one batch is published in the background while the next is planned, and
    the pass waits for each before it sends the next. Used as a context manager around the
    pass; on leaving, everything added is published (or, after a failure, only what was
    already on its way; the rest was never written). `created` and `waiting` hold the
    outcome in the order the tasks were added."""

    def __init__(self, index: ChapterIndex, events: EventLog, *, chapters: int, size: int = PUBLISH_BATCH,
                 on_step: Callable[[str], None] | None = None) -> None:
        self.index = index
        self.events = events
        self.chapters = chapters  # how many the pass plans: a long pass says how far it got
        self.size = size
        self._on_step = on_step or (lambda _step: None)
        self._built: list[BuiltTask] = []
        self._planned = 0  # chapters of the pass planned so far
        self._publisher = ThreadPoolExecutor(max_workers=1)
        self._sending: tuple[list[BuiltTask], int, Future[fsops.Published]] | None = None
        self.created: list[str] = []
        self.waiting: list[Waiting] = []

    def __enter__(self) -> TaskBatch:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self._send()
            self._settle()
        finally:
            self._publisher.shutdown()

    def add(self, task: BuiltTask) -> None:
        self._built.append(task)

    def chapter_planned(self) -> None:
        """One more chapter of the pass planned: a full batch is sent on its way."""
        self._planned += 1
        if len(self._built) >= self.size:
            self._send()

    def _send(self) -> None:
        """Start publishing the tasks added so far, once the batch before them is settled."""
        self._settle()
        if self._built:
            built, self._built = self._built, []
            folders = fsops.FolderBatch(self._on_step)
            for task in built:
                folders.add(task.folder)
            self._sending = (built, self._planned, self._publisher.submit(folders.publish))

    def _settle(self) -> None:
        """Wait for the batch on its way; tell the index of its tasks and write their events."""
        if self._sending is None:
            return
        (built, planned, publishing), self._sending = self._sending, None
        failed = dict(publishing.result().failed)
        events = []
        for task in built:
            error = failed.get(task.folder.final)
            if error is not None:
                log.error("Cannot create the %s task for %s: %s", task.profile, task.chapter, error)
                self.waiting.append(Waiting(task.chapter, WaitReason.CANNOT_BUILD,
                                            f"its {task.profile} task folder cannot be written: {error}"))
                continue
            self.index.note(task.task_id, task.chapter, task.profile)
            log.info("Created task %s for %s, profile %s: %s", task.task_id, task.chapter, task.profile,
                     task.summary)
            self.created.append(task.task_id)
            events.append((Event.TASK_CREATED, {"task_id": task.task_id, "chapter": task.chapter,
                                                "profile": task.profile, "voice_duration": task.voice_seconds}))
        self.events.emit_all(events)
        if self.chapters > self.size:
            log.info("Planning: %s of %s chapters done, %s created so far", f"{planned:,}",
                     f"{self.chapters:,}", plural(len(self.created), "task"))
