"""Music brought to its loudness by a measured gain: one meter pass, one encode; the
limiter only where the peak needs it, loudnorm's dynamic pass only for a wide range."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from storyreel.errors import MediaError
from storyreel.media import gain
from storyreel.media.audio import LoudnessTarget, measure_loudness
from storyreel.media.probe import probe

TARGET = LoudnessTarget(-16.0, -1.5, 11.0)


def _mp3(path: Path, expr: str, seconds: float) -> Path:
    """An mp3 of an aevalsrc expression (stereo, 44.1 kHz)."""
    subprocess.run(
        ["ffmpeg", "-y", "-v", "error", "-f", "lavfi",
         "-i", f"aevalsrc={expr}|{expr}:s=44100:d={seconds}",
         "-c:a", "libmp3lame", "-b:a", "128k", f"file:{path}"],
        check=True, stdin=subprocess.DEVNULL,
    )
    return path


def _normalised(src: Path, tmp_path: Path) -> tuple[gain.Plan, gain.Reading, gain.Reading]:
    before = gain.measure(src)
    out = tmp_path / f"{src.stem}.out.mp3"
    applied = gain.normalise(src, out, TARGET, before, sample_rate=44100)
    assert probe(out).first_audio.codec == "mp3"
    assert probe(out).duration == pytest.approx(probe(src).duration, abs=0.06)
    return applied, before, gain.measure(out)


def test_a_quiet_file_gets_the_gain_alone_and_reaches_the_target(tmp_path):
    src = _mp3(tmp_path / "quiet.mp3", "0.01*sin(2*PI*440*t)", 4)
    applied, before, after = _normalised(src, tmp_path)
    assert applied.method is gain.Method.GAIN and applied.limit_db is None
    assert applied.gain_db == pytest.approx(TARGET.integrated - before.integrated)
    assert applied.gain_db > 10
    assert after.integrated == pytest.approx(TARGET.integrated, abs=0.5)
    # loudnorm's own meter agrees with the target the ingest table promises
    assert measure_loudness(tmp_path / "quiet.out.mp3").integrated == pytest.approx(TARGET.integrated, abs=1.0)


def test_peaks_the_gain_would_push_over_the_ceiling_go_through_the_limiter(tmp_path):
    # a quiet tone with a one-sample click every 0.2 s: the gain alone would clip them
    src = _mp3(tmp_path / "clicks.mp3", "0.05*sin(2*PI*440*t)+0.9*eq(mod(n\\,8820)\\,0)", 4)
    applied, before, after = _normalised(src, tmp_path)
    assert before.true_peak + applied.gain_db > TARGET.true_peak + 5
    assert applied.method is gain.Method.LIMITED
    assert applied.limit_db == TARGET.true_peak - gain.LIMITER_MARGIN_DB
    assert after.true_peak <= TARGET.true_peak + 0.5
    # the limiter only takes loudness away (its release around each of 20 clicks)
    assert TARGET.integrated - 1.5 <= after.integrated <= TARGET.integrated + 0.5


def test_a_range_wider_than_the_target_goes_through_loudnorm(tmp_path):
    # a tone fading by 20 dB over 12 s: its short-term loudness spreads over about 15 LU
    src = _mp3(tmp_path / "wide.mp3", "0.5*sin(2*PI*330*t)*pow(10\\,-t/12)", 12)
    applied, before, after = _normalised(src, tmp_path)
    assert before.loudness_range > TARGET.loudness_range
    assert applied.method is gain.Method.DYNAMIC
    assert after.loudness_range < before.loudness_range
    assert after.integrated == pytest.approx(TARGET.integrated, abs=1.5)


def test_the_plan_follows_the_peak_and_the_range():
    calm = gain.Reading(integrated=-26.0, true_peak=-14.0, loudness_range=5.0, threshold=-36.0)
    assert gain.plan(calm, TARGET) == gain.Plan(gain.Method.GAIN, 10.0)
    assert gain.plan(calm, TARGET).filters() == "volume=10.00dB"
    hot = gain.Reading(integrated=-26.0, true_peak=-3.0, loudness_range=5.0, threshold=-36.0)
    limited = gain.plan(hot, TARGET)
    assert limited.method is gain.Method.LIMITED and limited.filters().startswith("volume=10.00dB,alimiter=")
    wide = gain.Reading(integrated=-26.0, true_peak=-14.0, loudness_range=15.0, threshold=-36.0)
    assert gain.plan(wide, TARGET).method is gain.Method.DYNAMIC


def test_silence_measures_silent_and_is_not_normalised(media, tmp_path):
    reading = gain.measure(media.silence(2.0))
    assert reading.silent
    with pytest.raises(MediaError, match="silent"):
        gain.normalise(media.silence(2.0), tmp_path / "x.mp3", TARGET, reading)
