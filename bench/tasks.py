"""Queues of render tasks for the farm benchmarks, written the way the planner writes them.

Inputs are filed once under scanned/ and each task folder links to them with
relative symlinks (SPEC §2), so 10,000 queued tasks cost a few MB, not copies.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storyreel.layout import (
    METADATA_NAME,
    MUSIC_NAME,
    VIDEO_LIST_NAME,
    VOICE_NAME,
    Layout,
)
from storyreel.project import Project

CATEGORY = "bench"


def file_inputs(
    layout: Layout,
    clips: list[tuple[Path, int, int, float]],
    voice: Path,
    music: Path,
    music_seconds: float,
) -> dict[str, Path]:
    """Copy the inputs into scanned/ once; returns task-folder name → scanned path."""
    files: dict[str, Path] = {}
    for number, (clip, width, height, seconds) in enumerate(clips, 1):
        dest = layout.scanned_clip("video", CATEGORY, width, height, seconds, f"clip{number:02d}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            shutil.copyfile(clip, dest)
        files[Layout.video_part_name(number)] = dest
    dest = layout.scanned_music(CATEGORY, music_seconds, "music")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        shutil.copyfile(music, dest)
    files[MUSIC_NAME] = dest
    # Not named chapter_NNNN.mp3: the main worker's planner must not plan a task of its own.
    dest = layout.scanned_voice(CATEGORY, "bench_story", "narration.mp3")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        shutil.copyfile(voice, dest)
    files[VOICE_NAME] = dest
    return files


def queue_tasks(
    project: Project, count: int, files: dict[str, Path], voice_seconds: float, render: dict
) -> list[str]:
    """Write `count` queued task folders (oldest first by created_at); returns their ids."""
    layout = project.layout
    videos = sorted(name for name in files if name.startswith("video_"))
    video_list = "".join(f"file '{name}'\n" for name in videos)
    base = datetime.now(UTC)
    ids = []
    # Every task folder sits at the same depth, so the relative link targets are the same for
    # all of them: computed once, 100,000 folders take seconds, not minutes.
    links = {name: os.path.relpath(target, layout.task_dir("x")) for name, target in files.items()}
    layout.tasks.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        task_id = str(uuid.uuid4())
        folder = layout.task_dir(task_id)
        os.mkdir(folder)
        for name, target in links.items():
            os.symlink(target, folder / name)
        (folder / VIDEO_LIST_NAME).write_text(video_list)
        metadata = {
            "task_id": task_id,
            "category": CATEGORY,
            "story_name": f"story_{index:05d}",
            "voice_file": VOICE_NAME,
            "voice_duration": voice_seconds,
            "music_file": MUSIC_NAME,
            "video_files": videos,
            "render": render,
            "chapter": f"scanned/story/{CATEGORY}/story_{index:05d}/voice/chapter_0001.mp3",
            "created_at": (base + timedelta(microseconds=index)).isoformat(),
        }
        (folder / METADATA_NAME).write_text(json.dumps(metadata))
        ids.append(task_id)
    return ids
