"""One task a render node holds, and the stage it is in.

A node's stages are not task states: a task in any of them is `processing/` on the
main worker (TaskState.PROCESSING). The stage's value is what the node's heartbeats
report; the coordinator counts `rendering` nodes, and `status`, the dashboard and
`/metrics` show the value as it is, so the values are wire values.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from storyreel.layout import FINAL_NAME, PART_NAME, VOICE_NAME
from storyreel.protocol import TaskFile
from storyreel.render.job import Progress
from storyreel.taskmeta import TaskKind, kind_of


class JobStage(StrEnum):
    """Where a held task is on this node, in pipeline order."""

    CLAIMED = "claimed"  # granted, not yet fetching
    DOWNLOADING = "downloading"
    WAITING_TO_RENDER = "queued"  # fetched, waiting for the renderer (the value predates the name)
    RENDERING = "rendering"
    RENDERED = "rendered"  # waiting for the uploader
    UPLOADING = "uploading"


# Stages a first stop cancels at once: the prefetched task goes back, not after the render.
PREFETCH_STAGES = frozenset({JobStage.CLAIMED, JobStage.DOWNLOADING})


class FailedStage(StrEnum):
    """The stage a failure report names (`stage` in the failed task's reason.json)."""

    DOWNLOAD = "download"  # the grant could not be fetched safely (node/names.py)
    RENDER = "render"
    UPLOAD = "upload"


@dataclass
class Job:
    """One task this node holds: its lease (task id + attempt) and where its files are."""

    task_id: str
    attempt: int
    metadata: dict[str, Any]
    files: list[TaskFile]
    work: Path  # node-local folder for this attempt
    inputs: Path | None = None  # the folder render_task reads
    stage: JobStage = JobStage.CLAIMED
    progress: Progress | None = None
    lost: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def kind(self) -> TaskKind:
        return kind_of(self.metadata)

    @property
    def output(self) -> Path:
        """What the task makes and the upload sends: the video, or a narrate task's voice."""
        names = {TaskKind.NARRATE: VOICE_NAME, TaskKind.SEGMENT: PART_NAME}
        return self.work / names.get(self.kind, FINAL_NAME)

    @property
    def label(self) -> str:
        return f"{self.task_id} (attempt {self.attempt})"

    def report(self) -> dict[str, Any]:
        """The progress a heartbeat carries."""
        progress = self.progress
        return {
            "stage": self.stage.value,
            "percent": progress.percent if progress else None,
            "eta_seconds": progress.eta_seconds if progress else None,
            "speed": progress.speed if progress else None,
        }


def span(started: float) -> dict[str, float]:
    """A stage's start, end and length as the event log and failure reports carry them."""
    ended = time.time()
    return {"started": round(started, 3), "ended": round(ended, 3), "seconds": round(ended - started, 3)}
