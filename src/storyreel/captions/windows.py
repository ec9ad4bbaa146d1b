"""Cutting a long narration into windows of a few minutes, each with its span of the text.

Forced alignment costs more than linearly with length, so a chapter is aligned window by
window. A cut falls in a pause near every WINDOW_SECONDS; which word of the text comes
first after it is found by decoding a few seconds around the pause with a language model
built from the text and matching the words heard to the text near where the speaking
rate puts it. A story repeats its phrases, so a cut found that way is checked: the words
before it are strictly aligned to the seconds before it, the words after it to the
seconds after it; where either fails, the cut moves on to the next pause.
"""

from __future__ import annotations

import bisect
import difflib
import logging
from dataclasses import dataclass

from storyreel.captions.recogniser import Recogniser, Segment, on_frame, pcm_slice

log = logging.getLogger("storyreel.captions")

# Two minutes of speech align at close to linear cost, and a failed window stays small.
WINDOW_SECONDS = 120.0
# A narration up to this much longer than one window is aligned in one go.
ONE_WINDOW_SLACK = 1.5
# Seconds decoded either side of a cut to find where in the text it falls.
SEARCH_SECONDS = 3.0
# A pause at least this long is a place to cut; how far from the target one may be.
CUT_PAUSE_SECONDS = 0.2
PAUSE_REACH_SECONDS = 20.0
# How far (in words) either side of the expected place the text is searched, at least.
MIN_SEARCH_WORDS = 40
# Words heard in a row that must match the text for the place to count: two short words
# ("the same") recur all through a story.
MIN_RUN = 3
# How much nearer (in seconds) a place counts for each word heard around it that matches.
AGREEMENT_SECONDS = 1.0
# Of the words a window is expected to hold, the share searched either side.
SEARCH_SHARE = 0.25
# Seconds strictly aligned either side of a cut to check it; longer than the phrases a
# story repeats, short enough to cost little.
CHECK_SECONDS = 4.0
# Pauses tried for one cut before the best unchecked one is kept (the windows beside a
# wrong cut are then aligned together, see alignment.py).
CUT_TRIES = 4
# Words either side of a cut that may be squeezed (fast speech squeezes the odd "the").
CHECK_SQUEEZED = 1


@dataclass(frozen=True)
class Window:
    """A stretch of the narration and the span of the text's words it says."""

    start: float  # seconds
    end: float
    first: int  # index of its first word in the spoken word list
    last: int  # one past its last word


def _nearest_pause(pauses: list[float], target: float) -> float | None:
    near = [p for p in pauses if abs(p - target) <= PAUSE_REACH_SECONDS]
    return min(near, key=lambda p: abs(p - target)) if near else None


def _pause_between(pauses: list[float], left: Segment, right: Segment) -> float | None:
    index = bisect.bisect_right(pauses, left.start)
    return pauses[index] if index < len(pauses) and pauses[index] < right.end else None


def find_cut(
    recogniser: Recogniser, pcm: bytes, words: list[str], *, around: float, expected: float,
    radius: int, pauses: list[float],
) -> tuple[float, int] | None:
    """(time, index of the first word after it) for a cut near `around`, or None.

    Of the places where MIN_RUN words heard in a row match the text, the one nearest the
    pause in time and nearest where the speaking rate puts it in the text wins, each word
    heard around it that matches the text around it counting as AGREEMENT_SECONDS nearer
    (a story repeats its phrases; the recogniser gets some words wrong)."""
    start = on_frame(max(0.0, around - SEARCH_SECONDS))
    heard = recogniser.recognise(pcm_slice(pcm, start, around + SEARCH_SECONDS), start)
    low = max(0, int(expected) - radius)
    high = min(len(words), int(expected) + radius)
    said = [seg.word for seg in heard]
    seconds_per_word = 2 * SEARCH_SECONDS / max(1, len(heard))
    best: tuple[float, float, int] | None = None  # (score, time, index)
    for j in range(len(said) - MIN_RUN + 1):  # every place the text has MIN_RUN heard words
        for i in range(low, high - MIN_RUN + 1):
            if words[i:i + MIN_RUN] != said[j:j + MIN_RUN]:
                continue
            for k in range(1, MIN_RUN):  # between two words of the run: a sure gap
                left, right = heard[j + k - 1], heard[j + k]
                pause = _pause_between(pauses, left, right)
                time = pause if pause is not None else (left.end + right.start) / 2
                score = (abs(time - around) + (0.0 if pause is not None else SEARCH_SECONDS)
                         + abs(i + k - expected) * seconds_per_word
                         - _agreement(heard, j + k, words, i + k) * AGREEMENT_SECONDS)
                if best is None or score < best[0]:
                    best = (score, time, i + k)
    return (on_frame(best[1]), best[2]) if best else None


def _agreement(heard: list[Segment], split: int, words: list[str], index: int) -> int:
    """How many words heard before and after `split` match the text before and after `index`."""
    before = [seg.word for seg in heard[:split]]
    after = [seg.word for seg in heard[split:]]
    slack = len(heard) // 2 + 2  # room for words the recogniser dropped
    matched = 0
    for said, text in ((before, words[max(0, index - len(before) - slack):index]),
                       (after, words[index:index + len(after) + slack])):
        blocks = difflib.SequenceMatcher(a=said, b=text, autojunk=False).get_matching_blocks()
        matched += sum(block.size for block in blocks)
    return matched


def cut_holds(recogniser: Recogniser, pcm: bytes, words: list[str], *, at: float, index: int,
              rate: float) -> bool:
    """Whether the words before `index` end at `at` and the words from `index` start there:
    both sides strictly aligned over CHECK_SECONDS, at most CHECK_SQUEEZED words squeezed
    on either side (the first word before
    and the last after may be cut short by the stretch's edge)."""
    reach = int(CHECK_SECONDS * rate * 2) + 4  # more words than the stretch can hold
    start = on_frame(max(0.0, at - CHECK_SECONDS))
    before = recogniser.edge(words[max(0, index - reach):index], pcm_slice(pcm, start, at), start,
                             ending=True)
    after = recogniser.edge(words[index:index + reach], pcm_slice(pcm, at, at + CHECK_SECONDS), at,
                            ending=False)
    if not before or not after:
        return False
    return all(sum(map(recogniser.squeezed, side)) <= CHECK_SQUEEZED for side in (before[1:], after[:-1]))


def _next_pause(pauses: list[float], after: float) -> float | None:
    index = bisect.bisect_right(pauses, after + 2 * SEARCH_SECONDS)
    return pauses[index] if index < len(pauses) and pauses[index] - after <= PAUSE_REACH_SECONDS else None


def _checked_cut(recogniser: Recogniser, pcm: bytes, words: list[str], *, around: float,
                 last: tuple[float, int], rate: float, radius: int,
                 pauses: list[float]) -> tuple[float, int] | None:
    """The first cut found near `around` (then near the pauses after it) that holds; the
    first one found when none does."""
    first: tuple[float, int] | None = None
    for _ in range(CUT_TRIES):
        expected = last[1] + (around - last[0]) * rate
        found = find_cut(recogniser, pcm, words, around=around, expected=expected, radius=radius,
                         pauses=pauses)
        if found is not None and found[0] > last[0] and found[1] > last[1]:
            if cut_holds(recogniser, pcm, words, at=found[0], index=found[1], rate=rate):
                return found
            log.debug("The cut at %.1f s (word %d) does not hold; trying the next pause", *found)
            first = first or found
        following = _next_pause(pauses, around)
        if following is None:
            break
        around = following
    return first


def plan_windows(
    recogniser: Recogniser, pcm: bytes, words: list[str], *, duration: float,
    pauses: list[float],
) -> list[Window]:
    """Windows covering the whole narration and the whole text, in order; `pauses` are
    the places where a pause was cut out of `pcm`, in order."""
    if duration <= WINDOW_SECONDS * ONE_WINDOW_SLACK:
        return [Window(0.0, duration, 0, len(words))]
    recogniser.use_text_model(words)
    rate = len(words) / duration  # words a second, over the whole chapter
    radius = max(MIN_SEARCH_WORDS, int(SEARCH_SHARE * WINDOW_SECONDS * rate))
    cuts: list[tuple[float, int]] = [(0.0, 0)]
    while duration - cuts[-1][0] > WINDOW_SECONDS * ONE_WINDOW_SLACK:
        last_time, last_index = cuts[-1]
        target = last_time + WINDOW_SECONDS
        pause = _nearest_pause(pauses, target)
        around = pause if pause is not None else target
        found = _checked_cut(recogniser, pcm, words, around=around, last=cuts[-1], rate=rate,
                             radius=radius, pauses=pauses)
        if found is None:
            log.debug("No words matched near %.1f s; cutting by the speaking rate", around)
            expected = last_index + (around - last_time) * rate
            found = (on_frame(around), min(len(words), max(last_index + 1, round(expected))))
        cuts.append(found)
    cuts.append((duration, len(words)))
    return [Window(a[0], b[0], a[1], b[1]) for a, b in zip(cuts, cuts[1:], strict=False)]
