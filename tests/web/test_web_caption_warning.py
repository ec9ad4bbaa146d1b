"""A finished task whose captions skip much of its chapter's text: the dashboard (real
headless Chromium) and `storyreel status` name the chapter beside the task."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fastapi import FastAPI
from webkit import CHROMIUM, StandInCoordinator, finished_farm, serve

from storyreel import taskmeta
from storyreel.captions import AlignmentQuality
from storyreel.config import Settings
from storyreel.layout import TaskState
from storyreel.project import Project
from storyreel.web import mount

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")

WARNING = "dragon chapter_0003.mp3: 120 of 400 words are not in the narration (30 %)"


def _with_caption_report(project: Project, task_id: str, unspoken: int) -> None:
    """The finished task's metadata.json as the coordinator publishes it, with its quality report."""
    meta = taskmeta.TaskMeta(
        task_id=task_id, category="fantasy", story_name="dragon", voice_file="voice.mp3",
        voice_duration=30.0, music_file="music.mp3", video_files=["video_0001.mp4"],
        render=taskmeta.RenderSpec.from_settings(Settings().render, ""),
        chapter="scanned/story/fantasy/dragon/voice/chapter_0003.mp3",
    )
    quality = AlignmentQuality(words=400, aligned=400 - unspoken, unspoken=unspoken, confidence=0.8)
    folder = project.layout.task_dir(task_id, TaskState.DONE)
    data = {**meta.model_dump(mode="json"), "captions_quality": quality.model_dump(mode="json")}
    (folder / taskmeta.METADATA_NAME).write_text(json.dumps(data), encoding="utf-8")


def _status(project: Project, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "storyreel.cli", "status", str(project.layout.root), *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_status_and_the_dashboard_show_a_caption_warning(project: Project, browser):
    ids = finished_farm(project)
    _with_caption_report(project, ids["done"], unspoken=120)
    [row] = json.loads(_status(project, "--json"))["recent_completed"]
    assert row["task_id"] == ids["done"] and row["caption_warning"].startswith(WARNING)
    printed = _status(project)
    assert "Captions to check" in printed and WARNING in printed

    app = FastAPI()
    mount(app, StandInCoordinator(project, []), bound_host="0.0.0.0")
    with serve(app) as base:
        page = browser.new_page()
        page.goto(f"{base}/dashboard")
        page.fill("#token", project.token)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-ready='1']", timeout=20_000)
        assert f"captions: {WARNING}" in page.inner_text("#completed")
        page.close()


def test_captions_that_fit_their_text_show_no_warning(project: Project):
    ids = finished_farm(project)
    _with_caption_report(project, ids["done"], unspoken=12)  # 3 %: fine
    [row] = json.loads(_status(project, "--json"))["recent_completed"]
    assert row["caption_warning"] is None
    assert "Captions to check" not in _status(project)
