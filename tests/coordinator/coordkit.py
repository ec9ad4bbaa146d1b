"""Helpers for the coordinator's unit tests: a project whose tasks/ holds hand-made task
folders (no media, no planner), a clock the test moves, and a coordinator over both."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storyreel.coordinator import Coordinator
from storyreel.layout import LEASE_NAME, TaskState
from storyreel.project import Project

# Lease settings of every unit test: round numbers, so deadlines read plainly.
LEASE = 30.0
HEARTBEAT = 5.0
START = 1_900_000_000.0


class Clock:
    """The coordinator's wall clock, moved by the test so expiry needs no waiting."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_project(root: Path, *, tasks: int, max_attempts: int = 3) -> Project:
    """A project whose tasks/ holds `tasks` task folders, created a second apart (oldest first)."""
    Project.init(root)
    project = Project.open(root)
    settings = project.settings.coordinator
    settings.lease_seconds, settings.heartbeat_seconds, settings.max_attempts = LEASE, HEARTBEAT, max_attempts
    for number in range(tasks):
        add_task(project, created_at=f"2026-01-01T00:00:{number:02d}Z")
    return project


def add_task(project: Project, *, created_at: str, encoder: str = "auto") -> str:
    task_id = str(uuid.uuid4())
    folder = project.layout.task_dir(task_id, TaskState.QUEUED)
    folder.mkdir(parents=True)
    metadata = {"task_id": task_id, "created_at": created_at, "voice_duration": 3.0,
                "render": {"encoder": encoder}}
    (folder / "metadata.json").write_text(json.dumps(metadata))
    (folder / "voice.mp3").write_bytes(b"voice " * 100)
    return task_id


def coordinator(project: Project, clock: Clock, *nodes: str) -> Coordinator:
    """A coordinator on `clock` with `nodes` registered (libx264 each)."""
    coord = Coordinator(project, clock=clock)
    for node in nodes:
        coord.register(node, "test", ["libx264"], "t")
    return coord


def lease_file(project: Project, task_id: str, state: TaskState = TaskState.PROCESSING) -> dict | None:
    path = project.layout.task_dir(task_id, state) / LEASE_NAME
    return json.loads(path.read_text()) if path.exists() else None


def events(project: Project, task_id: str) -> list[tuple[str, int | None]]:
    """(event, attempt) of one task, in order."""
    from storyreel.logs import read_events

    return [(e["event"], e.get("attempt")) for e in read_events(project.layout.events_file)
            if e.get("task_id") == task_id]


@contextmanager
def held_elsewhere(lock: threading.RLock) -> Iterator[None]:
    """`lock` held by another thread for the duration (a claim or a move in progress)."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(10)
        yield
    finally:
        done.set()
        holder.join()
