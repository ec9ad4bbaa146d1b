"""An operator's voice that arrives after a synthesized one supersedes it: the narration
goes to trash/invalid/ ("superseded"), the chapter's tasks made from it give way, the
chapter renders again from the operator's voice, and the earlier video stays in output/."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from narratekit import assets, chunk, narrating

from storyreel import lifecycle, voicerecord
from storyreel.layout import METADATA_NAME, TaskState
from storyreel.lifecycle import ChapterIndex, TaskKey

CHAPTER = "scanned/story/default/keeper/voice/chapter_0001.mp3"
QUEUED_ID = "11111111-1111-4111-8111-111111111111"
DONE_ID = "22222222-2222-4222-8222-222222222222"


def _run(project, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "storyreel.cli", "run", str(project.layout.root), "--until-idle"],
                          capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_an_operator_voice_supersedes_the_narration_and_the_old_video_stays(project, tmp_path, media):
    project = narrating(project)
    assets(project, tmp_path)
    chunk(project)
    _run(project, tmp_path)
    layout = project.layout
    voice = layout.root / CHAPTER
    synthetic = voicerecord.narration(voice)
    [first] = layout.task_ids(TaskState.DONE)
    assert synthetic is not None
    raw = layout.raw / "story" / "default" / "keeper" / "voice" / "chapter_0001.mp3"
    media.copy(media.speech(), raw)
    done = _run(project, tmp_path)
    trashed = layout.invalid / "story" / "default" / "keeper" / "voice" / "chapter_0001.mp3"
    reason = json.loads(layout.reason_file(trashed).read_text())
    assert reason["reason"] == "superseded" and reason["task_id"] == synthetic.task_id
    assert voicerecord.narration(voice) is None  # the operator's recording now
    assert voice.read_bytes() == media.speech().read_bytes()
    outputs = layout.task_ids(TaskState.DONE)
    assert first in outputs and len(outputs) == 2  # the earlier video stays
    old = json.loads((layout.task_dir(first, TaskState.DONE) / METADATA_NAME).read_text())
    assert lifecycle.SUPERSEDED_KEY in old
    [second] = set(outputs) - {first}
    new = json.loads((layout.task_dir(second, TaskState.DONE) / METADATA_NAME).read_text())
    assert new["chapter"] == CHAPTER and new["captions"]["words_file"] == ""  # aligned to the new voice
    assert ChapterIndex(layout).tasks()[TaskKey(CHAPTER)] == second
    assert "was replaced by an operator's" in done.stderr


def test_a_superseded_chapter_s_queued_task_gives_way_and_is_planned_again(project):
    layout = project.layout
    for state, task_id in ((TaskState.QUEUED, QUEUED_ID), (TaskState.DONE, DONE_ID)):
        folder = layout.task_dir(task_id, state)
        folder.mkdir(parents=True)
        (folder / METADATA_NAME).write_text(json.dumps({"task_id": task_id, "chapter": CHAPTER,
                                                        "profile": "main" if task_id == QUEUED_ID else "shorts"}))
    index = ChapterIndex(layout)
    assert set(index.tasks()) == {TaskKey(CHAPTER, "main"), TaskKey(CHAPTER, "shorts")}
    gone = lifecycle.supersede_chapter(layout, CHAPTER)
    assert sorted(gone) == [QUEUED_ID, DONE_ID]
    assert index.tasks() == {} and ChapterIndex(layout).tasks() == {}
    failed = lifecycle.failure_reason(layout, QUEUED_ID)
    assert failed is not None and failed["reason"] == lifecycle.SUPERSEDED_REASON and failed["replan"] is True
    assert layout.task_dir(DONE_ID, TaskState.DONE).is_dir()  # the video stays published
