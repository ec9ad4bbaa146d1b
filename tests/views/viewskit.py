"""Helpers for the views tests: a project whose tasks stand in every state, planned by the
real planner from real media, with the event log a farm would have written."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from farm.farmkit import farm_project

from storyreel import lifecycle
from storyreel.layout import TaskState
from storyreel.project import Project

# The stories of farm_project(tasks=4), one per state.
STATES = {"story1": TaskState.QUEUED, "story2": TaskState.PROCESSING, "story3": TaskState.DONE,
          "story4": TaskState.FAILED}


def task_of(project: Project, story: str) -> str:
    """The id of the task planned for `story`'s chapter 1."""
    for state in TaskState:
        for task_id in project.layout.task_ids(state):
            meta = json.loads((project.layout.task_dir(task_id, state) / "metadata.json").read_text())
            if meta["story_name"] == story:
                return task_id
    raise AssertionError(f"no task for {story}")


def every_state(root: Path, media: Any) -> tuple[Project, dict[str, str]]:
    """A project with one task per state (story1 queued … story4 failed), its finished video
    a real mp4, node `render-1` holding, finishing and failing them in the event log.
    Returns the project and story → task id."""
    project = farm_project(root, media, tasks=4)
    layout = project.layout
    ids = {story: task_of(project, story) for story in STATES}
    now = time.time()
    for story in ("story2", "story3", "story4"):
        lifecycle.claim(layout, ids[story])
    rendered = layout.task_dir(ids["story3"], TaskState.PROCESSING) / "render.mp4"
    media.copy(media.clip(seconds=2.0), rendered)
    lifecycle.complete(layout, ids["story3"], rendered)
    lifecycle.fail(layout, ids["story4"], "ffmpeg exited with status 1", "Conversion failed!\n", node="render-1")
    events = [{"ts": now - 60, "event": "node_registered", "node": "render-1", "host": "pc", "encoders": ["libx264"]}]
    events += [{"ts": now - 50, "event": "claimed", "task_id": ids[s], "node": "render-1", "attempt": 1}
               for s in ("story2", "story3", "story4")]
    events += [{"ts": now - 20, "event": "completed", "task_id": ids["story3"], "node": "render-1", "attempt": 1,
                "media_seconds": 3.0},
               {"ts": now - 10, "event": "failed", "task_id": ids["story4"], "node": "render-1", "attempt": 1,
                "reason": "ffmpeg exited with status 1"}]
    with open(layout.events_file, "a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    return project, ids
