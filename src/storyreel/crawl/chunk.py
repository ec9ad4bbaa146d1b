"""Split a story's text into chunks of at most N words (SPEC §4: 10,000).

Words are whitespace-separated. A chunk ends at a paragraph boundary when one
leaves the chunk at least half full, else at a sentence boundary, else at the
last paragraph or sentence boundary in reach, else between two words; never
inside a word. Chunks are exact slices of the text, so joining them with ''
gives the text back, nothing lost or repeated.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+")
# A word that ends a sentence: . ! ? … (CJK 。！？) optionally followed by closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019\u00bb)\]]*$")


def count_words(text: str) -> int:
    return len(text.split())


def chunk_text(text: str, max_words: int) -> list[str]:
    """Exact slices of text, each with at most max_words words; [] for blank text."""
    if max_words < 1:
        raise ValueError("max_words must be at least 1")
    words = list(_WORD.finditer(text))
    if not words:
        return []
    # kinds[i]: what the gap before word i is (2 paragraph, 1 sentence, 0 plain).
    kinds = [0] * len(words)
    for i in range(1, len(words)):
        gap = text[words[i - 1].end():words[i].start()]
        if gap.count("\n") >= 2:
            kinds[i] = 2
        elif "\n" in gap or _SENTENCE_END.search(words[i - 1].group()):
            kinds[i] = 1
    chunks: list[str] = []
    start_word, start_at = 0, 0
    while len(words) - start_word > max_words:
        cut = _best_cut(kinds, start_word, max_words)
        chunks.append(text[start_at:words[cut].start()])
        start_word, start_at = cut, words[cut].start()
    chunks.append(text[start_at:])
    return chunks


def _best_cut(kinds: list[int], first: int, max_words: int) -> int:
    """Index of the word that starts the next chunk."""
    last = first + max_words  # the next chunk may start here at the latest
    half = first + max(1, max_words // 2)
    for kind in (2, 1):
        for i in range(last, half - 1, -1):
            if kinds[i] == kind:
                return i
    for i in range(last, first, -1):
        if kinds[i]:
            return i
    return last
