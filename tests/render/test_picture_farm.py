"""The picture through planning and the farm: frame clips linked into tasks, clips picked
for fades, and thumbnails published beside final.mp4 by `storyreel run`."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from storyreel.coordinator import upload
from storyreel.layout import FRAME_NAME, AssetKind, TaskState
from storyreel.media.probe import probe
from storyreel.plan import Clip, Planner, pick_clips
from storyreel.project import Project
from storyreel.taskmeta import read

WIDTH, HEIGHT, FPS = 160, 90, 30


def settle(project: Project, render: str) -> Project:
    """Tiny renders, with `render` lines added to [render]."""
    cfg = project.layout.config_file
    lines = (f'resolution = "{WIDTH}x{HEIGHT}"\nframe_rate = {FPS}\npreset = "ultrafast"\n'
             f'encoder = "libx264"\n{render.strip()}\n')
    keys = tuple(ln.split(" = ")[0] + " = " for ln in lines.splitlines() if ln)
    text = "\n".join(ln for ln in cfg.read_text().splitlines() if not ln.startswith(keys)) + "\n"
    text = text.replace("[render]\n", "[render]\n" + lines, 1)
    text = text.replace("min_music_seconds = 5.0", "min_music_seconds = 1.0")
    cfg.write_text(text)
    return Project.open(project.layout.root)


def scanned(project: Project, media, kind: AssetKind, category: str, stem: str, **clip) -> Path:
    src = media.clip(**clip)
    info = probe(src)
    width, height = info.video[0].display_size
    dst = project.layout.scanned_clip(kind, category, width, height, info.duration, stem)
    return media.copy(src, dst)


def story(project: Project, media, category: str = "fantasy") -> None:
    layout = project.layout
    media.copy(media.speech(), layout.scanned_voice(category, "dragon_flight", "chapter_0002.mp3"))
    media.copy(media.tone(seconds=3.0), layout.scanned_music(category, 3.0, "calm"))


def test_a_category_with_frame_clips_gets_one_linked_into_its_task(project, media):
    project = settle(project, "")
    story(project, media)
    scanned(project, media, AssetKind.VIDEO, "fantasy", "wide", seconds=2.0)
    frame = scanned(project, media, AssetKind.FRAME, "default", "border", seconds=1.0, audio=False)
    (task_id,) = Planner(project).plan_pending()
    folder = project.layout.task_dir(task_id)
    meta = read(folder)
    assert meta.frame_file == FRAME_NAME and meta.frame_source == project.layout.relative(frame)
    assert FRAME_NAME in meta.input_names()
    assert (folder / FRAME_NAME).resolve() == frame.resolve()  # a relative link, like the clips
    assert meta.title == "Dragon Flight"


def test_frame_off_links_no_frame_clip(project, media):
    project = settle(project, "frame = false")
    story(project, media)
    scanned(project, media, AssetKind.VIDEO, "fantasy", "wide", seconds=2.0)
    scanned(project, media, AssetKind.FRAME, "fantasy", "border", seconds=1.0, audio=False)
    (task_id,) = Planner(project).plan_pending()
    folder = project.layout.task_dir(task_id)
    assert read(folder).frame_file == "" and not (folder / FRAME_NAME).exists()


def test_fades_make_the_planner_pick_clips_for_the_overlaps():
    clips = [Clip(Path(f"/c/{i}.mp4"), 2.0) for i in range(10)]
    assert len(pick_clips(clips, 6.0, random.Random(1))) == 3
    # Each clip after the first shares 0.5 s with the one before: 4 clips cover 6.5 s.
    assert len(pick_clips(clips, 6.0, random.Random(1), overlap=0.5)) == 4


def test_only_jpegs_are_taken_as_thumbnails():
    assert upload.sidecar_problem("thumbnail.jpg", b"\x89PNG\r\n\x1a\n") == "is not a JPEG"
    assert upload.sidecar_problem("thumbnail.jpg", b"\xff\xd8\xff\xe0 jfif \xff\xd9") == ""


@pytest.mark.slow
def test_the_farm_publishes_a_framed_faded_video_with_its_thumbnail(project, media):
    project = settle(project, 'fill = "blur"\ntransition = "fade"\ntitle_seconds = 1.0')
    layout = project.layout
    media.copy(media.speech(), layout.raw / "story/fantasy/dragon_flight/voice/chapter_0001.mp3")
    media.copy(media.tone(seconds=2.0), layout.raw / "music/fantasy/calm.mp3")
    media.copy(media.clip(width=160, height=90, rotate=90, seconds=2.0), layout.raw / "video/fantasy/phone.mp4")
    media.copy(media.clip(width=160, height=90, seconds=1.5), layout.raw / "video/fantasy/wide.mp4")
    media.copy(media.clip(width=160, height=90, seconds=1.0, audio=False, source="color"),
               layout.raw / "frame/fantasy/border.mp4")
    env = {**os.environ, "XDG_CACHE_HOME": str(layout.root.parent / "cache")}
    done = subprocess.run([sys.executable, "-m", "storyreel.cli", "run", "--until-idle", str(layout.root)],
                          capture_output=True, text=True, timeout=240, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    (task_id,) = layout.task_ids(TaskState.DONE)
    out = layout.task_dir(task_id, TaskState.DONE)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["frame_file"] == FRAME_NAME and meta["render"]["transition"] == "fade"
    assert abs(probe(out / "final.mp4").duration - meta["voice_duration"]) <= 1 / FPS
    # The published metadata records the loudness the render reached, at the target.
    assert abs(meta["loudness"]["integrated_lufs"] - meta["render"]["loudness_lufs"]) <= 1.0
    assert meta["loudness"]["true_peak_dbtp"] <= meta["render"]["loudness_true_peak"] + 3.0
    thumb = probe(out / "thumbnail.jpg").video[0]
    assert (thumb.codec, thumb.width, thumb.height) == ("mjpeg", 1280, 720)
