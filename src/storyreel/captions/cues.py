"""Spoken words grouped into captions: lines that break at phrase boundaries, cues that
never cover a word the narration skips.

- `phrases`: runs of spoken words with no skipped word and no long pause inside;
- `lines`: a phrase cut into lines of at most N characters, preferring to break after
  punctuation and before conjunctions;
- `cues`: lines or words grouped into what one caption shows, by style.
"""

from __future__ import annotations

from dataclasses import dataclass

from storyreel.captions.script import PHRASE_END, SENTENCE_END
from storyreel.captions.settings import CaptionSettings, CaptionStyle
from storyreel.captions.timing import WordTiming

# A silence this long ends a caption: text should not hang over a pause.
PAUSE_BREAK_SECONDS = 1.0
# A caption stays up this long after its last word, unless the next one starts first.
HOLD_SECONDS = 0.3
# A line this full may break after punctuation, or before a conjunction.
BREAK_AFTER_PUNCTUATION = 0.5
BREAK_BEFORE_CONJUNCTION = 0.6
CONJUNCTIONS = {
    "and", "but", "or", "so", "because", "when", "while", "which", "who", "then", "until",
    "if", "though", "although", "after", "before", "since", "unless", "where",
}


@dataclass(frozen=True)
class Cue:
    """One caption: its lines of words, from its first word's start to its end."""

    lines: list[list[WordTiming]]
    start: float
    end: float

    @property
    def words(self) -> list[WordTiming]:
        return [word for line in self.lines for word in line]

    @property
    def text(self) -> str:
        return "\n".join(" ".join(w.word for w in line) for line in self.lines)


def _ends(word: WordTiming, marks: set[str]) -> bool:
    tail = word.word.rstrip()
    return bool(tail) and tail[-1] in marks


def phrases(words: list[WordTiming]) -> list[list[WordTiming]]:
    """Runs of spoken words, cut at skipped words, long pauses and sentence ends."""
    runs: list[list[WordTiming]] = []
    current: list[WordTiming] = []
    for word in words:
        if not word.spoken:
            if current:
                runs.append(current)
            current = []
            continue
        if current and word.start - current[-1].end >= PAUSE_BREAK_SECONDS:
            runs.append(current)
            current = []
        current.append(word)
        if _ends(word, SENTENCE_END):
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def lines(phrase: list[WordTiming], max_chars: int) -> list[list[WordTiming]]:
    """`phrase` as lines of at most `max_chars` (a longer single word gets its own line)."""
    result: list[list[WordTiming]] = []
    line: list[WordTiming] = []
    length = 0
    for word in phrase:
        extra = len(word.word) + (1 if line else 0)
        full = length / max_chars
        conjunction = word.word.strip("\"'(").lower() in CONJUNCTIONS
        if line and (length + extra > max_chars
                     or (conjunction and full >= BREAK_BEFORE_CONJUNCTION)
                     or (_ends(line[-1], PHRASE_END) and full >= BREAK_AFTER_PUNCTUATION)):
            result.append(line)
            line, length, extra = [], 0, len(word.word)
        line.append(word)
        length += extra
    if line:
        result.append(line)
    return result


def word_groups(phrase: list[WordTiming], per_cue: int, max_chars: int) -> list[list[WordTiming]]:
    """`phrase` in groups of at most `per_cue` words, ending early after punctuation."""
    groups: list[list[WordTiming]] = []
    group: list[WordTiming] = []
    for word in phrase:
        length = sum(len(w.word) + 1 for w in group) + len(word.word)
        if group and (len(group) == per_cue or _ends(group[-1], PHRASE_END) or length > max_chars):
            groups.append(group)
            group = []
        group.append(word)
    if group:
        groups.append(group)
    return groups


def _timed(groups: list[list[list[WordTiming]]], words: list[WordTiming]) -> list[Cue]:
    """Cues from groups of lines; a cue's hold never reaches into the next cue or into a
    skipped word's span."""
    skipped_after = {id(a): b.start for a, b in zip(words, words[1:], strict=False) if not b.spoken}
    found: list[Cue] = []
    for index, group in enumerate(groups):
        first, last = group[0][0], group[-1][-1]
        following = groups[index + 1][0][0].start if index + 1 < len(groups) else float("inf")
        following = min(following, skipped_after.get(id(last), following))
        end = max(last.end, min(last.end + HOLD_SECONDS, following))
        found.append(Cue(group, first.start, round(end, 3)))
    return found


def cues(words: list[WordTiming], settings: CaptionSettings, *,
         max_chars: int | None = None) -> list[Cue]:
    """The captions for `words` in the settings' style, lines of at most `max_chars`
    (default: the settings' characters per line)."""
    style = settings.style
    width = min(settings.chars_per_line, max_chars or settings.chars_per_line)
    groups: list[list[list[WordTiming]]] = []
    for phrase in phrases(words):
        if style is CaptionStyle.WORDS:
            groups += [[group] for group in word_groups(phrase, settings.words_per_cue, width)]
        elif style is CaptionStyle.KARAOKE:
            groups += [[line] for line in lines(phrase, width)]
        else:
            split = lines(phrase, width)
            step = settings.lines_per_cue
            groups += [split[i:i + step] for i in range(0, len(split), step)]
    return _timed(groups, words)
