"""Align a narration to its text: every word of the text gets a time, or a flag.

    align(narration, script, work=folder) -> Alignment

Offline and en-US only (pocketsphinx's bundled acoustic model; another language needs
another model). Window by window (see windows.py): strict forced alignment first; where
the text and the audio disagree (the alignment fails, or squeezes words into the fewest
frames a word can have, which is what it does with words nobody said) a lenient pass
lets words drop out; where even that fails, the window is decoded with a language model
built from the text and the words heard are matched back to it (difflib). Words not
found are flagged unspoken. Word edges that fall in a pause are moved to the pause's end.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path

from storyreel.captions.pronounce import pronounce
from storyreel.captions.recogniser import BYTES_PER_SECOND, Recogniser, Segment, pcm_slice
from storyreel.captions.script import Word
from storyreel.captions.span import StoryText, find_span
from storyreel.captions.timeline import Timeline, cut_pauses
from storyreel.captions.timing import Alignment, AlignmentQuality, WordTiming
from storyreel.captions.windows import CUT_PAUSE_SECONDS, Window, plan_windows
from storyreel.errors import AlignmentError
from storyreel.media import speech

log = logging.getLogger("storyreel.captions")

# Quieter than this (dBFS) for PAUSE_SECONDS is a pause between words.
PAUSE_DB = -40.0
PAUSE_SECONDS = 0.08
# A squeezed word (see Recogniser.squeezed) was most likely never said; fast speech
# squeezes the odd short word as well, so the window is aligned again leniently only
# when more than SQUEEZED_SHARE of its words (and more than one) are squeezed.
SQUEEZED_SHARE = 0.01
# How each word got its time, and how far its time is trusted (the confidence figure):
# both alignments place words on the acoustic model's frames; a word matched from free
# decoding has the recogniser's rougher edges.
STRICT, LENIENT, MATCHED = "strict", "lenient", "matched"
TRUST = {STRICT: 1.0, LENIENT: 0.9, MATCHED: 0.6}


@dataclass
class Placed:
    """One spoken token of the text and where the narration says it (None: not found)."""

    word: str
    owner: int  # index of the Word it belongs to
    segment: Segment | None = None
    how: str = ""


def _tokens(script: list[Word]) -> list[Placed]:
    return [Placed(token, index) for index, word in enumerate(script) for token in word.spoken]


def _squeezed(recogniser: Recogniser, segments: list[Segment]) -> bool:
    squeezed = sum(recogniser.squeezed(seg) for seg in segments)
    return squeezed > max(1, SQUEEZED_SHARE * len(segments))


def _assign_in_order(tokens: list[Placed], segments: list[Segment], how: str) -> None:
    """Give each segment to the next token saying its word (the ones passed are skipped)."""
    at = 0
    for seg in segments:
        while at < len(tokens) and tokens[at].word != seg.word:
            at += 1
        if at == len(tokens):
            return
        tokens[at].segment, tokens[at].how = seg, how
        at += 1


def _match_heard(recogniser: Recogniser, pcm: bytes, window: Window, tokens: list[Placed],
                 all_words: list[str]) -> None:
    """Decode the window with the text's language model; words heard in the text's order count."""
    if not recogniser.has_text_model:
        recogniser.use_text_model(all_words)
    heard = recogniser.recognise(pcm_slice(pcm, window.start, window.end), window.start)
    matcher = difflib.SequenceMatcher(a=[t.word for t in tokens], b=[s.word for s in heard],
                                      autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            tokens[block.a + k].segment, tokens[block.a + k].how = heard[block.b + k], MATCHED


def _strictly(recogniser: Recogniser, pcm: bytes, window: Window, tokens: list[Placed]) -> bool:
    """Place the window's tokens by strict alignment; False (nothing placed) when it fails."""
    audio = pcm_slice(pcm, window.start, window.end)
    strict = recogniser.strict([t.word for t in tokens], audio, window.start)
    if strict is None or _squeezed(recogniser, strict):
        return False
    for token, seg in zip(tokens, strict, strict=True):
        token.segment, token.how = seg, STRICT
    return True


def align_window(recogniser: Recogniser, pcm: bytes, window: Window, tokens: list[Placed],
                 all_words: list[str], *, strict_failed: bool = False) -> bool:
    """Place the window's tokens; True when the strict alignment held (`strict_failed`:
    it was tried already)."""
    if not strict_failed and _strictly(recogniser, pcm, window, tokens):
        return True
    words = [t.word for t in tokens]
    audio = pcm_slice(pcm, window.start, window.end)
    lenient = recogniser.lenient(words, audio, window.start)
    if lenient:
        _assign_in_order(tokens, lenient, LENIENT)
    else:
        _match_heard(recogniser, pcm, window, tokens, all_words)
    log.debug("Window %.1f–%.1f s: %d of %d words found after the strict alignment failed",
              window.start, window.end, sum(t.segment is not None for t in tokens), len(tokens))
    return False


def align_windows(recogniser: Recogniser, pcm: bytes, windows: list[Window],
                  tokens: list[Placed]) -> list[bool]:
    """Align window by window; whether each one's strict alignment held.

    A cut put in the wrong place in the text fails both windows beside it, so a window
    whose strict alignment fails is first aligned again together with the next one."""
    words = [t.word for t in tokens]
    held: list[bool] = []
    index = 0
    while index < len(windows):
        window = windows[index]
        if _strictly(recogniser, pcm, window, tokens[window.first:window.last]):
            held.append(True)
            index += 1
            continue
        if index + 1 < len(windows):
            after = windows[index + 1]
            both = Window(window.start, after.end, window.first, after.last)
            if _strictly(recogniser, pcm, both, tokens[both.first:both.last]):
                log.debug("Windows %.1f–%.1f s aligned together (the cut between was off)",
                          both.start, both.end)
                held += [True, True]
                index += 2
                continue
        held.append(align_window(recogniser, pcm, window, tokens[window.first:window.last], words,
                                 strict_failed=True))
        index += 1
    return held


def _word_timings(script: list[Word], tokens: list[Placed], timeline: Timeline,
                  duration: float) -> list[WordTiming]:
    found: dict[int, list[Segment]] = {}
    for token in tokens:
        if token.segment is not None:
            found.setdefault(token.owner, []).append(token.segment)
    timings: list[WordTiming] = []
    for index, word in enumerate(script):
        segments = found.get(index)
        if segments:
            start, end = timeline.original(segments[0].start, segments[-1].end)
            timings.append(WordTiming(word=word.text, start=round(start, 3), end=round(end, 3)))
        else:
            timings.append(WordTiming(word=word.text, start=0.0, end=0.0, spoken=False))
    _place_unspoken(timings, duration)
    return timings


def _place_unspoken(timings: list[WordTiming], duration: float) -> None:
    """Unspoken words get the gap between their spoken neighbours (nothing shows there)."""
    previous_end = 0.0
    for index, timing in enumerate(timings):
        if timing.spoken:
            previous_end = timing.end
            continue
        following = next((t.start for t in timings[index + 1:] if t.spoken), duration)
        timing.start, timing.end = previous_end, max(previous_end, following)


def _listen(narration: Path, work: Path) -> tuple[float, Timeline]:
    """The narration's length and its audio with the pauses cut out."""
    pcm_path = speech.decode_pcm(narration, work / ".narration.pcm")
    try:
        pcm = pcm_path.read_bytes()
    finally:
        pcm_path.unlink(missing_ok=True)
    duration = len(pcm) / BYTES_PER_SECOND
    if duration <= 0:
        raise AlignmentError("align", narration, "the narration holds no audio")
    return duration, cut_pauses(pcm, speech.pauses(narration, noise_db=PAUSE_DB, min_seconds=PAUSE_SECONDS))


def _narrated_span(timeline: Timeline, story: StoryText) -> tuple[int, int] | None:
    """The span of the story's text the narration says, when it is not the chunk's."""
    tokens = _tokens(story.words)
    words = [t.word for t in tokens]
    recogniser = Recogniser(words, pronounce)
    recogniser.use_text_model(words)
    span = find_span(recogniser, timeline.pcm, timeline.duration, story, words,
                     [t.owner for t in tokens])
    if span is None or span == story.chunk:
        return None
    log.info("The narration says words %d–%d of the story's text; its own chunk is words %d–%d",
             span[0] + 1, span[1], story.chunk[0] + 1, story.chunk[1])
    return span


def align(narration: Path | str, script: list[Word], *, work: Path | str,
          story: StoryText | None = None) -> Alignment:
    """Time every word of `script` in `narration`; `work` holds the decoded audio meanwhile.

    With `story` (the story's whole text, `script` being the chapter's chunk in it), the
    span of the text the narration says is found first and aligned instead, when it is
    not the chunk (`quality.span` then names it)."""
    narration, work = Path(narration), Path(work)
    if not _tokens(script):
        raise AlignmentError("align", narration, "the text has no words to align")
    duration, timeline = _listen(narration, work)
    span = _narrated_span(timeline, story) if story is not None else None
    if span is not None:
        script = story.words[span[0]:span[1]]
    tokens = _tokens(script)
    words = [t.word for t in tokens]
    recogniser = Recogniser(words, pronounce)
    cuts = [at for at, length in timeline.cuts if length >= CUT_PAUSE_SECONDS]
    windows = plan_windows(recogniser, timeline.pcm, words, duration=timeline.duration, pauses=cuts)
    held = align_windows(recogniser, timeline.pcm, windows, tokens)
    timings = _word_timings(script, tokens, timeline, duration)
    aligned = sum(t.spoken for t in timings)
    trust = [TRUST[t.how] for t in tokens if t.segment is not None]
    quality = AlignmentQuality(
        words=len(script), aligned=aligned, unspoken=len(script) - aligned,
        confidence=round(sum(trust) / len(trust), 3) if trust else 0.0,
        windows=len(windows), fallback_windows=held.count(False),
        span=list(span) if span is not None else None,
    )
    return Alignment(duration=round(duration, 3), words=timings, quality=quality)
