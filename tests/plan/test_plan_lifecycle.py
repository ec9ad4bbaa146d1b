"""Task state moves: claim, release, complete, fail (SPEC §8), and the chapter index."""

from __future__ import annotations

import json
import os

import pytest
from plan_helpers import scanned_clip, scanned_music, scanned_voice

from storyreel import lifecycle
from storyreel.errors import FilesystemError
from storyreel.layout import TaskState
from storyreel.plan import Planner


@pytest.fixture()
def task(project, media):
    scanned_voice(project, media)
    scanned_clip(project, media, "fantasy", "c1", seconds=5.0)
    scanned_music(project, media, "fantasy", "m1")
    return Planner(project).plan_pending()[0]


def test_claim_moves_to_processing_and_links_still_resolve(project, task):
    folder = lifecycle.claim(project.layout, task)
    assert folder == project.layout.task_dir(task, TaskState.PROCESSING)
    assert not project.layout.task_dir(task).exists()
    assert (folder / "voice.mp3").resolve().is_file()
    with pytest.raises(FilesystemError, match="no such task in tasks/"):
        lifecycle.claim(project.layout, task)


def test_release_puts_it_back(project, task):
    lifecycle.claim(project.layout, task)
    lifecycle.release(project.layout, task)
    assert project.layout.task_ids(TaskState.QUEUED) == [task]


def test_complete_publishes_final_mp4_with_metadata(project, task, tmp_path):
    folder = lifecycle.claim(project.layout, task)
    rendered = folder / "final.mp4"
    rendered.write_bytes(b"video")
    final = lifecycle.complete(project.layout, task, rendered)
    assert final == project.layout.output_file(task)
    assert final.read_bytes() == b"video"
    assert json.loads((final.parent / "metadata.json").read_text())["task_id"] == task
    assert not folder.exists()
    assert sorted(p.name for p in final.parent.iterdir()) == ["final.mp4", "metadata.json"]
    assert not [p for p in project.layout.output.iterdir() if p.name.startswith(".")]


def test_complete_refuses_a_second_output(project, task, tmp_path):
    folder = lifecycle.claim(project.layout, task)
    project.layout.task_dir(task, TaskState.DONE).mkdir(parents=True)
    rendered = folder / "final.mp4"
    rendered.write_bytes(b"video")
    with pytest.raises(FilesystemError, match="already has an output folder"):
        lifecycle.complete(project.layout, task, rendered)
    assert rendered.read_bytes() == b"video"  # nothing lost


def test_fail_keeps_everything_with_stderr_and_reason(project, task):
    lifecycle.claim(project.layout, task)
    dest = lifecycle.fail(project.layout, task, "ffmpeg exited with code 1", "the whole stderr\n",
                          node="n1", attempt=2)
    assert dest == project.layout.task_dir(task, TaskState.FAILED)
    assert (dest / "stderr.log").read_text() == "the whole stderr\n"
    reason = json.loads((dest / "reason.json").read_text())
    assert reason["reason"] == "ffmpeg exited with code 1"
    assert (reason["node"], reason["attempt"], reason["from"]) == ("n1", 2, "processing")
    assert lifecycle.failure_reason(project.layout, task)["task_id"] == task
    # One folder deeper than tasks/: the links were re-pointed and still reach scanned/.
    assert os.readlink(dest / "voice.mp3").startswith("../../../scanned/")
    for name in ("voice.mp3", "music.mp3", "video_0001.mp4"):
        assert (dest / name).resolve().is_file()


def test_fail_of_an_unknown_task_is_an_error(project):
    with pytest.raises(FilesystemError, match="no such task"):
        lifecycle.fail(project.layout, "00000000-0000-0000-0000-000000000000", "x", "")


def test_tidy_finishes_an_interrupted_completion(project, task):
    folder = lifecycle.claim(project.layout, task)
    out = project.layout.output_file(task)
    out.parent.mkdir(parents=True)
    out.write_bytes(b"video")
    assert lifecycle.tidy(project.layout) == [task]
    assert not folder.exists() and out.exists()


def test_chapter_index_sees_every_state(project, task):
    index = lifecycle.ChapterIndex(project.layout)
    chapter = "scanned/story/fantasy/dragon/voice/chapter_0001.mp3"
    assert index.chapters() == {chapter: task}
    lifecycle.claim(project.layout, task)
    assert index.chapters() == {chapter: task}
    lifecycle.fail(project.layout, task, "x", "")
    assert index.chapters() == {chapter: task}
