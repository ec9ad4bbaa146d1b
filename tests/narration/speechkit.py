"""Texts to narrate, and what the tests measure on a narration."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from storyreel.captions import Alignment, align, read_script

# Two paragraphs of two sentences each, with a number, an abbreviation and a Reddit age.
TWO_PARAGRAPHS = (
    "My neighbour, Mr. Harris, is 72 and has kept bees for most of his life. Last summer "
    "he asked me, a clumsy 17F, to help him move the hives.\n"
    "\n"
    "We worked until dark! By midnight the last hive stood safe under the old oak tree."
)
# One short chunk, as a chapter's opening.
SHORT_CHUNK = (
    "The lighthouse keeper counted the ships every evening. Nobody had asked him to, "
    "but he wrote their names in a blue notebook."
)


def written(text: str) -> list[str]:
    """The words the captions show for `text`."""
    return [word.text for word in read_script(text)]


@dataclass(frozen=True)
class Agreement:
    """How far a narration's own word starts are from the aligner's on the same audio."""

    median: float
    p90: float
    worst: float
    reference: Alignment


def against_aligner(audio: Path, text: str, ours: Alignment, work: Path) -> Agreement:
    reference = align(audio, read_script(text), work=work)
    errors = sorted(abs(a.start - b.start) for a, b in zip(ours.words, reference.words, strict=True))
    p90 = errors[max(0, round(0.9 * len(errors)) - 1)]
    return Agreement(statistics.median(errors), p90, errors[-1], reference)


def processes_mentioning(marker: str) -> list[int]:
    """Pids of the running processes whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((line for line in (entry / "status").read_text().splitlines()
                          if line.startswith("State:")), "")
        except OSError:
            continue
        if marker in command and "zombie" not in state:
            found.append(int(entry.name))
    return found
