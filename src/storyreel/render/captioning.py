"""A captioned task's first render step: its text aligned to its voice, the captions written.

    burn = caption(task_dir, meta, work)   # None for a task without captions

Everything lands in `work` (the node's folder for this attempt, never the task folder,
which a node may read in place): words.json, captions.ass/.srt/.vtt and fonts/. A
words.json already there is reused, so a render retried on the same attempt does not
align again; a chapter whose voice was synthesized uses its engine's word timings
(`captions.words_file`) and is not aligned at all. A task planned with captions never renders without them: a missing font or
text fails the render.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from storyreel.captions import (
    Alignment,
    AlignmentQuality,
    align,
    read_script,
    read_words,
    story_text,
    write_words,
)
from storyreel.captions.subtitles import Subtitles, write_subtitles
from storyreel.errors import RenderError
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.media.burnin import ass_filter
from storyreel.protocol import WORDS_NAME
from storyreel.taskmeta import CAPTIONS_TEXT_NAME, TaskMeta, read_raw

log = get_logger(RENDER_WORKER)

FONTS_FOLDER = "fonts"
# Over this share of the text unspoken, the chapter's text and narration disagree badly.
UNSPOKEN_WARN_SHARE = 0.20


@dataclass(frozen=True)
class Burn:
    """The captions of one render: the files written and the filter that draws them."""

    subtitles: Subtitles
    fonts_dir: Path
    quality: AlignmentQuality

    @property
    def filter(self) -> str:
        return ass_filter(self.subtitles.ass, self.fonts_dir)


def check(task_dir: Path, meta: TaskMeta) -> None:
    """RenderError when the task's captions cannot be drawn: their font or text is missing,
    or its text is there without the settings to caption it."""
    spec = meta.captions
    if spec is None:
        if (task_dir / CAPTIONS_TEXT_NAME).exists():
            raise RenderError(task_dir, f"{CAPTIONS_TEXT_NAME} is present but metadata.json has no "
                                        "captions block: it would render without captions")
        return
    missing = [n for n in spec.font_files if not (task_dir / n).is_file()]
    if not spec.font_files or missing:
        raise RenderError(task_dir, f"the caption font {spec.font!r} is missing from the task folder "
                                    f"({', '.join(missing) or 'no font files listed'}); "
                                    "it will not render without its captions")
    for name in dict.fromkeys(n for n in (CAPTIONS_TEXT_NAME, spec.story_file, spec.words_file) if n):
        if not (task_dir / name).is_file():
            raise RenderError(task_dir, f"the captions' text {name} is missing from the task folder")


def caption(task_dir: Path, meta: TaskMeta, work: Path) -> Burn | None:
    """Align the task's text and write its captions into `work`; None when it has none."""
    check(task_dir, meta)
    spec = meta.captions
    if spec is None:
        return None
    text = task_dir / CAPTIONS_TEXT_NAME
    work.mkdir(parents=True, exist_ok=True)
    fonts_dir = _fonts(task_dir, spec.font_files, work / FONTS_FOLDER)
    story = task_dir / spec.story_file if spec.story_file else None
    if spec.words_file:
        alignment = _narrated(task_dir / spec.words_file, text, work)
    else:
        alignment = _alignment(task_dir / meta.voice_file, text, story, work)
    quality = alignment.quality
    if (warning := caption_warning(quality)) is not None:
        log.warning("Captions of %s: %s", chapter_name(meta), warning)
    width, height = meta.render.size
    subtitles = write_subtitles(alignment, spec, width=width, height=height, folder=work)
    return Burn(subtitles, fonts_dir, quality)


def chapter_name(meta: TaskMeta) -> str:
    """The chapter as an operator knows it: its story and its file ("dragon chapter_0001.mp3")."""
    return f"{meta.story_name} {Path(meta.chapter).name}" if meta.chapter else meta.story_name


def caption_warning(quality: AlignmentQuality) -> str | None:
    """What is wrong with a chapter's captions, when its text and narration disagree badly."""
    if quality.unspoken_share <= UNSPOKEN_WARN_SHARE:
        return None
    return (f"{quality.unspoken} of {quality.words} words are not in the narration "
            f"({100 * quality.unspoken_share:.0f} %); those spans get no captions")


def _alignment(voice: Path, text: Path, story: Path | None, work: Path) -> Alignment:
    """words.json of an earlier try of this attempt, or the text aligned to the voice now
    (the span of the story's whole text it narrates, when that is not its chunk)."""
    words = work / WORDS_NAME
    if words.is_file():
        try:
            return read_words(words)
        except (ValidationError, OSError, ValueError):
            log.info("Aligning %s again: its words.json cannot be read", voice.parent.name)
    chunk = read_script(text.read_text(encoding="utf-8"))
    whole = story_text(read_script(story.read_text(encoding="utf-8")), chunk) if story else None
    alignment = align(voice, chunk, work=work, story=whole)
    write_words(alignment, words)
    return alignment


def _narrated(words: Path, text: Path, work: Path) -> Alignment:
    """A synthesized voice's own word timings, as its engine reported them: they must be the
    words of the chapter's text, in order (RenderError otherwise). Kept in `work` as words.json."""
    try:
        alignment = read_words(words)
    except (ValidationError, OSError, ValueError) as exc:
        raise RenderError(words, f"the narration's word timings cannot be read: {exc}") from exc
    written = [w.text for w in read_script(text.read_text(encoding="utf-8"))]
    if [w.word for w in alignment.words] != written:
        raise RenderError(words, "the narration's word timings are not those of the chapter's text")
    write_words(alignment, work / WORDS_NAME)
    return alignment


def _fonts(task_dir: Path, names: list[str], folder: Path) -> Path:
    """A folder holding only the task's font files: libass reads every file in `fontsdir`."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in names:
        os.symlink(task_dir / name, folder / name)
    return folder


def published_warning(output_dir: Path) -> str | None:
    """The caption warning of a finished task (its chapter named), from the quality report
    in its output's metadata.json; None when its captions are fine or it has none."""
    raw = read_raw(output_dir) or {}
    try:
        quality = AlignmentQuality.model_validate(raw.get("captions_quality"))
        meta = TaskMeta.model_validate(raw)
    except ValidationError:
        return None
    warning = caption_warning(quality)
    return f"{chapter_name(meta)}: {warning}" if warning else None
