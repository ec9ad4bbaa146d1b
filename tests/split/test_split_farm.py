"""A long chapter split across render nodes by `storyreel run`: its parts rendered side by
side on two nodes, joined by its render task into one verified video, published once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from splitkit import FPS, scanned_story, settle

from storyreel.history import history
from storyreel.layout import TaskState
from storyreel.logs import read_events
from storyreel.media.probe import probe
from storyreel.metrics import figures
from storyreel.render.segments import frame_count

# Upper bound for two nodes to start and the chapter to render on a loaded machine (s).
RUN_LIMIT = 240.0


def _wait(what: str, done, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + RUN_LIMIT
    while not done():
        assert proc.poll() is None, f"storyreel run exited while waiting for {what}: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {what} after {RUN_LIMIT:g} s: {log.read_text()[-3000:]}"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_long_chapter_renders_in_parts_on_two_nodes_and_is_published_once(project, media, tmp_path):
    project = settle(project)
    layout = project.layout
    voice = scanned_story(project, media, clips=8)
    held_back = voice.rename(tmp_path / "chapter_0001.mp3")  # dropped once both nodes are up
    log = tmp_path / "run.log"
    env = {**os.environ, "XDG_CACHE_HOME": str(layout.root.parent / "cache")}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "run", "--nodes", "2", str(layout.root)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
    try:
        _wait("two registered nodes", lambda: log.read_text().count(" registered from ") >= 2, proc, log)
        raw = layout.raw / "story" / "fantasy" / "dragon" / "voice" / "chapter_0001.mp3"
        raw.parent.mkdir(parents=True, exist_ok=True)
        held_back.rename(raw)
        _wait("published video", lambda: layout.task_ids(TaskState.DONE), proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    text = log.read_text()
    (task_id,) = layout.task_ids(TaskState.DONE)
    assert layout.task_ids(TaskState.QUEUED) == layout.task_ids(TaskState.PROCESSING) == []
    assert layout.task_ids(TaskState.FAILED) == []
    out = layout.task_dir(task_id, TaskState.DONE)
    meta = json.loads((out / "metadata.json").read_text())
    info = probe(out / "final.mp4")
    assert info.first_video.frames == frame_count(meta["voice_duration"], FPS)
    assert info.audio and abs(info.duration - meta["voice_duration"]) <= 1.5 / FPS
    assert f"Split task {task_id}" in text and "it is queued to be joined" in text
    segments = [line.split("Task ")[1].split(" ")[0] for line in text.splitlines()
                if "Task " in line and "claimed by" in line and task_id not in line]
    nodes = {line.split("claimed by ")[1].split(" ")[0] for line in text.splitlines()
             if "claimed by" in line and any(s in line for s in segments)}
    assert len(segments) >= 2 and nodes == {"local-1", "local-2"}, "each node rendered a part"
    assert not any((layout.output / s).exists() for s in segments), "parts never land in output/"
    # The parts' render time counts in the video's: the metrics see what the chapter cost.
    events = list(read_events(layout.events_file))
    parts = [e for e in events if e.get("event") == "completed" and e.get("kind") == "segment"]
    assert {e["task_id"] for e in parts} == set(segments) and {e["parent"] for e in parts} == {task_id}
    part_seconds = sum(e["seconds"] for e in events if e.get("event") == "rendered" and e["task_id"] in segments)
    assert figures(history(events, time.time())).avg_render_time > part_seconds
