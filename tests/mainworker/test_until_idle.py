"""`storyreel run ROOT --until-idle` as a real process: it exits once nothing can move
without new input, prints what waits and why, and exits 0 only when nothing failed,
waits or is held in raw/."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from storyreel.layout import AssetKind, TaskState
from storyreel.plan import Planner
from storyreel.project import Project
from storyreel.shutdown import REPEAT_SECONDS

pytestmark = pytest.mark.slow

# A run that does not end by itself within this long has failed the test (s).
RUN_LIMIT = 120


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def until_idle(project: Project) -> Done:
    """Run `storyreel run ROOT --until-idle`; a run still going after RUN_LIMIT is stopped
    the way an operator would (two SIGTERMs, so its nodes stop too) and fails the test."""
    env = {**os.environ, "XDG_CACHE_HOME": str(project.layout.root.parent / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "run", str(project.layout.root), "--until-idle"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        out, err = proc.communicate(timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        time.sleep(REPEAT_SECONDS + 0.2)
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        pytest.fail(f"run --until-idle did not exit within {RUN_LIMIT} s:\n{err[-3000:]}")
    return Done(proc.returncode, out, err)


def small_renders(project: Project) -> Project:
    cfg = project.layout.config_file
    text = cfg.read_text()
    for old, new in (('resolution = "3840x2160"', 'resolution = "160x90"'), ('preset = "medium"', 'preset = "ultrafast"'),
                     ('encoder = "auto"', 'encoder = "libx264"'), ("min_music_seconds = 5.0", "min_music_seconds = 1.0")):
        assert old in text
        text = text.replace(old, new)
    cfg.write_text(text)
    return Project.open(project.layout.root)


def drop(project: Project, media, *, voice: str | None = "fantasy/dragon_flight/voice/chapter_0003.mp3",
         music: bool = True, clip: bool = True) -> None:
    raw = project.layout.raw
    if voice:
        media.copy(media.speech(), raw / "story" / voice)
    if music:
        media.copy(media.tone(seconds=2.0), raw / "music/fantasy/calm.mp3")
    if clip:
        media.copy(media.clip(seconds=2.0), raw / "video/fantasy/hills.mp4")


def test_a_chapter_without_music_ends_the_run_with_its_reason(project, media):
    project = small_renders(project)
    drop(project, media, music=False)
    done = until_idle(project)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "waiting: fantasy/dragon_flight chapter 3: no music in category fantasy (nor default)" in (
        done.stdout.splitlines()), done.stdout
    assert done.stdout.splitlines()[0] == "idle: 0 videos in output/, 1 chapter waiting"
    assert project.layout.task_ids(TaskState.QUEUED) == []


def test_a_file_held_in_raw_ends_the_run_and_is_named(project, media):
    """A clip that cannot be filed (a stray file sits where its scanned/ category folder
    belongs) waits in raw/ for its retry pause, and the chapter waits for clips."""
    project = small_renders(project)
    (project.layout.scanned / "video/fantasy").write_text("not a folder\n")
    drop(project, media)
    done = until_idle(project)
    assert done.returncode == 1, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "idle: 0 videos in output/, 1 chapter waiting, 1 file held in raw/", done.stdout
    (held,) = [ln for ln in lines if ln.startswith("held in raw/: ")]
    assert held.startswith("held in raw/: raw/video/fantasy/hills.mp4: retried in 1 min after: cannot move ")
    assert held.endswith("Not a directory")
    assert "waiting: fantasy/dragon_flight chapter 3: no video clips in category fantasy (nor default)" in lines
    assert (project.layout.raw / "video/fantasy/hills.mp4").is_file()


def test_a_clean_drop_exits_0_with_its_video(project, media):
    project = small_renders(project)
    drop(project, media)
    done = until_idle(project)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["idle: 1 video in output/"]
    (task_id,) = project.layout.task_ids(TaskState.DONE)
    assert project.layout.output_file(task_id).stat().st_size > 0


def test_a_failed_render_exits_non_zero_naming_the_chapter(project, media):
    project = small_renders(project)
    layout = project.layout
    media.copy(media.speech(), layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3"))
    # Damaged music fails the render (a damaged clip would be set aside and replanned).
    music = layout.scanned_music("fantasy", 6.0, "calm")
    media.copy(media.tone(seconds=6.0), music)
    data = bytearray(music.read_bytes())
    data[len(data) // 3:len(data) // 3 + 20000] = random.Random(1).randbytes(20000)
    music.write_bytes(bytes(data))
    media.copy(media.clip(seconds=4.0, audio=False), layout.scanned_clip(AssetKind.VIDEO, "fantasy", 160, 90, 4.0, "hills"))
    done = until_idle(project)
    assert done.returncode == 1, done.stderr[-3000:]
    (task_id,) = layout.task_ids(TaskState.FAILED)
    lines = done.stdout.splitlines()
    assert lines[0] == "idle: 0 videos in output/, 1 task failed", done.stdout
    assert lines[1].startswith(f"failed: fantasy/dragon chapter 1: trash/failed/{task_id}/: render failed")


def test_disk_below_the_floor_ends_the_run_with_what_it_holds_back(project, media):
    project = small_renders(project)
    layout = project.layout
    media.copy(media.speech(), layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3"))
    media.copy(media.tone(seconds=2.0), layout.scanned_music("fantasy", 2.0, "calm"))
    media.copy(media.clip(seconds=2.0), layout.scanned_clip(AssetKind.VIDEO, "fantasy", 160, 90, 2.0, "hills"))
    (queued,) = Planner(project).plan_pending()
    media.copy(media.speech(), layout.scanned_voice("fantasy", "dragon", "chapter_0002.mp3"))
    cfg = layout.config_file
    cfg.write_text(cfg.read_text().replace("floor_gb = 1.0", "floor_gb = 1000000000.0"))
    done = until_idle(project)
    assert done.returncode == 1, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "idle: 0 videos in output/, 1 chapter waiting, 1 task queued", done.stdout
    assert lines[1].startswith("waiting: fantasy/dragon chapter 2: free space ")
    assert lines[1].endswith(" GB is below the 1000000000.0 GB floor ([disk] floor_gb)")
    assert lines[2].startswith("waiting: 1 task in tasks/: free space ")
    assert layout.task_ids(TaskState.QUEUED) == [queued]


@pytest.mark.slow
def test_local_nodes_die_with_a_run_that_is_killed(project, tmp_path):
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "run", "--nodes", "2", str(project.layout.root)],
                               stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    deadline = time.monotonic() + RUN_LIMIT
    while log.read_text().count(" registered from ") < 2:
        assert run.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)
    nodes = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _is_node_of(int(p.name), run.pid)]
    assert len(nodes) == 2
    run.kill()  # SIGKILL: nothing of `run` runs to stop its nodes
    run.wait()
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() and _is_node_of(pid, None) for pid in nodes):
        assert time.monotonic() < deadline, "a local render node outlived its killed `storyreel run`"
        time.sleep(0.1)


def _is_node_of(pid: int, parent: int | None) -> bool:
    """True for a live `storyreel render` process (whose parent is `parent`, when given)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return stat[0] != "Z" and b"render" in command and (parent is None or int(stat[1]) == parent)
