"""The main worker's idle passes do no work per queued task: the chapter index and the
voice list change with the moves the main worker makes and are listed in full only every
[plan] rescan_seconds; the planner takes each voice's duration from ingest's record."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from storyreel import lifecycle, voicerecord
from storyreel.layout import AssetKind, Layout, TaskState
from storyreel.mainworker import MainWorker
from storyreel.media.probe import probe
from storyreel.plan import Planner, VoiceList
from storyreel.project import Project


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _assets(project: Project, media) -> None:
    """One clip and one music file in scanned/, as ingest files them."""
    layout = project.layout
    media.copy(media.clip(seconds=1.0), layout.scanned_clip(AssetKind.VIDEO, "fantasy", 160, 90, 1.0, "c1"))
    media.copy(media.tone(seconds=3.0), layout.scanned_music("fantasy", 3.0, "m1"))


def _voice(project: Project, media, story: str = "dragon") -> Path:
    return media.copy(media.speech(), project.layout.scanned_voice("fantasy", story, "chapter_0001.mp3"))


def _metadata(project: Project, task_id: str) -> dict:
    return json.loads((project.layout.task_dir(task_id) / "metadata.json").read_text())


def test_ingest_leaves_the_voice_duration_beside_it_and_the_task_carries_it(project, media) -> None:
    _assets(project, media)
    raw = project.layout.raw / "story/fantasy/dragon/voice/chapter_0001.mp3"
    raw.parent.mkdir(parents=True)
    shutil.copyfile(media.speech(), raw)
    MainWorker(project).run_once()

    voice = project.layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3")
    record = json.loads(Layout.voice_record(voice).read_text())
    assert record["duration"] == pytest.approx(probe(voice).duration, abs=1e-3)
    assert (record["size"], record["mtime_ns"]) == (voice.stat().st_size, voice.stat().st_mtime_ns)
    (task_id,) = project.layout.task_ids(TaskState.QUEUED)
    assert _metadata(project, task_id)["voice_duration"] == pytest.approx(record["duration"], abs=1e-6)
    # The record is hidden: the farm state counts one file in scanned/story/.
    from storyreel.queues import queue_lengths
    assert queue_lengths(project.layout)["scanned/story"] == 1


def test_the_planner_takes_the_recorded_duration_and_probes_a_voice_changed_since(project, media) -> None:
    _assets(project, media)
    voice = _voice(project, media)
    real = probe(voice).duration
    voicerecord.write(voice, 1.25)  # not the file's own length: only the record can say it
    (task_id,) = Planner(project).plan_pending()
    assert _metadata(project, task_id)["voice_duration"] == 1.25

    other = _voice(project, media, story="wyvern")
    voicerecord.write(other, 1.25)
    st = other.stat()
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched by hand
    (second,) = Planner(project).plan_pending()
    assert _metadata(project, second)["voice_duration"] == pytest.approx(real, abs=1e-3)


def test_the_chapter_index_follows_its_own_moves_at_once_and_hand_moves_at_its_rescan(project, media) -> None:
    _assets(project, media)
    _voice(project, media)
    _voice(project, media, story="wyvern")
    first, second = Planner(project).plan_pending()
    clock = Clock()
    index = lifecycle.ChapterIndex(project.layout, rescan_seconds=30.0, monotonic=clock)
    chapters = index.chapters()
    assert set(chapters.values()) == {first, second}

    lifecycle.claim(project.layout, first)
    lifecycle.fail(project.layout, first, "render failed", replan=True)  # a move of its own: seen now
    assert first not in index.chapters().values()

    shutil.rmtree(project.layout.task_dir(second))  # by hand: seen at the next full listing
    assert second in index.chapters().values()
    clock.now += 29.0
    assert second in index.chapters().values()
    clock.now += 1.0
    assert index.chapters() == {}


def test_an_idle_planner_lists_the_voices_again_only_when_told_or_at_its_rescan(project, media) -> None:
    _assets(project, media)
    _voice(project, media)
    clock = Clock()
    planner = Planner(project)
    planner.voices = VoiceList(project.layout, 30.0, monotonic=clock)
    assert len(planner.plan_pending()) == 1
    assert planner.plan_pending() == []

    _voice(project, media, story="wyvern")  # put into scanned/ by hand
    assert planner.plan_pending() == []
    clock.now += 30.0
    assert len(planner.plan_pending()) == 1

    _voice(project, media, story="basilisk")
    planner.scanned_changed()  # what the main worker calls when ingest filed a file
    assert len(planner.plan_pending()) == 1
    assert planner.plan_pending() == []

    # A second chapter in a story folder already listed, long after that listing.
    second = project.layout.scanned_voice("fantasy", "dragon", "chapter_0002.mp3")
    media.copy(media.speech(), second)
    assert planner.plan_pending() == []
    clock.now += 30.0
    (task_id,) = planner.plan_pending()
    assert _metadata(project, task_id)["chapter"] == project.layout.relative(second)


def test_scanned_voices_lists_only_visible_chapters(project) -> None:
    layout = project.layout
    wanted = [layout.scanned_voice("a", "s1", "chapter_0001.mp3"), layout.scanned_voice("b", "s2", "chapter_0012.mp3")]
    ignored = [layout.scanned_voice("a", "s1", "chapter_1.mp3"), layout.scanned_voice("a", "s1", "notes.mp3"),
               layout.scanned_voice("a", ".hidden", "chapter_0001.mp3"),
               Layout.voice_record(wanted[0])]
    for path in wanted + ignored:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (layout.scanned / "story" / "a" / "loose.mp3").write_bytes(b"x")
    assert layout.scanned_voices() == sorted(wanted)


def test_a_main_worker_without_story_links_never_loads_the_html_extractor(project) -> None:
    script = (
        "import sys\n"
        "from storyreel.project import Project\n"
        "from storyreel.mainworker import MainWorker\n"
        "MainWorker(Project.open(sys.argv[1])).run_once()\n"
        "import storyreel.ingest.story\n"  # the crawler itself is there
        "print('trafilatura' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(project.layout.root)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
