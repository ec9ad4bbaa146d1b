"""Helpers for the farm tests: tiny projects with planned tasks, real main worker and node
processes, and waiting on the event log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storyreel.layout import AssetKind, TaskState
from storyreel.logs import read_events
from storyreel.plan import Planner
from storyreel.project import Project

PYTHON = sys.executable
# Generous: CI machines are shared and slow; tests wait on outcomes, never on timings.
WAIT = 90.0

# Tiny render, short leases: every test finishes in seconds.
FARM_TOML = """\
log_level = "DEBUG"

[ingest]
stable_seconds = 0.0

[plan]
seed = 7

[render]
resolution = "160x90"
frame_rate = 15
preset = "ultrafast"
encoder = "{encoder}"
audio_bitrate = "64k"

[coordinator]
lease_seconds = {lease}
heartbeat_seconds = {heartbeat}
max_attempts = {max_attempts}

[node]
upload_retries = 3
retry_backoff_seconds = 0.1
poll_seconds = 0.2
"""


def farm_project(
    root: Path, media: Any, *, tasks: int, voice_seconds: float = 3.0, encoder: str = "libx264",
    lease: float = 4.0, heartbeat: float = 0.5, max_attempts: int = 3, extra_toml: str = "",
) -> Project:
    """A project whose tasks/ holds `tasks` planned tasks (real planner, real media);
    `extra_toml` adds sections to its storyreel.toml."""
    Project.init(root)
    (root / "storyreel.toml").write_text(FARM_TOML.format(
        encoder=encoder, lease=lease, heartbeat=heartbeat, max_attempts=max_attempts) + extra_toml)
    project = Project.open(root)
    layout = project.layout
    media.copy(media.clip(seconds=2.0), layout.scanned_clip(AssetKind.VIDEO, "tales", 160, 90, 2.0, "c1"))
    media.copy(media.clip(seconds=2.0, width=128, height=96, audio=False),
               layout.scanned_clip(AssetKind.VIDEO, "tales", 128, 96, 2.0, "c2"))
    media.copy(media.tone(seconds=2.0), layout.scanned_music("tales", 2.0, "m1"))
    voice = media.tone(seconds=voice_seconds, frequency=220)
    for number in range(1, tasks + 1):
        media.copy(voice, layout.scanned_voice("tales", f"story{number}", "chapter_0001.mp3"))
    created = Planner(project).plan_pending()
    assert len(created) == tasks, created
    return project


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def storyreel(*args: str, env: dict[str, str] | None = None, log: Path | None = None,
              prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    """Start `storyreel ARGS` as its own process (its own process group, for signals);
    `prefix` runs it under another program (e.g. `ip netns exec NAME`)."""
    full_env = {**os.environ, **(env or {})}
    argv = [*prefix, PYTHON, "-m", "storyreel.cli", *args]
    if log is None:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=full_env, start_new_session=True)
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=full_env,
                                start_new_session=True)


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT, procs: list | None = None) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        for proc in procs or []:
            if proc.poll() is not None and proc.returncode not in (0, -signal.SIGKILL):
                raise AssertionError(f"{what}: process {proc.args} exited with {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Farm:
    """A main worker process and node processes on one project, torn down at the end."""

    def __init__(self, project: Project, tmp: Path) -> None:
        self.project = project
        self.tmp = tmp
        self.port = free_port()
        self.host = "127.0.0.1"  # where the coordinator listens
        self.main: subprocess.Popen | None = None
        self.nodes: dict[str, subprocess.Popen] = {}
        self.token = project.token

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def main_log(self) -> Path:
        return self.tmp / "main.log"

    def node_log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def start_main(self) -> subprocess.Popen:
        self.project.layout.coordinator_file.unlink(missing_ok=True)
        self.main = storyreel("main", str(self.project.layout.root), "--listen", f"{self.host}:{self.port}",
                              log=self.main_log)
        wait_for("the coordinator to listen", self.project.layout.coordinator_file.exists, procs=[self.main])
        return self.main

    def start_node(self, name: str, *extra: str, env: dict[str, str] | None = None,
                   prefix: tuple[str, ...] = ()) -> subprocess.Popen:
        proc = storyreel("render", "--server", self.url, "--token", self.token, "--node-id", name,
                         "--work-dir", str(self.tmp / f"work-{name}"), *extra, env=env, log=self.node_log(name),
                         prefix=prefix)
        self.nodes[name] = proc
        return proc

    def events(self, kind: str | None = None, **match: Any) -> list[dict[str, Any]]:
        return [
            e for e in read_events(self.project.layout.events_file)
            if (kind is None or e["event"] == kind) and all(e.get(k) == v for k, v in match.items())
        ]

    def ids(self, state: TaskState) -> list[str]:
        return self.project.layout.task_ids(state)

    def drained(self) -> bool:
        return not self.ids(TaskState.QUEUED) and not self.ids(TaskState.PROCESSING)

    def stop(self) -> None:
        procs = [p for p in [*self.nodes.values(), self.main] if p is not None and p.poll() is None]
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def lease_of(project: Project, task_id: str) -> dict[str, Any] | None:
    path = project.layout.task_dir(task_id, TaskState.PROCESSING) / "lease.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
