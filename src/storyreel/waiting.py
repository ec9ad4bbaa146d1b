"""Why a voice chapter has no task yet: one `Waiting` record per chapter, made by the
planner (plan.py) on every pass and read by whatever shows it — `run --until-idle`'s
closing report today; status, the dashboard and `storyreel_chapters_waiting{reason}`
later. The reasons are a small fixed set, so they can label a metric.

`drop_settling` is asked before a chapter is planned at all: while files of its
category are still arriving in raw/, its task would be built from part of the drop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from storyreel.diskspace import GB
from storyreel.ingest.pending import Pending
from storyreel.layout import CHAPTER_RE, Layout
from storyreel.units import plural

# A drop_settling detail names this many of the files still arriving, then counts the rest.
SETTLING_NAMES_SHOWN = 3


class WaitReason(StrEnum):
    NO_MUSIC = "no_music"  # no music in the story's category nor the default one
    NO_CLIPS = "no_clips"  # no video clips there
    NO_MUSIC_OR_CLIPS = "no_music_or_clips"  # neither
    NO_READABLE_CLIP = "no_readable_clip"  # clips exist, but none has a readable duration
    UNREADABLE_VOICE = "unreadable_voice"  # the voice's duration cannot be read
    LOGO_MISSING = "logo_missing"  # render.logo names a file that does not exist
    FONT_MISSING = "font_missing"  # the [captions] font family is not installed
    DISK_LOW = "disk_low"  # free space below [disk] floor_gb
    DROP_SETTLING = "drop_settling"  # files of its category are still arriving in raw/
    CANNOT_BUILD = "cannot_build"  # writing the task folder failed
    AWAITING_VOICE = "awaiting_voice"  # a chunk given [narration] wait_seconds for an operator's voice


@dataclass(frozen=True)
class Waiting:
    """A chapter the planner cannot plan yet, and why."""

    chapter: str  # the chapter's key: scanned/story/<category>/<story>/voice/chapter_NNNN.mp3
    reason: WaitReason
    detail: str  # the sentence an operator reads, e.g. "no music in category fantasy (nor default)"


def chapter_label(layout: Layout, chapter: str) -> str:
    """A chapter as people name it, `fantasy/dragon_flight chapter 3`; the key itself
    when it is not a scanned voice chapter."""
    path = layout.root / chapter
    try:
        category, story = layout.story_of(path)
    except ValueError:
        return chapter
    found = CHAPTER_RE.match(Path(chapter).name)
    return f"{category}/{story} chapter {int(found.group(1))}" if found else f"{category}/{story} {chapter}"


def categories_text(category: str, default: str) -> str:
    """`category fantasy (nor default)`: where the planner looked for music and clips."""
    if not default or default == category:
        return f"category {category}"
    return f"category {category} (nor {default})"


def disk_low_text(free_bytes: int, floor_gb: float) -> str:
    """`free space 0.8 GB is below the 1.0 GB floor ([disk] floor_gb)`."""
    return f"free space {free_bytes / GB:.1f} GB is below the {floor_gb:.1f} GB floor ([disk] floor_gb)"


def drop_settling(pending: Pending, layout: Layout, voice: Path, default: str) -> Waiting | None:
    """A scanned voice chapter waits while any file of its category (or of the default one)
    is still in raw/ — settling, being checked or crawled — so its task is built from the
    whole drop; None when nothing of those categories is pending."""
    if not pending:
        return None
    chapter, (category, _story) = layout.chapter_of(voice), layout.story_of(voice)
    files = pending.files(category, default)
    if not files:
        return None
    shown = ", ".join(f"raw/{name}" for name in files[:SETTLING_NAMES_SHOWN])
    more = f" and {len(files) - SETTLING_NAMES_SHOWN} more" if len(files) > SETTLING_NAMES_SHOWN else ""
    where = f"category {category}" if not default or default == category else f"categories {category} and {default}"
    return Waiting(chapter, WaitReason.DROP_SETTLING,
                   f"{plural(len(files), 'file')} of {where} still arriving in raw/: {shown}{more}")
