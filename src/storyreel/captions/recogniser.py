"""pocketsphinx, offline, with the en-US acoustic model and dictionary its wheel ships.

Three searches over 16 kHz mono PCM:
- `strict`: forced alignment of a known word sequence (every word must be said, in order);
- `lenient`: the same sequence with every word optional, so words the narration skips
  drop out instead of being squeezed into a few frames;
- `recognise`: free decoding with a language model built from the text (`ArpaBoLM`),
  for finding where in the text a stretch of audio is.
No model is downloaded: everything comes from the installed package. Other languages
need another acoustic model and dictionary (`hmm=`, `dict=`); none is shipped.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pocketsphinx
from pocketsphinx.lm import ArpaBoLM

from storyreel.media.speech import PCM_RATE

log = logging.getLogger("storyreel.captions")

# pocketsphinx analyses 100 frames a second.
FRAMES_PER_SECOND = 100
BYTES_PER_SECOND = PCM_RATE * 2
# Beams far wider than the defaults: with the defaults a forced alignment of a few
# minutes loses its only path and returns nothing; alignment is cheap enough anyway.
BEAMS = {"beam": 1e-100, "pbeam": 1e-100, "wbeam": 1e-80}
# Optional silences between words make the fixed grammar lose its path on long
# stretches; without them a pause joins the next word and is trimmed off afterwards.
USE_FILLER = False
# The lattice pass after the search re-scores a strict alignment's result and drops or
# merges words at the end of an utterance ("the same" comes back as "the"), so the strict
# alignment takes the grammar's own best path; the lenient grammar and free decoding
# need the lattice pass (without it their best path loses most words), so they run in a
# second decoder.
# The lenient grammar's odds of skipping one word: rare enough that a word said is kept.
SKIP_PROBABILITY = 0.01
# The language model's text goes in lines of this many words: ArpaBoLM reads each line
# with a regular expression whose cost grows with the square of the line's length (a
# 10,000-word story on one line takes a minute, in lines a fraction of a second).
LM_LINE_WORDS = 24
# A forced word this close to the fewest frames its phones can take (3 a phone) was
# most likely never said: the alignment squeezed it in.
SQUEEZED_FRAMES_PER_PHONE = 3.5
_ALTERNATIVE = re.compile(r"\(\d+\)$")


@dataclass(frozen=True)
class Segment:
    """One word pocketsphinx heard, seconds from the start of the audio it was given."""

    word: str
    start: float
    end: float
    frames: int


def _decoder(*, bestpath: bool, dictionary: str | None = None) -> pocketsphinx.Decoder:
    return pocketsphinx.Decoder(
        hmm=pocketsphinx.get_model_path("en-us/en-us"),
        dict=dictionary or pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"),
        lm=None, loglevel="FATAL", fsgusefiller=USE_FILLER, bestpath=bestpath, **BEAMS,
    )


def _segments(decoder: pocketsphinx.Decoder, offset: float) -> list[Segment]:
    if decoder.hyp() is None:
        return []
    found = []
    for seg in decoder.seg():
        if seg.word.startswith(("<", "[", "(")):
            continue  # silence, breath, noise; "(NULL)": a grammar's skip
        found.append(Segment(_ALTERNATIVE.sub("", seg.word), offset + seg.start_frame / FRAMES_PER_SECOND,
                             offset + (seg.end_frame + 1) / FRAMES_PER_SECOND,
                             seg.end_frame - seg.start_frame + 1))
    return found


class Recogniser:
    """Two pocketsphinx decoders for the words of one text.

    The aligner has the whole en-US dictionary plus the text's missing words (given a
    pronunciation by `pronounce`); the searcher knows only the text's words (a language
    model search over the whole dictionary takes seconds to set up, over the text's
    few hundred words none).
    """

    def __init__(self, words: list[str], pronounce: Callable[[list[str]], dict[str, str]]) -> None:
        self.aligner = _decoder(bestpath=False)
        missing = sorted({w for w in words if self.aligner.lookup_word(w) is None})
        if missing:
            log.debug("Pronouncing %d words missing from the dictionary", len(missing))
            for index, (word, phones) in enumerate(pronounce(missing).items()):
                self.aligner.add_word(word, phones, index == len(missing) - 1)
        self.phone_counts = {w: len(self.aligner.lookup_word(w).split()) for w in set(words)}
        with tempfile.TemporaryDirectory(prefix="storyreel-dict-") as folder:
            path = Path(folder) / "text.dict"
            path.write_text("".join(f"{w} {self.aligner.lookup_word(w)}\n" for w in sorted(set(words))),
                            encoding="utf-8")
            self.searcher = _decoder(bestpath=True, dictionary=str(path))
        self.has_text_model = False

    def squeezed(self, segment: Segment) -> bool:
        """Whether a forced word got about the fewest frames its phones can take."""
        return segment.frames <= SQUEEZED_FRAMES_PER_PHONE * self.phone_counts[segment.word]

    @staticmethod
    def _decode(decoder: pocketsphinx.Decoder, pcm: bytes, offset: float) -> list[Segment]:
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        return _segments(decoder, offset)

    def strict(self, words: list[str], pcm: bytes, offset: float = 0.0) -> list[Segment] | None:
        """Every word placed in order, or None when the alignment cannot place them all."""
        if not words:
            return []
        self.aligner.set_align_text(" ".join(words))
        found = self._decode(self.aligner, pcm, offset)
        return found if [seg.word for seg in found] == words else None

    def lenient(self, words: list[str], pcm: bytes, offset: float = 0.0) -> list[Segment] | None:
        """The words the audio holds, in order, each possibly skipped; None on failure."""
        if not words:
            return []
        transitions: list[tuple] = []
        for index, word in enumerate(words):
            transitions += [(index, index + 1, 1.0 - SKIP_PROBABILITY, word),
                            (index, index + 1, SKIP_PROBABILITY)]
        fsg = self.searcher.create_fsg("lenient", 0, len(words), transitions)
        self.searcher.add_fsg("lenient", fsg)
        self.searcher.activate_search("lenient")
        found = self._decode(self.searcher, pcm, offset)
        return found if self.searcher.hyp() is not None else None

    def edge(self, words: list[str], pcm: bytes, offset: float = 0.0, *,
             ending: bool) -> list[Segment] | None:
        """Forced alignment of a stretch cut out of a longer narration: `words` in order,
        the stretch starting anywhere among them and ending on the last (`ending`), or
        starting on the first and ending anywhere; None when no such path fits."""
        if not words:
            return []
        last = len(words)
        transitions: list[tuple] = [(index, index + 1, 1.0, word) for index, word in enumerate(words)]
        # Skips from the start (ending) or to the end (not ending): where the cut-out
        # stretch meets the rest of the narration.
        transitions += [(0, index, 1.0) if ending else (index, last, 1.0) for index in range(1, last)]
        fsg = self.aligner.create_fsg("edge", 0, last, transitions)
        self.aligner.add_fsg("edge", fsg)
        self.aligner.activate_search("edge")
        found = self._decode(self.aligner, pcm, offset)
        if not found or self.aligner.hyp() is None:
            return None
        said = [seg.word for seg in found]
        wanted = words[-len(said):] if ending else words[:len(said)]
        return found if said == wanted else None

    def use_text_model(self, words: list[str]) -> None:
        """Build the language model `recognise` decodes with from the text's words."""
        lines = (" ".join(words[at:at + LM_LINE_WORDS]) for at in range(0, len(words), LM_LINE_WORDS))
        model = ArpaBoLM(text="\n".join(lines) + "\n", add_start=True)
        model.compute()
        with tempfile.TemporaryDirectory(prefix="storyreel-lm-") as folder:
            path = Path(folder) / "text.arpa"
            with path.open("w", encoding="utf-8") as out:
                model.write(out)
            ngram = pocketsphinx.NGramModel(self.searcher.config, self.searcher.logmath, str(path))
        self.searcher.add_lm("text", ngram)
        self.has_text_model = True

    def recognise(self, pcm: bytes, offset: float = 0.0) -> list[Segment]:
        """The words heard in `pcm`, decoded with the text's language model."""
        if not self.has_text_model:
            raise ValueError("use_text_model() must come before recognise()")
        self.searcher.activate_search("text")
        return self._decode(self.searcher, pcm, offset)


def on_frame(seconds: float) -> float:
    """`seconds` rounded down to a whole analysis frame."""
    return max(0, int(seconds * FRAMES_PER_SECOND)) / FRAMES_PER_SECOND


def pcm_slice(pcm: bytes, start: float, end: float) -> bytes:
    """The samples of `pcm` from `start` to `end` seconds (both on whole frames)."""
    frame = BYTES_PER_SECOND // FRAMES_PER_SECOND
    first = int(round(on_frame(start) * FRAMES_PER_SECOND)) * frame
    last = max(first, int(round(on_frame(end) * FRAMES_PER_SECOND)) * frame)
    return pcm[first:last]
