"""End to end through `storyreel run ROOT --until-idle` as a real process: raw/ → output/."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from render_helpers import mean_volume, pixel, voice_with_tail

from storyreel import lifecycle
from storyreel.layout import TaskState
from storyreel.logs import read_events
from storyreel.mainworker import MainWorker
from storyreel.media.probe import probe
from storyreel.project import Project

pytestmark = pytest.mark.slow

WIDTH, HEIGHT, FPS = 160, 90, 30
SETTINGS = f"""
[render]
resolution = "{WIDTH}x{HEIGHT}"
frame_rate = {FPS}
preset = "ultrafast"
encoder = "libx264"
logo = "logo.png"
"""


def configure(project, media):
    cfg = project.layout.config_file
    text = cfg.read_text()
    for key in ("resolution", "frame_rate", "preset", "encoder", "logo"):
        text = "\n".join(ln for ln in text.splitlines() if not ln.startswith(f"{key} = "))
    text = text.replace("[render]\n", SETTINGS.strip() + "\n", 1)
    text = text.replace("min_music_seconds = 5.0", "min_music_seconds = 1.0")
    cfg.write_text(text)
    media.copy(media.logo(), project.layout.root / "logo.png")
    return Project.open(project.layout.root)



def _copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    return dst


def run_cli(project, *args, timeout=240):
    env = {**os.environ, "XDG_CACHE_HOME": str(project.layout.root.parent / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "storyreel.cli", *args, str(project.layout.root)],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
    )


def only_output(project):
    ids = project.layout.task_ids(TaskState.DONE)
    assert len(ids) == 1, ids
    return project.layout.output_file(ids[0])


def test_raw_assets_become_a_verified_video(project, media):
    project = configure(project, media)
    _copy(voice_with_tail(media), project.layout.raw / "story/fantasy/dragon/voice/chapter_0001.mp3")
    _copy(media.tone(seconds=2.0), project.layout.raw / "music/fantasy/calm.mp3")
    _copy(media.clip(width=160, height=90, fps=25, seconds=3.0), project.layout.raw / "video/fantasy/wide.mp4")
    _copy(media.clip(width=120, height=90, fps=24, seconds=3.0, audio=False),
          project.layout.raw / "video/fantasy/narrow.mp4")

    done = run_cli(project, "run", "--until-idle")
    assert done.returncode == 0, done.stderr[-3000:]

    final = only_output(project)
    meta = json.loads((final.parent / "metadata.json").read_text())
    duration = meta["voice_duration"]
    info = probe(final)
    assert len(info.video) == 1 and len(info.audio) == 1
    assert (info.video[0].width, info.video[0].height) == (WIDTH, HEIGHT)
    assert info.video[0].fps == pytest.approx(FPS, abs=0.01)
    assert abs(info.duration - duration) <= 1 / FPS
    assert mean_volume(final, start=duration - 0.6, seconds=0.5) > -45.0  # music to the very end
    r, g, b = pixel(final, 1.0, 30, 25, WIDTH)
    assert r > 180 and g < 80 and b < 80
    layout = project.layout
    assert layout.task_ids(TaskState.QUEUED) == [] and layout.task_ids(TaskState.PROCESSING) == []
    assert not [p for p in layout.raw.rglob("*") if p.is_file()]
    kinds = [e["event"] for e in read_events(layout.events_file)]
    assert kinds.count("task_created") == 1 and kinds.count("completed") == 1
    log = layout.log_file.read_text()
    assert f"Task {final.parent.name} done: output/{final.parent.name}/final.mp4" in log
    assert "100.0% at" in log  # progress as log lines when not on a terminal


def test_clip_that_fails_to_decode_is_set_aside_and_the_chapter_rendered_with_the_others(project, media):
    project = configure(project, media)
    _copy(media.speech(), project.layout.raw / "story/fantasy/dragon/voice/chapter_0001.mp3")
    _copy(media.tone(seconds=2.0), project.layout.raw / "music/fantasy/calm.mp3")
    _copy(media.clip(seconds=4.0, audio=False), project.layout.raw / "video/fantasy/broken.mp4")
    _copy(media.clip(seconds=4.0, audio=False, source="color"), project.layout.raw / "video/fantasy/fine.mp4")
    MainWorker(project).run_once()  # ingest decodes the whole clip: it is damaged only later
    layout = project.layout
    (planned,) = layout.task_ids(TaskState.QUEUED)
    meta = json.loads((layout.task_dir(planned) / "metadata.json").read_text())
    chapter, bad_source = meta["chapter"], meta["video_sources"][0]
    bad = layout.root / bad_source
    data = bytearray(bad.read_bytes())
    start = int(len(data) * 0.45)
    data[start:start + len(data) // 10] = os.urandom(len(data) // 10)
    bad.write_bytes(bytes(data))

    done = run_cli(project, "run", "--until-idle")
    # The set-aside attempt is no failure: its chapter rendered with the other clip.
    assert done.returncode == 0, done.stderr[-3000:]

    # The first attempt is kept with ffmpeg's stderr, and says its chapter was planned again.
    assert layout.task_ids(TaskState.FAILED) == [planned]
    folder = layout.task_dir(planned, TaskState.FAILED)
    stderr = (folder / "stderr.log").read_text()
    assert "video_0001.mp4" in stderr and "rror" in stderr
    reason = json.loads((folder / "reason.json").read_text())
    assert reason["reason"].startswith("render failed: ffmpeg exited with code")
    assert reason["replan"] is True and reason["bad_input"] == "video_0001.mp4"
    assert (folder / "voice.mp3").resolve().is_file()  # inputs still reachable for a retry
    # The clip that does not decode is in trash/invalid/ with its reason, out of scanned/.
    assert not bad.exists()
    trashed = layout.root / reason["bad_clip_trashed"]
    assert trashed.is_file() and trashed.is_relative_to(layout.invalid)
    assert "could not decode" in json.loads(layout.reason_file(trashed).read_text())["reason"]
    # A new task for the same chapter rendered with the other clip.
    (output,) = layout.task_ids(TaskState.DONE)
    assert output != planned
    meta = json.loads((layout.task_dir(output, TaskState.DONE) / "metadata.json").read_text())
    assert meta["chapter"] == chapter and bad_source not in meta["video_sources"]
    assert probe(layout.output_file(output)).duration > 0


def test_restart_between_planning_and_rendering_makes_no_second_task(project, media):
    project = configure(project, media)
    # The killed render's task waits out one lease from the restart before it is queued again.
    cfg = project.layout.config_file
    cfg.write_text(cfg.read_text().replace("lease_seconds = 60.0", "lease_seconds = 3.0")
                   .replace("heartbeat_seconds = 5.0", "heartbeat_seconds = 0.5"))
    assert "lease_seconds = 3.0" in cfg.read_text()
    _copy(media.speech(), project.layout.raw / "story/fantasy/dragon/voice/chapter_0001.mp3")
    _copy(media.tone(seconds=2.0), project.layout.raw / "music/fantasy/calm.mp3")
    _copy(media.clip(seconds=2.0), project.layout.raw / "video/fantasy/wide.mp4")
    MainWorker(project).run_once()  # planned, then the main worker stops
    planned = project.layout.task_ids(TaskState.QUEUED)
    assert len(planned) == 1
    lifecycle.claim(project.layout, planned[0])  # and a render was killed mid-way

    done = run_cli(project, "run", "--until-idle")
    assert done.returncode == 0, done.stderr[-3000:]
    assert project.layout.task_ids(TaskState.DONE) == planned
    kinds = [e["event"] for e in read_events(project.layout.events_file)]
    assert kinds.count("task_created") == 1
