"""The chapters the planner cannot plan yet, shared with every view: `.storyreel/waiting.json`.

The planner keeps `Planner.waiting` in the main worker's process; `status`, the standalone
dashboard and a second machine that sees the project folder run elsewhere. So the main
worker, the only writer, writes the list whole and atomically whenever it changes, and
removes it when it stops (nobody plans then, so nothing "waits"); farmstate reads it.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ValidationError

from storyreel import fsops
from storyreel.chapters import ChapterName
from storyreel.errors import FilesystemError
from storyreel.layout import Layout
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.waiting import Waiting, WaitReason

log = get_logger(MAIN_WORKER)


class WaitingChapter(BaseModel):
    """One chapter without a task, and why: `waiting: no music in category fantasy`."""

    chapter: str  # the chapter's key, scanned/story/<category>/<story>/voice/chapter_NNNN.mp3
    name: ChapterName
    reason: str  # a WaitReason value: it labels storyreel_chapters_waiting{reason}
    detail: str  # the sentence an operator reads


class WaitList(BaseModel):
    """The planner's last word: when it was said, and the chapters that wait."""

    updated: float
    chapters: list[WaitingChapter] = []


def reasons() -> list[str]:
    """Every reason a chapter can wait for, so a view can show the ones with none as 0."""
    return [str(reason) for reason in WaitReason]


def of_planner(layout: Layout, waiting: list[Waiting]) -> list[WaitingChapter]:
    return [WaitingChapter(chapter=w.chapter, name=ChapterName.of_key(layout, w.chapter), reason=str(w.reason),
                           detail=w.detail) for w in waiting]


def read(layout: Layout) -> list[WaitingChapter]:
    """What a running main worker says waits; [] when none runs or it has said nothing yet."""
    try:
        return WaitList.model_validate_json(layout.waiting_file.read_bytes()).chapters
    except (OSError, ValidationError):
        return []  # no main worker, or one from before this file existed


class WaitFile:
    """The main worker's side: `publish` after every planner pass writes only on a change."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._last: list[WaitingChapter] | None = None
        self._failing = False  # one WARN per spell of failed writes (a full disk)

    def publish(self, waiting: list[Waiting]) -> None:
        chapters = of_planner(self.layout, waiting)
        if chapters == self._last:
            return
        document = WaitList(updated=time.time(), chapters=chapters)
        try:
            fsops.write_atomic(self.layout.waiting_file, document.model_dump_json(indent=2) + "\n")
        except FilesystemError as exc:
            if not self._failing:
                log.warning("Views cannot show which chapters wait: %s (tried again every pass)", exc)
            self._failing = True
            return
        self._last, self._failing = chapters, False

    def withdraw(self) -> None:
        """The main worker stops: nothing is being planned, so nothing is said to wait."""
        self.layout.waiting_file.unlink(missing_ok=True)
        self._last = None
