"""A narration coming back to the coordinator: checked like an operator's voice and filed
as its chapter with its record, refused when it speaks another text, set aside as
superseded when an operator's voice took the chapter meanwhile."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from narratekit import STORY, chunk, narrating

from storyreel import voicerecord
from storyreel.captions import read_script
from storyreel.captions.timing import Alignment, AlignmentQuality, WordTiming
from storyreel.coordinator import Coordinator, upload
from storyreel.errors import BadUpload
from storyreel.layout import Layout, TaskState
from storyreel.lifecycle import ChapterIndex
from storyreel.narrateplan import NarrationPlanner
from storyreel.protocol import NARRATION_REPORT_NAME, WORDS_NAME, NarrationReport

CHAPTER = "scanned/story/default/keeper/voice/chapter_0001.mp3"


def _words(seconds: float) -> bytes:
    script = read_script(STORY)
    step = seconds / len(script)
    words = [WordTiming(word=w.text, start=i * step, end=(i + 1) * step) for i, w in enumerate(script)]
    quality = AlignmentQuality(words=len(words), aligned=len(words), unspoken=0, confidence=1.0)
    return Alignment(duration=seconds, words=words, quality=quality).model_dump_json().encode()


def _send(co: Coordinator, grant, voice, *, text: str = STORY + "\n"):
    """What a node sends: words.json and narration.json, then the voice."""
    task_id, attempt = grant.lease.task_id, grant.lease.attempt
    part = co.upload_target(task_id, "n", attempt)
    seconds = 3.0
    report = NarrationReport(engine="espeak-ng", voice="en-us", duration=seconds,
                             text_sha256=hashlib.sha256(text.encode()).hexdigest()).model_dump_json().encode()
    for name, body in ((WORDS_NAME, _words(seconds)), (NARRATION_REPORT_NAME, report)):
        upload.store_sidecar(task_id, part.parent, attempt, name, body, len(body), hashlib.sha256(body).hexdigest())
    shutil.copy(voice, part)
    receipt = upload.Receipt(size=part.stat().st_size, sha256=hashlib.sha256(part.read_bytes()).hexdigest())
    return co.finish_upload(task_id, "n", attempt, part, receipt, expected_size=None, expected_sha256=None)


@pytest.fixture()
def claimed(project):
    project = narrating(project)
    chunk(project)
    NarrationPlanner(project, ChapterIndex(project.layout)).plan_pending()
    filed: list[bool] = []
    co = Coordinator(project, on_filed=lambda: filed.append(True))
    co.register("n", "h", ["libx264"], "1", narrators=["espeak-ng"])
    return project, co, co.claim("n"), filed


def test_a_narration_is_filed_as_its_chapter_with_its_record(claimed, media):
    project, co, grant, filed = claimed
    voice = _send(co, grant, media.speech())
    assert voice == project.layout.root / CHAPTER
    made = voicerecord.narration(voice)
    assert made is not None and (made.engine, made.voice, made.node) == ("espeak-ng", "en-us", "n")
    assert made.task_id == grant.lease.task_id and made.source == "scanned/story/default/keeper/chunk_0001.txt"
    assert voicerecord.duration(voice, voice.stat()) == pytest.approx(3.0, abs=1.5)
    assert json.loads(Layout.voice_words(voice).read_text())["quality"]["aligned"] == len(read_script(STORY))
    assert not project.layout.task_dir(grant.lease.task_id, TaskState.PROCESSING).exists()
    assert project.layout.task_ids(TaskState.DONE) == []  # a narration publishes no output folder
    assert filed == [True]
    assert "narrated by n with espeak-ng, voice en-us" in project.layout.log_file.read_text(encoding="utf-8")


def test_a_narration_of_another_text_is_refused(claimed, media):
    project, co, grant, filed = claimed
    with pytest.raises(BadUpload, match="another text"):
        _send(co, grant, media.speech(), text="something else entirely")
    assert not (project.layout.root / CHAPTER).exists() and filed == []
    assert project.layout.task_ids(TaskState.PROCESSING) == [grant.lease.task_id]  # still held: the node may retry


def test_a_silent_narration_is_refused_like_a_silent_voice(claimed, media):
    project, co, grant, _ = claimed
    with pytest.raises(BadUpload, match="not a usable voice"):
        _send(co, grant, media.silence())
    assert not (project.layout.root / CHAPTER).exists()


def test_an_operator_voice_filed_meanwhile_wins(claimed, media):
    project, co, grant, _ = claimed
    operator = media.copy(media.speech("An operator reads this chapter."), project.layout.root / CHAPTER)
    before = operator.read_bytes()
    trashed = _send(co, grant, media.speech())
    assert trashed.is_relative_to(project.layout.invalid)
    assert json.loads(project.layout.reason_file(trashed).read_text())["reason"] == "superseded"
    assert (project.layout.root / CHAPTER).read_bytes() == before and voicerecord.narration(operator) is None
