"""Helpers for the web tests: a real uvicorn server on loopback, a stand-in node source,
and a project whose folders and event log look like a farm that finished some work."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from storyreel import fsops
from storyreel.layout import FAILURE_REASON_NAME, STDERR_NAME, TaskState
from storyreel.project import Project

# Headless Chromium for the dashboard tests (the `browser` fixture is in conftest.py).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
# Screenshots of the dashboard land here for people to look at.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@contextlib.contextmanager
def serve(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port; yields the base URL."""
    config = uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def storyreel_process(*args: str, stdout: int = subprocess.DEVNULL) -> Iterator[subprocess.Popen[str]]:
    """A `storyreel ARGS` process (stderr piped); killed at the end if the test did not stop it."""
    proc = subprocess.Popen([sys.executable, "-m", "storyreel.cli", *args], stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class StandInCoordinator:
    """A node source with the coordinator's nodes_snapshot() shape."""

    def __init__(self, project: Project, nodes: list[dict[str, Any]] | None = None) -> None:
        self.project = project
        self.nodes = nodes or []

    def nodes_snapshot(self) -> list[dict[str, Any]]:
        return [dict(n) for n in self.nodes]


def task_id() -> str:
    return str(uuid.uuid4())


def finished_farm(project: Project, now: float | None = None) -> dict[str, str]:
    """Folders and events of a farm where node `render-1` finished one task, failed another
    and holds a third.

    Returns the task ids: done, failed, queued, processing.
    """
    now = time.time() if now is None else now
    layout = project.layout
    ids = {"done": task_id(), "failed": task_id(), "queued": task_id(), "processing": task_id()}
    out = layout.output_file(ids["done"])
    out.parent.mkdir(parents=True)
    out.write_bytes(b"\0" * 1024)
    failed = layout.task_dir(ids["failed"], TaskState.FAILED)
    failed.mkdir(parents=True)
    fsops.write_json(failed / FAILURE_REASON_NAME, {"reason": "ffmpeg exited with status 1", "task_id": ids["failed"]})
    (failed / STDERR_NAME).write_text("frame=1 fps=0\n[h264] broken stream\nConversion failed!\n")
    layout.task_dir(ids["queued"], TaskState.QUEUED).mkdir(parents=True)
    layout.task_dir(ids["processing"], TaskState.PROCESSING).mkdir(parents=True)
    bad = layout.invalid / "video" / "action" / "broken.mp4"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a video")
    fsops.write_json(layout.reason_file(bad), {"file": "raw/video/action/broken.mp4", "reason": "corrupt or truncated"})
    waiting = layout.raw / "music" / "calm" / "song.mp3"
    waiting.parent.mkdir(parents=True)
    waiting.write_bytes(b"x")
    (layout.raw / "music" / "calm" / "still-copying.mp3.part").write_bytes(b"x")

    t = now - 300
    events = [
        {"ts": t, "event": "node_registered", "node": "render-1", "host": "studio-pc", "encoders": ["libx264"]},
        {"ts": t, "event": "claimed", "task_id": ids["done"], "node": "render-1", "attempt": 1},
        _stage("downloaded", ids["done"], t, t + 10, bytes=4096),
        _stage("rendered", ids["done"], t + 10, t + 70, media_seconds=30.0, encoder="libx264"),
        _stage("uploaded", ids["done"], t + 70, t + 75, bytes=1024),
        {"ts": t + 75, "event": "completed", "task_id": ids["done"], "node": "render-1", "attempt": 1,
         "media_seconds": 30.0},
        {"ts": t + 80, "event": "claimed", "task_id": ids["failed"], "node": "render-1", "attempt": 1},
        _stage("downloaded", ids["failed"], t + 80, t + 90, bytes=4096),
        {"ts": t + 95, "event": "failed", "task_id": ids["failed"], "node": "render-1", "attempt": 1,
         "reason": "ffmpeg exited with status 1"},
        {"ts": t + 96, "event": "rejected", "path": "raw/video/action/broken.mp4", "reason": "corrupt or truncated"},
        {"ts": t + 100, "event": "claimed", "task_id": ids["processing"], "node": "render-1", "attempt": 1},
    ]
    layout.events_file.parent.mkdir(parents=True, exist_ok=True)
    with open(layout.events_file, "a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    return ids


def _stage(event: str, task: str, start: float, end: float, **extra: Any) -> dict[str, Any]:
    return {"ts": end, "event": event, "task_id": task, "node": "render-1", "attempt": 1, "started": start,
            "ended": end, "seconds": end - start, **extra}


def node_row(task: str, percent: float = 42.0) -> dict[str, Any]:
    """A live node as Coordinator.nodes_snapshot() reports it, rendering `task`."""
    return {"node": "render-1", "host": "studio-pc", "encoders": ["libx264"], "version": "0.1",
            "registered_at": time.time() - 400, "last_seen": time.time(), "state": "busy",
            "current_tasks": [{"task_id": task, "attempt": 1, "stage": "rendering", "progress": percent,
                               "eta_seconds": 12.5, "speed": 0.5}],
            "progress": percent, "eta": 12.5}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
