"""A drop is planned once it has settled: a voice, its clips and music dropped together
make one task from all of them, never from the first few files that happened to be filed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from storyreel.ingest.pending import NOTHING_PENDING, Pending
from storyreel.layout import AssetKind, Layout, TaskState
from storyreel.mainworker import MainWorker
from storyreel.project import Project
from storyreel.taskmeta import read
from storyreel.waiting import WaitReason, drop_settling

VOICE = "story/fantasy/dragon/voice/chapter_0001.mp3"
CHAPTER = "scanned/story/fantasy/dragon/voice/chapter_0001.mp3"
# The main worker's stability window in these tests: the staggered clips arrive within it (s).
WINDOW = 1.5
# Between two staggered clips (s): well inside WINDOW, so something is always settling.
STAGGER = 0.5
# Upper bound for a tiny drop to be filed and planned on a loaded machine (s).
PLAN_LIMIT = 120.0


def _set_window(project: Project, seconds: float) -> Project:
    cfg = project.layout.config_file
    text = cfg.read_text()
    cfg.write_text(text.replace("stable_seconds = 0.0", f"stable_seconds = {seconds}", 1))
    return Project.open(project.layout.root)


def _put(project: Project, rel: str, src: Path) -> None:
    dst = project.layout.raw / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())


def _distinct_clips(task: Path) -> set[str]:
    return set(read(task).video_sources)


def test_pending_files_hold_the_chapters_of_their_category_and_of_the_default(tmp_path: Path):
    layout = Layout(tmp_path)
    voice = layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3")
    raw = layout.raw
    pending = Pending.of(raw, [raw / "video/sea/a.mp4", raw / "music/default/m.mp3", raw / "loose.mp4"])
    assert pending.by_category == {"default": ("music/default/m.mp3",), "sea": ("video/sea/a.mp4",)}
    held = drop_settling(pending, layout, voice, "default")
    assert held is not None and held.chapter == CHAPTER and held.reason is WaitReason.DROP_SETTLING
    assert held.detail == "1 file of categories fantasy and default still arriving in raw/: raw/music/default/m.mp3"
    assert drop_settling(pending, layout, voice, "") is None  # no default category: sea is not ours
    assert drop_settling(NOTHING_PENDING, layout, voice, "default") is None
    many = Pending.of(raw, [raw / f"video/fantasy/c{i}.mp4" for i in range(5)])
    shown = drop_settling(many, layout, voice, "default")
    assert shown is not None and shown.detail == (
        "5 files of categories fantasy and default still arriving in raw/: raw/video/fantasy/c0.mp4, "
        "raw/video/fantasy/c1.mp4, raw/video/fantasy/c2.mp4 and 2 more")


def test_a_clip_still_being_copied_holds_the_chapter_as_drop_settling(project: Project, media):
    project = _set_window(project, 0.5)
    _put(project, VOICE, media.tone(seconds=4.0))
    _put(project, "music/fantasy/theme.mp3", media.tone(seconds=6.0))
    _put(project, "video/fantasy/c1.mp4", media.clip(seconds=1.0))
    late = media.clip(seconds=1.2).read_bytes()
    copying = project.layout.raw / "video/fantasy/c2.mp4"
    copying.write_bytes(late[:1000])  # a copy in progress: it grows on every pass below
    worker = MainWorker(project)
    layout = project.layout
    with worker.running(watch=False):
        deadline = time.monotonic() + PLAN_LIMIT
        while not (layout.scanned_voices() and layout.scanned_music_files("fantasy")
                   and layout.scanned_clips(AssetKind.VIDEO, "fantasy") and not worker.ingestor.in_flight):
            assert time.monotonic() < deadline, "the voice, music and first clip were not filed"
            with copying.open("ab") as out:
                out.write(b"\0" * 10)
            worker.cycle()
            time.sleep(0.1)
        assert layout.task_ids(TaskState.QUEUED) == []
        assert [w.reason for w in worker.planner.waiting] == [WaitReason.DROP_SETTLING]
        assert "raw/video/fantasy/c2.mp4" in worker.planner.waiting[0].detail
        copying.write_bytes(late)  # the copy is complete
        while not layout.task_ids(TaskState.QUEUED):
            assert time.monotonic() < deadline, "no task once the drop settled"
            worker.cycle()
            time.sleep(0.1)
    task = layout.task_dir(layout.task_ids(TaskState.QUEUED)[0], TaskState.QUEUED)
    assert {Path(s).name for s in _distinct_clips(task)} == {"1.0_c1.mp4", "1.2_c2.mp4"}
    assert worker.planner.waiting == []


def _stagger(project: Project, media, stop: threading.Event) -> None:
    """Clips c1..c5 one STAGGER apart, each arriving before the one before it settled."""
    for i in range(1, 6):
        if stop.wait(STAGGER if i > 1 else 0):
            return
        _put(project, f"video/fantasy/c{i}.mp4", media.clip(seconds=1.0 + i / 10))


@pytest.mark.slow
def test_storyreel_main_plans_a_staggered_drop_with_all_five_clips(project: Project, media):
    project = _set_window(project, WINDOW)
    for i in range(1, 6):
        media.clip(seconds=1.0 + i / 10)  # made before the drop, so the drop itself is quick
    voice, music = media.tone(seconds=8.0), media.tone(seconds=6.0)
    layout = project.layout
    main = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "main", str(layout.root), "--listen",
                             "127.0.0.1:0"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    stop = threading.Event()
    try:
        _put(project, VOICE, voice)
        _put(project, "music/fantasy/theme.mp3", music)
        _stagger(project, media, stop)
        deadline = time.monotonic() + PLAN_LIMIT
        while not layout.task_ids(TaskState.QUEUED) and main.poll() is None:
            assert time.monotonic() < deadline, "no task was planned"
            time.sleep(0.2)
        time.sleep(WINDOW + 1.0)  # a second, wrong task would show up by now
    finally:
        stop.set()
        main.send_signal(signal.SIGTERM)
        _, stderr = main.communicate(timeout=60)
    tasks = layout.task_ids(TaskState.QUEUED)
    assert len(tasks) == 1, stderr[-3000:]
    task = layout.task_dir(tasks[0], TaskState.QUEUED)
    assert {Path(s).name for s in _distinct_clips(task)} == {f"{1.0 + i / 10:.1f}_c{i}.mp4" for i in range(1, 6)}
    meta = json.loads((task / "metadata.json").read_text())
    assert meta["chapter"] == CHAPTER and meta["music_source"].endswith("_theme.mp3")
    assert not list(layout.raw.rglob("*.mp4"))
