"""The text as the engines speak it: the captions' words, sentences, paragraph pauses."""

from __future__ import annotations

import pytest

from storyreel.captions import read_script
from storyreel.errors import NarrationError
from storyreel.narration import sentences
from storyreel.narration.sentences import (
    CUT_PAUSE,
    MAX_TOKEN_CHARS,
    MAX_TOKENS,
    PARAGRAPH_PAUSE,
    SENTENCE_PAUSE,
    plan,
)


def _owners(script: sentences.Script) -> list[int]:
    return [owner for sentence in script.sentences for owner in sentence.owners]


def test_sentences_say_the_spoken_forms_of_the_captions_words() -> None:
    text = "I (17F) paid $5 to Dr. Smith, at 9:30!\n\nThen — nothing… Really?"
    script = plan(text)
    assert script.words == read_script(text)
    first, second, third = script.sentences
    assert first.tokens == ("i", "seventeen", "female,", "paid", "five", "dollars", "to", "doctor",
                            "smith,", "at", "nine", "thirty!")
    assert first.pause == PARAGRAPH_PAUSE
    assert second.tokens == ("then,", "nothing.") and second.pause == SENTENCE_PAUSE
    assert third.tokens == ("really?",) and third.pause == SENTENCE_PAUSE
    owners = _owners(script)
    assert owners == sorted(owners) and set(owners) == set(range(len(script.words)))


def test_paragraphs_follow_blank_lines_even_with_spaces_in_them() -> None:
    text = "One line\nstill the same paragraph.\n  \t\nA new one starts\n\n\n\nand another"
    assert sentences.paragraph_of_words(text) == [0] * 6 + [1] * 4 + [2] * 2
    pauses = [s.pause for s in plan(text).sentences]
    assert pauses == [PARAGRAPH_PAUSE, PARAGRAPH_PAUSE, SENTENCE_PAUSE]


def test_a_run_on_sentence_is_cut_into_pieces_an_engine_can_hold() -> None:
    text = " ".join(["word"] * (3 * MAX_TOKENS + 5)) + "."
    script = plan(text)
    assert [len(s.tokens) for s in script.sentences] == [MAX_TOKENS] * 3 + [5]
    assert [s.pause for s in script.sentences] == [CUT_PAUSE] * 3 + [SENTENCE_PAUSE]
    with_commas = " ".join(f"word{',' if i % 25 == 24 else ''}" for i in range(60))
    assert [len(s.tokens) for s in plan(with_commas).sentences] == [25, 25, 10]


def test_a_huge_word_is_spoken_short_but_captioned_whole() -> None:
    giant = "a" * 5000
    script = plan(f"It was {giant} long.")
    assert script.words[2].text == giant
    assert script.sentences[0].tokens[2] == "a" * MAX_TOKEN_CHARS


@pytest.mark.parametrize("text", ["", "   \n\n ", "... — !!! ?", "😀 🎉"])
def test_a_text_without_words_is_refused(text: str) -> None:
    with pytest.raises(NarrationError, match="no words to speak"):
        plan(text)


def test_bare_punctuation_joins_a_word_as_the_captions_show_it() -> None:
    script = plan("— “Hello,” she said.\n\n… and left.")
    assert [w.text for w in script.words] == ["— “Hello,”", "she", "said. …", "and", "left."]
    assert [s.tokens for s in script.sentences] == [("hello,", "she", "said."), ("and", "left.")]
