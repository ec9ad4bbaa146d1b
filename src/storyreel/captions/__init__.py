"""Captions from the story's own text, timed word by word to the narration.

The engine, stage by stage (each a function; the models are pydantic):

    script = read_script(text)                        # words: written and spoken forms
    alignment = align(narration, script, work=folder)  # WordTiming list + quality report
    alignment = align(narration, chunk, work=folder, story=story_text(story, chunk))
                                                      # the span of the story it narrates
    write_words(alignment, folder / "words.json")
    files = write_subtitles(alignment, settings, width=w, height=h, folder=folder)
    fonts_dir = copy_font(settings.font, task / "fonts", bold=settings.bold)
    vf = ass_filter(files.ass, fonts_dir)             # storyreel.media.burnin

Alignment is offline: pocketsphinx's en-US acoustic model and dictionary come inside its
wheel, nothing is downloaded at run time. English only: another language needs another
acoustic model, dictionary and text normalisation (none is shipped).
"""

from __future__ import annotations

from storyreel.captions.alignment import align
from storyreel.captions.fonts import copy_font, find_font
from storyreel.captions.script import Word, read_script
from storyreel.captions.settings import CaptionPosition, CaptionSettings, CaptionStyle
from storyreel.captions.span import StoryText, story_text
from storyreel.captions.subtitles import Subtitles, write_subtitles
from storyreel.captions.timing import (
    Alignment,
    AlignmentQuality,
    WordTiming,
    read_words,
    write_words,
)

__all__ = [
    "Alignment", "AlignmentQuality", "CaptionPosition", "CaptionSettings", "CaptionStyle",
    "StoryText", "Subtitles", "Word", "WordTiming", "align", "copy_font", "find_font", "read_script",
    "read_words", "story_text", "write_subtitles", "write_words",
]
