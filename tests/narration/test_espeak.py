"""espeak-ng narration: the mp3, its loudness, and word times that are the audio's own."""

from __future__ import annotations

import hashlib
from pathlib import Path

from speechkit import TWO_PARAGRAPHS, against_aligner, written

from storyreel.captions import read_script, read_words
from storyreel.media import speech
from storyreel.media.loudness import measure_file
from storyreel.media.probe import probe
from storyreel.narration import NarrationResult, narrate

# The audio path's loudness, and how near the project's meter must find the voice.
TARGET_LUFS = -16.0
LOUDNESS_TOLERANCE = 1.0
TRUE_PEAK_CEILING = -1.5
# Word starts against the caption aligner on the same audio (the aligner's own error
# against espeak-ng's word events is about 10 ms median).
MEDIAN_AGREEMENT = 0.050
P90_AGREEMENT = 0.100


def test_voice_is_a_levelled_mono_mp3(espeak_narration: NarrationResult) -> None:
    result = espeak_narration
    assert result.audio.name == "voice.mp3" and result.words.name == "words.json"
    info = probe(result.audio)
    assert not info.video and len(info.audio) == 1
    stream = info.audio[0]
    assert (stream.codec, stream.channels) == ("mp3", 1)
    assert stream.sample_rate in (22050, 24000)
    assert info.duration and abs(info.duration - result.duration) < 0.05
    assert 6.0 < result.duration < 30.0
    level = measure_file(result.audio)
    assert abs(level.integrated - TARGET_LUFS) <= LOUDNESS_TOLERANCE, level
    assert level.true_peak is not None and level.true_peak <= TRUE_PEAK_CEILING, level
    assert (result.engine, result.voice) == ("espeak-ng", "en-us")
    assert result.text_sha256 == hashlib.sha256(TWO_PARAGRAPHS.encode("utf-8")).hexdigest()
    assert result.cpu_seconds > 0
    assert sorted(p.name for p in result.audio.parent.iterdir()) == ["voice.mp3", "words.json"]


def test_words_are_the_captions_words_in_order(espeak_narration: NarrationResult) -> None:
    alignment = read_words(espeak_narration.words)
    assert [w.word for w in alignment.words] == written(TWO_PARAGRAPHS)
    assert all(w.spoken for w in alignment.words)
    starts = [w.start for w in alignment.words]
    assert all(a < b for a, b in zip(starts, starts[1:], strict=False)), starts
    assert all(w.start < w.end for w in alignment.words)
    assert all(a.end <= b.start for a, b in zip(alignment.words, alignment.words[1:], strict=False))
    assert alignment.words[-1].end <= espeak_narration.duration
    assert abs(alignment.duration - espeak_narration.duration) < 0.001
    quality = alignment.quality
    assert quality.aligned == quality.words == len(alignment.words) and quality.unspoken == 0
    assert quality.confidence == 1.0


def test_a_paragraph_break_pauses_longer_than_a_sentence(espeak_narration: NarrationResult) -> None:
    words = read_words(espeak_narration.words).words
    script = read_script(TWO_PARAGRAPHS)
    ends = [i for i, word in enumerate(script[:-1]) if word.ends_sentence]
    paragraph_end = next(i for i, w in enumerate(script) if w.written == "hives")
    gaps = {i: words[i + 1].start - words[i].end for i in ends}
    sentence_gaps = [gap for i, gap in gaps.items() if i != paragraph_end]
    assert len(sentence_gaps) == 2
    assert gaps[paragraph_end] > max(sentence_gaps) + 0.3, gaps
    # The pause is in the sound itself: the longest quiet stretch is between the paragraphs.
    quiet = [p for p in speech.pauses(espeak_narration.audio, noise_db=-45, min_seconds=0.2)
             if p.end != float("inf")]
    longest = max(quiet, key=lambda p: p.end - p.start)
    assert words[paragraph_end].end - 0.05 <= longest.start < longest.end <= words[paragraph_end + 1].start + 0.05
    assert longest.end - longest.start > 0.8


def test_word_starts_agree_with_the_aligner(espeak_narration: NarrationResult, tmp_path: Path) -> None:
    ours = read_words(espeak_narration.words)
    agreement = against_aligner(espeak_narration.audio, TWO_PARAGRAPHS, ours, tmp_path)
    assert agreement.reference.quality.aligned == len(ours.words)
    assert agreement.median <= MEDIAN_AGREEMENT, agreement
    assert agreement.p90 <= P90_AGREEMENT, agreement
    print(f"espeak-ng vs aligner: median {agreement.median * 1000:.0f} ms, "
          f"p90 {agreement.p90 * 1000:.0f} ms, worst {agreement.worst * 1000:.0f} ms")


def test_progress_rises_by_sentence_to_one(tmp_path: Path) -> None:
    seen: list[float] = []
    narrate(TWO_PARAGRAPHS, tmp_path, engine="espeak-ng", on_progress=seen.append)
    assert len(seen) >= 5  # four sentences, then the encoding
    assert seen == sorted(seen) and 0 < seen[0] < 1 and seen[-1] == 1.0
