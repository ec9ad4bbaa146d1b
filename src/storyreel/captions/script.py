"""The story's text as a list of words, each with its written and its spoken form.

Captions show each word as written ("17F,", "Dr.", "“Hello"), the aligner needs what the
narrator said ("seventeen female", "doctor", "hello"). `read_script` keeps both:
punctuation stays with the word it touches (for the captions and for phrase breaks),
the spoken form is lower-case dictionary words (numbers, abbreviations, Reddit-style
ages, symbols written out). English only: the rules, like the acoustic model, are en-US.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from storyreel.captions import numbers

# Abbreviations a narrator expands; the key is the lower-case word without its final dot.
ABBREVIATIONS = {
    "mr": "mister", "mrs": "missus", "ms": "miz", "dr": "doctor", "st": "saint",
    "jr": "junior", "sr": "senior", "vs": "versus", "etc": "et cetera", "e.g": "for example",
    "i.e": "that is", "approx": "approximately", "dept": "department", "prof": "professor",
    "aita": "am i the asshole", "wibta": "would i be the asshole", "tifu": "today i fucked up",
    "tl;dr": "too long didn't read", "tldr": "too long didn't read", "bf": "boyfriend",
    "gf": "girlfriend", "mil": "mother in law", "fil": "father in law", "sil": "sister in law",
    "bil": "brother in law", "dh": "dear husband", "dm": "message", "imo": "in my opinion",
    "btw": "by the way", "idk": "i don't know", "lol": "l o l", "omg": "o m g",
}
# Abbreviations written with a dot whose dot does not end the sentence.
DOTTED = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "e.g", "i.e", "approx", "dept", "prof"}
SYMBOLS = {"&": "and", "+": "plus", "@": "at", "%": "percent", "=": "equals"}
CURRENCIES = {"$": ("dollar", "dollars"), "£": ("pound", "pounds"), "€": ("euro", "euros")}
GENDERS = {"m": "male", "f": "female", "nb": "non binary"}
# Punctuation after a word that ends a phrase (a caption may break there).
PHRASE_END = set(",;:—–…)\"”’")
SENTENCE_END = set(".!?…")

_QUOTES = str.maketrans({"‘": "'", "’": "'", "ʼ": "'", "“": '"', "”": '"', "„": '"'})
_AGE = re.compile(r"^(\d{1,3})(m|f|nb)$|^(m|f|nb)(\d{1,3})$")
_ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$")
_DECADE = re.compile(r"^(\d{2,4})'?s$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_NUMBER = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$|^\d+(\.\d+)?$")
_THOUSANDS = re.compile(r"^(\d+)k$")
_EDGE = re.compile(r"^([^\w$£€&@+]*)(.*?)(\W*)$", re.DOTALL)
_PARTS = re.compile(r"[-/–—]+")
_LETTERS_DIGITS = re.compile(r"\d+|[a-z']+")


@dataclass(frozen=True)
class Word:
    """One word of the text: its spelling with the punctuation around it, and what is said."""

    lead: str  # punctuation before it: opening quotes, brackets
    written: str  # the word as written ("17F", "Dr", "don't")
    trail: str  # punctuation after it
    spoken: tuple[str, ...]  # lower-case dictionary words the narrator says for it

    @property
    def text(self) -> str:
        """The word as the captions show it."""
        return f"{self.lead}{self.written}{self.trail}"

    @property
    def ends_phrase(self) -> bool:
        return any(char in PHRASE_END or char in SENTENCE_END for char in self.trail)

    @property
    def ends_sentence(self) -> bool:
        return any(char in SENTENCE_END for char in self.trail)


def _number_words(core: str) -> list[str] | None:
    if (age := _AGE.match(core)) is not None:
        digits, gender = (age.group(1), age.group(2)) if age.group(1) else (age.group(4), age.group(3))
        return [*numbers.cardinal(int(digits)), *GENDERS[gender].split()]
    if (nth := _ORDINAL.match(core)) is not None:
        return numbers.ordinal(int(nth.group(1)))
    if (decade := _DECADE.match(core)) is not None:
        words = _plain_number(decade.group(1))
        last = words[-1]
        words[-1] = last[:-1] + "ies" if last.endswith("y") else last + "s"
        return words
    if (clock := _CLOCK.match(core)) is not None:
        hours, minutes = int(clock.group(1)), int(clock.group(2))
        tail = [] if minutes == 0 else ["oh", *numbers.cardinal(minutes)] if minutes < 10 \
            else numbers.cardinal(minutes)
        return [*numbers.cardinal(hours), *(tail or ["o'clock"])]
    if (kilo := _THOUSANDS.match(core)) is not None:
        return [*numbers.cardinal(int(kilo.group(1))), "thousand"]
    if _NUMBER.match(core):
        return _plain_number(core)
    return None


def _plain_number(core: str) -> list[str]:
    if len(core) == 4 and core.isdigit() and 1100 <= int(core) <= 2099:
        return numbers.year(int(core))
    return numbers.decimal(core)


def _spoken_core(core: str) -> list[str]:
    """The spoken words of one word's letters and digits (no punctuation around it)."""
    low = core.lower()
    if low in SYMBOLS:
        return [SYMBOLS[low]]
    if low in ABBREVIATIONS:
        return ABBREVIATIONS[low].split()
    if (said := _number_words(low)) is not None:
        return said
    words: list[str] = []
    for part in _PARTS.split(low):
        if part in ABBREVIATIONS:
            words += ABBREVIATIONS[part].split()
        elif (said := _number_words(part)) is not None:
            words += said
        else:
            for piece in _LETTERS_DIGITS.findall(part):
                words += numbers.decimal(piece) if piece.isdigit() else [piece.strip("'")]
    return [word for word in words if word]


def _currency(lead: str, core: str) -> tuple[str, list[str]]:
    """A currency sign before a number is said after it: "$5" → "five dollars"."""
    sign = lead[-1:] if lead[-1:] in CURRENCIES else core[:1] if core[:1] in CURRENCIES else ""
    if not sign:
        return core, []
    core = core.lstrip(sign)
    one, many = CURRENCIES[sign]
    return core, [one if core in ("1", "1.00") else many]


def _normalised(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_QUOTES)


def read_word(token: str) -> Word:
    """One whitespace-separated token of the text as a Word (its spelling kept as it is)."""
    lead, core, trail = _EDGE.match(token).groups()  # type: ignore[union-attr]
    if core.lower() in DOTTED and trail.startswith("."):
        core, trail = core + ".", trail[1:]
    said = _normalised(core)
    said = said.rstrip(".") if said.endswith(".") and said.lower().rstrip(".") in DOTTED else said
    said, unit = _currency(lead, said)
    spoken = [SYMBOLS[char] for char in lead if char in SYMBOLS and char not in "%"]
    spoken += _spoken_core(said) + unit
    spoken += [SYMBOLS[char] for char in trail if char in SYMBOLS]
    return Word(lead, core, trail, tuple(spoken))


def read_script(text: str) -> list[Word]:
    """The words of `text`; bare punctuation ("—", "...") joins the word before it."""
    words: list[Word] = []
    pending = ""  # punctuation seen before the first word
    for token in text.split():
        word = read_word(token)
        if word.spoken:
            words.append(Word(pending + word.lead, word.written, word.trail, word.spoken)
                         if pending else word)
            pending = ""
        elif words:
            last = words[-1]
            words[-1] = Word(last.lead, last.written, f"{last.trail} {token}", last.spoken)
        else:
            pending += token + " "
    return words
