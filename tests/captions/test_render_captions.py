"""A captioned task renders with its captions burned in, aligned on the node's side."""

from __future__ import annotations

import logging

import pysubs2
import pytest
from storykit import HEIGHT, TEXT, WIDTH, lit_box, narrated_story, small_render

from storyreel import taskmeta
from storyreel.captions import read_words
from storyreel.captions.safearea import safe_area
from storyreel.errors import RenderError
from storyreel.layout import TaskState
from storyreel.media.burnin import grab_frame
from storyreel.plan import Planner
from storyreel.render import captioning
from storyreel.render.job import render_task


@pytest.fixture
def captioned_task(project, tmp_path):
    project = small_render(project)
    narration = narrated_story(project, tmp_path)
    [task_id] = Planner(project).plan_pending()
    return project.layout.task_dir(task_id, TaskState.QUEUED), narration


def test_a_captioned_task_renders_its_captions_and_sidecars(captioned_task, tmp_path, monkeypatch):
    task, narration = captioned_task
    out = tmp_path / "out"
    result = render_task(task, out / "final.mp4")
    assert result.captions is not None and result.captions.aligned == len(TEXT.split())
    words = read_words(out / "words.json")
    assert [w.word for w in words.words] == TEXT.split() and all(w.spoken for w in words.words)
    srt = pysubs2.load(str(out / "captions.srt"))
    assert abs(srt.events[-1].end / 1000 - narration.seconds) < 1.0
    assert pysubs2.load(str(out / "captions.vtt")).events
    spoken = narration.words[3].start + 0.15
    frame = grab_frame(out / "final.mp4", spoken, tmp_path / "frame.rgb").read_bytes()
    box = lit_box(frame, WIDTH, HEIGHT)
    assert box is not None and box[4] > 200, "no caption drawn while a word is said"
    area = safe_area(WIDTH, HEIGHT)
    assert area.left <= box[0] and box[2] <= area.right and area.top <= box[1] and box[3] <= area.bottom

    # A second render of the same attempt reuses words.json instead of aligning again.
    def no_align(*args, **kwargs):
        raise AssertionError("aligned again")

    monkeypatch.setattr(captioning, "align", no_align)
    (out / "final.mp4").unlink()
    assert render_task(task, out / "final.mp4").captions == result.captions


def test_a_task_without_its_font_fails_clearly(captioned_task, tmp_path):
    task, _ = captioned_task
    for name in taskmeta.read(task).captions.font_files:
        (task / name).unlink()
    with pytest.raises(RenderError, match="caption font 'DejaVu Sans' is missing from the task folder"):
        render_task(task, tmp_path / "final.mp4")
    assert not (tmp_path / "final.mp4").exists()


def test_text_without_captions_settings_never_renders_silently(captioned_task, tmp_path):
    task, _ = captioned_task
    meta = taskmeta.read(task)
    taskmeta.write(task, meta.model_copy(update={"captions": None}))
    with pytest.raises(RenderError, match="captions.txt is present but metadata.json has no captions"):
        render_task(task, tmp_path / "final.mp4")


def test_a_text_the_narration_mostly_skips_warns_and_still_renders(captioned_task, tmp_path, caplog):
    task, _ = captioned_task
    # A sentence the narrator skipped, in the middle of the chapter's text.
    extra = " Nobody in the village remembered who had built the lighthouse on the hill. "
    head, tail = TEXT.split(", ")
    (task / taskmeta.CAPTIONS_TEXT_NAME).write_text(head + "," + extra + tail, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        result = render_task(task, tmp_path / "final.mp4")
    assert result.captions.unspoken >= 8 and result.output.is_file()
    warned = [r for r in caplog.records if "are not in the narration" in r.getMessage()]
    assert len(warned) == 1 and "Captions of keeper chapter_0001.mp3:" in warned[0].getMessage()
    spoken = [w for w in read_words(tmp_path / "words.json").words if w.spoken]
    texts = " ".join(e.plaintext for e in pysubs2.load(str(tmp_path / "captions.srt")).events)
    assert "lighthouse" not in texts and len(spoken) >= len(TEXT.split()) - 2
