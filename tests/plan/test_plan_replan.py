"""A render that could not decode one clip: the main worker sets the clip aside in
trash/invalid/ with a reason, keeps the failed attempt in trash/failed/ with its stderr,
and the chapter is planned again from the clips that are left (issue 11, item 3)."""

from __future__ import annotations

import json
import os

import pytest
from plan_helpers import scanned_clip, scanned_music, scanned_voice

from storyreel import lifecycle
from storyreel.coordinator import Coordinator
from storyreel.layout import TaskState
from storyreel.plan import Planner


@pytest.fixture()
def held(project, media):
    """Two clips, each shorter than the voice (so a task uses both), one task held by n1."""
    scanned_voice(project, media)
    for stem in ("c1", "c2"):
        scanned_clip(project, media, "fantasy", stem, seconds=0.5)
    scanned_music(project, media, "fantasy", "m1")
    planner = Planner(project)
    (task_id,) = planner.plan_pending()
    coord = Coordinator(project)
    coord.register("n1", "test", ["libx264"], "t")
    coord.note_queued([task_id])
    assert coord.claim("n1").lease.task_id == task_id
    return coord, planner, task_id


def clip_of(project, task_id: str, name: str):
    folder = project.layout.task_dir(task_id, TaskState.PROCESSING)
    return (folder / name).resolve()


def test_the_blamed_clip_goes_to_trash_and_the_chapter_is_planned_again(project, held) -> None:
    coord, planner, task_id = held
    layout = project.layout
    bad = clip_of(project, task_id, "video_0002.mp4")
    dest = coord.fail(task_id, "n1", 1, "render failed: ffmpeg exited with code 1: corrupt frame", "stderr here",
                      {"stage": "render"}, bad_input="video_0002.mp4")

    assert not bad.exists()
    trashed = layout.invalid / bad.relative_to(layout.scanned)
    assert trashed.is_file()
    reason = json.loads(layout.reason_file(trashed).read_text())
    assert reason["reason"] == "a render could not decode this clip"
    assert reason["task_id"] == task_id and reason["clip"] == "video_0002.mp4"
    assert "corrupt frame" in reason["detail"]
    assert (dest / "stderr.log").read_text() == "stderr here"
    record = lifecycle.failure_reason(layout, task_id)
    assert record["replan"] is True and record["bad_input"] == "video_0002.mp4"
    assert record["bad_clip"] == layout.relative(bad) and record["bad_clip_trashed"] == layout.relative(trashed)

    (again,) = planner.plan_pending()
    meta = json.loads((layout.task_dir(again) / "metadata.json").read_text())
    assert meta["chapter"] == json.loads((dest / "metadata.json").read_text())["chapter"]
    assert layout.relative(bad) not in meta["video_sources"] and meta["video_sources"]
    assert planner.plan_pending() == []  # one new task, not one per pass
    assert lifecycle.ChapterIndex(layout).chapters()[meta["chapter"]] == again


def test_a_clip_already_set_aside_still_lets_the_chapter_be_planned_again(project, held) -> None:
    coord, planner, task_id = held
    bad = clip_of(project, task_id, "video_0001.mp4")
    os.replace(bad, project.layout.root / "elsewhere.mp4")  # gone since planning
    coord.fail(task_id, "n1", 1, "render failed: missing input files: video_0001.mp4", "",
               bad_input="video_0001.mp4")
    record = lifecycle.failure_reason(project.layout, task_id)
    assert record["replan"] is True and record["bad_clip_trashed"] == ""
    assert len(planner.plan_pending()) == 1


@pytest.mark.parametrize("blamed", ["voice.mp3", "video_0009.mp4", None])
def test_a_failure_not_caused_by_one_of_its_clips_fails_the_chapter_as_before(project, held, blamed) -> None:
    coord, planner, task_id = held
    clips = sorted(p.name for p in project.layout.scanned.rglob("*.mp4"))
    coord.fail(task_id, "n1", 1, "render failed: encoder error", "boom", bad_input=blamed)
    record = lifecycle.failure_reason(project.layout, task_id)
    assert "replan" not in record
    assert sorted(p.name for p in project.layout.scanned.rglob("*.mp4")) == clips
    assert planner.plan_pending() == []


def test_a_failed_task_counts_for_its_chapter_unless_its_reason_says_replan(project, media) -> None:
    scanned_voice(project, media)
    scanned_clip(project, media, "fantasy", "c1", seconds=5.0)
    scanned_music(project, media, "fantasy", "m1")
    planner = Planner(project)
    (first,) = planner.plan_pending()
    lifecycle.fail(project.layout, first, "render failed")
    assert planner.plan_pending() == [] and Planner(project).plan_pending() == []
    (chapter,) = lifecycle.ChapterIndex(project.layout).chapters()
    project.layout.task_dir(first, TaskState.FAILED).joinpath("reason.json").write_text(
        json.dumps({"task_id": first, "reason": "render failed", "replan": True}))
    assert chapter not in lifecycle.ChapterIndex(project.layout).chapters()
    assert len(Planner(project).plan_pending()) == 1
