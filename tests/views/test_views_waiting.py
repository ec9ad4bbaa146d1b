"""The planner's waiting chapters reach other processes through .storyreel/waiting.json:
written by the main worker when the list changes (not on every pass), read by `status`,
emptied once the chapter gets its task, removed when the main worker stops, and never
touched by a main worker that was refused the root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from farm.farmkit import farm_project

from storyreel.errors import RootLocked
from storyreel.layout import AssetKind, TaskState
from storyreel.mainworker import MainWorker
from storyreel.project import Project


def _status_json(root: Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "storyreel.cli", "status", str(root), "--json", "--url",
                             "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_waiting_chapters_are_published_while_the_main_worker_runs(tmp_path: Path, media):
    project = farm_project(tmp_path / "root", media, tasks=1)
    layout = project.layout
    voice = layout.scanned_voice("silent", "quiet_tale", "chapter_0004.mp3")
    media.copy(media.tone(seconds=3.0, frequency=330), voice)
    worker = MainWorker(Project.open(layout.root))
    with worker.running(watch=False):
        worker.cycle()
        written = json.loads(layout.waiting_file.read_text())
        (chapter,) = written["chapters"]
        assert chapter["chapter"] == layout.chapter_of(voice)
        assert chapter["reason"] == "no_music_or_clips"
        assert chapter["name"]["label"] == "silent/quiet_tale chapter 4"
        stamp = layout.waiting_file.stat().st_mtime_ns
        worker.cycle()
        assert layout.waiting_file.stat().st_mtime_ns == stamp  # unchanged list: not rewritten

        state = _status_json(layout.root)  # another process, no coordinator: read from the file
        assert [w["name"]["label"] for w in state["waiting"]] == ["silent/quiet_tale chapter 4"]

        with pytest.raises(RootLocked):
            MainWorker(Project.open(layout.root)).start()
        assert layout.waiting_file.exists()  # the refused worker left it alone

        media.copy(media.clip(seconds=2.0), layout.scanned_clip(AssetKind.VIDEO, "silent", 160, 90, 2.0, "s1"))
        media.copy(media.tone(seconds=2.0), layout.scanned_music("silent", 2.0, "m2"))
        worker.cycle()
        assert json.loads(layout.waiting_file.read_text())["chapters"] == []
        assert len(layout.task_ids(TaskState.QUEUED)) == 2
    assert not layout.waiting_file.exists()
    assert _status_json(layout.root)["waiting"] == []
