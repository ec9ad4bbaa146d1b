"""The planner copies a chapter's text and caption font into its task folder."""

from __future__ import annotations

import logging
import re

from storyreel import taskmeta
from storyreel.captions import CaptionStyle
from storyreel.layout import AssetKind, TaskState
from storyreel.plan import Planner
from storyreel.project import Project
from storyreel.waiting import WaitReason

TEXT = "The dragon flew over the quiet sea at dawn.\n"


def _assets(project: Project, media, *, text: bool) -> None:
    layout = project.layout
    media.copy(media.speech(), layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3"))
    media.copy(media.clip(seconds=5.0), layout.scanned_clip(AssetKind.VIDEO, "fantasy", 160, 90, 5.0, "c1"))
    media.copy(media.tone(seconds=3.0), layout.scanned_music("fantasy", 3.0, "m1"))
    if text:
        layout.scanned_chunk("fantasy", "dragon", 1).write_text(TEXT, encoding="utf-8")


def _reopened(project: Project, setting: str) -> Project:
    """The project with one [captions] line (`key = value`) changed."""
    cfg = project.layout.config_file
    head, _, section = cfg.read_text().partition("[captions]\n")
    key = setting.split(" = ")[0]
    section = re.sub(rf"(?m)^{key} = .*$", setting, section, count=1)
    cfg.write_text(f"{head}[captions]\n{section}")
    return Project.open(project.layout.root)


def test_a_chapter_with_text_gets_its_text_font_and_settings(project, media):
    _assets(project, media, text=True)
    project = _reopened(project, 'style = "words"')
    [task_id] = Planner(project).plan_pending()
    task = project.layout.task_dir(task_id, TaskState.QUEUED)
    meta = taskmeta.read(task)
    assert meta.captions is not None and meta.captions.style is CaptionStyle.WORDS
    assert meta.captions.source == "scanned/story/fantasy/dragon/chunk_0001.txt"
    assert (task / taskmeta.CAPTIONS_TEXT_NAME).read_text(encoding="utf-8") == TEXT
    assert meta.captions.font_files and all((task / n).stat().st_size > 10_000 for n in meta.captions.font_files)
    assert set(meta.input_names()) >= {taskmeta.CAPTIONS_TEXT_NAME, *meta.captions.font_files}
    assert meta.voice_file == "voice.mp3" and meta.render.logo == ""  # SPEC §5 fields unchanged


def test_no_text_means_no_captions_and_one_info_line(project, media, caplog):
    _assets(project, media, text=False)
    with caplog.at_level(logging.INFO):
        [task_id] = Planner(project).plan_pending()
    meta = taskmeta.read(project.layout.task_dir(task_id, TaskState.QUEUED))
    assert meta.captions is None
    said = [r for r in caplog.records if "No captions for" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO and "chunk_0001.txt" in said[0].getMessage()


def test_captions_switched_off_copy_nothing(project, media):
    _assets(project, media, text=True)
    [task_id] = Planner(_reopened(project, "enabled = false")).plan_pending()
    assert taskmeta.read(project.layout.task_dir(task_id, TaskState.QUEUED)).captions is None


def test_a_font_that_is_not_installed_makes_the_chapter_wait(project, media):
    _assets(project, media, text=True)
    planner = Planner(_reopened(project, 'font = "No Such Font Family"'))
    assert planner.plan_pending() == []
    [waiting] = planner.waiting
    assert waiting.reason is WaitReason.FONT_MISSING
    assert waiting.detail == "the caption font 'No Such Font Family' ([captions] font) is not installed"
