"""A long chapter split across render nodes: segment tasks leased like any task, their
parts joined by the chapter's render task into one verified video, published once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from splitkit import FPS, scanned_story, settle

from storyreel.layout import TaskState
from storyreel.media.probe import probe
from storyreel.project import Project


def run_farm(project: Project, nodes: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(project.layout.root.parent / "cache")}
    return subprocess.run([sys.executable, "-m", "storyreel.cli", "run", "--until-idle", "--nodes", str(nodes),
                           str(project.layout.root)], capture_output=True, text=True, timeout=300, env=env,
                          stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_a_long_chapter_renders_in_parts_on_two_nodes_and_is_published_once(project, media):
    project = settle(project)
    voice = scanned_story(project, media)
    assert probe(voice).duration >= 10.0, "the story must be long enough for two parts"
    done = run_farm(project)
    assert done.returncode == 0, done.stderr[-4000:]
    layout = project.layout
    (task_id,) = layout.task_ids(TaskState.DONE)
    assert layout.task_ids(TaskState.QUEUED) == [] and layout.task_ids(TaskState.PROCESSING) == []
    assert layout.task_ids(TaskState.FAILED) == []
    out = layout.task_dir(task_id, TaskState.DONE)
    meta = json.loads((out / "metadata.json").read_text())
    info = probe(out / "final.mp4")
    assert info.first_video is not None and info.audio
    frames = round(meta["voice_duration"] * FPS)
    assert abs(info.first_video.frames - frames) <= 1
    assert abs(info.duration - meta["voice_duration"]) <= 1.5 / FPS
    assert "Split task" in done.stderr and "segments" in done.stderr
    assert "are in: it is queued to be joined" in done.stderr
    claimed = [ln for ln in done.stderr.splitlines() if "claimed by" in ln]
    nodes = {ln.split("claimed by ")[1].split(" ")[0] for ln in claimed}
    assert len(nodes) == 2, "both nodes rendered parts"

