"""A chapter as people name it: category, story and chapter number (and the profile of a
task made for one), never only a task's uuid. Read from a chapter's key
(`scanned/story/<category>/<story>/voice/chapter_NNNN.mp3`) or from a task's metadata.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, computed_field

from storyreel.layout import CHAPTER_RE, Layout

# The profile every task had before profiles existed; not worth naming in a label.
MAIN_PROFILE = "main"


# Shown where a render task shows its profile: `fantasy/dragon chapter 3 (narration)`.
NARRATION_LABEL = "narration"


class ChapterName(BaseModel):
    """What a view shows for a chapter or a task: `fantasy/dragon_flight chapter 3`."""

    category: str = ""
    story: str = ""
    chapter: int | None = None  # the number of chapter_NNNN.mp3
    profile: str = ""  # the task's profile; "" for a chapter, or a task without one

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        if not (self.category or self.story):
            return "?"
        text = f"{self.category}/{self.story}"
        if self.chapter is not None:
            text += f" chapter {self.chapter}"
        if self.profile and self.profile != MAIN_PROFILE:
            text += f" ({self.profile})"
        return text

    @property
    def file_stem(self) -> str:
        """A download name for the chapter's video: `dragon_flight-chapter3`."""
        parts = [self.story or "video"]
        if self.chapter is not None:
            parts.append(f"chapter{self.chapter}")
        if self.profile and self.profile != MAIN_PROFILE:
            parts.append(self.profile)
        return "-".join(parts)

    @classmethod
    def of_key(cls, layout: Layout, chapter: str, profile: str = "") -> ChapterName:
        """From a chapter's key under the root; the parts it does not hold stay empty."""
        try:
            category, story = layout.story_of(layout.root / chapter)
        except ValueError:
            return cls(profile=profile)
        return cls(category=category, story=story, chapter=chapter_number(chapter), profile=profile)

    @classmethod
    def of_metadata(cls, data: dict[str, Any]) -> ChapterName:
        """From a task's metadata.json read as plain JSON (taskmeta.read_raw)."""
        chapter = data.get("chapter")
        profile = NARRATION_LABEL if data.get("kind") == "narrate" else str(data.get("profile") or "")
        part = data.get("segment")
        if data.get("kind") == "segment" and isinstance(part, dict):  # `… chapter 3 (part 2 of 4)`
            shown = f"part {int(part.get('index') or 0) + 1} of {part.get('count')}"
            profile = shown if profile in ("", MAIN_PROFILE) else f"{profile}, {shown}"
        return cls(
            category=str(data.get("category") or ""), story=str(data.get("story_name") or ""),
            chapter=chapter_number(chapter) if isinstance(chapter, str) else None, profile=profile,
        )


def chapter_number(chapter: str) -> int | None:
    """3 for `…/voice/chapter_0003.mp3`; None for anything else."""
    found = CHAPTER_RE.match(Path(chapter).name)
    return int(found.group(1)) if found else None
