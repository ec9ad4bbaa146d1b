"""A render that failed on one clip: the clip leaves scanned/, the chapter is planned again.

Ingest decodes every clip whole, so a clip that fails a render was damaged after ingest
or fails only in the render graph. Its node names it (FailureReport.bad_input, the
task-folder name of the clip); before the task goes to trash/failed/, the clip the task
links to moves from scanned/ to trash/invalid/ with a reason file (ingest/filing.py owns
that move), and the failed task's reason.json says `"replan": true` (lifecycle.fail), so the planner makes
the chapter a new task from the clips that are left (lifecycle.ChapterIndex).

A chapter is planned again only when the blamed clip can no longer be picked: it was moved
out now, or it was already gone from scanned/ (trashed after another task's render). So a
chapter is planned again at most once per clip of its category.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyreel import taskmeta
from storyreel.errors import StoryreelError
from storyreel.ingest.filing import reject
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.project import Project

log = get_logger(MAIN_WORKER)

# The reason file's reason for a clip a render could not decode.
UNDECODABLE = "a render could not decode this clip"


@dataclass(frozen=True)
class BadClip:
    """What became of the clip a failed render blamed, for the failed task's reason.json."""

    name: str  # in the task folder (video_0002.mp4)
    source: str  # where it was in scanned/, relative to the root ("" when not known)
    trashed: str  # where it went in trash/invalid/ ("" when it was already gone)

    def details(self) -> dict[str, Any]:
        return {"bad_input": self.name, "bad_clip": self.source, "bad_clip_trashed": self.trashed}


def set_aside(project: Project, task_dir: Path, name: str, reason: str) -> BadClip | None:
    """Move the clip `name` of the task in `task_dir` (processing/<id>) from scanned/ to
    trash/invalid/ with a reason file. None, with one WARN, when the chapter must not be
    planned again: `name` is no clip of the task, or it links to a clip that cannot be moved."""
    layout = project.layout
    meta = taskmeta.read_raw(task_dir) or {}
    clips = meta.get("video_files")
    if not isinstance(clips, list) or name not in clips:
        log.warning("Task %s blames %r, which is not one of its clips; its chapter is not planned again",
                    task_dir.name, name)
        return None
    link = task_dir / name
    target = Path(os.path.normpath(task_dir / os.readlink(link))) if link.is_symlink() else None
    if target is None or not target.is_relative_to(layout.scanned):
        log.warning("Clip %s of task %s is not a link into scanned/; its chapter is not planned again",
                    name, task_dir.name)
        return None
    source = layout.relative(target)
    if not os.path.lexists(target):  # set aside after an earlier render already
        return BadClip(name, source, "")
    if target.is_symlink() or not target.is_file():
        log.warning("Clip %s of task %s links to %s, which is no clip file; its chapter is not planned "
                    "again", name, task_dir.name, source)
        return None
    try:
        dest = reject(project, target, UNDECODABLE, detail=reason, task_id=task_dir.name, clip=name)
    except (StoryreelError, OSError) as exc:
        log.error("Cannot move the undecodable clip %s out of scanned/: %s; its chapter is not "
                  "planned again", source, exc)
        return None
    return BadClip(name, source, layout.relative(dest))
