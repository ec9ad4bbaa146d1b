"""The text's words keep their spelling for the captions and get a spoken form to align."""

from __future__ import annotations

from storyreel.captions import numbers
from storyreel.captions.script import read_script


def _spoken(text: str) -> list[tuple[str, ...]]:
    return [word.spoken for word in read_script(text)]


def test_reddit_ages_numbers_and_abbreviations_are_said_in_words() -> None:
    words = read_script("AITA? I (17F) told Dr. Lee my BF (25M) owes $1,200 since 1999.")
    assert [w.text for w in words] == ["AITA?", "I", "(17F)", "told", "Dr.", "Lee", "my", "BF",
                                       "(25M)", "owes", "$1,200", "since", "1999."]
    assert [" ".join(w.spoken) for w in words] == [
        "am i the asshole", "i", "seventeen female", "told", "doctor", "lee", "my", "boyfriend",
        "twenty five male", "owes", "one thousand two hundred dollars", "since",
        "nineteen ninety nine",
    ]


def test_punctuation_stays_with_its_word_and_marks_phrase_ends() -> None:
    words = read_script("“Well,” she said — quietly… then left.")
    assert [w.text for w in words] == ["“Well,”", "she", "said —", "quietly…", "then", "left."]
    assert [w.written for w in words] == ["Well", "she", "said", "quietly", "then", "left"]
    assert [w.ends_phrase for w in words] == [True, False, True, True, False, True]
    assert words[-1].ends_sentence and not words[0].ends_sentence


def test_ordinals_percentages_times_decades_and_hyphens() -> None:
    assert _spoken("3rd 50% 10:05 the 90s well-known 2.5 &") == [
        ("third",), ("fifty", "percent"), ("ten", "oh", "five"), ("the",), ("nineties",),
        ("well", "known"), ("two", "point", "five"), ("and",),
    ]


def test_dotted_abbreviations_do_not_end_a_sentence() -> None:
    words = read_script("Mr. Smith met Mrs. Jones.")
    assert [w.spoken for w in words] == [("mister",), ("smith",), ("met",), ("missus",), ("jones",)]
    assert [w.ends_sentence for w in words] == [False, False, False, False, True]


def test_number_words() -> None:
    assert numbers.cardinal(0) == ["zero"]
    assert numbers.cardinal(115) == ["one", "hundred", "fifteen"]
    assert numbers.cardinal(2_000_019) == ["two", "million", "nineteen"]
    assert numbers.year(2024) == ["twenty", "twenty", "four"]
    assert numbers.year(2007) == ["two", "thousand", "seven"]
    assert numbers.year(1905) == ["nineteen", "oh", "five"]
    assert numbers.ordinal(22) == ["twenty", "second"]
    assert numbers.ordinal(40) == ["fortieth"]
