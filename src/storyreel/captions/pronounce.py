"""Pronunciations for words missing from the en-US dictionary.

espeak-ng knows how to say almost any English spelling; its IPA is mapped to the CMU
phone set the acoustic model uses. A word espeak-ng cannot help with is spelt out by a
small letter-to-sound table (rough, but the aligner only needs the word's length and
its broad sounds). Another language needs another acoustic model and dictionary, and
another mapping here.
"""

from __future__ import annotations

import logging
import re

from storyreel.errors import MediaError, ToolMissingError
from storyreel.media import speech

log = logging.getLogger("storyreel.captions")

# IPA (as espeak-ng writes it for en-us) → CMU phones; longest symbols first.
IPA_TO_CMU = {
    "aɪə": "AY ER", "aɪ": "AY", "aʊ": "AW", "eɪ": "EY", "oʊ": "OW", "ɔɪ": "OY", "əʊ": "OW",
    "tʃ": "CH", "dʒ": "JH", "ɜː": "ER", "ɚ": "ER", "ɝ": "ER", "iə": "IY AH", "ɑ": "AA",
    "ɒ": "AA", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɔ": "AO", "ɛ": "EH", "e": "EH",
    "ɪ": "IH", "ᵻ": "IH", "i": "IY", "ʊ": "UH", "u": "UW", "o": "OW", "a": "AA", "b": "B",
    "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G", "h": "HH", "j": "Y", "k": "K",
    "l": "L", "ɫ": "L", "m": "M", "n": "N", "ŋ": "NG", "p": "P", "ɹ": "R", "r": "R",
    "s": "S", "ʃ": "SH", "t": "T", "ɾ": "T", "θ": "TH", "v": "V", "w": "W", "z": "Z",
    "ʒ": "ZH", "x": "K", "ç": "HH",
}
# Letters (and pairs) → CMU phones, for words espeak-ng gave nothing usable for.
LETTERS_TO_CMU = {
    "ch": "CH", "sh": "SH", "th": "TH", "ph": "F", "ng": "NG", "ck": "K", "qu": "K W",
    "ee": "IY", "oo": "UW", "ea": "IY", "ai": "EY", "ay": "EY", "oa": "OW", "ou": "AW",
    "ow": "OW", "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G",
    "h": "HH", "i": "IH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA",
    "p": "P", "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W",
    "x": "K S", "y": "IY", "z": "Z",
}
_IPA_KEYS = sorted(IPA_TO_CMU, key=len, reverse=True)
_LETTER_KEYS = sorted(LETTERS_TO_CMU, key=len, reverse=True)
# Stress, length and syllable marks espeak-ng writes that carry no phone.
_MARKS = re.compile(r"[ˈˌː.ˑ‿\u0300-\u036f-]")


def _greedy(text: str, table: dict[str, str], keys: list[str]) -> list[str]:
    phones: list[str] = []
    at = 0
    while at < len(text):
        for key in keys:
            if text.startswith(key, at):
                phones += table[key].split()
                at += len(key)
                break
        else:
            at += 1  # a symbol with no CMU phone (a glottal stop): nothing said
    return phones


def ipa_to_cmu(ipa: str) -> list[str]:
    """CMU phones for espeak-ng's IPA of one word."""
    return _greedy(_MARKS.sub("", ipa.replace(" ", "")), IPA_TO_CMU, _IPA_KEYS)


def letters_to_cmu(word: str) -> list[str]:
    """A rough pronunciation from the spelling alone (double letters said once)."""
    letters = re.sub(r"(.)\1+", r"\1", re.sub(r"[^a-z]", "", word.lower()))
    return _greedy(letters, LETTERS_TO_CMU, _LETTER_KEYS) or ["AH"]


def pronounce(words: list[str]) -> dict[str, str]:
    """A CMU pronunciation ("HH EH L OW") for each of `words`, from espeak-ng or the letters."""
    try:
        ipas = speech.ipa(words)
    except (MediaError, ToolMissingError) as exc:
        log.warning("Spelling out %d words espeak-ng could not say: %s", len(words), exc)
        ipas = [""] * len(words)
    found: dict[str, str] = {}
    for word, ipa in zip(words, ipas, strict=True):
        phones = ipa_to_cmu(ipa) or letters_to_cmu(word)
        found[word] = " ".join(phones)
    return found
