"""Which stretch of the story's whole text a chapter narrates.

By default `chapter_NNNN.mp3` narrates `chunk_NNNN.txt`, but chunks are cut by word
count and chapters by whoever narrates them, so a chapter may start inside one chunk and
end inside the next, or narrate another chunk than its number says. The narration's
opening and closing seconds are decoded with a language model built from the story's
whole text, and the words heard are matched to the text: the span runs from where the
opening's words stand to where the closing's end. A span within a few words of the
chapter's own chunk is the chunk; an edge a few words from a sentence's edge moves there
(a narrator starts and stops at sentences; the recogniser misses the odd word).
"""

from __future__ import annotations

import difflib
import logging
from collections import defaultdict
from dataclasses import dataclass

from storyreel.captions.recogniser import Recogniser, Segment, on_frame, pcm_slice
from storyreel.captions.script import Word

log = logging.getLogger("storyreel.captions")

# Seconds decoded at each end of the narration: some thirty words, more than the
# phrases a story repeats.
SPAN_SECONDS = 12.0
# Words heard in a row that must match the text for a place to be tried.
MIN_RUN = 3
# Of the words heard at one end, at least this many must match the text in order.
MIN_MATCHED = 5
# A span edge this many words or fewer from the chunk's edge, or from a sentence's, moves there.
SNAP_WORDS = 4


@dataclass(frozen=True)
class StoryText:
    """The story's whole text and where the chapter's own chunk lies in it (Word indexes)."""

    words: list[Word]
    chunk: tuple[int, int]  # [first, last)


@dataclass(frozen=True)
class Place:
    """Where a stretch of heard words stands in the text (spoken-token indexes)."""

    matched: int  # words heard that match the text there, in order
    start: int  # the token the first word heard is
    end: int  # one past the token the last word heard is


def story_text(story: list[Word], chunk: list[Word]) -> StoryText | None:
    """`story` with the place of `chunk` in it; None when the chunk is not in it word for word."""
    if not chunk:
        return None
    texts = [w.text for w in chunk]
    for index, word in enumerate(story):
        if word.text == texts[0] and [w.text for w in story[index:index + len(texts)]] == texts:
            return StoryText(story, (index, index + len(texts)))
    return None


def _runs(tokens: list[str]) -> dict[tuple[str, ...], list[int]]:
    found: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for at in range(len(tokens) - MIN_RUN + 1):
        found[tuple(tokens[at:at + MIN_RUN])].append(at)
    return found


def _edges(blocks: list, heard: list[Segment], low: int, begin: float, finish: float) -> tuple[int, int]:
    """The tokens of the first and one past the last word said in the decoded stretch.

    Counted from the first and last runs of two or more words matched (a lone short word
    matches anywhere) and the time between them and the stretch's edges, at the speaking
    rate between them: the recogniser merges and drops words, most at the edges."""
    runs = [b for b in blocks if b.size >= 2] or blocks
    first, last = runs[0], runs[-1]
    said_from, said_to = heard[first.a].start, heard[last.a + last.size - 1].end
    tokens_between = last.b + last.size - first.b
    rate = tokens_between / max(said_to - said_from, 1e-3)  # tokens a second
    start = low + first.b - round((said_from - begin) * rate)
    end = low + last.b + last.size + round((finish - said_to) * rate)
    return start, end


def locate(heard: list[Segment], tokens: list[str], runs: dict[tuple[str, ...], list[int]], *,
           near: int, begin: float, finish: float) -> Place | None:
    """The place in `tokens` that matches the most of `heard` (decoded from `begin` to
    `finish` seconds) in order, nearest `near` of equals; None when no place matches
    MIN_MATCHED words."""
    said = [seg.word for seg in heard]
    anchors = {at - j for j in range(len(said) - MIN_RUN + 1)
               for at in runs.get(tuple(said[j:j + MIN_RUN]), [])}
    slack = len(said) // 2 + 2  # room for words the recogniser dropped or added
    best: tuple[int, int, Place] | None = None  # (matched, -distance, place)
    for anchor in sorted(anchors):
        low = max(0, anchor - slack)
        text = tokens[low:anchor + len(said) + slack]
        blocks = [b for b in difflib.SequenceMatcher(a=said, b=text, autojunk=False)
                  .get_matching_blocks() if b.size]
        matched = sum(b.size for b in blocks)
        if matched < MIN_MATCHED:
            continue
        start, end = _edges(blocks, heard, low, begin, finish)
        place = Place(matched, max(0, start), min(len(tokens), max(start + 1, end)))
        key = (matched, -abs(place.start - near))
        if best is None or key > best[:2]:
            best = (*key, place)
    return best[2] if best else None


def _snap(index: int, chunk_edge: int, words: list[Word]) -> int:
    """`index` moved to the chunk's edge or a sentence's edge when it is that close."""
    if abs(index - chunk_edge) <= SNAP_WORDS:
        return chunk_edge
    edges = [at for at in range(max(0, index - SNAP_WORDS), min(len(words), index + SNAP_WORDS) + 1)
             if at == 0 or at == len(words) or words[at - 1].ends_sentence]
    return min(edges, key=lambda at: abs(at - index)) if edges else index


def find_span(recogniser: Recogniser, pcm: bytes, duration: float, story: StoryText,
              tokens: list[str], owners: list[int]) -> tuple[int, int] | None:
    """The story's words (Word indexes [first, last)) the narration in `pcm` says, or None
    when its opening or closing cannot be found in the text. `tokens` are the story's
    spoken words, `owners` the Word each belongs to; the recogniser knows them all and
    has their language model."""
    runs = _runs(tokens)
    first_token = owners.index(story.chunk[0])
    last_token = len(owners) - owners[::-1].index(story.chunk[1] - 1)
    open_to = on_frame(min(duration, SPAN_SECONDS))
    opening = recogniser.recognise(pcm_slice(pcm, 0.0, open_to))
    close_at = on_frame(max(0.0, duration - SPAN_SECONDS))
    closing = recogniser.recognise(pcm_slice(pcm, close_at, duration), close_at)
    start = locate(opening, tokens, runs, near=first_token, begin=0.0, finish=open_to)
    end = locate(closing, tokens, runs, near=last_token - len(closing), begin=close_at,
                 finish=duration)
    if start is None or end is None or end.end <= start.start:
        log.debug("The narration's %s is not found in the story's text",
                  "opening" if start is None else "closing")
        return None
    first = _snap(owners[start.start], story.chunk[0], story.words)
    last = _snap(owners[end.end - 1] + 1, story.chunk[1], story.words)
    return (first, last) if last > first else None
