"""The farm state as one typed document: folders, nodes, SPEC §10 metrics, failures and
the log tail at one moment.

`storyreel status` (tables and `--json`), the dashboard's JSON and `/metrics` all read
this model; `model_dump()` is the JSON they show, and `FarmState.model_validate` reads
it back from a running coordinator.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from storyreel.chapters import ChapterName
from storyreel.diskspace import DiskReport
from storyreel.farmstate.tasks import TaskRow
from storyreel.history import to_epoch
from storyreel.metrics import Figures, Metrics
from storyreel.queues import Failure
from storyreel.waitlist import WaitingChapter


class NodeState(StrEnum):
    """What a node row says about its node."""

    BUSY = "busy"  # holds at least one task
    IDLE = "idle"  # registered and heard from, holds nothing
    LOST = "lost"  # the coordinator stopped hearing from it
    OFFLINE = "offline"  # known only from the event log; no coordinator lists it
    PAUSED = "paused"  # claims nothing: paused by the operator, or after failing task after task
    DRAINING = "draining"  # finishes what it holds, claims nothing new


class NodeTask(BaseModel):
    """A task a node holds, with its stage and, while rendering, progress (0–1) and ETA."""

    task_id: str
    stage: str
    progress: float | None = None
    eta: float | None = None  # seconds left

    def started(self, now: float) -> float | None:
        """When a render going on now began, estimated from progress and ETA: at a steady
        speed, time spent = ETA × done / left."""
        done, eta = self.progress, self.eta
        if not self.stage.startswith("render") or done is None or eta is None:
            return None
        if 0 < done < 1 and eta >= 0:
            return now - eta * done / (1 - done)
        return None


class NodeRow(BaseModel):
    """One render node as status, the dashboard and /metrics show it. `live` is True while
    the coordinator lists it as heard from; rows known only from the event log are not."""

    node: str
    host: str = ""
    encoder: str = ""  # the one it renders with (its best when it has not rendered yet)
    encoders: list[str] = []
    state: NodeState
    last_seen: float | None = None
    tasks: list[NodeTask] = []
    live: bool = False

    @classmethod
    def from_snapshot(cls, raw: dict[str, Any]) -> NodeRow:
        """One row of `Coordinator.nodes_snapshot()` (node, host, encoders, last_seen, state,
        current_tasks with stage, progress in % and eta_seconds): the only place that reads it."""
        tasks = raw.get("current_tasks")
        rows = [
            NodeTask(task_id=str(item.get("task_id") or ""), stage=str(item.get("stage") or ""),
                     progress=_fraction(item.get("progress")), eta=_seconds(item.get("eta_seconds")))
            for item in (tasks if isinstance(tasks, list) else [])
            if isinstance(item, dict)
        ]
        encoders = [str(e) for e in raw.get("encoders") or []]
        state = _node_state(raw.get("state"), busy=bool(rows))
        return cls(
            node=str(raw.get("node") or "?"), host=str(raw.get("host") or ""),
            encoder=encoders[0] if encoders else "", encoders=encoders, state=state,
            last_seen=to_epoch(raw.get("last_seen")), tasks=rows, live=state != NodeState.LOST,
        )

    def renders_started(self, now: float) -> list[tuple[str, str, float]]:
        """The renders this live node is running now, as (node, task id, started)."""
        if not self.live:
            return []
        return [(self.node, t.task_id, start) for t in self.tasks if (start := t.started(now)) is not None]


def _node_state(value: Any, *, busy: bool) -> NodeState:
    try:
        return NodeState(str(value))
    except ValueError:
        return NodeState.BUSY if busy else NodeState.IDLE


def _fraction(value: Any) -> float | None:
    """The coordinator's progress percentage (0–100) as a fraction 0–1."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(1.0, number / 100))


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class DiskState(BaseModel):
    """Free space under the project root and the two thresholds of [disk]."""

    free_bytes: int
    low_bytes: int
    floor_bytes: int
    low: bool
    paused: bool  # below the floor: no task is planned or claimed

    @classmethod
    def of(cls, report: DiskReport) -> DiskState:
        return cls(free_bytes=report.free_bytes, low_bytes=report.low_bytes, floor_bytes=report.floor_bytes,
                   low=report.low, paused=report.paused)


class FolderCounts(BaseModel):
    """Items in each folder of SPEC §2, dumped under the folders' own names (`scanned/video`,
    `trash/failed`). A folder this model does not name is an error, not a silent omission."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True, validate_by_alias=True,
                              extra="forbid")

    raw: int
    scanned_story: int = Field(alias="scanned/story")
    scanned_video: int = Field(alias="scanned/video")
    scanned_frame: int = Field(alias="scanned/frame")
    scanned_music: int = Field(alias="scanned/music")
    tasks: int  # queued
    processing: int
    output: int  # finished: output/<id>/final.mp4 exists
    trash_invalid: int = Field(alias="trash/invalid")
    trash_failed: int = Field(alias="trash/failed")

    def by_folder(self) -> dict[str, int]:
        """Folder name → items, in the order of SPEC §2."""
        return self.model_dump()

    def scanned(self) -> dict[str, int]:
        """Asset kind → files filed under scanned/."""
        return {name.removeprefix("scanned/"): count for name, count in self.by_folder().items()
                if name.startswith("scanned/")}


class CompletedTask(BaseModel):
    task_id: str
    node: str
    when: float
    media_seconds: float
    video_bytes: int | None = None  # output/<id>/final.mp4's size; None when it is not there
    # Its captions skip much of the chapter's text ("dragon chapter_0003.mp3: 120 of 400
    # words are not in the narration …"); None when they are fine or it has none.
    caption_warning: str | None = None


class FarmState(BaseModel):
    """Everything `storyreel status` and the dashboard show, at `now`."""

    root: str
    now: float
    coordinator: bool  # a coordinator answered: nodes are live, not only from the log
    disk: DiskState
    queues: FolderCounts
    invalid_reasons: dict[str, int]  # reason → files in trash/invalid/, most common first
    failed_reasons: dict[str, int]  # reason → tasks in trash/failed/, most common first
    recent_failures: list[Failure]  # newest first
    recent_completed: list[CompletedTask]  # newest first
    nodes: list[NodeRow]
    metrics: Metrics
    log_tail: list[str]
    # What the operator reads instead of uuids: the chapter of every task named above.
    names: dict[str, ChapterName] = {}
    tasks: list[TaskRow] = []  # queued and held tasks, oldest first (capped: queues has the counts)
    waiting: list[WaitingChapter] = []  # chapters the running main worker cannot plan yet, and why

    def name(self, task_id: str) -> str:
        """A task as people name it, `fantasy/dragon chapter 3`; its short id when unknown."""
        found = self.names.get(task_id)
        return found.label if found is not None and found.label != "?" else task_id[:8]

    @property
    def since_start(self) -> Figures:
        return self.metrics.since_start

    @property
    def window(self) -> Figures:
        return self.metrics.window
