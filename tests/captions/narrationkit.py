"""espeak-ng narration of a known paragraph with its own word start times (libespeak-ng)."""

from __future__ import annotations

import runpy
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"

# A known paragraph: ordinary narration with a number, a Reddit age and an abbreviation.
PARAGRAPH = (
    "My neighbour, Mr. Harris, is 72 and has kept bees for most of his life. Last summer he "
    "asked me, a clumsy 17F with no patience, to help him move the hives before a storm. "
    "We worked until dark, carrying each box slowly across the wet field while the bees "
    "hummed inside. By midnight the last hive stood safe under the old oak tree, and he "
    "made us both a cup of sweet tea. He told me that bees remember the faces of people "
    "who are kind to them, and that they would remember mine."
)


# bench/ is never put on sys.path (its module names would shadow the tests' own): the
# reference narrator is run from its file.
narrate = runpy.run_path(str(BENCH / "captions_narration.py"))["narrate"]


# How the narrator says the paragraph's words where espeak-ng would say them otherwise.
SAID_AS = {"(17F)": "seventeen female,"}
# Fifteen words of the paragraph the skipping narration leaves out (indexes into its words).
SKIPPED = frozenset({3, 9, 14, 20, 27, 33, 38, 45, 51, 58, 64, 70, 77, 83, 90})


@dataclass(frozen=True)
class Spoken:
    """A narration of the paragraph and espeak-ng's start of each word it says."""

    wav: Path
    seconds: float
    starts: dict[int, float]  # paragraph word index → reference start (words espeak reports)


def speak(words: list[str], wav: Path, *, skip: frozenset[int] = frozenset()) -> Spoken:
    """Narrate `words` (leaving out the indexes in `skip`) with reference word starts."""
    text, owner_at = "", {}
    for index, word in enumerate(words):
        if index in skip:
            continue
        text += " " if text else ""
        owner_at[len(text)] = index
        text += SAID_AS.get(word, word)
    narration = narrate(text, wav)
    starts: dict[int, float] = {}
    for word in narration.words:
        if word.pos in owner_at:
            starts.setdefault(owner_at[word.pos], word.start)
    return Spoken(wav, narration.seconds, starts)
