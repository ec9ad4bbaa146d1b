"""Planning: scanned/ → tasks/<id>/ with real files, symlinks and ffconcat lists."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from plan_helpers import scanned_clip, scanned_music, scanned_voice, set_settings

from storyreel import lifecycle
from storyreel.layout import TASK_ID_RE, TaskState
from storyreel.logs import read_events
from storyreel.media.probe import probe
from storyreel.plan import Clip, Planner, pick_clips
from storyreel.render.job import read_video_list
from storyreel.taskmeta import read


def warn_lines(project) -> list[str]:
    return [ln for ln in project.layout.log_file.read_text().splitlines() if " WARN main_worker " in ln]


def test_a_voice_chapter_becomes_one_complete_task(project, media):
    voice = scanned_voice(project, media)
    clips = [scanned_clip(project, media, "fantasy", f"c{i}", seconds=1.0) for i in range(3)]
    music = scanned_music(project, media, "fantasy", "m1")
    media.copy(media.logo(), project.layout.root / "brand" / "logo.png")
    project = set_settings(project, render={"logo": "brand/logo.png", "resolution": "320x180"})

    created = Planner(project).plan_pending()

    assert len(created) == 1 and TASK_ID_RE.match(created[0])
    task = project.layout.task_dir(created[0])
    meta = read(task)
    voice_seconds = probe(voice).duration
    assert meta.task_id == created[0]
    assert (meta.category, meta.story_name) == ("fantasy", "dragon")
    assert meta.chapter == "scanned/story/fantasy/dragon/voice/chapter_0001.mp3"
    assert abs(meta.voice_duration - voice_seconds) < 1e-3
    assert meta.render.resolution == "320x180" and meta.render.frame_rate == 30
    assert meta.render.logo == "logo.png" and (task / "logo.png").is_file()
    assert not (task / "logo.png").is_symlink()  # the folder is self-contained
    assert meta.created_at.endswith("Z")
    # voice.mp3 and music.mp3 are relative links to the scanned files (SPEC §2).
    for name, target in (("voice.mp3", voice), ("music.mp3", music)):
        link = task / name
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
        assert link.resolve() == target.resolve()
    assert os.readlink(task / "voice.mp3") == "../../scanned/story/fantasy/dragon/voice/chapter_0001.mp3"
    # The clips: relative links, listed in play order as plain names, covering the voice.
    order = read_video_list(task)
    assert order == meta.video_files  # play order, in both places
    assert (task / "video_list.txt").read_text().startswith("ffconcat version 1.0\nfile video_0001.mp4\n")
    linked = [(task / name).resolve() for name in order]
    assert all(p in [c.resolve() for c in clips] for p in linked)
    assert sum(probe(p).duration for p in linked) >= voice_seconds
    assert [e for e in read_events(project.layout.events_file) if e["event"] == "task_created"][0][
        "task_id"] == created[0]
    assert not [p for p in project.layout.tasks.iterdir() if p.name.startswith(".")]


def test_clips_do_not_repeat_until_the_category_runs_out():
    clips = [Clip(Path(f"/c{i}.mp4"), 2.0) for i in range(5)]
    picked = pick_clips(clips, 7.0, random.Random(1))
    assert len(picked) == 4 and len({c.path for c in picked}) == 4
    many = pick_clips(clips, 25.0, random.Random(1))
    assert len(many) == 13
    assert {c.path for c in many[:5]} == {c.path for c in clips}  # each once before any reuse
    assert all(a.path != b.path for a, b in zip(many, many[1:], strict=False))  # never back to back


def test_a_seed_makes_picks_reproducible(tmp_path, media):
    from storyreel.project import Project

    chosen = []
    for name in ("a", "b"):
        project = Project.init(tmp_path / name)
        project = set_settings(project, plan={"seed": 42})
        scanned_voice(project, media)
        for i in range(6):
            scanned_clip(project, media, "fantasy", f"c{i}", seconds=1.0)
        for i in range(3):
            scanned_music(project, media, "fantasy", f"m{i}")
        task_id = Planner(project).plan_pending()[0]
        meta = read(project.layout.task_dir(task_id))
        chosen.append((meta.music_source, meta.video_sources))
    assert chosen[0] == chosen[1]


def test_category_falls_back_to_the_default(project, media):
    scanned_voice(project, media, category="scifi")
    scanned_clip(project, media, "default", "d1", seconds=5.0)
    scanned_music(project, media, "scifi", "own")
    task_id = Planner(project).plan_pending()[0]
    meta = read(project.layout.task_dir(task_id))
    assert meta.category == "scifi"
    assert meta.music_source.startswith("scanned/music/scifi/")
    assert all(s.startswith("scanned/video/default/") for s in meta.video_sources)


def test_missing_music_waits_with_one_warning_then_plans(project, media):
    scanned_voice(project, media)
    scanned_clip(project, media, "fantasy", "c1", seconds=5.0)
    planner = Planner(project)
    assert planner.plan_pending() == []
    assert planner.plan_pending() == []
    warnings = [w for w in warn_lines(project) if "Waiting to create a task" in w]
    assert len(warnings) == 1 and "no music" in warnings[0]
    assert project.layout.task_ids(TaskState.QUEUED) == []

    scanned_music(project, media, "fantasy", "m1")
    assert len(planner.plan_pending()) == 1


def test_missing_clips_wait_too(project, media):
    scanned_voice(project, media)
    scanned_music(project, media, "fantasy", "m1")
    assert Planner(project).plan_pending() == []
    assert any("no video clips" in w for w in warn_lines(project))


def test_missing_logo_holds_planning(project, media):
    scanned_voice(project, media)
    scanned_clip(project, media, "fantasy", "c1", seconds=5.0)
    scanned_music(project, media, "fantasy", "m1")
    project = set_settings(project, render={"logo": "brand/missing.png"})
    assert Planner(project).plan_pending() == []
    assert any("missing.png" in w for w in warn_lines(project))


def test_a_restart_or_any_later_state_makes_no_second_task(project, media):
    scanned_voice(project, media)
    scanned_clip(project, media, "fantasy", "c1", seconds=5.0)
    scanned_music(project, media, "fantasy", "m1")
    task_id = Planner(project).plan_pending()[0]
    layout = project.layout
    assert Planner(project).plan_pending() == []  # a restarted main worker
    lifecycle.claim(layout, task_id)
    assert Planner(project).plan_pending() == []
    lifecycle.fail(layout, task_id, "test", "stderr text")
    assert Planner(project).plan_pending() == []
    assert lifecycle.has_task_for(layout, "scanned/story/fantasy/dragon/voice/chapter_0001.mp3") == task_id
    assert len(layout.task_ids(TaskState.FAILED)) == 1 and layout.task_ids(TaskState.QUEUED) == []


def test_each_chapter_gets_its_own_task(project, media):
    for n in (1, 2):
        scanned_voice(project, media, chapter=f"chapter_000{n}.mp3")
    scanned_clip(project, media, "fantasy", "c1", seconds=5.0)
    scanned_music(project, media, "fantasy", "m1")
    created = Planner(project).plan_pending()
    chapters = sorted(read(project.layout.task_dir(t)).chapter for t in created)
    assert [Path(c).name for c in chapters] == ["chapter_0001.mp3", "chapter_0002.mp3"]
    data = json.loads((project.layout.task_dir(created[0]) / "metadata.json").read_text())
    assert {"task_id", "category", "story_name", "voice_file", "voice_duration", "music_file",
            "video_files", "render"} <= data.keys()
    assert {"resolution", "frame_rate", "logo", "output_format", "encoder", "preset", "quality",
            "loudness_lufs", "music_under_voice_lu"} <= data["render"].keys()
