"""The text as an engine speaks it: sentences of spoken words, and the pause after each.

The words are exactly `read_script(text)`'s (numbers, abbreviations and "17F" in their
spoken forms, as the captions read them), so every caption word gets the times of the
tokens said for it. A blank line ends a paragraph: a longer pause follows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storyreel.captions.script import Word, read_script, read_word
from storyreel.errors import NarrationError

# Silence after a sentence, after a paragraph, and where an over-long sentence is cut:
# about what a narrator leaves, and clearly apart so a listener hears the paragraph end.
SENTENCE_PAUSE = 0.35
PARAGRAPH_PAUSE = 1.0
CUT_PAUSE = 0.1
# A sentence longer than this many tokens is cut (at a phrase end where one comes after
# half of it): an engine synthesises a sentence in one piece, in memory.
MAX_TOKENS = 40
# A token longer than this is spoken as its first letters only: nothing says a
# 5,000-letter "word", and an engine would spell it out for minutes.
MAX_TOKEN_CHARS = 40

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


@dataclass(frozen=True)
class Sentence:
    """The tokens one engine call speaks, whose words they say, and the pause after."""

    tokens: tuple[str, ...]
    owners: tuple[int, ...]  # index in Script.words of each token's word
    pause: float


@dataclass(frozen=True)
class Script:
    words: list[Word]
    sentences: list[Sentence]

    @property
    def token_count(self) -> int:
        return sum(len(sentence.tokens) for sentence in self.sentences)


def paragraph_of_words(text: str) -> list[int]:
    """The paragraph (counted from 0) of each of `read_script(text)`'s words: a token
    makes a word exactly when it has a spoken form (bare punctuation joins a neighbour)."""
    paragraphs: list[int] = []
    for number, paragraph in enumerate(_PARAGRAPH_BREAK.split(text)):
        paragraphs += [number for token in paragraph.split() if read_word(token).spoken]
    return paragraphs


def _mark(word: Word) -> str:
    """The punctuation an engine needs after the word's last token to phrase it."""
    if word.ends_sentence:
        last = next(char for char in reversed(word.trail) if char in ".!?…")
        return "." if last == "…" else last
    return "," if word.ends_phrase else ""


def _said(word: Word) -> list[str]:
    tokens = [token[:MAX_TOKEN_CHARS] for token in word.spoken]
    tokens[-1] += _mark(word)
    return tokens


def _ends_here(words: list[Word], paragraphs: list[int], index: int, count: int) -> float | None:
    """The pause after word `index` when a sentence ends there (`count` tokens so far)."""
    if index + 1 == len(words):
        return SENTENCE_PAUSE
    if paragraphs[index + 1] != paragraphs[index]:
        return PARAGRAPH_PAUSE
    if words[index].ends_sentence:
        return SENTENCE_PAUSE
    if count >= MAX_TOKENS or (count >= MAX_TOKENS // 2 and words[index].ends_phrase):
        return CUT_PAUSE
    return None


def plan(text: str) -> Script:
    """`text` as sentences to speak; NarrationError when it has no word to say."""
    words = read_script(text)
    if not words:
        raise NarrationError("the text has no words to speak")
    paragraphs = paragraph_of_words(text)
    if len(paragraphs) != len(words):  # read_script and this reading must agree
        raise NarrationError(f"the text reads as {len(words)} words but {len(paragraphs)} in paragraphs")
    sentences: list[Sentence] = []
    tokens: list[str] = []
    owners: list[int] = []
    for index, word in enumerate(words):
        said = _said(word)
        tokens += said
        owners += [index] * len(said)
        pause = _ends_here(words, paragraphs, index, len(tokens))
        if pause is not None:
            sentences.append(Sentence(tuple(tokens), tuple(owners), pause))
            tokens, owners = [], []
    return Script(words, sentences)
