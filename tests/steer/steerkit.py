"""Helpers for the steering tests: a farm of real processes, the steering commands run as an
operator runs them, and the render nodes' ffmpeg processes seen from /proc."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from storyreel.layout import TaskState
from storyreel.project import Project

COMMAND_TIMEOUT = 60.0


def steer(*args: str | Path) -> subprocess.CompletedProcess:
    """`storyreel ARGS` as an operator types it: exit code, stdout and stderr."""
    return subprocess.run([sys.executable, "-m", "storyreel.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL, check=False)


def reason_of(project: Project, task_id: str) -> dict[str, Any]:
    return json.loads((project.layout.task_dir(task_id, TaskState.FAILED) / "reason.json").read_text())


def chapter_of(project: Project, task_id: str) -> str:
    for state in TaskState:
        meta = project.layout.task_dir(task_id, state) / "metadata.json"
        if meta.is_file():
            return json.loads(meta.read_text())["chapter"]
    raise AssertionError(f"no metadata.json for task {task_id}")


def queued_for(project: Project, chapter: str, besides: str) -> str | None:
    """A queued task of `chapter` other than `besides`, or None."""
    for task_id in project.layout.task_ids(TaskState.QUEUED):
        if task_id != besides and chapter_of(project, task_id) == chapter:
            return task_id
    return None


def node_rows(url: str, token: str) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/nodes", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    response.raise_for_status()
    return {row["node"]: row for row in response.json()}


def ffmpeg_pids(marker: str) -> list[int]:
    """ffmpeg processes whose command line names `marker` (a node's work dir)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name == "ffmpeg" and \
                any(marker.encode() in arg for arg in argv):
            pids.append(int(proc.name))
    return pids
