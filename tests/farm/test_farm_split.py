"""A long chapter's parts are leased like any task: a node killed while rendering a part
loses it to the reaper, another node renders it, and the chapter is published once with
exactly its voice's frames."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from farmkit import Farm, farm_project, wait_for

from storyreel.layout import SPLIT_NAME, TEMP_PREFIX, TaskState
from storyreel.media.probe import probe
from storyreel.plan import Planner
from storyreel.project import Project
from storyreel.render.segments import frame_count

FPS = 15  # farmkit's render settings


def split_project(root: Path, media) -> tuple[Project, str]:
    """farmkit's tiny project with one 12 s chapter, split into parts of 5 s."""
    project = farm_project(root, media, tasks=0, lease=3.0, heartbeat=0.5)
    cfg = project.layout.config_file
    cfg.write_text(cfg.read_text().replace("[render]\n", "[render]\nsegment_seconds = 5.0\n", 1))
    project = Project.open(root)
    media.copy(media.tone(seconds=12.0, frequency=220), project.layout.scanned_voice("tales", "long", "chapter_0001.mp3"))
    (task_id,) = Planner(project).plan_pending()
    return project, task_id


@pytest.mark.slow
def test_a_part_whose_node_is_killed_is_rendered_by_another_and_the_chapter_publishes_once(tmp_path, media):
    project, task_id = split_project(tmp_path / "root", media)
    farm = Farm(project, tmp_path)
    try:
        farm.start_main()
        victim = farm.start_node("n1", "--copy-inputs")
        wait_for("n1 to render a part", lambda: "Rendering a part for task" in farm.node_log("n1").read_text(),
                 procs=[victim])
        os.killpg(victim.pid, signal.SIGKILL)  # the node and its ffmpeg, as when a machine dies
        victim.wait()
        farm.start_node("n2", "--copy-inputs")
        wait_for("the chapter to be published", lambda: farm.events("completed", task_id=task_id), timeout=180,
                 procs=[farm.main])
    finally:
        farm.stop()
    layout = project.layout
    (split,) = farm.events("split", task_id=task_id)
    segments = split["segments"]
    assert len(segments) >= 2
    lost = [e["task_id"] for e in farm.events("requeued")]
    assert lost and set(lost) <= set(segments), "the killed node's parts went back to the queue"
    parts = [e for e in farm.events("completed") if e.get("kind") == "segment"]
    assert sorted(e["task_id"] for e in parts) == sorted(segments)  # each part filed once
    assert {e["node"] for e in parts if e["task_id"] in lost} == {"n2"}
    assert [e["node"] for e in farm.events("completed", task_id=task_id)] == ["n2"]
    meta = json.loads((layout.task_dir(task_id, TaskState.DONE) / "metadata.json").read_text())
    info = probe(layout.output_file(task_id))
    assert info.first_video.frames == frame_count(meta["voice_duration"], FPS)
    assert farm.drained() and layout.task_ids(TaskState.FAILED) == []
    assert not [p for p in layout.root.rglob("*") if p.name.startswith(TEMP_PREFIX)]
    published = sorted(p.name for p in layout.task_dir(task_id, TaskState.DONE).iterdir())
    assert SPLIT_NAME not in published and not [n for n in published if n.startswith("part_")]
