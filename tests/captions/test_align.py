"""Alignment against espeak-ng's own word start times (real espeak-ng, real pocketsphinx)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from narrationkit import PARAGRAPH, SKIPPED, Spoken

from storyreel.captions import align, read_script, read_words, windows, write_words
from storyreel.errors import AlignmentError

# The tolerances for word starts against the reference.
MEDIAN_ERROR = 0.030
P95_ERROR = 0.100
MAX_ERROR = 0.250


def _errors(spoken: Spoken, work: Path) -> tuple[list[float], object]:
    alignment = align(spoken.wav, read_script(PARAGRAPH), work=work)
    errors = sorted(abs(alignment.words[i].start - start) for i, start in spoken.starts.items())
    return errors, alignment


def test_word_starts_match_espeaks_own(narrated: Spoken, tmp_path: Path) -> None:
    errors, alignment = _errors(narrated, tmp_path)
    assert len(errors) >= 0.9 * len(PARAGRAPH.split())  # espeak reports nearly every word
    p95 = errors[max(0, round(0.95 * len(errors)) - 1)]
    assert statistics.median(errors) <= MEDIAN_ERROR, errors
    assert p95 <= P95_ERROR, errors
    assert errors[-1] <= MAX_ERROR, errors
    assert all(w.spoken for w in alignment.words)
    quality = alignment.quality
    assert (quality.words, quality.aligned, quality.unspoken) == (len(alignment.words),) * 2 + (0,)
    assert quality.confidence == 1.0
    assert alignment.words[0].word == "My" and alignment.words[1].word == "neighbour,"
    assert not list(tmp_path.iterdir())  # the decoded audio is not left behind


def test_words_the_narration_skips_are_flagged(skipping: Spoken, tmp_path: Path) -> None:
    errors, alignment = _errors(skipping, tmp_path)
    flagged = {i for i, word in enumerate(alignment.words) if not word.spoken}
    # Where a skipped word sounds like its neighbour ("and [that] they would"), the
    # neighbour may be the one flagged: at most one such swap, never further away.
    assert len(flagged) == len(SKIPPED)
    assert len(flagged & SKIPPED) >= len(SKIPPED) - 1, sorted(flagged ^ SKIPPED)
    assert all(i in SKIPPED or i - 1 in SKIPPED or i + 1 in SKIPPED for i in flagged)
    assert alignment.quality.unspoken == len(SKIPPED)
    assert alignment.quality.aligned == len(alignment.words) - len(SKIPPED)
    assert 0.0 < alignment.quality.confidence < 1.0
    assert statistics.median(errors) <= MEDIAN_ERROR
    assert errors[-1] <= MAX_ERROR, errors
    for index in flagged:  # a skipped word sits between its neighbours, taking no time
        word = alignment.words[index]
        assert alignment.words[index - 1].end <= word.start <= word.end <= alignment.words[index + 1].start


def test_words_json_round_trips(narrated: Spoken, tmp_path: Path) -> None:
    alignment = align(narrated.wav, read_script(PARAGRAPH), work=tmp_path)
    path = write_words(alignment, tmp_path / "words.json")
    assert read_words(path) == alignment
    assert [p.name for p in tmp_path.iterdir()] == ["words.json"]


def test_a_text_without_words_cannot_be_aligned(narrated: Spoken, tmp_path: Path) -> None:
    with pytest.raises(AlignmentError, match="the text has no words"):
        align(narrated.wav, read_script(" — … "), work=tmp_path)


def test_a_long_narration_is_aligned_window_by_window(narrated: Spoken, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(windows, "WINDOW_SECONDS", 8.0)  # a 30 s paragraph in three windows
    errors, alignment = _errors(narrated, tmp_path)
    assert alignment.quality.windows >= 3
    assert alignment.quality.fallback_windows == 0 and alignment.quality.unspoken == 0
    assert statistics.median(errors) <= MEDIAN_ERROR
    assert errors[-1] <= MAX_ERROR, errors
