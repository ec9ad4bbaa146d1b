"""Caption settings: one model, so a category or a profile can override any part of it.

`CaptionSettings.overridden({...})` returns a copy with some fields replaced (and
checked); the lead's config.py will load `[captions]` into it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


class CaptionStyle(StrEnum):
    WORDS = "words"  # a few words at a time, the word being said highlighted (shorts)
    LINES = "lines"  # one or two lines at a time (long videos)
    KARAOKE = "karaoke"  # one line at a time, a colour sweeping through it as it is said


class CaptionPosition(StrEnum):
    BOTTOM = "bottom"  # on the lower edge of the safe area
    MIDDLE = "middle"  # centred in the frame
    TOP = "top"  # on the upper edge of the safe area


class CaptionSettings(BaseModel):
    """How captions look; every size is relative to the output frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    style: CaptionStyle = CaptionStyle.LINES
    font: str = "DejaVu Sans"  # a font family fontconfig knows
    bold: bool = True
    size: float = Field(0.045, gt=0.01, le=0.2)  # font height / frame height
    colour: str = "#FFFFFF"  # the text
    highlight: str = "#FFD400"  # the word being said (words), the sweep (karaoke)
    outline_colour: str = "#000000"
    outline: float = Field(0.08, ge=0.0, le=0.5)  # outline width / font height
    position: CaptionPosition = CaptionPosition.BOTTOM
    words_per_cue: int = Field(3, ge=1, le=12)  # style "words"
    chars_per_line: int = Field(42, ge=8, le=80)  # styles "lines" and "karaoke"
    lines_per_cue: int = Field(2, ge=1, le=3)  # style "lines"

    @field_validator("colour", "highlight", "outline_colour")
    @classmethod
    def _hex_colour(cls, value: str) -> str:
        if not _COLOUR.match(value):
            raise ValueError(f"{value!r} is not a colour like #FFD400")
        return value.upper()

    def overridden(self, changes: dict[str, Any]) -> CaptionSettings:
        """A copy with `changes` applied (a category's or a profile's `[captions]`)."""
        return CaptionSettings.model_validate({**self.model_dump(), **changes})
