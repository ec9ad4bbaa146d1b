"""The local renderer loop: claim → render → complete/fail, cancel, SIGTERM, progress display."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from storyreel.layout import TaskState
from storyreel.logs import read_events
from storyreel.plan import Planner
from storyreel.project import Project
from storyreel.render.local import LocalRenderer, ProgressReport, oldest_task
from storyreel.render.progress import Progress


def planned(project, media, *, resolution="160x90", preset="ultrafast", voice=None):
    layout = project.layout
    cfg = layout.config_file
    text = cfg.read_text().replace('resolution = "3840x2160"', f'resolution = "{resolution}"')
    text = text.replace('preset = "medium"', f'preset = "{preset}"').replace(
        'encoder = "auto"', 'encoder = "libx264"')
    cfg.write_text(text)
    project = Project.open(layout.root)
    media.copy(voice or media.speech(), layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3"))
    media.copy(media.clip(seconds=4.0), layout.scanned_clip("video", "fantasy", 160, 90, 4.0, "c1"))
    media.copy(media.tone(seconds=2.0), layout.scanned_music("fantasy", 2.0, "m1"))
    task_id = Planner(project).plan_pending()[0]
    return project, task_id


def test_render_one_completes_a_task(project, media):
    project, task_id = planned(project, media)
    assert oldest_task(project.layout) == task_id
    assert LocalRenderer(project, interactive=False).render_one(task_id) == TaskState.DONE
    assert project.layout.output_file(task_id).is_file()
    events = [e["event"] for e in read_events(project.layout.events_file)]
    assert events[-3:] == ["claimed", "rendered", "completed"]
    rendered = [e for e in read_events(project.layout.events_file) if e["event"] == "rendered"][0]
    assert rendered["encoder"] == "libx264" and rendered["media_seconds"] > 0


def test_a_cancelled_render_goes_back_to_tasks(project, media):
    project, task_id = planned(project, media)
    stop = threading.Event()
    stop.set()
    state = LocalRenderer(project, interactive=False).render_one(task_id, cancel=stop)
    assert state == TaskState.QUEUED
    assert project.layout.task_ids(TaskState.QUEUED) == [task_id]
    assert project.layout.task_ids(TaskState.PROCESSING) == []
    assert not list(project.layout.output.iterdir())
    assert "released" in [e["event"] for e in read_events(project.layout.events_file)]


def test_progress_bar_on_a_terminal_and_lines_otherwise(project, caplog):
    bar = ProgressReport("abcdef12-task", interactive=True)
    bar(Progress(1.0, 10.0, 2.0))
    bar(Progress(10.0, 10.0, 2.0))
    bar.close()
    lines = ProgressReport("abcdef12-task", interactive=False)
    lines(Progress(1.0, 10.0, 2.0))
    lines(Progress(2.0, 10.0, 2.0))  # within 5 s of the last line: not logged
    lines(Progress(10.0, 10.0, 2.0))  # the end is always logged
    text = project.layout.log_file.read_text()
    assert "Rendering abcdef12-task: 10.0% at 2.00x, ETA 4 s" in text
    assert "20.0%" not in text
    assert "Rendering abcdef12-task: 100.0% at 2.00x, ETA 0 s" in text


@pytest.mark.slow
def test_sigterm_stops_the_render_and_returns_the_task(project, media):
    # A render long enough to be caught in processing/: 640x360 at the slow preset.
    long_voice = media.speech(" ".join(["The dragon flew on over the quiet hills."] * 6))
    project, task_id = planned(project, media, resolution="640x360", preset="slow", voice=long_voice)
    layout = project.layout
    env = {**os.environ, "XDG_CACHE_HOME": str(layout.root.parent / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "run", str(layout.root)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while not layout.task_ids(TaskState.PROCESSING):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the task was never claimed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        stderr = proc.communicate(timeout=60)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr[-2000:]
    if layout.task_ids(TaskState.DONE):
        pytest.skip("the render finished before the signal arrived")
    assert layout.task_ids(TaskState.QUEUED) == [task_id]
    assert layout.task_ids(TaskState.PROCESSING) == []
    assert not [p for p in layout.processing.rglob("*")] and not list(layout.output.iterdir())
    assert "back in tasks/" in stderr


def test_a_verified_render_left_by_a_killed_run_is_published_not_redone(project, media):
    from storyreel import lifecycle
    from storyreel.render.job import render_task

    project, task_id = planned(project, media)
    folder = lifecycle.claim(project.layout, task_id)
    render_task(folder, folder / "final.mp4")
    lifecycle.release(project.layout, task_id)  # killed between render and publish
    renderer = LocalRenderer(project, interactive=False)
    assert renderer.render_one(task_id) == TaskState.DONE
    assert project.layout.output_file(task_id).is_file()
    assert "rendered" not in [e["event"] for e in read_events(project.layout.events_file)]
