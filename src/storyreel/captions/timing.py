"""What alignment hands back: a time for every word of the text, and how good it is.

`words.json` (written by `write_words`, read by `read_words`) is the Alignment as JSON,
kept with the output so a retry does not align again.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

# Format version of words.json; a reader refuses others.
WORDS_VERSION = 1


class WordTiming(BaseModel):
    """One word of the text as written, and when the narration says it (seconds).

    A word flagged unspoken (`spoken` false: the narration skips it) keeps an estimated
    place between its neighbours, and no caption shows it.
    """

    word: str
    start: float
    end: float
    spoken: bool = True


class AlignmentQuality(BaseModel):
    """How well the narration matched its text."""

    words: int  # words in the text
    aligned: int  # words found in the narration
    unspoken: int  # words the narration skips (flagged)
    # How far the times are trusted, 0–1: the mean over the aligned words of 1.0 (strict
    # forced alignment), 0.9 (lenient alignment, where text and audio disagreed) or 0.6
    # (matched from free decoding with the text's language model).
    confidence: float = Field(ge=0.0, le=1.0)
    windows: int = 0  # stretches of a few minutes aligned one by one
    fallback_windows: int = 0  # of which the strict alignment failed
    # The words of the story's whole text the chapter narrates ([first, last), counted
    # from 0) when that is not its own chunk; None: the chunk.
    span: list[int] | None = None

    @property
    def unspoken_share(self) -> float:
        return self.unspoken / self.words if self.words else 0.0


class Alignment(BaseModel):
    """Every word of a text with its time in the narration, and the quality report."""

    version: int = WORDS_VERSION
    duration: float  # seconds of narration
    words: list[WordTiming]
    quality: AlignmentQuality


def write_words(alignment: Alignment, path: Path | str) -> Path:
    """Write `alignment` as words.json (a temp name, then renamed into place)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(alignment.model_dump_json(indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_words(path: Path | str) -> Alignment:
    """Read words.json back (pydantic's ValidationError when it is not one)."""
    return Alignment.model_validate_json(Path(path).read_text(encoding="utf-8"))
